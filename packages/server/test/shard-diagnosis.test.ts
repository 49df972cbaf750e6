import type { MetadataState, NodeRecord, PlannedMove, ShardReplica } from '@shoal/cluster'
import { describe, expect, it } from 'vitest'
import { diagnoseShards } from '../src/internal/cluster/shard-diagnosis.ts'

// Why each shard is not fully served (GET /_cluster/diagnosis), as Elasticsearch's allocation
// explanations say it: what is missing, and what will repair it or why nothing can.

const node = (id: string, state: NodeRecord['state'] = 'active'): NodeRecord => ({
  id,
  name: `name-${id}`,
  p2pAddrs: [],
  httpAddr: '127.0.0.1:1',
  gossipAddr: '127.0.0.1:2',
  region: '',
  zone: 'z1',
  capabilities: ['bm25', 'vector'],
  version: '0.1.0',
  state,
  joinedAtMs: 0,
  updatedAtMs: 0,
})

const voter = (nodeId: string, state: ShardReplica['state'] = 'active'): ShardReplica => ({
  nodeId,
  role: 'voter',
  state,
})

function metadata(nodes: NodeRecord[], replicas: ShardReplica[][], replicationFactor = 3): MetadataState {
  return {
    clusterId: 'c',
    clusterName: 'shoal',
    version: 7,
    nodes: Object.fromEntries(nodes.map((n) => [n.id, n])),
    indexes: {
      books: {
        uid: 'books',
        primaryKey: 'id',
        settings: {},
        sharding: { shardCount: replicas.length, replicationFactor, strategy: 'hash' },
        createdAtMs: 1,
        updatedAtMs: 1,
      },
    },
    shards: { books: replicas.map((r, shard) => ({ shard, replicas: r })) },
    apiKeys: {},
    settings: {},
  }
}

const noPlan = { start: [], unplaceable: [] }

describe('shard diagnosis', () => {
  it('reports nothing for a cluster whose every replica is live', () => {
    const state = metadata([node('a'), node('b'), node('c')], [[voter('a'), voter('b'), voter('c')]])
    expect(diagnoseShards({ state, alive: () => true, plan: noPlan })).toEqual([])
  })

  it('names the unreachable replica and says no other node can take one when every live node holds one', () => {
    const state = metadata([node('a'), node('b'), node('c')], [[voter('a'), voter('b'), voter('c')]])
    const [diagnosis, ...rest] = diagnoseShards({ state, alive: (id) => id !== 'c', plan: noPlan })
    expect(rest).toEqual([])
    expect(diagnosis).toMatchObject({
      index: 'books',
      shard: 0,
      status: 'yellow',
      live_replicas: 2,
      wanted_replicas: 3,
    })
    expect(diagnosis?.problems).toEqual([
      'the replica on name-c (c) is unreachable: the node does not answer gossip (down or cut off)',
      '1 of 3 wanted replicas are not live',
      'no other live node can take a replica: every live data node already holds one (add a node, or bring the missing one back)',
    ])
  })

  it('says a spare node will take the replica after the grace period, or names where the controller places it', () => {
    const nodes = [node('a'), node('b'), node('c', 'dead'), node('d')]
    const state = metadata(nodes, [[voter('a'), voter('b'), voter('c')]])
    const alive = (id: string) => id !== 'c'
    expect(diagnoseShards({ state, alive, plan: noPlan })[0]?.problems).toContain(
      'a live node could take a replica: the controller replaces an unreachable one after its grace period',
    )
    const move = { index: 'books', shard: 0, to: 'd', from: 'c' } as PlannedMove
    const problems = diagnoseShards({ state, alive, plan: { start: [move], unplaceable: [] } })[0]?.problems
    expect(problems).toContain('the replica on name-c (c) is unreachable: the node is marked dead')
    expect(problems).toContain('the controller is placing a replica on name-d (d)')
  })

  it('is red, first of all, when a shard has no live majority of voters', () => {
    const state = metadata([node('a'), node('b'), node('c')], [[voter('a'), voter('b'), voter('c')]])
    const [diagnosis] = diagnoseShards({ state, alive: (id) => id === 'a', plan: noPlan })
    expect(diagnosis?.status).toBe('red')
    expect(diagnosis?.problems[0]).toBe('no live quorum: 1 of 3 voting replicas are live')
  })

  it('reports moves in flight and an index the controller cannot place', () => {
    const state = metadata(
      [node('a'), node('b'), node('c')],
      [[voter('a'), voter('b', 'removing'), voter('c', 'initializing')]],
      2,
    )
    const unplaceable = [{ index: 'books', reason: 'only 1 eligible node for 2 replicas' }]
    const [diagnosis] = diagnoseShards({ state, alive: () => true, plan: { start: [], unplaceable } })
    expect(diagnosis?.status).toBe('yellow')
    expect(diagnosis?.problems).toEqual([
      'the replica on name-b (b) is being removed',
      'a replica is being added on name-c (c): it catches up, then votes (move in flight)',
      '1 of 2 wanted replicas are not live',
      'cannot place the index: only 1 eligible node for 2 replicas',
    ])
  })
})
