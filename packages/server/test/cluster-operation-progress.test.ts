import type { MetadataState, ShardMovesPlan, ShardReplica } from '@shoal/cluster'
import { describe, expect, it } from 'vitest'
import {
  followOperation,
  type OperationDetails,
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
const input = (state: MetadataState, plan: ShardMovesPlan = idle) => ({
  state,
  alive: () => true,
  plan,
  nowMs: 1_000,
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

  it('a drain stuck with no destination fails as stuck, and undoing it makes the node active again', () => {
    const op = { kind: 'nodeDrain', nodeId: 'a' } as const
    const details = { nodeStateBefore: 'active', movesPlanned: 1, movesDone: 0, bytesMoved: 0, inFlight: [] }
    const state = metadata({ a: 'draining', b: 'active', c: 'dead' }, [[active('a'), active('b')]])
    const step = followOperation(
      op,
      details as unknown as OperationDetails,
      {
        ...input(state),
        alive: (id) => id !== 'c',
      },
      [],
    )
    expect(step).toMatchObject({ kind: 'failed', stuck: true, error: { code: 'cluster_move_impossible' } })
    expect(undoOperation(op, step.details, 5)).toEqual([
      { type: 'node.state', nodeId: 'a', state: 'active', ifState: ['draining'], atMs: 5 },
    ])
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

  it('replacing a dead node whose shard groups kept no majority is refused at the start, naming the shards', () => {
    // Two replicas per shard and one of them dead: that group has no leader, so no replica can
    // join or leave it, and a replacement would wait forever at 0 %.
    const state = metadata({ a: 'active', b: 'dead', c: 'active', d: 'active' }, [
      [active('a'), active('b')],
      [active('c'), active('a')],
    ])
    const dead = { ...input(state), alive: (id: string) => id !== 'b' }
    const start = startOperation({ kind: 'nodeReplace', oldNodeId: 'b', newNodeId: 'd' }, 7, dead)
    expect(start.kind).toBe('failed')
    if (start.kind !== 'failed') return
    expect(start.error.code).toBe('cluster_move_impossible')
    expect(start.error.message).toMatch(/cannot replace b: .*items\/0 \(1 of 2 voters live\).* majority/)
    const drain = startOperation({ kind: 'nodeDrain', nodeId: 'a' }, 8, dead)
    expect(drain.kind).toBe('failed')
  })

  it('a replacement whose shard group loses its majority on the way fails as stuck instead of waiting at 0 %', () => {
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
    }
    // While SWIM still calls b alive, the move simply runs.
    expect(followOperation(op, previous, input(state), []).kind).toBe('running')
    const step = followOperation(op, previous, { ...input(state), alive: (id) => id !== 'b' }, [])
    expect(step.kind).toBe('failed')
    if (step.kind !== 'failed') return
    expect(step.stuck).toBe(true)
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
