import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Bm25Index, createAnalyzer } from '../src/index.ts'
import { expectSameTopK, wordSource } from './helpers.ts'
import { ReferenceBm25 } from './reference/bm25-reference.ts'

const seed = Number(process.env.SEED ?? Date.now() % 1_000_000)

function mulberry(a: number): () => number {
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('WASM top-k against the exhaustive TypeScript reference (issue: same ids, scores within 1e-4)', () => {
  it(`matches on random corpora, parameters (k1, b, BM25+ delta), queries, removals and filters (seed ${seed})`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: 900 }),
        fc.integer({ min: 20, max: 400 }),
        async (corpusSeed, docCount, vocabulary) => {
          const random = mulberry(corpusSeed)
          const word = wordSource(random, vocabulary)
          const text = (n: number) => Array.from({ length: n }, word).join(' ')
          const analyzer = createAnalyzer({ locale: 'none' })
          const fields = { title: { boost: 2.5 }, body: {} }
          const k1 = [0.9, 1.2, 2][Math.floor(random() * 3)]!
          const b = [0.3, 0.75, 1][Math.floor(random() * 3)]!
          const delta = random() < 0.5 ? 0 : 0.7
          const index = await Bm25Index.create({ fields, analyzer, k1, b, delta })
          const reference = new ReferenceBm25(
            [
              { name: 'title', boost: 2.5 },
              { name: 'body', boost: 1 },
            ],
            analyzer,
            k1,
            b,
            delta,
          )
          for (let i = 0; i < docCount; i++) {
            const id = Math.floor(random() * docCount * 3)
            const doc = { title: text(1 + Math.floor(random() * 4)), body: text(Math.floor(random() * 40)) }
            index.add(id, doc)
            reference.remove(id)
            reference.add(id, doc)
            if (random() < 0.1) {
              const gone = Math.floor(random() * docCount * 3)
              expect(index.remove(gone)).toBe(reference.docs.has(gone))
              reference.remove(gone)
            }
          }
          expect(index.size).toBe(reference.docs.size)
          for (let q = 0; q < 12; q++) {
            const query = text(1 + Math.floor(random() * 4))
            const k = 1 + Math.floor(random() * 20)
            const terms = index.expandQuery(query, { prefix: random() < 0.5 })
            const useFilter = random() < 0.3
            const allowed = (id: number) => id % 3 !== 0
            const filter = useFilter ? allowed : undefined
            const actual = index.search(query, k, {
              prefix: terms.some((t) => t.kind === 'prefix'),
              ...(filter === undefined ? {} : { filter }),
            })
            const stats = reference.stats()
            const expected = reference.search(terms, k, filter === undefined ? {} : { filter })
            expectSameTopK(actual, expected, (id) => reference.score(id, terms, stats))
          }
        },
      ),
      { seed, numRuns: 25 },
    )
  })
})
