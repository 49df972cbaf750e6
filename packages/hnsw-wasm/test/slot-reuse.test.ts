import { Rng, testSeed } from '@shoal/testkit/rng'
import { describe, expect, it } from 'vitest'
import { HnswIndex } from '../src/index.ts'
import { bruteForceTopK, recall } from './reference/brute-force.ts'
import { fixture, sameBytes } from './reference/fixture.ts'

// A removed id leaves a tombstone; the next add takes the smallest tombstoned slot (hnswlib's
// replacement of deleted elements), so partial churn does not grow the graph.

const SEED = testSeed(55)
const D = 24

describe('tombstone slot reuse', () => {
  it('under partial churn the graph stays at its live size and recall stays near a fresh build', async () => {
    const pool = fixture(SEED, 6_000, D, 40)
    const rng = new Rng(SEED)
    const index = await HnswIndex.create({ dimensions: D, metric: 'l2', seed: 7 })
    const live = new Map<number, Float32Array>()
    let next = 0
    const take = () => pool.vectors.slice(next * D, ++next * D)
    for (let id = 0; id < 2_000; id++) {
      const v = take()
      index.add(id, v)
      live.set(id, v)
    }
    let newId = 2_000
    for (let round = 0; round < 10; round++) {
      // Replace a tenth: remove 200 random live ids, then add 200 (half new ids, half re-used).
      const ids = rng.shuffle([...live.keys()]).slice(0, 200)
      for (const id of ids) {
        index.remove(id)
        live.delete(id)
      }
      for (let i = 0; i < 200; i++) {
        const id = i % 2 === 0 ? ids[i]! : newId++
        const v = take()
        index.add(id, v)
        live.set(id, v)
      }
      expect(index.size).toBe(2_000)
      expect(index.size + index.deletedCount).toBeLessThanOrEqual(1.2 * index.size)
    }
    expect(index.deletedCount).toBe(0)
    const ids = Uint32Array.from(live.keys())
    const vectors = new Float32Array(ids.length * D)
    for (let i = 0; i < ids.length; i++) vectors.set(live.get(ids[i]!)!, i * D)
    const fresh = await HnswIndex.create({ dimensions: D, metric: 'l2', seed: 7 })
    fresh.addBatch(ids, vectors)
    const queries = Array.from({ length: 40 }, (_, q) => pool.queries.subarray(q * D, (q + 1) * D))
    const truth = queries.map((q) => bruteForceTopK('l2', D, ids, vectors, q, 10))
    const churned = recall(
      queries.map((q) => index.search(q, 10).ids),
      truth,
    )
    const rebuilt = recall(
      queries.map((q) => fresh.search(q, 10).ids),
      truth,
    )
    expect(churned, `seed ${SEED}`).toBeGreaterThanOrEqual(rebuilt - 0.05)
    for (const q of queries) for (const id of index.search(q, 10).ids) expect(live.has(id)).toBe(true)
  })

  it('a graph restored from bytes reuses the same slots as the one it was taken from', async () => {
    const data = fixture(SEED + 1, 600, D, 1)
    const index = await HnswIndex.create({ dimensions: D, metric: 'cosine', seed: 3 })
    index.addBatch(data.ids.subarray(0, 500), data.vectors.subarray(0, 500 * D))
    for (const id of data.ids.subarray(100, 160)) index.remove(id)
    const copy = await HnswIndex.deserialize(index.serialize())
    const more = (target: HnswIndex) => {
      target.addBatch(data.ids.subarray(500, 600), data.vectors.subarray(500 * D, 600 * D))
      target.remove(data.ids[3]!)
      target.add(data.ids[120]!, data.vectors.subarray(120 * D, 121 * D))
    }
    more(index)
    more(copy)
    expect(sameBytes(index.serialize(), copy.serialize())).toBe(true)
    // 60 tombstones took the first 60 of the 100 adds; the last removal's slot took the last add.
    expect(index.deletedCount).toBe(0)
    expect(index.size).toBe(540)
  })
})
