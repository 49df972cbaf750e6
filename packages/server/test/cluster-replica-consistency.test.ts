import { waitFor } from '@shoal/testkit/wait'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ClusterProcess, startThreeNodeCluster } from './harness/cluster-processes.ts'
import { tempDir } from './harness/server-process.ts'

// What a single replica promises on a real 3-process cluster: a replica restarted after kill -9
// serves no `eventual` read older than what it served before the crash.

let scratch: { dir: string; remove: () => Promise<void> }
let nodes: ClusterProcess[] = []

interface TaskView {
  uid: number
  status: string
  error: { code: string; message: string } | null
}

const ENDED = ['succeeded', 'failed', 'canceled']

async function waitEnded(candidates: readonly ClusterProcess[], uid: number): Promise<TaskView> {
  let task: TaskView | undefined
  await waitFor(
    `task ${uid} ended`,
    async () => {
      for (const node of candidates) {
        try {
          const response = await node.request<TaskView>('GET', `/tasks/${uid}`)
          if (response.status === 200) {
            task = response.body
            break
          }
        } catch {
          // That node is down or stopped; ask the next.
        }
      }
      return task !== undefined && ENDED.includes(task.status)
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  )
  return task!
}

async function write(via: ClusterProcess, route: string, body: unknown, method = 'POST'): Promise<void> {
  const response = await via.request<{ taskUid: number }>(method, route, body)
  expect(response.status, JSON.stringify(response.body)).toBe(202)
  const task = await waitEnded(nodes, response.body.taskUid)
  expect(task.status, JSON.stringify(task.error)).toBe('succeeded')
}

interface EventualAnswer {
  estimatedTotalHits: number
  replicaLag: { max: number }
}

async function eventualCount(
  via: ClusterProcess,
  index: string,
): Promise<{ status: number; count: number; body: string }> {
  const response = await via.request<EventualAnswer>('POST', `/indexes/${index}/search`, {
    q: '',
    limit: 0,
    consistency: 'eventual',
  })
  return {
    status: response.status,
    count: response.body?.estimatedTotalHits ?? -1,
    body: JSON.stringify(response.body),
  }
}

async function layout(via: ClusterProcess, index: string): Promise<{ leader: string | null }[]> {
  const shards = await via.request<{ shards: Array<{ leader: string | null }> }>(
    'GET',
    `/indexes/${index}/_shards`,
  )
  return shards.body.shards
}

async function metadataLeader(via: ClusterProcess): Promise<string | null> {
  const health = await via.request<{ metadata_leader: string | null }>('GET', '/_cluster/health')
  return health.body.metadata_leader
}

beforeAll(async () => {
  scratch = await tempDir('shoal-replica-consistency-')
  nodes = await startThreeNodeCluster(scratch.dir, 'replica-consistency-cluster-key-00')
}, 150_000)

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.kill()))
  await scratch?.remove()
})

describe('a restarted replica and eventual reads', () => {
  it('never answers an eventual search older than one it answered before kill -9', async () => {
    await write(nodes[0]!, '/indexes', {
      uid: 'ledger',
      primaryKey: 'id',
      sharding: { shardCount: 2, replicationFactor: 3 },
    })
    const leaders = (await layout(nodes[0]!, 'ledger')).map((s) => s.leader)
    const metaLeader = await metadataLeader(nodes[0]!)
    // A node that leads neither a shard nor the metadata group: its replicas are followers, and
    // killing it disturbs neither the task scheduler nor the shard leaders.
    const victim =
      nodes.find((n) => !leaders.includes(n.nodeId) && n.nodeId !== metaLeader) ??
      nodes.find((n) => n.nodeId !== metaLeader)!
    const others = nodes.filter((n) => n !== victim)
    let total = 0
    for (let round = 0; round < 2; round++) {
      // Several small tasks, the last one just before the crash: its commit reached the victim
      // after the entry itself, so the victim's log holds more than its durable commit index.
      for (let task = 0; task < 6; task++) {
        const batch = Array.from({ length: 5 }, (_, i) => ({
          id: total + i,
          round,
          text: `entry ${total + i}`,
        }))
        await write(others[task % 2]!, '/indexes/ledger/documents', batch)
        total += batch.length
      }
      let seen = 0
      await waitFor(
        'the victim serves the last write eventually',
        async () => {
          seen = (await eventualCount(victim, 'ledger')).count
          return seen === total
        },
        { timeoutMs: 20_000, intervalMs: 20 },
      )
      await victim.kill()
      await victim.restart()
      // Read at once and for a while: every answer is at least as new as the one before the crash.
      const answers: number[] = []
      const until = Date.now() + 3_000
      while (Date.now() < until) {
        const answer = await eventualCount(victim, 'ledger')
        expect(answer.status, answer.body).toBe(200)
        answers.push(answer.count)
      }
      expect(answers.length).toBeGreaterThan(5)
      expect(
        Math.min(...answers),
        `answers after restart ${round}: ${answers.join(',')}`,
      ).toBeGreaterThanOrEqual(seen)
    }
  }, 120_000)
})
