import { describe, expect, it } from 'vitest'
import { CorruptIndexError, HnswIndex } from '../src/index.ts'
import { buildIndex, fixture, query, sameBytes } from './reference/fixture.ts'

describe('serialization', () => {
  const data = fixture(41, 3_000, 24, 20)

  it('round-trips to identical search results, including tombstones and options', async () => {
    const index = await buildIndex(data, { metric: 'cosine', M: 12, efConstruction: 100, efSearch: 40 })
    for (let i = 0; i < 300; i++) index.remove(data.ids[i * 7]!)
    const restored = await HnswIndex.deserialize(index.serialize())
    expect(restored.size).toBe(index.size)
    expect(restored.deletedCount).toBe(300)
    expect(restored.M).toBe(12)
    expect(restored.efConstruction).toBe(100)
    expect(restored.efSearch).toBe(40)
    expect(restored.metric).toBe('cosine')
    for (const id of [data.ids[0]!, data.ids[1]!]) expect(restored.has(id)).toBe(index.has(id))
    for (let q = 0; q < data.queryCount; q++) {
      expect(restored.search(query(data, q), 10)).toEqual(index.search(query(data, q), 10))
    }
  })

  it('continues deterministically after a restore: further inserts match the original', async () => {
    const half = 1_500 * 24
    const original = await HnswIndex.create({ dimensions: 24, metric: 'l2', seed: 9 })
    original.addBatch(data.ids.subarray(0, 1_500), data.vectors.subarray(0, half))
    const restored = await HnswIndex.deserialize(original.serialize())
    for (const index of [original, restored])
      index.addBatch(data.ids.subarray(1_500), data.vectors.subarray(half))
    expect(sameBytes(restored.serialize(), original.serialize())).toBe(true)
  })

  it('builds byte-identical indexes from the same seed and insertion order', async () => {
    const a = await buildIndex(data, { metric: 'dot', seed: 3 })
    const b = await buildIndex(data, { metric: 'dot', seed: 3 })
    expect(sameBytes(a.serialize(), b.serialize())).toBe(true)
  })

  it('rejects a flipped bit, a truncation, bad magic and an unknown version with CorruptIndexError', async () => {
    const index = await buildIndex(fixture(42, 200, 8, 1), { metric: 'l2' })
    const bytes = index.serialize()
    const flipped = bytes.slice()
    flipped[1000] = flipped[1000]! ^ 0x10
    await expect(HnswIndex.deserialize(flipped)).rejects.toThrow(/checksum/)
    await expect(HnswIndex.deserialize(bytes.subarray(0, bytes.length - 9))).rejects.toThrow(
      CorruptIndexError,
    )
    await expect(HnswIndex.deserialize(new Uint8Array(10))).rejects.toThrow(CorruptIndexError)
    const magic = bytes.slice()
    magic[0] = 0
    await expect(HnswIndex.deserialize(magic)).rejects.toThrow(/magic/)
    const version = bytes.slice()
    version[4] = 9
    await expect(HnswIndex.deserialize(version)).rejects.toThrow(/version/)
  })

  it('rejects a snapshot whose checksum is valid but whose links point outside the graph', async () => {
    const index = await buildIndex(fixture(43, 100, 8, 1), { metric: 'l2' })
    const bytes = index.serialize()
    // First level-0 slot of node 0: header 60 + 100 vectors x 32 bytes + count word.
    const view = new DataView(bytes.buffer)
    view.setUint32(60 + 100 * 32 + 4, 5_000, true)
    const { crc32 } = await import('node:zlib')
    view.setUint32(bytes.length - 4, crc32(bytes.subarray(0, bytes.length - 4)), true)
    await expect(HnswIndex.deserialize(bytes)).rejects.toThrow(/structure/)
  })

  it('serialises an empty index', async () => {
    const empty = await HnswIndex.create({ dimensions: 5, metric: 'cosine' })
    const restored = await HnswIndex.deserialize(empty.serialize())
    expect(restored.size).toBe(0)
    expect(restored.search([1, 2, 3, 4, 5], 3).ids.length).toBe(0)
  })
})
