import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  HashRingError,
  type NodeSpec,
  type Placement,
  type PlaceRequest,
  place,
  planMoves,
} from '../src/index.ts'
import { fcParams } from './fc-params.ts'

const VNODES = 32

interface Cluster {
  nodes: NodeSpec[]
  shardCount: number
  replicationFactor: number
}

const cluster = (options: { zones?: boolean; weights?: boolean } = {}) =>
  fc
    .record({
      nodeCount: fc.integer({ min: 3, max: 12 }),
      shardCount: fc.integer({ min: 1, max: 64 }),
      replicationFactor: fc.integer({ min: 1, max: 3 }),
      zoneCount: fc.integer({ min: 1, max: 5 }),
      weights: fc.array(fc.constantFrom(1, 1, 2, 0.5), { minLength: 12, maxLength: 12 }),
      salt: fc.nat(1000),
    })
    .map(
      ({ nodeCount, shardCount, replicationFactor, zoneCount, weights, salt }): Cluster => ({
        shardCount,
        replicationFactor,
        nodes: Array.from({ length: nodeCount }, (_, i) => ({
          id: `n${salt}-${i}`,
          ...(options.zones ? { zone: `z${i % zoneCount}` } : {}),
          ...(options.weights ? { weight: weights[i]! } : {}),
        })),
      }),
    )

function placeCluster(c: Cluster, extra: Partial<PlaceRequest> = {}): Placement {
  return place({ index: 'docs', vnodesPerWeight: VNODES, ...c, ...extra })
}

function loads(p: Placement): Map<string, number> {
  const counts = new Map<string, number>()
  for (const holders of p.shards) for (const id of holders) counts.set(id, (counts.get(id) ?? 0) + 1)
  return counts
}

describe('place', () => {
  it('puts every shard on replicationFactor distinct nodes', () => {
    fc.assert(
      fc.property(cluster({ weights: true }), (c) => {
        const p = placeCluster(c)
        expect(p.shards).toHaveLength(c.shardCount)
        for (const holders of p.shards) {
          expect(holders).toHaveLength(c.replicationFactor)
          expect(new Set(holders).size).toBe(c.replicationFactor)
        }
      }),
      fcParams(60),
    )
  })

  it('spreads each shard over as many zones as it can', () => {
    fc.assert(
      fc.property(cluster({ zones: true }), (c) => {
        const zoneOf = new Map(c.nodes.map((node) => [node.id, node.zone]))
        const zones = new Set(c.nodes.map((node) => node.zone)).size
        for (const holders of placeCluster(c).shards) {
          const used = new Set(holders.map((id) => zoneOf.get(id))).size
          expect(used).toBe(Math.min(zones, c.replicationFactor))
        }
      }),
      fcParams(60),
    )
  })

  it('uses only nodes with the required capabilities', () => {
    fc.assert(
      fc.property(cluster(), fc.nat(), (c, mask) => {
        const nodes = c.nodes.map((node, i) => ({ ...node, capabilities: (mask >> i) & 1 ? ['vector'] : [] }))
        const capable = new Set(nodes.filter((node) => node.capabilities.length > 0).map((node) => node.id))
        const request = { ...c, nodes, require: ['vector'] }
        if (capable.size < c.replicationFactor) {
          expect(() => placeCluster(request)).toThrow(
            expect.objectContaining({ code: 'ERR_NOT_ENOUGH_NODES' }),
          )
          return
        }
        for (const holders of placeCluster(request).shards)
          for (const id of holders) expect(capable.has(id)).toBe(true)
      }),
      fcParams(60),
    )
  })

  it('keeps every node within maxLoadFactor of its weighted fair share', () => {
    fc.assert(
      fc.property(cluster({ weights: true }), fc.constantFrom(1, 1.02, 1.1, 1.25, 2), (c, factor) => {
        const totalWeight = c.nodes.reduce((sum, node) => sum + (node.weight ?? 1), 0)
        const caps = c.nodes.map((node) => {
          const fair = (c.shardCount * c.replicationFactor * (node.weight ?? 1)) / totalWeight
          return Math.ceil(factor * fair - 1e-9)
        })
        // Only where the bound leaves room for one replica per node per shard (else it yields).
        fc.pre(
          caps.reduce((sum, cap) => sum + Math.min(cap, c.shardCount), 0) >=
            c.shardCount * c.replicationFactor,
        )
        const counts = loads(placeCluster(c, { maxLoadFactor: factor }))
        c.nodes.forEach((node, i) => {
          expect(counts.get(node.id) ?? 0).toBeLessThanOrEqual(caps[i]!)
        })
      }),
      fcParams(60),
    )
  })

  it('gives the same placement whatever the order of the nodes', () => {
    fc.assert(
      fc.property(cluster({ zones: true, weights: true }), fc.nat(), (c, seed) => {
        const shuffled = [...c.nodes].sort(
          (a, b) => ((a.id.length * 31 + seed) % 5) - ((b.id.length + seed) % 3),
        )
        shuffled.reverse()
        expect(placeCluster({ ...c, nodes: shuffled })).toEqual(placeCluster(c))
      }),
      fcParams(40),
    )
  })

  it('returns the previous placement unchanged when nothing changed', () => {
    fc.assert(
      fc.property(cluster({ zones: true, weights: true }), (c) => {
        const first = placeCluster(c)
        expect(placeCluster(c, { previous: first })).toEqual(first)
      }),
      fcParams(40),
    )
  })

  it('moves replicas only onto a node that joins', () => {
    fc.assert(
      fc.property(cluster({ weights: true }), (c) => {
        // Each node's fair share is at least a couple of replicas (else rounding rules).
        fc.pre(c.shardCount * c.replicationFactor >= 2 * (c.nodes.length + 1) * 2)
        const before = placeCluster(c)
        const joining: NodeSpec = { id: 'joining' }
        const after = placeCluster({ ...c, nodes: [...c.nodes, joining] }, { previous: before })
        after.shards.forEach((holders, s) => {
          for (const id of holders) if (!before.shards[s]!.includes(id)) expect(id).toBe('joining')
        })
      }),
      fcParams(60),
    )
  })

  it('gives a joining node about its fair share', () => {
    const nodes = Array.from({ length: 10 }, (_, i) => ({ id: `node-${i}` }))
    const before = place({
      index: 'docs',
      shardCount: 256,
      replicationFactor: 3,
      nodes,
      vnodesPerWeight: VNODES,
    })
    const after = place({
      index: 'docs',
      shardCount: 256,
      replicationFactor: 3,
      nodes: [...nodes, { id: 'node-10' }],
      previous: before,
      vnodesPerWeight: VNODES,
    })
    expect(loads(after).get('node-10')).toBe(Math.floor((256 * 3) / 11))
  })

  it('lets a node named in `newcomers` keep pulling after its first replicas arrived', () => {
    const nodes = Array.from({ length: 10 }, (_, i) => ({ id: `node-${i}` }))
    const request = { index: 'docs', shardCount: 256, replicationFactor: 3, vnodesPerWeight: VNODES }
    const before = place({ ...request, nodes })
    const target = place({ ...request, nodes: [...nodes, { id: 'node-10' }], previous: before })
    // Two of the moves to the joining node were applied, the rest not yet.
    const partial: Placement = {
      ...before,
      shards: before.shards.map((holders, s) => {
        const gained = target.shards[s]!.includes('node-10') && !holders.includes('node-10')
        return gained && s < 8 ? target.shards[s]!.slice() : holders.slice()
      }),
    }
    const held = loads(partial).get('node-10') ?? 0
    expect(held).toBeGreaterThan(0)
    const stalled = place({ ...request, nodes: [...nodes, { id: 'node-10' }], previous: partial })
    expect(loads(stalled).get('node-10')).toBe(held)
    const pulling = place({
      ...request,
      nodes: [...nodes, { id: 'node-10' }],
      previous: partial,
      newcomers: ['node-10'],
    })
    expect(loads(pulling).get('node-10')).toBe(Math.floor((256 * 3) / 11))
    // Once it holds its share, naming it changes nothing.
    expect(
      place({ ...request, nodes: [...nodes, { id: 'node-10' }], previous: pulling, newcomers: ['node-10'] }),
    ).toEqual(pulling)
  })

  // With uneven weights a tight load bound can force other moves (see README: the bound
  // comes before minimal movement); with equal weights there is always room.
  it('moves replicas only off a node that leaves', () => {
    fc.assert(
      fc.property(cluster({ zones: true }), fc.nat(), (c, pick) => {
        fc.pre(c.nodes.length > c.replicationFactor)
        fc.pre(c.shardCount * c.replicationFactor >= 2 * c.nodes.length)
        const before = placeCluster(c)
        const leaving = c.nodes[pick % c.nodes.length]!.id
        const after = placeCluster(
          { ...c, nodes: c.nodes.filter((node) => node.id !== leaving) },
          { previous: before },
        )
        after.shards.forEach((holders, s) => {
          for (const id of before.shards[s]!) if (!holders.includes(id)) expect(id).toBe(leaving)
        })
      }),
      fcParams(60),
    )
  })

  it('balances 1024 shards × 3 replicas over 10 nodes to within 1%', () => {
    const nodes = Array.from({ length: 10 }, (_, i) => ({ id: `node-${i}` }))
    const p = place({ index: 'docs', shardCount: 1024, replicationFactor: 3, nodes })
    expect(Math.max(...loads(p).values()) / ((1024 * 3) / 10)).toBeLessThan(1.01)
  })

  it('rejects impossible requests with typed errors and no partial placement', () => {
    const nodes = [{ id: 'a' }, { id: 'b' }]
    const base = { index: 'docs', shardCount: 4, replicationFactor: 2, nodes }
    const code = (request: PlaceRequest) => {
      try {
        place(request)
        return 'placed'
      } catch (error) {
        expect(error).toBeInstanceOf(HashRingError)
        return (error as HashRingError).code
      }
    }
    expect(code({ ...base, replicationFactor: 3 })).toBe('ERR_NOT_ENOUGH_NODES')
    expect(code({ ...base, shardCount: 0 })).toBe('ERR_INVALID_ARGUMENT')
    expect(code({ ...base, replicationFactor: 0 })).toBe('ERR_INVALID_ARGUMENT')
    expect(code({ ...base, maxLoadFactor: 0.9 })).toBe('ERR_INVALID_ARGUMENT')
    expect(code({ ...base, nodes: [{ id: 'a' }, { id: 'a' }] })).toBe('ERR_DUPLICATE_NODE')
    expect(code({ ...base, nodes: [{ id: 'a' }, { id: 'b', weight: -1 }] })).toBe('ERR_INVALID_ARGUMENT')
    const previous = place(base)
    expect(code({ ...base, shardCount: 5, previous })).toBe('ERR_PLACEMENT_MISMATCH')
    expect(code({ ...base, index: 'other', previous })).toBe('ERR_PLACEMENT_MISMATCH')
  })
})

describe('planMoves', () => {
  /** Applies a plan step by step, checking the replica count and leader rules after each step. */
  function replay(from: Placement, to: Placement): Array<{ holders: Set<string>; leader: string }> {
    const state = from.shards.map((holders) => ({ holders: new Set(holders), leader: holders[0]! }))
    const floor = Math.min(from.replicationFactor, to.replicationFactor)
    for (const move of planMoves(from, to)) {
      const shard = state[move.shard]!
      if (move.kind === 'add-replica') {
        expect(shard.holders.has(move.node)).toBe(false)
        shard.holders.add(move.node)
      } else if (move.kind === 'remove-replica') {
        expect(move.node).not.toBe(shard.leader)
        expect(shard.holders.delete(move.node)).toBe(true)
      } else {
        expect(move.from).toBe(shard.leader)
        expect(shard.holders.has(move.to)).toBe(true)
        shard.leader = move.to
      }
      for (const s of state) expect(s.holders.size).toBeGreaterThanOrEqual(floor)
    }
    return state
  }

  it('never takes a shard below its replication factor and ends at the target placement', () => {
    fc.assert(
      fc.property(cluster({ weights: true }), fc.nat(), fc.nat(), (c, drop, rfChange) => {
        const before = placeCluster(c)
        const nodes = [
          ...c.nodes.filter((_, i) => i !== drop % c.nodes.length),
          { id: 'new-a' },
          { id: 'new-b' },
        ]
        const rf = Math.min(nodes.length, Math.max(1, c.replicationFactor + (rfChange % 3) - 1))
        const after = placeCluster({ ...c, nodes, replicationFactor: rf }, { previous: before })
        const state = replay(before, after)
        state.forEach((shard, s) => {
          expect([...shard.holders].sort()).toEqual([...after.shards[s]!].sort())
          expect(shard.leader).toBe(after.shards[s]![0])
        })
      }),
      fcParams(60),
    )
  })

  it('is minimal: one add per gained replica, one remove per lost one, a transfer only when the leader changes', () => {
    fc.assert(
      fc.property(cluster(), (c) => {
        const before = placeCluster(c)
        const after = placeCluster({ ...c, nodes: [...c.nodes, { id: 'joining' }] }, { previous: before })
        const moves = planMoves(before, after)
        let gained = 0
        let lost = 0
        let leaderChanges = 0
        after.shards.forEach((holders, s) => {
          gained += holders.filter((id) => !before.shards[s]!.includes(id)).length
          lost += before.shards[s]!.filter((id) => !holders.includes(id)).length
          if (holders[0] !== before.shards[s]![0]) leaderChanges += 1
        })
        expect(moves.filter((m) => m.kind === 'add-replica')).toHaveLength(gained)
        expect(moves.filter((m) => m.kind === 'remove-replica')).toHaveLength(lost)
        expect(moves.filter((m) => m.kind === 'transfer-leader')).toHaveLength(leaderChanges)
        expect(planMoves(after, after)).toEqual([])
      }),
      fcParams(40),
    )
  })

  it('rejects placements of different indexes or shard counts', () => {
    const nodes = [{ id: 'a' }, { id: 'b' }]
    const a = place({ index: 'docs', shardCount: 2, replicationFactor: 1, nodes })
    const b = place({ index: 'docs', shardCount: 3, replicationFactor: 1, nodes })
    expect(() => planMoves(a, b)).toThrow(expect.objectContaining({ code: 'ERR_PLACEMENT_MISMATCH' }))
    expect(() => planMoves(a, { ...a, shards: [['a', 'a'], ['b']] })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    )
  })
})
