import { waitFor } from '@shoal/testkit/wait'
import { afterEach, describe, expect, it } from 'vitest'
import { resolveControllerConfig } from '../src/controller.ts'
import { metadataLeaderTarget } from '../src/metadata-leader-placement.ts'
import { type TestCluster, testCluster } from './harness.ts'

// The metadata leader runs off the node leading the most shard groups, so that one node's death
// costs the write path one election, not two (docs/cluster-operations.md, "Failover").

describe('metadataLeaderTarget', () => {
  it('names the candidate leading the fewest shard groups when that is fewer than this node leads', () => {
    expect(
      metadataLeaderTarget({ self: 'a', shardLeaders: ['a', 'a', 'b', null], candidates: ['a', 'b', 'c'] }),
    ).toBe('c')
    expect(metadataLeaderTarget({ self: 'a', shardLeaders: ['a', 'b'], candidates: ['a', 'b', 'c'] })).toBe(
      'c',
    )
  })

  it('keeps the leadership where it is when this node leads no more shard groups than any candidate', () => {
    expect(metadataLeaderTarget({ self: 'a', shardLeaders: [], candidates: ['a', 'b', 'c'] })).toBeNull()
    expect(
      metadataLeaderTarget({ self: 'a', shardLeaders: ['a', 'b', 'c'], candidates: ['b', 'c'] }),
    ).toBeNull()
    // Nobody to take over (only this node is live and caught up).
    expect(metadataLeaderTarget({ self: 'a', shardLeaders: ['a'], candidates: ['a'] })).toBeNull()
  })

  it('breaks ties by the lowest node id, so every pass picks the same target', () => {
    expect(metadataLeaderTarget({ self: 'c', shardLeaders: ['c'], candidates: ['b', 'a', 'c'] })).toBe('a')
  })

  it('is configured by metadataLeaderMoveIntervalMs (0: off; negative refused)', () => {
    expect(resolveControllerConfig().metadataLeaderMoveIntervalMs).toBe(0)
    expect(resolveControllerConfig({ metadataLeaderMoveIntervalMs: 0 }).metadataLeaderMoveIntervalMs).toBe(0)
    expect(() => resolveControllerConfig({ metadataLeaderMoveIntervalMs: -1 })).toThrow(/non-negative/)
  })
})

let cluster: TestCluster | undefined
afterEach(async () => {
  await cluster?.stop()
  cluster = undefined
})

const noop = { apply: () => null, snapshot: () => new Uint8Array(), restore: () => {} }

describe('the controller keeps the metadata leader off the node leading shard groups', () => {
  it('hands the metadata leadership to a voter leading none once the metadata leader leads a shard group', async () => {
    cluster = testCluster({ controller: { metadataLeaderMoveIntervalMs: 30_000 } })
    const c = cluster
    await c.add('a', { bootstrap: true })
    await c.add('b')
    await c.add('c')
    await waitFor('three voters', () => c.nodes[0]?.node.metaRaft?.status().confState.voters.length === 3)
    const leaderId = c.nodes[0]?.node.metadataLeader as string
    const leader = c.nodes.find((n) => n.id === leaderId)
    if (leader === undefined) throw new Error('no metadata leader')
    // A shard group on all three nodes, led by the metadata leader's node.
    const ids = c.nodes.map((n) => n.id)
    const group = 'shard/t/1/0'
    for (const n of c.nodes)
      await n.node.host?.addGroup(group, { stateMachine: noop, bootstrap: { voters: ids, learners: [] } })
    leader.node.host?.group(group)?.campaign()
    await waitFor('the shard group led by the metadata leader node', () =>
      c.nodes.every((n) => n.node.host?.group(group)?.leader === leaderId),
    )
    await waitFor(
      'the metadata leadership moved',
      () => c.nodes.every((n) => n.node.metadataLeader !== null && n.node.metadataLeader !== leaderId),
      { timeoutMs: 10_000 },
    )
    const moved = c.nodes[0]?.node.metadataLeader
    expect(c.nodes.find((n) => n.id === moved)?.node.host?.group(group)?.leader).toBe(leaderId)
    const outcome = await leader.node.propose({ type: 'setting.put', key: 'after', value: 'move' })
    expect(outcome.ok).toBe(true)
  })
})
