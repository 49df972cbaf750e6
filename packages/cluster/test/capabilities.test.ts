import type { NormalEntry } from '@shoal/raft'
import { describe, expect, it } from 'vitest'
import {
  ClusterConfigError,
  computeHealth,
  encodeCommand,
  holdsData,
  type MetadataCommand,
  MetadataStateMachine,
  type NodeAdvert,
  parseCapabilities,
  planIndexPlacement,
  planShardMoves,
  type ShardMovesInput,
  UnsatisfiablePlacementError,
} from '../src/index.ts'

// Issue 21, "Capability routing": coordinators hold no data, and vector data lives only on
// nodes with `vector`, whichever placement runs (creation, repair, drain, replacement, rebalance).

function advert(id: string, capabilities: readonly string[]): NodeAdvert {
  return {
    id,
    name: id,
    p2pAddrs: [],
    httpAddr: '127.0.0.1:1',
    gossipAddr: '127.0.0.1:2',
    region: 'r',
    zone: `z-${id}`,
    capabilities,
    version: '0.1.0',
  }
}

const VECTOR = ['bm25', 'vector']
const TEXT = ['bm25']
const COORDINATOR = ['coordinator']

/** The metadata state machine, and moves completed at once (learner caught up, old replica gone). */
class Cluster {
  readonly sm = new MetadataStateMachine()
  readonly down = new Set<string>()
  #log = 0
  now = 1_000

  constructor(nodes: Record<string, readonly string[]>) {
    this.apply({ type: 'init', clusterId: 'c', name: 'c', atMs: 1 })
    for (const [id, capabilities] of Object.entries(nodes)) this.join(id, capabilities)
  }

  join(id: string, capabilities: readonly string[]): void {
    this.apply({ type: 'node.join', node: advert(id, capabilities), atMs: this.now })
  }

  apply(command: MetadataCommand) {
    const entry: NormalEntry = { kind: 'normal', term: 1, index: ++this.#log, data: encodeCommand(command) }
    return this.sm.apply(entry)
  }

  create(uid: string, request: Record<string, unknown>): void {
    const plan = planIndexPlacement(this.sm.state, uid, request)
    const outcome = this.apply({
      type: 'index.create',
      index: { uid, primaryKey: 'id', settings: {}, sharding: plan.sharding },
      shards: plan.shards,
      atMs: this.now,
    })
    expect(outcome?.ok).toBe(true)
  }

  rebalance = true

  input(): ShardMovesInput {
    return {
      rebalance: this.rebalance,
      state: this.sm.state,
      alive: (id) => !this.down.has(id),
      downSinceMs: () => 0,
      nowMs: this.now,
      replicaGraceMs: 100,
      maxIncomingMoves: 8,
      maxOutgoingMoves: 8,
      replacements: Object.fromEntries(
        Object.entries(this.sm.state.settings)
          .filter(([key]) => key.startsWith('shoal.replace.'))
          .map(([key, value]) => [key.slice('shoal.replace.'.length), value]),
      ),
    }
  }

  /** Controller passes until nothing moves; every move target is returned. */
  settle(): string[] {
    const targets: string[] = []
    for (let pass = 0; pass < 50; pass++) {
      const plan = planShardMoves(this.input())
      if (plan.start.length === 0) return targets
      for (const move of plan.start) {
        if (move.to !== undefined) targets.push(move.to)
        this.apply(move.command)
      }
      this.finishMoves()
    }
    throw new Error('the moves did not settle')
  }

  #finishing(): MetadataCommand[] {
    const commands: MetadataCommand[] = []
    for (const [uid, shards] of Object.entries(this.sm.state.shards)) {
      const index = this.sm.state.indexes[uid]
      if (index === undefined) continue
      for (const record of shards) {
        if (record.replicas.every((r) => r.state === 'active')) continue
        const replicas = record.replicas
          .filter((r) => r.state !== 'removing')
          .map((r) => ({ ...r, state: 'active' as const }))
        commands.push({
          type: 'shard.update',
          uid,
          createdAtMs: index.createdAtMs,
          shard: record.shard,
          expect: record.replicas,
          replicas,
        })
      }
    }
    return commands
  }

  finishMoves(): void {
    for (const command of this.#finishing()) expect(this.apply(command)?.ok).toBe(true)
  }

  holders(uid: string): Set<string> {
    return new Set((this.sm.state.shards[uid] ?? []).flatMap((s) => s.replicas.map((r) => r.nodeId)))
  }
}

describe('node capabilities', () => {
  it('accepts the known names, drops duplicates and keeps their order', () => {
    expect(parseCapabilities(['bm25', 'vector'])).toEqual(['bm25', 'vector'])
    expect(parseCapabilities(['vector', 'bm25', 'embed', 'bm25'])).toEqual(['vector', 'bm25', 'embed'])
    expect(parseCapabilities(['coordinator'])).toEqual(['coordinator'])
    expect(parseCapabilities(['coordinator', 'embed'])).toEqual(['coordinator', 'embed'])
  })

  it('refuses unknown names, an empty list, a coordinator with data, and data without bm25', () => {
    expect(() => parseCapabilities(['bm25', 'gpu'])).toThrow(/unknown node capability `gpu`/)
    expect(() => parseCapabilities([])).toThrow(ClusterConfigError)
    expect(() => parseCapabilities(['coordinator', 'bm25'])).toThrow(/holds no data.*`bm25`/)
    expect(() => parseCapabilities(['vector'])).toThrow(/needs capability `bm25`/)
    expect(() => parseCapabilities(['embed'])).toThrow(/needs capability `bm25`/)
  })

  it('counts only bm25 nodes that are not coordinators as data nodes', () => {
    expect(holdsData({ capabilities: ['bm25'] })).toBe(true)
    expect(holdsData({ capabilities: ['bm25', 'vector'] })).toBe(true)
    expect(holdsData({ capabilities: ['coordinator'] })).toBe(false)
    expect(holdsData({ capabilities: [] })).toBe(false)
  })
})

describe('placement by capability', () => {
  const MIXED = { a: VECTOR, b: VECTOR, c: TEXT, d: COORDINATOR }

  it('never places a replica on a coordinator, and its defaults count data nodes only', () => {
    const cluster = new Cluster(MIXED)
    cluster.create('text', {})
    const index = cluster.sm.state.indexes.text
    // One shard per data node, RF = min(3, data nodes): the coordinator counts for neither.
    expect(index?.sharding.shardCount).toBe(3)
    expect(index?.sharding.replicationFactor).toBe(3)
    expect([...cluster.holders('text')].sort()).toEqual(['a', 'b', 'c'])
    expect(() => planIndexPlacement(cluster.sm.state, 'x', { replicationFactor: 4 })).toThrow(
      /exceeds the 3 active data nodes/,
    )
  })

  it('places an index requiring `vector` on vector nodes only, defaults counting those', () => {
    const cluster = new Cluster(MIXED)
    cluster.create('vec', { placement: { capabilities: ['vector'] } })
    const index = cluster.sm.state.indexes.vec
    expect(index?.sharding.shardCount).toBe(2)
    expect(index?.sharding.replicationFactor).toBe(2)
    expect(index?.sharding.placement?.capabilities).toEqual(['vector'])
    expect([...cluster.holders('vec')].sort()).toEqual(['a', 'b'])
    expect(() =>
      planIndexPlacement(cluster.sm.state, 'x', {
        replicationFactor: 3,
        placement: { capabilities: ['vector'] },
      }),
    ).toThrow(UnsatisfiablePlacementError)
  })

  it('refuses a coordinator in `sharding.placement.capabilities`, and an index on a cluster of coordinators', () => {
    const cluster = new Cluster(MIXED)
    expect(() =>
      planIndexPlacement(cluster.sm.state, 'x', { placement: { capabilities: ['coordinator'] } }),
    ).toThrow(/may name bm25, vector, embed/)
    const coordinators = new Cluster({ d: COORDINATOR, e: COORDINATOR })
    expect(() => planIndexPlacement(coordinators.sm.state, 'x', {})).toThrow(/no active data node/)
  })

  it('re-replicates a lost vector replica onto a vector node, never the text-only node or the coordinator', () => {
    const cluster = new Cluster({ ...MIXED, e: VECTOR })
    cluster.create('vec', { shardCount: 4, replicationFactor: 2, placement: { capabilities: ['vector'] } })
    cluster.create('text', { shardCount: 4, replicationFactor: 3 })
    const lost = [...cluster.holders('vec')][0] as string
    cluster.down.add(lost)
    cluster.apply({ type: 'node.state', nodeId: lost, state: 'dead', atMs: cluster.now })
    cluster.now += 1_000
    const targets = cluster.settle()
    expect(targets.length).toBeGreaterThan(0)
    expect(targets).not.toContain('d')
    expect(cluster.holders('vec').has('c')).toBe(false)
    expect(cluster.holders('vec').has('d')).toBe(false)
    expect(cluster.holders('text').has('d')).toBe(false)
    for (const shard of cluster.sm.state.shards.vec ?? []) expect(shard.replicas.length).toBe(2)
  })

  it('drains a node onto data nodes only, and a new coordinator takes no replica in a rebalance', () => {
    const cluster = new Cluster({ ...MIXED, e: VECTOR })
    cluster.create('text', { shardCount: 6, replicationFactor: 2 })
    cluster.join('f', COORDINATOR)
    cluster.apply({ type: 'node.state', nodeId: 'f', state: 'active', atMs: cluster.now })
    cluster.apply({ type: 'node.state', nodeId: 'c', state: 'draining', atMs: cluster.now })
    const targets = cluster.settle()
    expect(targets.length).toBeGreaterThan(0)
    expect(targets.filter((id) => id === 'd' || id === 'f')).toEqual([])
    expect([...cluster.holders('text')].sort()).toEqual(['a', 'b', 'e'])
  })

  it('does not hand a replaced node replicas to a coordinator or to a node without `vector`', () => {
    const cluster = new Cluster({ ...MIXED, e: VECTOR })
    cluster.create('vec', { shardCount: 2, replicationFactor: 2, placement: { capabilities: ['vector'] } })
    const replaced = [...cluster.holders('vec')][0] as string
    for (const replacement of ['d', 'c']) {
      cluster.apply({ type: 'setting.put', key: `shoal.replace.${replaced}`, value: replacement })
      const moves = planShardMoves(cluster.input()).start
      expect(moves.map((m) => m.to)).not.toContain(replacement)
    }
    cluster.settle()
    expect(cluster.holders('vec').has(replaced)).toBe(false)
    expect([...cluster.holders('vec')].every((id) => id === 'a' || id === 'b' || id === 'e')).toBe(true)
  })
})

describe('a node whose capabilities change', () => {
  it('moves its replicas off once it restarts as a coordinator or without `vector`, even with rebalancing off', () => {
    const cluster = new Cluster({ a: VECTOR, b: VECTOR, c: VECTOR, e: VECTOR })
    cluster.rebalance = false
    cluster.create('text', { shardCount: 4, replicationFactor: 2 })
    cluster.create('vec', { shardCount: 4, replicationFactor: 2, placement: { capabilities: ['vector'] } })
    expect(cluster.holders('text').has('a')).toBe(true)
    expect(cluster.holders('vec').has('b')).toBe(true)
    // A restart with other capabilities re-advertises the node (the same `node.join`).
    cluster.join('a', COORDINATOR)
    cluster.join('b', TEXT)
    const moves = planShardMoves(cluster.input()).start
    expect(moves.length).toBeGreaterThan(0)
    expect(new Set(moves.map((m) => m.reason))).toEqual(new Set(['capability']))
    cluster.settle()
    expect(cluster.holders('text').has('a')).toBe(false)
    expect(cluster.holders('vec').has('a')).toBe(false)
    expect(cluster.holders('vec').has('b')).toBe(false)
    expect([...cluster.holders('vec')].sort()).toEqual(['c', 'e'])
  })
})

describe('requiring a capability of an existing index', () => {
  it('is refused, naming the nodes, while a replica lives on a node without it; nothing changes', () => {
    const cluster = new Cluster({ a: VECTOR, b: VECTOR, c: TEXT })
    cluster.create('text', { shardCount: 3, replicationFactor: 3 })
    const before = cluster.sm.state.indexes.text
    const outcome = cluster.apply({
      type: 'index.update',
      uid: 'text',
      requireCapabilities: ['vector'],
      atMs: 5,
    })
    expect(outcome).toMatchObject({ ok: false, reason: 'missing_capability' })
    expect(outcome?.ok === false && outcome.message).toMatch(/replicas on c, without the capability vector/)
    expect(cluster.sm.state.indexes.text).toBe(before)
  })

  it('is recorded in the placement when every replica has it, and later placement keeps to it', () => {
    const cluster = new Cluster({ a: VECTOR, b: VECTOR })
    cluster.create('idx', { shardCount: 2, replicationFactor: 2 })
    cluster.join('c', TEXT)
    cluster.join('e', VECTOR)
    expect(
      cluster.apply({ type: 'index.update', uid: 'idx', requireCapabilities: ['vector'], atMs: 5 })?.ok,
    ).toBe(true)
    expect(cluster.sm.state.indexes.idx?.sharding.placement?.capabilities).toEqual(['vector'])
    cluster.apply({ type: 'node.state', nodeId: 'b', state: 'draining', atMs: cluster.now })
    const targets = cluster.settle()
    expect(targets).toContain('e')
    expect([...cluster.holders('idx')].sort()).toEqual(['a', 'e'])
  })
})

describe('health with coordinators', () => {
  it('does not count a coordinator as a data node', () => {
    const cluster = new Cluster({ a: VECTOR, b: TEXT, d: COORDINATOR })
    const health = computeHealth({
      state: cluster.sm.state,
      alive: () => true,
      metadataReachable: true,
      metadataLeader: 'a',
      metaVoters: ['a'],
      targetMetaVoters: 1,
    })
    expect(health.number_of_nodes).toBe(3)
    expect(health.number_of_data_nodes).toBe(2)
  })
})
