import type { MetadataState, ShardMovesPlan, ShardReplica } from '@shoal/cluster'
import { describe, expect, it } from 'vitest'
import {
  followOperation,
  type OperationDetails,
  type OperationInput,
  startOperation,
  undoOperation,
} from '../src/internal/cluster/cluster-operation-progress.ts'
import type { MoveInFlight } from '../src/internal/cluster/moves-in-flight.ts'

// The pure half of cluster operation tasks: how a drain, replace or rebalance starts, and where it
// stands from the metadata, the plan and its own last recorded details (docs/cluster-operations.md).

const node = (id: string, state = 'active') => ({
  id,
  name: id,
  state,
  p2pAddrs: [],
  httpAddr: '',
  gossipAddr: '',
  region: '',
  zone: '',
  capabilities: [],
  version: '0',
  joinedAtMs: 0,
  updatedAtMs: 0,
})
const active = (nodeId: string): ShardReplica => ({ nodeId, role: 'voter', state: 'active' })

function metadata(
  nodes: Record<string, string>,
  shards: ShardReplica[][],
  settings: Record<string, string> = {},
): MetadataState {
  return {
    clusterId: 'c',
    clusterName: 'c',
    version: 1,
    nodes: Object.fromEntries(Object.entries(nodes).map(([id, state]) => [id, node(id, state)])),
    indexes: {
      items: {
        uid: 'items',
        primaryKey: 'id',
        settings: {},
        sharding: { shardCount: shards.length, replicationFactor: 2, strategy: 'hash' },
        createdAtMs: 1,
        updatedAtMs: 1,
      },
    },
    shards: { items: shards.map((replicas, shard) => ({ shard, replicas })) },
    apiKeys: {},
    settings,
  } as unknown as MetadataState
}

const idle: ShardMovesPlan = { start: [], waiting: 0, inFlight: 0, unplaceable: [] }
const input = (state: MetadataState, plan: ShardMovesPlan = idle): OperationInput => ({
  state,
  alive: () => true,
  downSinceMs: () => undefined,
  plan,
  nowMs: 1_000,
  majorityWaitMs: 300_000,
})

describe('cluster operation tasks', () => {
  it('a drain whose replicas no other node can take fails at the start and proposes nothing', () => {
    const state = metadata({ a: 'active', b: 'active' }, [[active('a'), active('b')]])
    const start = startOperation({ kind: 'nodeDrain', nodeId: 'a' }, 7, input(state))
    expect(start.kind).toBe('failed')
    if (start.kind !== 'failed') return
    expect(start.error.code).toBe('cluster_move_impossible')
    expect(start.error.message).toMatch(/cannot drain a: .* items\/0/)
  })

  it('a drain with somewhere to go marks the node draining and plans one move per replica it holds', () => {
    const state = metadata({ a: 'active', b: 'active', c: 'active' }, [
      [active('a'), active('b')],
      [active('b'), active('c')],
      [active('a'), active('c')],
    ])
    const start = startOperation({ kind: 'nodeDrain', nodeId: 'a' }, 7, input(state))
    expect(start).toMatchObject({
      kind: 'start',
      commands: [{ type: 'node.state', nodeId: 'a', state: 'draining' }],
      details: { node: 'a', nodeStateBefore: 'active', movesPlanned: 2, movesDone: 0 },
    })
  })

  it('a drain counts its moves done from the replicas the node still holds, and succeeds once it has left', () => {
    const op = { kind: 'nodeDrain', nodeId: 'a' } as const
    const started = startOperation(
      op,
      7,
      input(
        metadata({ a: 'active', b: 'active', c: 'active' }, [
          [active('a'), active('b')],
          [active('a'), active('c')],
        ]),
      ),
    )
    if (started.kind !== 'start') throw new Error('expected a start')
    const moving: MoveInFlight = {
      index: 'items',
      shard: 1,
      from: 'a',
      to: 'b',
      appliedIndex: 5,
      leaderCommitIndex: 10,
      progress: 0.5,
      bytes: 4096,
    }
    const midway = metadata({ a: 'draining', b: 'active', c: 'active' }, [
      [active('b'), active('c')],
      [{ ...active('a'), state: 'removing' }, active('c'), { ...active('b'), state: 'initializing' }],
    ])
    const step = followOperation(op, started.details, input(midway), [moving])
    expect(step.kind).toBe('running')
    expect(step.details).toMatchObject({ movesPlanned: 2, movesDone: 1, movesInFlight: 1, bytesMoved: 4096 })
    // A new metadata leader goes on from the recorded details: the ended move's bytes stay counted.
    const done = metadata({ a: 'left', b: 'active', c: 'active' }, [
      [active('b'), active('c')],
      [active('c'), active('b')],
    ])
    const end = followOperation(op, step.details, input(done), [])
    expect(end.kind).toBe('succeeded')
    expect(end.details).toMatchObject({ movesPlanned: 2, movesDone: 2, movesInFlight: 0, bytesMoved: 4096 })
  })

  it('a drain whose only destination is down waits for it, then fails as stuck once it stays away, and undoing it makes the node active again', () => {
    const op = { kind: 'nodeDrain', nodeId: 'a' } as const
    const details = { nodeStateBefore: 'active', movesPlanned: 1, movesDone: 0, bytesMoved: 0, inFlight: [] }
    const state = metadata({ a: 'draining', b: 'active', c: 'dead' }, [[active('a'), active('b')]])
    const down = (forMs: number): OperationInput => ({
      ...input(state),
      alive: (id) => id !== 'c',
      downSinceMs: (id) => (id === 'c' ? 1_000 - forMs : undefined),
    })
    // c, cut off for now, can take the replica once back.
    const waiting = followOperation(op, details as unknown as OperationDetails, down(5_000), [])
    expect(waiting.kind).toBe('running')
    expect(waiting.details.waitingFor.join()).toMatch(/items\/0; a node down for now can/)
    const step = followOperation(op, details as unknown as OperationDetails, down(300_000), [])
    expect(step).toMatchObject({ kind: 'failed', stuck: true, error: { code: 'cluster_move_impossible' } })
    expect(undoOperation(op, step.details, 5)).toEqual([
      { type: 'node.state', nodeId: 'a', state: 'active', ifState: ['draining'], atMs: 5 },
    ])
  })

  it('a drain whose replica only a node on its way out of that shard could take waits for that move, not failing as stuck', () => {
    // Regression (moves-partition, seed 2): a's replica of items/0 shares the shard with b, c and
    // d; d's replica is leaving (an earlier move), so once it has left d can take a's. Counted as
    // stranded, the drain failed after the stuck limit and a stayed for good.
    const op = { kind: 'nodeDrain', nodeId: 'a' } as const
    const removing = (nodeId: string): ShardReplica => ({ nodeId, role: 'voter', state: 'removing' })
    const state = metadata({ a: 'draining', b: 'active', c: 'active', d: 'active' }, [
      [active('a'), active('b'), active('c'), removing('d')],
    ])
    const details = { nodeStateBefore: 'active', movesPlanned: 1, movesDone: 0, bytesMoved: 0, inFlight: [] }
    const step = followOperation(
      op,
      details as unknown as OperationDetails,
      { ...input(state), nowMs: 600_000 },
      [],
    )
    expect(step).toMatchObject({ kind: 'running', details: { waitingFor: [] } })
  })

  it('a drain whose node was still receiving a replica counts it as moving: the arrival is rolled back, not stranded', () => {
    // The arrival on a, which no longer may receive, is dropped by the controller's rollback (and
    // the replica leaving for it restored), so it needs no other node to take it.
    const op = { kind: 'nodeDrain', nodeId: 'a' } as const
    const state = metadata({ a: 'draining', b: 'active', c: 'active', d: 'active' }, [
      [
        active('b'),
        active('c'),
        { nodeId: 'd', role: 'voter', state: 'removing' },
        { nodeId: 'a', role: 'voter', state: 'initializing' },
      ],
    ])
    const details = { nodeStateBefore: 'active', movesPlanned: 1, movesDone: 0, bytesMoved: 0, inFlight: [] }
    const step = followOperation(
      op,
      details as unknown as OperationDetails,
      { ...input(state), nowMs: 600_000 },
      [],
    )
    expect(step).toMatchObject({ kind: 'running', details: { movesWaiting: 0 } })
    // Rolled back: a holds nothing and has left, and the drain is done.
    const after = metadata({ a: 'left', b: 'active', c: 'active', d: 'active' }, [
      [active('b'), active('c'), active('d')],
    ])
    expect(followOperation(op, step.details, input(after), []).kind).toBe('succeeded')
  })

  it('a rebalance counts the moves that left the in-flight list and ends once nothing is left to move', () => {
    const op = { kind: 'clusterRebalance' } as const
    const state = metadata({ a: 'active', b: 'active' }, [[active('a'), active('b')]], {
      'shoal.rebalance': '7',
    })
    const plan = { ...idle, waiting: 1, inFlight: 1 }
    const previous = {
      movesPlanned: 3,
      movesDone: 1,
      movesInFlight: 1,
      movesWaiting: 1,
      bytesMoved: 300,
      inFlight: [{ index: 'items', shard: 0, from: 'a', to: 'b', progress: 0.2, bytes: 100 }],
      nextMoves: [],
      unplaceable: [],
      waitingFor: [],
    }
    const step = followOperation(op, previous, input(state, plan), [])
    expect(step.kind).toBe('running')
    expect(step.details).toMatchObject({ movesDone: 2, movesInFlight: 0, bytesMoved: 300, movesPlanned: 3 })
    const finished = followOperation(
      op,
      step.details,
      input(metadata({ a: 'active', b: 'active' }, [[active('a'), active('b')]])),
      [],
    )
    expect(finished.kind).toBe('succeeded')
  })

  it('replacing a dead node whose shard groups lost their majority for good is refused at the start, naming the shards', () => {
    // Two replicas per shard and one of them dead for longer than the wait: that group has no
    // leader and none to come, so no replica can join or leave it.
    const state = metadata({ a: 'active', b: 'dead', c: 'active', d: 'active' }, [
      [active('a'), active('b')],
      [active('c'), active('a')],
    ])
    const gone = {
      ...input(state),
      alive: (id: string) => id !== 'b',
      downSinceMs: (id: string) => (id === 'b' ? 1_000 - 300_000 : undefined),
    }
    const start = startOperation({ kind: 'nodeReplace', oldNodeId: 'b', newNodeId: 'd' }, 7, gone)
    expect(start.kind).toBe('failed')
    if (start.kind !== 'failed') return
    expect(start.error.code).toBe('cluster_move_impossible')
    expect(start.error.message).toMatch(/cannot replace b: .*items\/0 \(1 of 2 voters live\).* majority/)
    const drain = startOperation({ kind: 'nodeDrain', nodeId: 'a' }, 8, gone)
    expect(drain.kind).toBe('failed')
    // A voter that left the cluster never comes back either.
    const left = metadata({ a: 'active', b: 'left', c: 'active', d: 'active' }, [[active('a'), active('b')]])
    const fromLeft = startOperation({ kind: 'nodeDrain', nodeId: 'a' }, 9, {
      ...input(left),
      alive: (id) => id !== 'b',
    })
    expect(fromLeft.kind).toBe('failed')
  })

  it('a drain of a node cut off with another voter of its shard starts and waits, saying why, until the partition heals', () => {
    // {c, d} | {a, b}: the drain of a goes through the majority side of the metadata, while the
    // group of items/0 (voters a, b, c) has only c live there.
    const op = { kind: 'nodeDrain', nodeId: 'a' } as const
    const state = metadata({ a: 'active', b: 'active', c: 'active', d: 'active' }, [
      [active('a'), active('b'), active('c')],
      [active('c'), active('d')],
    ])
    const split = {
      ...input(state),
      alive: (id: string) => id === 'c' || id === 'd',
      downSinceMs: (id: string) => (id === 'a' || id === 'b' ? 1_000 - 5_000 : undefined),
    }
    const start = startOperation(op, 7, split)
    expect(start.kind).toBe('start')
    if (start.kind !== 'start') return
    expect(start.details.waitingFor.join()).toMatch(/items\/0 \(1 of 3 voters live\).*no live majority/)
    // While the split holds the task runs (waits), however long the replica grace or the stuck limit.
    const draining = metadata({ a: 'draining', b: 'active', c: 'active', d: 'active' }, [
      [active('a'), active('b'), active('c')],
      [active('c'), active('d')],
    ])
    const later = { ...split, state: draining, nowMs: 1_000 + 60_000 }
    const waiting = followOperation(op, start.details, later, [])
    expect(waiting.kind).toBe('running')
    expect(waiting.details.waitingFor).toHaveLength(1)
    // Healed: nothing holds it any more, and it carries on.
    const healed = followOperation(op, waiting.details, { ...input(draining), nowMs: 1_000 + 61_000 }, [])
    expect(healed).toMatchObject({ kind: 'running', details: { waitingFor: [] } })
  })

  it('a drain requested while the only nodes that could take its replicas are cut off starts and waits for them', () => {
    // {b, c} | {a, d}: c is drained through b; a and d, the nodes that could take its replica of
    // items/0 (held with b), are down for now (recorded dead by the majority side).
    const state = metadata({ a: 'dead', b: 'active', c: 'active', d: 'dead' }, [[active('b'), active('c')]])
    const split: OperationInput = {
      ...input(state),
      alive: (id) => id === 'b' || id === 'c',
      downSinceMs: (id) => (id === 'a' || id === 'd' ? 1_000 - 5_000 : undefined),
    }
    const start = startOperation({ kind: 'nodeDrain', nodeId: 'c' }, 7, split)
    expect(start.kind).toBe('start')
    if (start.kind !== 'start') return
    expect(start.details.waitingFor.join()).toMatch(/no live active node can take the replica of items\/0/)
  })

  it('a replacement whose shard group loses its majority on the way waits while its voters may return, then fails', () => {
    const op = { kind: 'nodeReplace', oldNodeId: 'b', newNodeId: 'd' } as const
    const moving: ShardReplica[] = [
      active('a'),
      { nodeId: 'b', role: 'voter', state: 'removing' },
      { nodeId: 'd', role: 'voter', state: 'initializing' },
    ]
    const state = metadata({ a: 'active', b: 'draining', c: 'active', d: 'active' }, [moving], {
      'shoal.replace.b': 'd',
    })
    const previous: OperationDetails = {
      movesPlanned: 1,
      movesDone: 0,
      movesInFlight: 1,
      movesWaiting: 0,
      bytesMoved: 0,
      inFlight: [],
      nextMoves: [],
      unplaceable: [],
      waitingFor: [],
    }
    // While SWIM still calls b alive, the move simply runs.
    expect(followOperation(op, previous, input(state), []).kind).toBe('running')
    const down = (forMs: number) => ({
      ...input(state),
      alive: (id: string) => id !== 'b',
      downSinceMs: (id: string) => (id === 'b' ? 1_000 - forMs : undefined),
    })
    const waiting = followOperation(op, previous, down(30_000), [])
    expect(waiting.kind).toBe('running')
    expect(waiting.details.waitingFor.join()).toMatch(/items\/0 \(1 of 2 voters live\)/)
    const step = followOperation(op, previous, down(300_000), [])
    expect(step.kind).toBe('failed')
    if (step.kind !== 'failed') return
    expect(step.stuck).toBe(false)
    expect(step.error.message).toMatch(/items\/0 \(1 of 2 voters live\)/)
  })

  it('a replacement with a live majority in every group starts', () => {
    const state = metadata({ a: 'active', b: 'dead', c: 'active', d: 'active' }, [
      [active('a'), active('b'), active('c')],
    ])
    const start = startOperation({ kind: 'nodeReplace', oldNodeId: 'b', newNodeId: 'd' }, 7, {
      ...input(state),
      alive: (id) => id !== 'b',
    })
    expect(start.kind).toBe('start')
  })
})
