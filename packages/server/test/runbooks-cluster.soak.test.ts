import path from 'node:path'
import { waitFor } from '@shoal/testkit/wait'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from './harness/cli-run.ts'
import {
  type ClusterProcess,
  MASTER_KEY,
  startClusterProcess,
  startThreeNodeCluster,
} from './harness/cluster-processes.ts'
import { tempDir } from './harness/server-process.ts'

// The cluster runbooks of docs/operations/, run in order on one cluster with the commands they
// give: add-node.md, upgrade.md (a rolling restart under writes), drain-node.md and
// replace-node.md. Each step checks what its runbook says to check. Three replicas per shard, so
// that a node killed for good leaves every shard group its majority (with two, the groups it was
// in have no leader and cannot take a new member: replace-node.md refuses them).

interface Shards {
  shards: Array<{ replicas: Array<{ node: string; state: string }> }>
}
interface AdminView {
  nodes: Array<{ id: string; name: string; state: string; alive: boolean }>
  underReplicated?: number
}

describe('cluster runbooks', () => {
  let scratch: { dir: string; remove: () => Promise<void> }
  const nodes: ClusterProcess[] = []
  let keyFile = ''
  let id = 0

  beforeAll(async () => {
    scratch = await tempDir('shoal-runbooks-')
    nodes.push(...(await startThreeNodeCluster(scratch.dir, 'runbooks-cluster-key-0123456789')))
    keyFile = path.join(scratch.dir, 'cluster.key')
    const created = await nodes[0]!.request('POST', '/indexes', {
      uid: 'notes',
      primaryKey: 'id',
      sharding: { shardCount: 3, replicationFactor: 3 },
    })
    expect(created.status).toBe(202)
    await write(nodes[0]!, 50)
  }, 180_000)
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.kill()))
    await scratch.remove()
  })

  /** Adds `count` documents through `node` and waits until the task succeeded. */
  async function write(node: ClusterProcess, count: number): Promise<void> {
    const docs = Array.from({ length: count }, () => ({ id: id++, text: `note ${id}` }))
    const added = await node.request<{ taskUid: number }>('POST', '/indexes/notes/documents', docs)
    expect(added.status).toBe(202)
    await waitFor(
      `task ${added.body.taskUid}`,
      async () => {
        const task = await node.request<{ status: string }>('GET', `/tasks/${added.body.taskUid}`)
        if (task.body.status === 'failed') throw new Error(JSON.stringify(task.body))
        return task.body.status === 'succeeded'
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    )
  }

  async function documents(node: ClusterProcess): Promise<number> {
    return (await node.request<{ numberOfDocuments: number }>('GET', '/indexes/notes/stats')).body
      .numberOfDocuments
  }

  async function cli(args: string[]) {
    const result = await runCli([...args, '--url', nodes[0]!.url, '--api-key', MASTER_KEY], {
      timeoutMs: 150_000,
    })
    expect(result.code, result.stdout + result.stderr).toBe(0)
    return result.stdout
  }

  async function holders(): Promise<Set<string>> {
    const shards = await nodes[0]!.request<Shards>('GET', '/indexes/notes/_shards')
    return new Set(shards.body.shards.flatMap((s) => s.replicas.map((r) => r.node)))
  }

  it('add-node.md: a fourth node joins, the rebalance runs to balanced, and the node serves every document', async () => {
    const fourth = await startClusterProcess({
      name: 'n3',
      dataDir: path.join(scratch.dir, 'n3'),
      keyFile,
      join: [nodes[0]!.gossipAddr],
    })
    nodes.push(fourth)
    await waitFor(
      'n3 active',
      async () => {
        const view = await nodes[0]!.request<AdminView>('GET', '/_admin/cluster')
        return view.body.nodes.some((n) => n.name === 'n3' && n.state === 'active' && n.alive)
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    )
    expect(await cli(['cluster', 'rebalance'])).toMatch(/balanced/)
    // Nine replicas over four nodes are within the load bound already, so the rebalance may leave
    // the newcomer empty (add-node.md says so); it serves every document through the cluster.
    expect(await documents(fourth)).toBe(id)
  }, 240_000)

  it('upgrade.md: every node restarted in turn under writes; clients see nothing but 202 and 503 with Retry-After', async () => {
    const statuses = new Map<number, number>()
    const unexpected: string[] = []
    let restarting = -1
    let stop = false
    const writer = (async () => {
      for (let turn = 0; !stop; turn++) {
        // Clients go to the nodes that are up (a load balancer takes the restarting one out).
        const target = nodes.filter((_, i) => i !== restarting)[turn % (nodes.length - 1)]!
        const response = await fetch(`${target.url}/indexes/notes/documents`, {
          method: 'POST',
          headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify([{ id: 100_000 + turn, text: 'during the upgrade' }]),
          signal: AbortSignal.timeout(30_000),
        }).catch(() => undefined)
        if (response === undefined) continue // the node went down between the choice and the send
        const text = await response.text()
        if (response.status !== 202 && response.status !== 503) unexpected.push(`${response.status} ${text}`)
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1)
        if (response.status === 503) expect(response.headers.get('retry-after')).not.toBeNull()
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    })()
    for (let i = 0; i < nodes.length; i++) {
      restarting = i
      await nodes[i]!.stop()
      await nodes[i]!.restart()
      // The runbook's check before the next node: every node live and active, health back to green.
      await waitFor(
        `health green after restarting n${i}`,
        async () => {
          const health = await nodes[i]!.request<{ status: string }>('GET', '/_cluster/health')
          return health.body.status === 'green'
        },
        { timeoutMs: 90_000, intervalMs: 250 },
      )
      restarting = -1
    }
    stop = true
    await writer
    expect(
      [...statuses.keys()].filter((status) => status !== 202 && status !== 503),
      unexpected.join('\n'),
    ).toEqual([])
    expect(statuses.get(202) ?? 0).toBeGreaterThan(0)
  }, 480_000)

  it('drain-node.md: shoal cluster drain moves every replica away and the node leaves', async () => {
    const leaving = nodes[3]!
    await cli(['cluster', 'drain', 'n3'])
    expect(await holders()).not.toContain(leaving.nodeId)
    await waitFor('n3 stopped', async () => leaving.child.exitCode !== null, { timeoutMs: 30_000 })
    await write(nodes[0]!, 10)
    expect(await documents(nodes[1]!)).toBeGreaterThanOrEqual(id)
  }, 240_000)

  it('replace-node.md: a node killed right after the drain is replaced by a new one, which takes its replicas', async () => {
    const dead = nodes[2]!
    await dead.kill()
    // 1. Confirm the node is dead.
    await waitFor(
      'n2 reported dead',
      async () => {
        const view = await nodes[0]!.request<AdminView>('GET', '/_admin/cluster')
        return view.status === 200 && view.body.nodes.some((n) => n.name === 'n2' && !n.alive)
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    )
    // 2. Start the new node.
    const fresh = await startClusterProcess({
      name: 'n4',
      dataDir: path.join(scratch.dir, 'n4'),
      keyFile,
      join: [nodes[0]!.gossipAddr],
    })
    nodes.push(fresh)
    await waitFor(
      'n4 active',
      async () => {
        const view = await nodes[0]!.request<AdminView>('GET', '/_admin/cluster')
        return view.body.nodes.some((n) => n.name === 'n4' && n.state === 'active' && n.alive)
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    )
    // 3. Replace.
    expect(await cli(['cluster', 'replace', 'n2', 'n4'])).toMatch(/n4 holds the replicas n2 held/)
    // 4. Check.
    const held = await holders()
    expect(held).toContain(fresh.nodeId)
    expect(held).not.toContain(dead.nodeId)
    let health: unknown
    await waitFor(
      'n2 left and health green',
      async () => {
        const view = await nodes[0]!.request<AdminView>('GET', '/_admin/cluster')
        const answer = await nodes[0]!.request<{ status: string }>('GET', '/_cluster/health')
        health = answer.body
        return (
          view.body.nodes.some((n) => n.name === 'n2' && n.state === 'left') && answer.body.status === 'green'
        )
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}; health: ${JSON.stringify(health)}`)
    })
    await write(nodes[0]!, 10)
    expect(await documents(fresh)).toBeGreaterThanOrEqual(id)
  }, 300_000)
})
