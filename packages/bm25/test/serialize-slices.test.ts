import { Rng, testSeed } from '@shoal/testkit/rng'
import { describe, expect, it } from 'vitest'
import { Bm25CorruptionError, Bm25Index, Bm25InputError, createAnalyzer } from '../src/index.ts'
import { decodeHeld, encodeHeld } from '../src/internal/held-format.ts'
import { wordSource } from './helpers.ts'

const SEED = testSeed(9173)

/** Resolves in a later turn, counting the pauses. */
function countingPause(): { pause: () => Promise<void>; count: () => number } {
  let pauses = 0
  return {
    pause: () => {
      pauses++
      return new Promise((resolve) => setImmediate(resolve))
    },
    count: () => pauses,
  }
}

function doc(word: () => string, rng: Rng): { title: string; body: string } {
  const body = Array.from({ length: 5 + rng.int(60) }, word).join(' ')
  return { title: `${word()} ${word()}`, body }
}

/** A seeded index shaped by `rng`: adds, removals, replacements, and maybe a reload from bytes. */
async function randomIndex(rng: Rng): Promise<Bm25Index> {
  let index = await Bm25Index.create({ fields: { title: { boost: 2 }, body: {} }, b: 0.7 })
  const word = wordSource(() => rng.next(), 200 + rng.int(3000))
  const docs = 300 + rng.int(2700)
  for (let id = 0; id < docs; id++) index.add(id, doc(word, rng))
  if (rng.chance(0.5)) index = await Bm25Index.deserialize(index.serialize())
  const removals = rng.int(Math.floor(docs / 3) + 1)
  for (let i = 0; i < removals; i++) index.remove(rng.int(docs))
  for (let i = 0, n = rng.int(200); i < n; i++) {
    const id = rng.int(docs + 100)
    index.remove(id)
    index.add(id, doc(word, rng))
  }
  return index
}

describe('serializeInSlices', () => {
  it(`gives the bytes serialize() gives, for random indexes (seed ${SEED})`, async () => {
    const rng = new Rng(SEED)
    for (let round = 0; round < 12; round++) {
      const index = await randomIndex(rng.fork())
      // Searched first, so that linear memory holds encodings laid out by earlier searches.
      index.search('aq bq', 10)
      // Removals not compacted yet: the bytes leave them out as serialize() does after compacting.
      for (let i = 0, n = rng.int(40); i < n; i++) index.remove(rng.int(3000))
      const sliced = await index.serializeInSlices(countingPause().pause)
      expect(Buffer.from(sliced).equals(Buffer.from(index.serialize())), `round ${round}, seed ${SEED}`).toBe(
        true,
      )
    }
  })

  it('pauses between slices of a large index', async () => {
    const rng = new Rng(SEED + 1)
    const index = await Bm25Index.create({ fields: { title: {}, body: {} } })
    const word = wordSource(() => rng.next(), 2000)
    // About 500,000 postings: several encoding slices, and over a MiB to copy and checksum.
    for (let id = 0; id < 15_000; id++) index.add(id, doc(word, rng))
    const { pause, count } = countingPause()
    await index.serializeInSlices(pause)
    expect(count()).toBeGreaterThan(5)
  })

  it('holds the contents of the call: writes and searches meanwhile are not in the bytes', async () => {
    const rng = new Rng(SEED + 2)
    const index = await randomIndex(rng)
    const expected = Buffer.from(index.serialize())
    const word = wordSource(() => rng.next(), 500)
    let turns = 0
    const pending = index.serializeInSlices(async () => {
      await new Promise((resolve) => setImmediate(resolve))
      // Between slices: new documents, removals (no compaction runs meanwhile) and searches.
      turns++
      index.add(1_000_000 + turns, doc(word, rng))
      index.remove(rng.int(3000))
      index.search(word(), 5)
    })
    const sliced = Buffer.from(await pending)
    expect(turns).toBeGreaterThan(0)
    expect(sliced.equals(expected)).toBe(true)
    // The index went on as a live index: its own bytes now hold the writes.
    const copy = await Bm25Index.deserialize(index.serialize())
    expect(copy.size).toBe(index.size)
  })

  it('runs beside another serializeInSlices and serialize(), removals in between, each with the bytes of its call', async () => {
    const rng = new Rng(SEED + 7)
    const index = await randomIndex(rng)
    index.compact()
    const take = async (pause: () => Promise<void>) => {
      const expected = Buffer.from(index.serialize())
      return { expected, got: Buffer.from(await index.serializeInSlices(pause)) }
    }
    const turn = () => new Promise<void>((resolve) => setImmediate(resolve))
    let release = () => {}
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    // The first holds at its first pause until the others have run.
    const first = take(() => gate)
    await turn()
    for (let id = 0; id < 60; id++) index.remove(id)
    // Started while the first runs, after removals: no compaction may run for it or serialize().
    const second = take(turn)
    const whole = Buffer.from(index.serialize())
    release()
    for (const { expected, got } of await Promise.all([first, second]))
      expect(got.equals(expected)).toBe(true)
    const copy = await Bm25Index.deserialize(whole)
    expect(copy.size).toBe(index.size)
  })

  it('refuses compact() while it runs, and compacts again afterwards', async () => {
    const index = await randomIndex(new Rng(SEED + 3))
    let tried = false
    await index.serializeInSlices(async () => {
      if (!tried) {
        tried = true
        expect(() => index.compact()).toThrow(Bm25InputError)
      }
      await new Promise((resolve) => setImmediate(resolve))
    })
    expect(tried).toBe(true)
    expect(() => index.compact()).not.toThrow()
  })

  it('its bytes load like serialize() bytes, and a flipped byte is caught by the checksum', async () => {
    const index = await randomIndex(new Rng(SEED + 4))
    const bytes = await index.serializeInSlices(countingPause().pause)
    const copy = await Bm25Index.deserialize(bytes, createAnalyzer())
    expect(copy.search('aq', 20)).toEqual(index.search('aq', 20))
    const damaged = bytes.slice()
    damaged[Math.floor(damaged.length / 2)]! ^= 0x10
    await expect(Bm25Index.deserialize(damaged)).rejects.toThrow(Bm25CorruptionError)
  })
})

describe('deserialize with a pause', () => {
  it(`loads what deserialize without one loads, pausing between slices (seed ${SEED})`, async () => {
    const rng = new Rng(SEED + 5)
    const index = await Bm25Index.create({ fields: { title: {}, body: {} } })
    const word = wordSource(() => rng.next(), 5000)
    // Over 32,768 documents and 131,072 postings: the checks and the load pause several times.
    for (let id = 0; id < 40_000; id++) index.add(id * 3, doc(word, rng))
    const bytes = index.serialize()
    const { pause, count } = countingPause()
    const sliced = await Bm25Index.deserialize(bytes, undefined, { pause })
    const whole = await Bm25Index.deserialize(bytes)
    expect(count()).toBeGreaterThan(8)
    for (const q of ['aq', 'bq cq', word(), word()]) expect(sliced.search(q, 20)).toEqual(whole.search(q, 20))
    expect(Buffer.from(sliced.serialize()).equals(Buffer.from(bytes))).toBe(true)
  })

  it('still rejects damaged bytes: a flipped byte, and postings out of order under a valid checksum', async () => {
    const index = await randomIndex(new Rng(SEED + 6))
    const bytes = index.serialize()
    const pause = countingPause().pause
    const flipped = bytes.slice()
    flipped[flipped.length >> 1]! ^= 0x01
    await expect(Bm25Index.deserialize(flipped, undefined, { pause })).rejects.toThrow(Bm25CorruptionError)
    // A posting column rewritten with a repeated document, the checksum made to match.
    const image = decodeHeld(bytes)
    image.postDocs[1] = image.postDocs[0]!
    await expect(Bm25Index.deserialize(encodeHeld(image), undefined, { pause })).rejects.toThrow(
      /out of order or range/,
    )
  })
})
