import { describe, expect, it } from 'vitest'
import {
  DuplicateIdError,
  HnswConfigError,
  HnswIndex,
  InvalidArgumentError,
  InvalidVectorError,
} from '../src/index.ts'
import { buildIndex, fixture, query, sameBytes } from './reference/fixture.ts'

// Bad input gets a typed error and leaves the index byte-for-byte unchanged.
describe('bad input', () => {
  const data = fixture(51, 500, 16, 3)

  async function unchangedAfter(action: (index: HnswIndex) => void, error: new (...args: never[]) => Error) {
    const index = await buildIndex(data, { metric: 'cosine' })
    const before = index.serialize()
    expect(() => action(index)).toThrow(error)
    expect(sameBytes(index.serialize(), before)).toBe(true)
    expect(index.size).toBe(500)
  }

  it('rejects a vector of the wrong dimension', async () => {
    await unchangedAfter((i) => i.add(1, new Float32Array(15)), InvalidVectorError)
    await unchangedAfter((i) => i.addBatch([1, 2], new Float32Array(31)), InvalidVectorError)
    await unchangedAfter((i) => i.search(new Float32Array(17), 5), InvalidVectorError)
  })

  it('rejects NaN and Infinity anywhere in a batch, inserting none of it', async () => {
    const batch = new Float32Array(3 * 16).fill(0.5)
    batch[40] = Number.NaN
    await unchangedAfter((i) => i.addBatch([1, 2, 3], batch), InvalidVectorError)
    batch[40] = Number.POSITIVE_INFINITY
    await unchangedAfter((i) => i.addBatch([1, 2, 3], batch), InvalidVectorError)
    const q = query(data, 0).slice()
    q[3] = Number.NEGATIVE_INFINITY
    await unchangedAfter((i) => i.search(q, 5), InvalidVectorError)
  })

  it('rejects a zero vector under cosine', async () => {
    await unchangedAfter((i) => i.add(1, new Float32Array(16)), InvalidVectorError)
  })

  it('rejects a duplicate id, whether already present or repeated within one batch', async () => {
    await unchangedAfter((i) => i.add(data.ids[3]!, query(data, 0)), DuplicateIdError)
    const two = new Float32Array(32).fill(1)
    await unchangedAfter((i) => i.addBatch([1, 1], two), DuplicateIdError)
  })

  it('rejects ids that are not unsigned 32-bit integers', async () => {
    for (const id of [-1, 1.5, 2 ** 32, Number.NaN]) {
      await unchangedAfter((i) => i.add(id, query(data, 0)), InvalidArgumentError)
    }
  })

  it('rejects k <= 0, a fractional k and a bad efSearch', async () => {
    for (const k of [0, -3, 2.5])
      await unchangedAfter((i) => i.search(query(data, 0), k), InvalidArgumentError)
    await unchangedAfter((i) => i.search(query(data, 0), 5, { efSearch: 0 }), InvalidArgumentError)
  })

  it('rejects bad options at creation with HnswConfigError', async () => {
    await expect(HnswIndex.create({ dimensions: 0, metric: 'l2' })).rejects.toThrow(HnswConfigError)
    await expect(HnswIndex.create({ dimensions: 4, metric: 'hamming' as 'l2' })).rejects.toThrow(
      HnswConfigError,
    )
    await expect(HnswIndex.create({ dimensions: 4, metric: 'l2', M: 1 })).rejects.toThrow(HnswConfigError)
  })

  it('grows memory as vectors arrive, with no fixed capacity', async () => {
    const index = await HnswIndex.create({ dimensions: 16, metric: 'l2' })
    const empty = index.memoryBytes
    for (let i = 0; i < 5; i++)
      index.addBatch(
        data.ids.subarray(i * 100, (i + 1) * 100),
        data.vectors.subarray(i * 1600, (i + 1) * 1600),
      )
    expect(index.size).toBe(500)
    expect(index.memoryBytes).toBeGreaterThan(empty)
    // 16 floats (64 B) + 33 level-0 slots (132 B) + labels, levels, offsets, visited, heaps.
    expect(index.memoryBytesPerVector).toBeGreaterThan(64 + 132)
    expect(index.memoryBytesPerVector).toBeLessThan(64 + 132 + 120)
    expect(index.search(data.vectors.subarray(0, 16), 1).ids[0]).toBe(data.ids[0])
  })
})
