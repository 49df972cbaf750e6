import { Rng } from '@shoal/testkit/rng'
import { describe, expect, it } from 'vitest'
import { HnswIndex, UnknownIdError } from '../src/index.ts'
import { recall } from './reference/brute-force.ts'
import { buildIndex, fixture, groundTruth, query } from './reference/fixture.ts'

describe('deletes', () => {
  it('keeps recall within 0.02 of a fresh build after deleting 20%, and never returns a deleted id', async () => {
    const data = fixture(31, 5_000, 48, 100)
    const index = await buildIndex(data, { metric: 'l2' })
    const rng = new Rng(5)
    const order = rng.shuffle(Array.from(data.ids))
    const removed = new Set(order.slice(0, 1_000))
    for (const id of removed) index.remove(id)
    expect(index.size).toBe(4_000)
    expect(index.deletedCount).toBe(1_000)

    const keptIds: number[] = []
    const keptVectors: number[] = []
    data.ids.forEach((id, i) => {
      if (removed.has(id)) return
      keptIds.push(id)
      keptVectors.push(...data.vectors.subarray(i * 48, (i + 1) * 48))
    })
    const fresh = await HnswIndex.create({ dimensions: 48, metric: 'l2' })
    fresh.addBatch(keptIds, Float32Array.from(keptVectors))

    const truth = groundTruth(data, 'l2', 10, (id) => !removed.has(id))
    const afterDelete = index.searchBatch(data.queries, 10).map((r) => r.ids)
    for (const ids of afterDelete) for (const id of ids) expect(removed.has(id)).toBe(false)
    const freshFound = fresh.searchBatch(data.queries, 10).map((r) => r.ids)
    expect(recall(afterDelete, truth)).toBeGreaterThanOrEqual(recall(freshFound, truth) - 0.02)

    index.compact()
    expect(index.deletedCount).toBe(0)
    expect(index.size).toBe(4_000)
    const compacted = index.searchBatch(data.queries, 10).map((r) => r.ids)
    expect(recall(compacted, truth)).toBeGreaterThanOrEqual(recall(freshFound, truth) - 0.02)
    for (const id of removed) expect(index.has(id)).toBe(false)
  })

  it('rejects removing an unknown or already removed id with UnknownIdError', async () => {
    const data = fixture(32, 100, 8, 1)
    const index = await buildIndex(data, { metric: 'cosine' })
    expect(() => index.remove(1)).toThrow(UnknownIdError)
    index.remove(data.ids[0]!)
    expect(() => index.remove(data.ids[0]!)).toThrow(UnknownIdError)
    expect(index.size).toBe(99)
  })

  it('lets a removed id be added again with a new vector, returning only the new one', async () => {
    const index = await HnswIndex.create({ dimensions: 2, metric: 'l2' })
    index.add(1, new Float32Array([0, 0]))
    index.add(2, new Float32Array([10, 10]))
    index.remove(1)
    expect(index.search([0, 0], 2).ids).toEqual(new Uint32Array([2]))
    index.add(1, new Float32Array([10, 11]))
    const result = index.search([10, 11], 2)
    expect(Array.from(result.ids)).toEqual([1, 2])
    expect(result.distances[0]).toBe(0)
  })

  it('answers with no results when every id is deleted', async () => {
    const data = fixture(33, 50, 4, 1)
    const index = await buildIndex(data, { metric: 'l2' })
    for (const id of data.ids) index.remove(id)
    expect(index.search(query(data, 0), 5).ids.length).toBe(0)
    index.compact()
    expect(index.search(query(data, 0), 5).ids.length).toBe(0)
    index.add(5, query(data, 0))
    expect(Array.from(index.search(query(data, 0), 5).ids)).toEqual([5])
  })

  it('compacts by itself once tombstones reach compactionThreshold of all nodes', async () => {
    const data = fixture(34, 1_000, 16, 20)
    const index = await buildIndex(data, { metric: 'l2', compactionThreshold: 0.25 })
    for (let i = 0; i < 249; i++) index.remove(data.ids[i]!)
    expect(index.deletedCount).toBe(249)
    index.remove(data.ids[249]!)
    expect(index.deletedCount).toBe(0)
    expect(index.size).toBe(750)
    const live = (id: number) => id >= data.ids[250]!
    const truth = groundTruth(data, 'l2', 10, live)
    const found = index.searchBatch(data.queries, 10).map((r) => r.ids)
    expect(recall(found, truth)).toBeGreaterThanOrEqual(0.95)
    const restored = await HnswIndex.deserialize(index.serialize())
    restored.remove(data.ids[250]!)
    expect(restored.deletedCount).toBe(1)
  })
})
