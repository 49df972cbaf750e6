import { describe, expect, it } from 'vitest'
import { Bm25Index, createAnalyzer } from '../src/index.ts'
import { expectSameTopK, wordSource } from './helpers.ts'
import { ReferenceBm25 } from './reference/bm25-reference.ts'

// A search encodes only the terms it reads, and a term encoded before gets only its appended
// postings written (the last, partial block again and the new ones; src/bm25-index.ts,
// #encodeTerm). Its answers must stay those of the exhaustive reference however writes and
// searches interleave: blocks of one term encoded under different average lengths, terms moved
// to grow, block boundaries crossed between two searches.

function mulberry(a: number): () => number {
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const SEED = Number(process.env.SEED ?? 4711)

describe('incremental posting encoding', () => {
  it(`answers as the reference after every write batch, with lists growing across blocks (seed ${SEED})`, async () => {
    const random = mulberry(SEED)
    const word = wordSource(random, 60)
    const text = (n: number) => Array.from({ length: n }, word).join(' ')
    const analyzer = createAnalyzer({ locale: 'none' })
    const index = await Bm25Index.create({ fields: { title: { boost: 2 }, body: {} }, analyzer })
    const reference = new ReferenceBm25(
      [
        { name: 'title', boost: 2 },
        { name: 'body', boost: 1 },
      ],
      analyzer,
      1.2,
      0.75,
      0,
    )
    let next = 0
    for (let round = 0; round < 40; round++) {
      // Batches of 1 to 60 documents, lengths drifting upwards so the average lengths move.
      const batch = 1 + Math.floor(random() * 60)
      for (let i = 0; i < batch; i++) {
        const doc = {
          title: text(1 + Math.floor(random() * 3)),
          body: text(Math.floor(random() * (5 + round))),
        }
        index.add(next, doc)
        reference.add(next, doc)
        next++
      }
      for (let q = 0; q < 3; q++) {
        const query = text(1 + Math.floor(random() * 3))
        const terms = index.expandQuery(query, { prefix: false })
        const actual = index.search(query, 10, { prefix: false })
        const stats = reference.stats()
        expectSameTopK(actual, reference.search(terms, 10, {}), (id) => reference.score(id, terms, stats))
      }
    }
    expect(index.size).toBe(next)
    // Frequent words' lists span several 128-posting blocks, written a batch at a time.
    expect(Math.max(...Object.values(index.stats().docFrequencies))).toBeGreaterThan(256)
  })

  it('serializes to the same bytes as an index built at once from the same documents', async () => {
    const random = mulberry(SEED + 1)
    const word = wordSource(random, 40)
    const docs = Array.from({ length: 700 }, () => ({ body: Array.from({ length: 12 }, word).join(' ') }))
    const analyzer = createAnalyzer({ locale: 'none' })
    const stepwise = await Bm25Index.create({ fields: { body: {} }, analyzer })
    docs.forEach((doc, id) => {
      stepwise.add(id, doc)
      if (id % 37 === 0) stepwise.search(doc.body, 5)
    })
    const atOnce = await Bm25Index.create({ fields: { body: {} }, analyzer })
    docs.forEach((doc, id) => {
      atOnce.add(id, doc)
    })
    expect(Buffer.from(stepwise.serialize()).equals(Buffer.from(atOnce.serialize()))).toBe(true)
  })
})
