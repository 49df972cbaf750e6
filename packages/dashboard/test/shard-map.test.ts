import { describe, expect, it } from 'vitest'
import { largestLag, leadersPerNode, type ReplicaAnswer, shardMap } from '../src/browser/shard-map.ts'

const replica = (node: string, extra: Partial<ReplicaAnswer> = {}): ReplicaAnswer => ({
  node,
  nodeName: node.toUpperCase(),
  role: 'voter',
  state: 'active',
  reachable: true,
  leader: false,
  appliedIndex: 10,
  lag: 0,
  ...extra,
})

const answer = (shards: { shard: number; replicas: ReplicaAnswer[] }[], replicationFactor = 3) => ({
  indexes: [{ indexUid: 'books', sharding: { shardCount: shards.length, replicationFactor }, shards }],
})

describe('the shard map', () => {
  it('orders each index row by shard and marks a fully live shard ok', () => {
    const rows = shardMap(
      answer([
        { shard: 1, replicas: [replica('a'), replica('b', { leader: true }), replica('c')] },
        { shard: 0, replicas: [replica('a', { leader: true }), replica('b'), replica('c', { lag: 4 })] },
      ]),
      [],
    )
    expect(rows[0]?.cells.map((c) => [c.shard, c.status, c.liveReplicas])).toEqual([
      [0, 'ok', 3],
      [1, 'ok', 3],
    ])
    expect(largestLag(rows)).toBe(4)
    expect(leadersPerNode(rows)).toEqual(
      new Map([
        ['a', 1],
        ['b', 1],
      ]),
    )
  })

  it('marks a shard with an unreachable replica degraded, and one without a live majority down', () => {
    const rows = shardMap(
      answer([
        { shard: 0, replicas: [replica('a'), replica('b'), replica('c', { reachable: false })] },
        {
          shard: 1,
          replicas: [replica('a'), replica('b', { reachable: false }), replica('c', { reachable: false })],
        },
      ]),
      [],
    )
    expect(rows[0]?.cells.map((c) => c.status)).toEqual(['degraded', 'down'])
  })

  it('attaches the moves in flight to their cell and counts a moving shard as degraded', () => {
    const rows = shardMap(
      answer(
        [{ shard: 0, replicas: [replica('a'), replica('b'), replica('d', { state: 'initializing' })] }],
        2,
      ),
      [
        { index: 'books', shard: 0, to: 'd', from: 'b', progress: 0.4 },
        { index: 'other', shard: 0, to: 'd', from: 'a', progress: 1 },
      ],
    )
    expect(rows[0]?.cells[0]?.moves).toEqual([
      { index: 'books', shard: 0, to: 'd', from: 'b', progress: 0.4 },
    ])
    expect(rows[0]?.cells[0]?.status).toBe('degraded')
  })
})
