import { Rng, testSeed } from '@shoal/testkit/rng'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { HashRing, HashRingError, type NodeSpec } from '../src/index.ts'

const keys = Array.from({ length: 2000 }, (_, i) => `key-${i}`)

function ringOf(nodes: NodeSpec[], vnodesPerWeight = 64): HashRing {
  const ring = new HashRing({ vnodesPerWeight })
  for (const node of nodes) ring.add(node)
  return ring
}

const nodeIds = fc.uniqueArray(fc.stringMatching(/^[a-z0-9-]{1,12}$/), { minLength: 1, maxLength: 12 })

describe('HashRing.lookup', () => {
  it('gives the same owner whatever order nodes were added in', () => {
    fc.assert(
      fc.property(nodeIds, fc.integer(), (ids, seed) => {
        const shuffled = [...ids].sort(
          (a, b) => ((a.charCodeAt(0) * seed) % 7) - ((b.charCodeAt(0) * seed) % 7),
        )
        const a = ringOf(ids.map((id) => ({ id })))
        const b = ringOf(shuffled.map((id) => ({ id })))
        for (const key of keys.slice(0, 200)) expect(b.lookup(key)).toBe(a.lookup(key))
      }),
      { numRuns: 30 },
    )
  })

  it('moves only keys onto a node that joins', () => {
    fc.assert(
      fc.property(nodeIds, fc.stringMatching(/^[A-Z]{1,6}$/), (ids, joining) => {
        const ring = ringOf(ids.map((id) => ({ id })))
        const before = keys.map((key) => ring.lookup(key))
        ring.add({ id: joining })
        keys.forEach((key, i) => {
          const owner = ring.lookup(key)
          if (owner !== before[i]) expect(owner).toBe(joining)
        })
      }),
      { numRuns: 40 },
    )
  })

  it('moves only the keys of a node that leaves', () => {
    fc.assert(
      fc.property(
        nodeIds.filter((ids) => ids.length >= 2),
        fc.nat(),
        (ids, pick) => {
          const ring = ringOf(ids.map((id) => ({ id })))
          const leaving = ids[pick % ids.length]!
          const before = keys.map((key) => ring.lookup(key))
          ring.remove(leaving)
          keys.forEach((key, i) => {
            if (before[i] !== leaving) expect(ring.lookup(key)).toBe(before[i])
            else expect(ring.lookup(key)).not.toBe(leaving)
          })
        },
      ),
      { numRuns: 40 },
    )
  })

  it('gives a node of weight 2 about twice the keys of a node of weight 1', () => {
    const ring = ringOf([{ id: 'a' }, { id: 'b', weight: 2 }, { id: 'c' }], 512)
    const counts = new Map<string, number>()
    for (let i = 0; i < 40_000; i++) {
      const owner = ring.lookup(`k${i}`)
      counts.set(owner, (counts.get(owner) ?? 0) + 1)
    }
    const ratio = counts.get('b')! / ((counts.get('a')! + counts.get('c')!) / 2)
    expect(ratio).toBeGreaterThan(1.8)
    expect(ratio).toBeLessThan(2.2)
  })

  it('spreads keys evenly with the default virtual nodes', () => {
    const ring = new HashRing()
    for (let i = 0; i < 10; i++) ring.add({ id: `node-${i}` })
    const counts = new Map<string, number>()
    for (let i = 0; i < 100_000; i++) {
      const owner = ring.lookup(`key-${i}`)
      counts.set(owner, (counts.get(owner) ?? 0) + 1)
    }
    expect(Math.max(...counts.values()) / 10_000).toBeLessThan(1.08)
  })

  it('balances any node ids: over 100 seeded random sets of 10 ids, the p95 busiest share is at most 1.05x the mean', () => {
    const seed = testSeed(10)
    const rng = new Rng(seed)
    const shapes = [
      () => `node-${Math.floor(rng.next() * 1e6)}`,
      () =>
        `${Math.floor(rng.next() * 2 ** 32).toString(16)}-${Math.floor(rng.next() * 2 ** 16).toString(16)}`,
      () =>
        `db${Math.floor(rng.next() * 100)}.zone-${Math.floor(rng.next() * 9)}.example:${7700 + Math.floor(rng.next() * 100)}`,
      () => String(Math.floor(rng.next() * 1000)),
    ]
    const ratios: number[] = []
    for (let set = 0; set < 100; set++) {
      const ids = new Set<string>()
      while (ids.size < 10) ids.add(shapes[set % shapes.length]!())
      const ring = new HashRing()
      for (const id of ids) ring.add({ id })
      const shares = [...ring.shares().values()]
      expect(shares.reduce((sum, share) => sum + share, 0)).toBeCloseTo(1, 9)
      ratios.push(Math.max(...shares) * 10)
    }
    ratios.sort((a, b) => a - b)
    expect(ratios[94], `seed ${seed}`).toBeLessThanOrEqual(1.05)
  })

  it('reports the share of the key space each node owns, as the share of keys it is given', () => {
    const ring = ringOf([{ id: 'a' }, { id: 'b', weight: 2 }, { id: 'c' }], 256)
    const counts = new Map<string, number>()
    for (let i = 0; i < 40_000; i++) {
      const owner = ring.lookup(`key-${i}`)
      counts.set(owner, (counts.get(owner) ?? 0) + 1)
    }
    for (const [id, share] of ring.shares()) expect(counts.get(id)! / 40_000).toBeCloseTo(share, 1)
    expect(ring.memoryBytes).toBeGreaterThan(1024 * 16)
  })

  it('rejects lookups on an empty ring, duplicate ids, unknown removals and bad weights', () => {
    const ring = new HashRing()
    expect(() => ring.lookup('k')).toThrow(expect.objectContaining({ code: 'ERR_EMPTY_RING' }))
    ring.add({ id: 'a' })
    expect(() => ring.add({ id: 'a' })).toThrow(expect.objectContaining({ code: 'ERR_DUPLICATE_NODE' }))
    expect(() => ring.remove('b')).toThrow(expect.objectContaining({ code: 'ERR_UNKNOWN_NODE' }))
    expect(() => ring.add({ id: 'c', weight: 0 })).toThrow(HashRingError)
    expect(() => ring.add({ id: '' })).toThrow(HashRingError)
    expect(() => new HashRing({ vnodesPerWeight: 0 })).toThrow(HashRingError)
    expect(ring.has('a')).toBe(true)
    expect(ring.has('c')).toBe(false)
    ring.remove('a')
    expect(ring.size).toBe(0)
  })
})

describe('HashRing.lookupN', () => {
  const nodes: NodeSpec[] = [
    { id: 'a1', zone: 'a', capabilities: ['vector'] },
    { id: 'a2', zone: 'a' },
    { id: 'b1', zone: 'b', capabilities: ['vector'] },
    { id: 'b2', zone: 'b' },
    { id: 'c1', zone: 'c' },
    { id: 'c2', zone: 'c', capabilities: ['vector'] },
  ]
  const ring = ringOf(nodes)
  const zoneOf = new Map(nodes.map((node) => [node.id, node.zone]))

  it('returns distinct nodes, starting with the owner of the key', () => {
    for (const key of keys.slice(0, 300)) {
      const chosen = ring.lookupN(key, 4)
      expect(new Set(chosen).size).toBe(4)
      expect(chosen[0]).toBe(ring.lookup(key))
    }
  })

  it('spreads over distinct zones when asked and enough zones exist', () => {
    for (const key of keys.slice(0, 300)) {
      const chosen = ring.lookupN(key, 3, { distinctZones: true })
      expect(new Set(chosen.map((id) => zoneOf.get(id))).size).toBe(3)
      // With more replicas than zones, every zone is still used.
      const five = ring.lookupN(key, 5, { distinctZones: true })
      expect(new Set(five).size).toBe(5)
      expect(new Set(five.map((id) => zoneOf.get(id))).size).toBe(3)
    }
  })

  it('chooses only nodes with the required capabilities', () => {
    for (const key of keys.slice(0, 300)) {
      expect(ring.lookupN(key, 3, { require: ['vector'] }).sort()).toEqual(['a1', 'b1', 'c2'])
    }
  })

  it('throws ERR_NOT_ENOUGH_NODES rather than return fewer nodes', () => {
    expect(() => ring.lookupN('k', 7)).toThrow(expect.objectContaining({ code: 'ERR_NOT_ENOUGH_NODES' }))
    expect(() => ring.lookupN('k', 4, { require: ['vector'] })).toThrow(
      expect.objectContaining({ code: 'ERR_NOT_ENOUGH_NODES' }),
    )
  })
})

describe('HashRing.nodes', () => {
  it('lists the nodes by id as copies the caller may change', () => {
    const ring = ringOf([
      { id: 'b', weight: 2 },
      { id: 'a', zone: 'z' },
    ])
    const listed = ring.nodes()
    expect(listed).toEqual([
      { id: 'a', zone: 'z', weight: 1 },
      { id: 'b', weight: 2 },
    ])
    listed[0]!.id = 'changed'
    expect(ring.nodes()[0]!.id).toBe('a')
    expect(ring.has('a')).toBe(true)
  })
})
