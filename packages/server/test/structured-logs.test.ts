import { waitFor } from '@shoal/testkit/wait'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ClusterProcess, startThreeNodeCluster } from './harness/cluster-processes.ts'
import { tempDir } from './harness/server-process.ts'

// The log lines of real cluster nodes are JSON with their context as fields, not only in the
// message: `node` on every line, `nodeId` on the cluster's, and `index`, `shard`, `term`, `task`
// where they apply (docs/operations.md, "Logs").

type Line = Record<string, unknown> & { msg: string }

/** The JSON lines a node printed so far (a line still being written is left for later). */
function lines(node: ClusterProcess): Line[] {
  return node
    .output()
    .split('\n')
    .slice(0, -1)
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Line)
}

function everyLine(nodes: readonly ClusterProcess[]): Line[] {
  return nodes.flatMap(lines)
}

describe('structured logs of a cluster node', () => {
  let scratch: { dir: string; remove: () => Promise<void> }
  let nodes: ClusterProcess[] = []

  beforeAll(async () => {
    scratch = await tempDir('shoal-logs-')
    nodes = await startThreeNodeCluster(scratch.dir, 'structured-logs-cluster-key-0123', [
      '--log-level',
      'debug',
    ])
  }, 180_000)
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.kill()))
    await scratch.remove()
  })

  it('every line names its node, and the cluster lines the node id', () => {
    const all = nodes.flatMap((node) => lines(node).map((line) => ({ node, line })))
    expect(all.length).toBeGreaterThan(10)
    for (const { node, line } of all) {
      expect(line.node, JSON.stringify(line)).toBe(node.name)
      if (line.component === 'cluster') expect(line.nodeId, JSON.stringify(line)).toBe(node.nodeId)
    }
  })

  it('the metadata leader election is logged with the leader and the term', () => {
    const elected = everyLine(nodes).filter((line) => line.msg.startsWith('metadata leader'))
    expect(elected.length).toBeGreaterThan(0)
    for (const line of elected) {
      expect(typeof line.term).toBe('number')
      expect(nodes.map((n) => n.nodeId)).toContain(line.leader)
    }
  })

  it('shard leaders, finished tasks and replica moves carry index, shard, term and task as fields', async () => {
    const created = await nodes[0]!.request<{ taskUid: number }>('POST', '/indexes', {
      uid: 'logged',
      primaryKey: 'id',
      sharding: { shardCount: 2, replicationFactor: 2 },
    })
    expect(created.status).toBe(202)
    const added = await nodes[0]!.request<{ taskUid: number }>(
      'POST',
      '/indexes/logged/documents',
      Array.from({ length: 20 }, (_, id) => ({ id, text: `line ${id}` })),
    )
    expect(added.status).toBe(202)
    await waitFor(
      'the documents task logged as finished',
      async () =>
        everyLine(nodes).some(
          (line) =>
            line.msg === 'task finished' && line.task === added.body.taskUid && line.index === 'logged',
        ),
      { timeoutMs: 60_000, intervalMs: 200 },
    )
    const finished = everyLine(nodes).find(
      (line) => line.msg === 'task finished' && line.task === added.body.taskUid,
    )
    expect(finished).toMatchObject({ type: 'documentAdditionOrUpdate', status: 'succeeded', index: 'logged' })

    // Each shard group elects a leader, which logs it with the index, the shard and the term.
    await waitFor(
      'both shard leaders logged',
      async () => {
        const shards = everyLine(nodes)
          .filter((line) => line.msg.startsWith('shard leader elected') && line.index === 'logged')
          .map((line) => line.shard)
        return shards.includes(0) && shards.includes(1)
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    )
    for (const line of everyLine(nodes).filter((l) => l.msg.startsWith('shard leader elected')))
      expect(typeof line.term).toBe('number')

    // A third replica per shard: every shard moves a replica onto the node without one, and the
    // shard leaders log each membership change with the index and the shard.
    const raised = await nodes[0]!.request('POST', '/admin/indexes/logged/replication', {
      replicationFactor: 3,
    })
    expect(raised.status, JSON.stringify(raised.body)).toBe(202)
    await waitFor(
      'membership changes of both shards logged',
      async () => {
        const changes = everyLine(nodes).filter(
          (line) => line.msg === 'shard membership change' && line.index === 'logged',
        )
        return [0, 1].every((shard) =>
          changes.some(
            (line) =>
              line.shard === shard && (line.change as { type?: string } | undefined)?.type === 'addVoter',
          ),
        )
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    )
    const started = everyLine(nodes).filter(
      (line) => line.msg === 'shard replica started' && line.index === 'logged',
    )
    expect(started.every((line) => typeof line.shard === 'number')).toBe(true)
  }, 120_000)
})
