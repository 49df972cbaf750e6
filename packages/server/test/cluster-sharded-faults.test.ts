import { Rng } from '@shoal/testkit/rng'
import { waitFor } from '@shoal/testkit/wait'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ClusterProcess, startThreeNodeCluster } from './harness/cluster-processes.ts'
import { tempDir } from './harness/server-process.ts'

// A sharded index on a real 3-process cluster under process faults: kill -9 of a shard leader
// while writes stream in, and kill -9 of the node running the task scheduler mid-task.

let scratch: { dir: string; remove: () => Promise<void> }
let nodes: ClusterProcess[] = []

interface TaskView {
  uid: number
  status: string
  error: { code: string; message: string } | null
}

const ENDED = ['succeeded', 'failed', 'canceled']

async function taskOn(candidates: readonly ClusterProcess[], uid: number): Promise<TaskView | undefined> {
  for (const node of candidates) {
    try {
      const response = await node.request<TaskView>('GET', `/tasks/${uid}`)
      if (response.status === 200) return response.body
    } catch {
      // That node is down; ask the next.
    }
  }
  return undefined
}

async function waitEnded(candidates: readonly ClusterProcess[], uid: number): Promise<TaskView> {
  let task: TaskView | undefined
  await waitFor(
    `task ${uid} ended`,
    async () => {
      task = await taskOn(candidates, uid)
      return task !== undefined && ENDED.includes(task.status)
    },
    { timeoutMs: 90_000, intervalMs: 200 },
  )
  return task!
}

async function metadataLeader(node: ClusterProcess): Promise<string | null> {
  const health = await node.request<{ metadata_leader: string | null }>('GET', '/_cluster/health')
  return health.body.metadata_leader
}

beforeAll(async () => {
  scratch = await tempDir('shoal-sharded-faults-')
  nodes = await startThreeNodeCluster(scratch.dir, 'sharded-faults-cluster-key-000000')
  const created = await nodes[0]!.request<{ taskUid: number }>('POST', '/indexes', {
    uid: 'events',
    primaryKey: 'id',
    sharding: { shardCount: 3, replicationFactor: 3 },
  })
  expect((await waitEnded(nodes, created.body.taskUid)).status).toBe('succeeded')
}, 150_000)

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.kill()))
  await scratch?.remove()
})

describe('a sharded index under process faults', () => {
  it('keeps every acknowledged write and keeps answering searches when a shard leader is killed', async () => {
    const rng = new Rng(20261207)
    const metaLeader = await metadataLeader(nodes[0]!)
    const layout = await nodes[0]!.request<{ shards: Array<{ leader: string | null }> }>(
      'GET',
      '/indexes/events/_shards',
    )
    // A shard leader that does not also run the scheduler (that case is the next test's).
    const leaders = layout.body.shards.map((s) => s.leader).filter((id) => id !== null && id !== metaLeader)
    const victim =
      nodes.find((n) => leaders.includes(n.nodeId)) ?? nodes.find((n) => n.nodeId !== metaLeader)!
    const survivors = nodes.filter((n) => n !== victim)

    const batches = new Map<number, number[]>()
    let nextId = 0
    let killed = false
    let searchesAfterKill = 0
    let failedSearches = 0
    const stopAt = Date.now() + 8_000
    const writer = (async () => {
      while (Date.now() < stopAt) {
        const ids = Array.from({ length: 10 }, () => nextId++)
        const via = killed ? survivors[rng.int(survivors.length)]! : nodes[rng.int(nodes.length)]!
        try {
          const response = await via.request<{ taskUid: number }>(
            'POST',
            '/indexes/events/documents',
            ids.map((id) => ({ id, body: `event ${id} payload`, kind: id % 2 === 0 ? 'even' : 'odd' })),
          )
          if (response.status === 202) batches.set(response.body.taskUid, ids)
        } catch {
          // Refused or lost before a task uid came back: not acknowledged, checked below by absence only.
        }
        await new Promise((r) => setTimeout(r, 60))
      }
    })()
    const searcher = (async () => {
      while (Date.now() < stopAt) {
        if (killed) {
          const via = survivors[rng.int(survivors.length)]!
          const response = await via.request('POST', '/indexes/events/search', { q: 'payload', limit: 5 })
          searchesAfterKill++
          if (response.status !== 200) failedSearches++
        }
        await new Promise((r) => setTimeout(r, 100))
      }
    })()
    await new Promise((r) => setTimeout(r, 2_000))
    await victim.kill()
    killed = true
    await Promise.all([writer, searcher])
    nodes = survivors

    expect(batches.size).toBeGreaterThan(10)
    expect(searchesAfterKill).toBeGreaterThanOrEqual(3)
    // Replica fallback and re-election keep searches answering (a few may span the election).
    expect(failedSearches).toBeLessThanOrEqual(Math.ceil(searchesAfterKill / 4))
    for (const [uid, ids] of batches) {
      const task = await waitEnded(survivors, uid)
      const found = await survivors[0]!.request<{ results: Array<{ id: number }> }>(
        'POST',
        '/indexes/events/documents/fetch',
        { ids, limit: 100 },
      )
      const present = found.body.results.length
      // Acknowledged writes survive; no batch is ever half visible.
      if (task.status === 'succeeded') expect(present, `task ${uid}`).toBe(ids.length)
      else expect(present, `task ${uid} (${task.status})`).toBe(0)
    }
    await victim.restart()
    nodes = [...survivors, victim]
  }, 180_000)

  it('finishes or fails a task as a whole when the node running it dies mid-task', async () => {
    await waitFor(
      'all nodes back',
      async () => {
        const view = await nodes[0]!.request<{ nodes: Array<{ roles: string[] }> }>('GET', '/_cluster/nodes')
        return view.body.nodes.filter((n) => n.roles.includes('metadata_voter')).length === 3
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    )
    const leaderId = await metadataLeader(nodes[0]!)
    const scheduler = nodes.find((n) => n.nodeId === leaderId)!
    const others = nodes.filter((n) => n !== scheduler)
    const count = async (via: ClusterProcess) =>
      (await via.request<{ numberOfDocuments: number }>('GET', '/indexes/events/stats')).body
        .numberOfDocuments
    const before = await count(others[0]!)
    const docs = Array.from({ length: 4000 }, (_, i) => ({ id: `big-${i}`, body: `bulk document ${i}` }))
    const response = await others[0]!.request<{ taskUid: number }>('POST', '/indexes/events/documents', docs)
    expect(response.status).toBe(202)
    const uid = response.body.taskUid
    await waitFor(
      'the task runs',
      async () => {
        const task = await taskOn(others, uid)
        return task !== undefined && task.status !== 'enqueued'
      },
      { timeoutMs: 30_000, intervalMs: 20 },
    )
    await scheduler.kill()
    nodes = others
    const task = await waitEnded(others, uid)
    const after = await count(others[1]!)
    if (task.status === 'succeeded') expect(after - before).toBe(docs.length)
    else expect(after).toBe(before)
    expect(ENDED).toContain(task.status)
  }, 180_000)
})
