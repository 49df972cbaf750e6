import { crc32 } from 'node:zlib'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CorruptIndexError, HnswIndex, IndexBusyError } from '../src/index.ts'
import { buildIndex, fixture, query, sameBytes } from './reference/fixture.ts'

/** A pause that counts how often it was awaited and runs `between` (other work) each time. */
function countingPause(between: () => void = () => {}) {
  const state = { pauses: 0 }
  const pause = async () => {
    state.pauses++
    await new Promise<void>((resolve) => setImmediate(resolve))
    between()
  }
  return { state, pause }
}

describe('serialization in slices', () => {
  // 6,000 64-d vectors: the vector section alone (256 bytes a node) is 1.5 MiB, so more than a slice.
  const large = fixture(51, 6_000, 64, 5)

  it('gives the bytes serialize() gives, for any size, metric, M and removals (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 400 }),
        fc.integer({ min: 1, max: 20 }),
        fc.constantFrom('l2' as const, 'dot' as const, 'cosine' as const),
        fc.integer({ min: 2, max: 12 }),
        fc.integer({ min: 0, max: 99 }),
        fc.integer({ min: 1, max: 1000 }),
        async (count, dimensions, metric, M, removedPercent, seed) => {
          const data = fixture(seed, count, dimensions, 1)
          const index = await buildIndex(data, { metric, M, efConstruction: 20, seed })
          for (let i = 0; i < count; i++) if ((i * 37) % 100 < removedPercent) index.remove(data.ids[i]!)
          const whole = index.serialize()
          const { pause } = countingPause()
          expect(sameBytes(await index.serializeInSlices(pause), whole)).toBe(true)
          const restored = await HnswIndex.deserializeInSlices(whole, pause)
          expect(sameBytes(restored.serialize(), whole)).toBe(true)
          expect(restored.size).toBe(index.size)
        },
      ),
      { numRuns: 40, seed: Number(process.env.SEED ?? 17) },
    )
  })

  it('pauses between slices of a large graph and restores it to the same searches', async () => {
    const index = await buildIndex(large, { metric: 'cosine', M: 12, efConstruction: 32, seed: 4 })
    for (let i = 0; i < 500; i++) index.remove(large.ids[i * 11]!)
    const encoding = countingPause()
    const bytes = await index.serializeInSlices(encoding.pause)
    expect(encoding.state.pauses).toBeGreaterThan(3)
    expect(sameBytes(bytes, index.serialize())).toBe(true)
    const loading = countingPause()
    const restored = await HnswIndex.deserializeInSlices(bytes, loading.pause)
    expect(loading.state.pauses).toBeGreaterThan(3)
    expect(restored.deletedCount).toBe(500)
    for (let q = 0; q < large.queryCount; q++) {
      expect(restored.search(query(large, q), 10)).toEqual(index.search(query(large, q), 10))
    }
  })

  it('gives the bytes as of its call when searches grow the memory between slices', async () => {
    const index = await buildIndex(large, { metric: 'l2', M: 8, efConstruction: 32, seed: 5 })
    const before = index.serialize()
    // 256 queries (one search chunk), each batch asking for more results than the last: the I/O
    // area grows, and with it the memory (which replaces the memory's buffer).
    const queries = large.vectors.subarray(0, 256 * 64)
    let k = 16
    const { pause } = countingPause(() => {
      index.searchBatch(queries, Math.min(k, 2_048))
      k *= 2
    })
    const memoryBefore = index.memoryBytes
    expect(sameBytes(await index.serializeInSlices(pause), before)).toBe(true)
    expect(index.memoryBytes).toBeGreaterThan(memoryBefore)
  })

  it('refuses a change while it runs (IndexBusyError, index unchanged) and allows it after', async () => {
    const data = fixture(52, 300, 8, 1)
    const index = await buildIndex(data, { metric: 'l2' })
    const before = index.serialize()
    const refused: unknown[] = []
    const { pause } = countingPause(() => {
      for (const change of [
        () => index.add(1, new Float32Array(8).fill(0.5)),
        () => index.remove(data.ids[0]!),
        () => index.compact(),
        () => {
          index.efSearch = 99
        },
      ]) {
        try {
          change()
        } catch (error) {
          refused.push(error)
        }
      }
    })
    const bytes = await index.serializeInSlices(pause)
    expect(refused.length).toBeGreaterThan(0)
    expect(refused.length % 4).toBe(0)
    for (const error of refused) expect(error).toBeInstanceOf(IndexBusyError)
    expect(sameBytes(bytes, before)).toBe(true)
    expect(sameBytes(index.serialize(), before)).toBe(true)
    index.remove(data.ids[0]!)
    expect(index.has(data.ids[0]!)).toBe(false)
  })

  it('detects a flipped bit past the first slice, a truncation, bad magic and bad links', async () => {
    const index = await buildIndex(large, { metric: 'l2', M: 8, efConstruction: 32, seed: 6 })
    const bytes = index.serialize()
    const { pause } = countingPause()
    const flipped = bytes.slice()
    const at = bytes.length - 1_000
    flipped[at] = flipped[at]! ^ 0x01
    await expect(HnswIndex.deserializeInSlices(flipped, pause)).rejects.toThrow(/checksum/)
    await expect(HnswIndex.deserializeInSlices(bytes.subarray(0, bytes.length - 9), pause)).rejects.toThrow(
      CorruptIndexError,
    )
    const magic = bytes.slice()
    magic[0] = 0
    await expect(HnswIndex.deserializeInSlices(magic, pause)).rejects.toThrow(/magic/)
    // A level-0 link of node 0 pointing outside the graph, under a valid checksum.
    const linked = bytes.slice()
    const view = new DataView(linked.buffer)
    view.setUint32(60 + large.ids.length * 256 + 4, 1_000_000, true)
    view.setUint32(linked.length - 4, crc32(linked.subarray(0, linked.length - 4)), true)
    await expect(HnswIndex.deserializeInSlices(linked, pause)).rejects.toThrow(/structure/)
  })
})
