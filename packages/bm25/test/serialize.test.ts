import { describe, expect, it } from 'vitest'
import { Bm25CorruptionError, Bm25Index, createAnalyzer } from '../src/index.ts'
import { encodeIndex } from '../src/internal/format.ts'
import { decodeHeld, encodeHeld } from '../src/internal/held-format.ts'

async function sample(): Promise<Bm25Index> {
  const index = await Bm25Index.create({
    fields: { name: { boost: 3 }, description: {} },
    k1: 1.5,
    b: 0.6,
    delta: 0.25,
    analyzer: createAnalyzer({ stopwords: true }),
  })
  for (let id = 0; id < 500; id++) {
    index.add(id * 7, {
      name: `package${id % 50} tool`,
      description: `a library for ${id % 3 === 0 ? 'networking' : 'graphics'} with café number ${id}`,
    })
  }
  for (let id = 0; id < 100; id++) index.remove(id * 7 * 3)
  return index
}

const queries = ['networking library', 'graphics', 'cafe tool', 'package1', 'numb']

describe('serialization', () => {
  it('round-trips: the copy answers every query exactly like the original', async () => {
    const index = await sample()
    const before = queries.map((q) => index.search(q, 20))
    const bytes = index.serialize()
    const copy = await Bm25Index.deserialize(bytes, createAnalyzer({ stopwords: true }))
    expect(copy.size).toBe(index.size)
    expect(copy.k1).toBe(1.5)
    expect(copy.b).toBe(0.6)
    expect(copy.delta).toBe(0.25)
    expect(copy.fieldNames).toEqual(['name', 'description'])
    expect(queries.map((q) => copy.search(q, 20))).toEqual(before)
    expect(copy.stats()).toEqual(index.stats())
    // The copy keeps working as a live index.
    copy.add(1, { name: 'zebra' })
    expect([...copy.search('zebra', 5).ids]).toEqual([1])
    expect(copy.serialize()).not.toEqual(bytes)
  })

  it('a loaded index changed like the original answers like it (postings held as loaded until changed)', async () => {
    const index = await sample()
    const copy = await Bm25Index.deserialize(index.serialize(), createAnalyzer({ stopwords: true }))
    const change = (target: Bm25Index) => {
      // Removals of loaded documents, additions to loaded terms, then enough removals to compact.
      for (let id = 1; id < 60; id++) target.remove(id * 7)
      for (let id = 0; id < 40; id++)
        target.add(100_000 + id, { name: 'package3 tool', description: 'networking café' })
      for (let id = 60; id < 200; id++) target.remove(id * 7)
    }
    change(index)
    change(copy)
    expect(queries.map((q) => copy.search(q, 50))).toEqual(queries.map((q) => index.search(q, 50)))
    expect(copy.stats()).toEqual(index.stats())
    expect(copy.serialize()).toEqual(index.serialize())
  })

  it('detects a flipped bit, truncation, a wrong magic and an unknown version', async () => {
    const bytes = (await sample()).serialize()
    const flipped = bytes.slice()
    flipped[bytes.length >> 1]! ^= 0x10
    await expect(Bm25Index.deserialize(flipped)).rejects.toThrow(Bm25CorruptionError)
    await expect(Bm25Index.deserialize(bytes.subarray(0, bytes.length - 3))).rejects.toThrow(
      Bm25CorruptionError,
    )
    const magic = bytes.slice()
    magic[0] = 0
    await expect(Bm25Index.deserialize(magic)).rejects.toThrow(/not a serialized BM25 index/)
    const version = bytes.slice()
    version[4] = 9
    await expect(Bm25Index.deserialize(version)).rejects.toThrow(/version 9/)
    await expect(Bm25Index.deserialize(new Uint8Array(3))).rejects.toThrow(Bm25CorruptionError)
  })

  it('writes version 3 (the index as held, with the sorted term order) and still reads version 2', async () => {
    const index = await sample()
    const bytes = index.serialize()
    expect(new DataView(bytes.buffer, bytes.byteOffset).getUint32(4, true)).toBe(3)
    const image = decodeHeld(bytes)
    expect(image.sortedTerms?.length).toBe(image.terms.length)
    const v2 = encodeHeld(image, 2)
    expect(new DataView(v2.buffer, v2.byteOffset).getUint32(4, true)).toBe(2)
    for (const copy of [await Bm25Index.deserialize(bytes), await Bm25Index.deserialize(v2)]) {
      for (const q of queries) {
        expect(copy.search(q, 20, { typos: 1 })).toEqual(index.search(q, 20, { typos: 1 }))
      }
    }
    // A term order that is not sorted is refused.
    const swapped = { ...image, sortedTerms: Uint32Array.from(image.sortedTerms!).reverse() }
    await expect(Bm25Index.deserialize(encodeHeld(swapped))).rejects.toThrow(/not sorted/)
  })

  it('still reads version 1', async () => {
    // A version 1 image of two documents: 10 "hello world", 20 "hello".
    const old = encodeIndex({
      fields: ['text'],
      boosts: [1],
      k1: 1.2,
      b: 0.75,
      delta: 0,
      analyzer: { locale: 'en', stemming: false },
      ext: [10, 20],
      lens: [2, 1],
      terms: ['hello', 'world'],
      docs: [Uint32Array.of(0, 1), Uint32Array.of(0)],
      tfs: [Uint8Array.of(1, 1), Uint8Array.of(1)],
    })
    const analyzer = createAnalyzer({ stemming: false })
    const reread = await Bm25Index.deserialize(old, analyzer)
    const fresh = await Bm25Index.create({ fields: { text: {} }, analyzer })
    fresh.add(10, { text: 'hello world' })
    fresh.add(20, { text: 'hello' })
    for (const q of ['hello', 'world', 'hello world'])
      expect(reread.search(q, 5, { prefix: false })).toEqual(fresh.search(q, 5, { prefix: false }))
  })
})

describe('deserializing with pauses', () => {
  it('checks the checksum a MiB at a time and loads the same index; damage is still caught', async () => {
    const index = await Bm25Index.create({ fields: { name: {} }, analyzer: createAnalyzer() })
    // Distinct words, so that the image passes a MiB and the checksum takes several slices.
    for (let id = 0; id < 40_000; id++) index.add(id, { name: `w${id} w${id % 101} common` })
    const bytes = index.serialize()
    expect(bytes.length).toBeGreaterThan(1 << 20)
    let pauses = 0
    const pause = async () => {
      pauses++
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
    const sliced = await Bm25Index.deserialize(bytes, createAnalyzer(), { pause })
    // The checksum's slices, then those of the checks and the load (serialize-slices.test.ts).
    expect(pauses).toBeGreaterThan(Math.ceil((bytes.length - 16) / (1 << 20)) - 1)
    const whole = await Bm25Index.deserialize(bytes, createAnalyzer())
    expect(Buffer.from(sliced.serialize()).equals(Buffer.from(whole.serialize()))).toBe(true)
    expect(sliced.search('w77 common', 5)).toEqual(whole.search('w77 common', 5))
    for (const at of [20, bytes.length >> 1, bytes.length - 5]) {
      const damaged = bytes.slice()
      damaged[at]! ^= 0x01
      await expect(Bm25Index.deserialize(damaged, createAnalyzer(), { pause })).rejects.toThrow(
        Bm25CorruptionError,
      )
    }
  })
})

describe('loading postings of several MiB with pauses', () => {
  it('copies the encoded postings between pauses and loads the index deserialize() loads whole', async () => {
    const index = await Bm25Index.create({ fields: { body: {} }, analyzer: createAnalyzer() })
    // About 600,000 postings: several MiB of encoded postings, copied in slices of a MiB.
    for (let id = 0; id < 15_000; id++) {
      const words = Array.from({ length: 40 }, (_, j) => `w${(id * 31 + j * 17) % 3000}`)
      index.add(id, { body: words.join(' ') })
    }
    const bytes = index.serialize()
    const slices: number[] = []
    const pause = async () => {
      slices.push(slices.length)
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
    const sliced = await Bm25Index.deserialize(bytes, createAnalyzer(), { pause })
    const whole = await Bm25Index.deserialize(bytes, createAnalyzer())
    expect(slices.length).toBeGreaterThan(Math.ceil(bytes.length / (1 << 20)) + 2)
    expect(Buffer.from(sliced.serialize()).equals(bytes)).toBe(true)
    for (const q of ['w7', 'w100 w2999', 'w5 w6 w7 w8'])
      expect(sliced.search(q, 20)).toEqual(whole.search(q, 20))
  })
})

describe('a loaded index with thousands of terms', () => {
  // Regression: loading reserved the per-term scratch (term-frequency stamps, dirty flags) only
  // twice its initial 1,024 terms, so terms past that lost their encoding at the next compaction
  // (searches missed them and serialize() wrote them without postings).
  it('keeps finding its last terms after a compaction, and its bytes load again', async () => {
    const index = await Bm25Index.create({ fields: { body: {} } })
    for (let id = 0; id < 6000; id++) index.add(id, { body: `common t${id} u${id % 97}` })
    const copy = await Bm25Index.deserialize(index.serialize())
    for (let id = 0; id < 1500; id++) copy.remove(id)
    copy.compact()
    expect([...copy.search('t5999', 5).ids]).toEqual([5999])
    copy.add(10_000, { body: 't5998 t5998 fresh' })
    expect([...copy.search('t5998', 5).ids]).toEqual([10_000, 5998])
    const again = await Bm25Index.deserialize(copy.serialize())
    expect([...again.search('t5999', 5).ids]).toEqual([5999])
  })
})
