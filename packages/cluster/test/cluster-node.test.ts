import { waitFor } from '@shoal/testkit/wait'
import { afterEach, describe, expect, it } from 'vitest'
import { ClusterMismatchError, planIndexPlacement } from '../src/index.ts'
import { type TestCluster, testCluster } from './harness.ts'

let cluster: TestCluster | undefined
afterEach(async () => {
  await cluster?.stop()
  cluster = undefined
})

/** Bootstraps `a`, joins `b` and `c`, and waits until all three vote in the metadata group. */
async function threeVoters(c: TestCluster): Promise<void> {
  await c.add('a', { bootstrap: true })
  await c.add('b')
  await c.add('c')
  await waitFor('three voters', () => c.nodes[0]?.node.metaRaft?.status().confState.voters.length === 3)
}

function versions(c: TestCluster): number[] {
  return c.nodes.map((n) => n.node.state().version)
}

describe('ClusterNode over in-memory gossip and transport', () => {
  it('forms a three-node cluster from one bootstrap node and seeds: every node agrees on members and metadata', async () => {
    cluster = testCluster()
    const c = cluster
    await c.add('a', { bootstrap: true })
    await c.add('b')
    await c.add('c')
    await waitFor('three active nodes in every copy', () =>
      c.nodes.every(
        (n) => Object.values(n.node.state().nodes).filter((r) => r.state === 'active').length === 3,
      ),
    )
    await waitFor(
      'three metadata voters',
      () => c.nodes[0]?.node.metaRaft?.status().confState.voters.length === 3,
    )
    await waitFor('one metadata version everywhere', () => new Set(versions(c)).size === 1)
    const ids = new Set(c.nodes.map((n) => n.node.clusterId))
    expect(ids.size).toBe(1)
    const health = await c.nodes[1]?.node.health()
    expect(health?.status).toBe('green')
    expect(health?.number_of_nodes).toBe(3)
    expect(health?.metadata_leader).toBe(c.nodes[0]?.node.metadataLeader)
  })

  it('reports the longest election timeout of its groups from its Raft tick and election ticks', async () => {
    cluster = testCluster()
    const a = await cluster.add('a', { bootstrap: true })
    // The harness runs 20 ms ticks and 10 election ticks: a member campaigns within [10, 20) ticks.
    expect(a.node.electionTimeoutMs).toBe(2 * 10 * 20)
  })

  it('accepts metadata writes through any node and reads them linearizably from any node', async () => {
    cluster = testCluster()
    const c = cluster
    await threeVoters(c)
    for (const [i, writer] of c.nodes.entries()) {
      const outcome = await writer.node.propose({ type: 'setting.put', key: 'k', value: `v${i}` })
      expect(outcome.ok).toBe(true)
      for (const reader of c.nodes) {
        const state = await reader.node.readLinearizable()
        expect(state.settings.k).toBe(`v${i}`)
      }
    }
  })

  it('marks a killed node dead, elects a new metadata leader when the leader dies, and keeps accepting writes', async () => {
    cluster = testCluster()
    const c = cluster
    await threeVoters(c)
    const leaderId = c.nodes[0]?.node.metadataLeader
    const leader = c.nodes.find((n) => n.id === leaderId)
    if (leader === undefined) throw new Error('no leader')
    await c.kill(leader)
    const survivors = c.nodes.filter((n) => n !== leader)
    await waitFor('a new leader', () => survivors.some((n) => n.node.metaRaft?.isLeader === true), {
      timeoutMs: 5_000,
    })
    await waitFor('the old leader marked dead', () =>
      survivors.every((n) => n.node.state().nodes[leader.id]?.state === 'dead'),
    )
    const outcome = await survivors[0]?.node.propose({ type: 'setting.put', key: 'after', value: 'failover' })
    expect(outcome?.ok).toBe(true)
    const health = await survivors[1]?.node.health()
    expect(health?.status).toBe('yellow')
    expect(health?.number_of_nodes).toBe(2)
    // It comes back with its stores and catches up.
    await c.restart(leader)
    await waitFor('the old leader caught up', () => leader.node.state().settings.after === 'failover')
    await waitFor('the old leader active again', () =>
      c.nodes.every((n) => n.node.state().nodes[leader.id]?.state === 'active'),
    )
  })

  it('makes the shard plan once per change of what it reads: polled again, or after a task-only change, it is the same plan; a drain makes a new one', async () => {
    cluster = testCluster()
    const c = cluster
    await threeVoters(c)
    const leader = c.nodes.find((n) => n.node.metadataLeader === n.id) as (typeof c.nodes)[number]
    const placed = planIndexPlacement(leader.node.state(), 'docs', { shardCount: 3, replicationFactor: 2 })
    const created = await leader.node.propose({
      type: 'index.create',
      index: { uid: 'docs', primaryKey: 'id', settings: {}, sharding: placed.sharding },
      shards: placed.shards,
      atMs: Date.now(),
    })
    expect(created.ok).toBe(true)
    // Placement costs a hash ring per index on the event loop that drives the Raft groups: the
    // controller (every pass), operation progress and the overview poll it, and share one plan.
    const first = leader.node.planShardMoves()
    expect(leader.node.planShardMoves()).toBe(first)
    // A task's progress changes the metadata but nothing the plan reads.
    const task = await leader.node.propose({
      type: 'task.enqueue',
      task: { status: 'processing', indexUid: null },
      atMs: Date.now(),
    })
    expect(task.ok).toBe(true)
    expect(leader.node.planShardMoves()).toBe(first)
    expect(first.start).toEqual([])
    // A drain changes the nodes: a new plan moves the drained node's replicas (or holds them back).
    const drained = c.nodes.find((n) => n !== leader) as (typeof c.nodes)[number]
    const held = (leader.node.state().shards.docs ?? []).filter((s) =>
      s.replicas.some((r) => r.nodeId === drained.id),
    ).length
    expect(held).toBeGreaterThan(0)
    const draining = await leader.node.propose({
      type: 'node.state',
      nodeId: drained.id,
      state: 'draining',
      ifState: ['active'],
      atMs: Date.now(),
    })
    expect(draining.ok).toBe(true)
    const next = leader.node.planShardMoves()
    expect(next).not.toBe(first)
    expect(next.start.length + next.waiting + next.inFlight).toBeGreaterThan(0)
  })

  it('keeps a drained node draining while it is down and after it comes back, its replicas planned off it', async () => {
    // A drain requested while the node is cut off (issues 17, 19): recorded dead, the node came
    // back active and its drain was forgotten, the task waiting for ever.
    cluster = testCluster()
    const c = cluster
    await threeVoters(c)
    const d = await c.add('d')
    await waitFor('four active nodes', () =>
      c.nodes.every(
        (n) => Object.values(n.node.state().nodes).filter((r) => r.state === 'active').length === 4,
      ),
    )
    const leader = () => c.nodes.find((n) => n !== d && n.node.metadataLeader === n.id)
    await waitFor('a metadata leader other than d', () => leader() !== undefined)
    const chief = leader() as (typeof c.nodes)[number]
    const placed = planIndexPlacement(chief.node.state(), 'docs', { shardCount: 4, replicationFactor: 2 })
    const created = await chief.node.propose({
      type: 'index.create',
      index: { uid: 'docs', primaryKey: 'id', settings: {}, sharding: placed.sharding },
      shards: placed.shards,
      atMs: Date.now(),
    })
    expect(created.ok).toBe(true)
    expect(placed.shards.some((s) => s.replicas.some((r) => r.nodeId === d.id))).toBe(true)
    await c.kill(d)
    const survivors = c.nodes.filter((n) => n !== d)
    await waitFor('d seen down', () => survivors.every((n) => !n.node.isAlive(d.id)), { timeoutMs: 5_000 })
    const drained = await survivors[0]?.node.propose({
      type: 'node.state',
      nodeId: d.id,
      state: 'draining',
      ifState: ['active', 'joining', 'dead', 'draining'],
      atMs: Date.now(),
    })
    expect(drained?.ok).toBe(true)
    // The controller runs every 50 ms: give it a few passes with d down.
    await new Promise((resolve) => setTimeout(resolve, 500))
    const record = () => (leader() ?? chief).node.state().nodes[d.id]
    expect(record()?.state).toBe('draining')
    // Its replicas leave it even though it is down (a move needs nothing from the node it leaves).
    const leaving = (leader() ?? chief).node
      .state()
      .shards.docs?.flatMap((s) => s.replicas)
      .filter((r) => r.nodeId === d.id && r.state === 'removing')
    expect(leaving?.length).toBeGreaterThan(0)
    await c.restart(d)
    await waitFor('d seen alive again', () => survivors.every((n) => n.node.isAlive(d.id)), {
      timeoutMs: 5_000,
    })
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(record()?.state).toBe('draining')
  })

  it('brings a node that joins after log compaction up to date from a snapshot', async () => {
    cluster = testCluster({ metaSnapshotEntries: 8 })
    const c = cluster
    await c.add('a', { bootstrap: true })
    await c.add('b')
    await waitFor(
      'b a member',
      () => c.nodes[0]?.node.metaRaft?.status().confState.learners.includes('b') === true,
    )
    for (let i = 0; i < 40; i++) {
      const outcome = await c.nodes[1]?.node.propose({ type: 'setting.put', key: `k${i}`, value: `v${i}` })
      expect(outcome?.ok).toBe(true)
    }
    await waitFor('the log compacted', () => (c.nodes[0]?.node.metaRaft?.status().snapshotIndex ?? 0) > 20)
    const late = await c.add('late')
    await waitFor('the late node caught up', () => late.node.state().settings.k39 === 'v39')
    expect(Object.keys(late.node.state().settings)).toHaveLength(40)
    expect(late.node.state().version).toBe(c.nodes[0]?.node.state().version)
    // The snapshot took the transport's snapshot path, not a frame.
    expect(c.network.delivered.snapshots).toBeGreaterThan(0)
    expect(late.node.host?.metrics().snapshotsReceived).toBeGreaterThan(0)
  })

  it('retries a snapshot transfer that failed until the joining node has it', async () => {
    let failures = 2
    cluster = testCluster({
      metaSnapshotEntries: 8,
      transport: (_id, inner) => ({
        sendRaft: (to, frame) => inner.sendRaft(to, frame),
        request: (to, body, options) => inner.request(to, body, options),
        sendSnapshot: (to, snapshot, options) => {
          if (failures > 0) {
            failures--
            return Promise.reject(new Error('stream reset'))
          }
          return inner.sendSnapshot?.(to, snapshot, options) ?? Promise.reject(new Error('no snapshot path'))
        },
      }),
    })
    const c = cluster
    const a = await c.add('a', { bootstrap: true })
    await waitFor('the cluster initialised', () => a.node.state().clusterId !== null)
    for (let i = 0; i < 30; i++) {
      const outcome = await a.node.propose({ type: 'setting.put', key: `k${i}`, value: `v${i}` })
      expect(outcome.ok).toBe(true)
    }
    await waitFor('the log compacted', () => (a.node.metaRaft?.status().snapshotIndex ?? 0) > 20)
    const late = await c.add('late')
    await waitFor('the late node caught up', () => late.node.state().settings.k29 === 'v29')
    expect(failures).toBe(0)
    expect(a.node.host?.metrics().snapshotsFailed).toBeGreaterThanOrEqual(2)
    expect(late.node.host?.metrics().snapshotsReceived).toBeGreaterThan(0)
  })

  it('drops and counts a snapshot message of another cluster, and refuses one the Raft host cannot use', async () => {
    cluster = testCluster()
    const c = cluster
    const a = await c.add('a', { bootstrap: true })
    const clusterId = a.node.clusterId as string
    const message = {
      type: 'snapshot',
      from: 'b',
      to: 'a',
      term: 1,
      meta: { index: 5, term: 1, confState: { voters: ['a'], learners: [] } },
      offset: 0,
      chunk: new Uint8Array(8),
      totalBytes: 8,
    } as const
    expect(a.node.receiveSnapshot('b', { clusterId: 'another', group: 'meta', message })).toBe(false)
    expect(a.node.counters.snapshotsDroppedForeign).toBe(1)
    // Right cluster, but speaking for another node than the sender, and a group not hosted here.
    expect(a.node.receiveSnapshot('c', { clusterId, group: 'meta', message })).toBe(false)
    expect(a.node.receiveSnapshot('b', { clusterId, group: 'no-such-group', message })).toBe(false)
    expect(a.node.host?.metrics().snapshotsDropped).toBe(2)
  })

  it('reports red, never green, on a node cut off from the metadata majority', async () => {
    cluster = testCluster()
    const c = cluster
    await threeVoters(c)
    await waitFor('green', async () => (await c.nodes[2]?.node.health())?.status === 'green')
    const lonely = c.nodes.find((n) => n.node.metadataLeader !== n.id) as (typeof c.nodes)[number]
    for (const other of c.nodes) if (other !== lonely) c.network.cut(`p2p:${lonely.id}`, `p2p:${other.id}`)
    for (let i = 0; i < 5; i++) {
      const health = await lonely.node.health({ timeoutMs: 300 })
      expect(health.status).toBe('red')
      expect(health.metadata_reachable).toBe(false)
    }
    c.network.heal()
    await waitFor('green again after the heal', async () => (await lonely.node.health())?.status === 'green')
  })

  it('refuses to bootstrap a second cluster next to seeds that already form one', async () => {
    cluster = testCluster()
    const c = cluster
    await c.add('a', { bootstrap: true })
    await waitFor('initialised', () => c.nodes[0]?.node.state().clusterId !== null)
    await expect(c.add('b', { bootstrap: true })).rejects.toThrow(/already form cluster/)
  })

  it('refuses to start a node whose data dir belongs to another cluster', async () => {
    cluster = testCluster()
    const c = cluster
    await c.add('a', { bootstrap: true })
    await waitFor('initialised', () => c.nodes[0]?.node.state().clusterId !== null)
    const other = testCluster({ seed: 2 })
    try {
      await other.add('x', { bootstrap: true })
      const stranger = other.nodes[0]
      if (stranger === undefined) throw new Error('no node')
      await other.kill(stranger)
      // Same identity store, now pointed at the first cluster's seeds.
      c.nodes.push(stranger)
      await expect(c.restart(stranger)).rejects.toThrow(ClusterMismatchError)
      c.nodes.pop()
    } finally {
      await other.stop()
    }
  })
})
