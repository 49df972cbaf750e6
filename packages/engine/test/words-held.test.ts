import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Engine, type Index, open } from '../src/index.ts'
import { removeDir, tempDir } from './helpers.ts'

// Which query words a hit holds (the matching strategies) is read from the text index's postings
// when many documents match, and from the documents' text when few do or when
// `attributesToSearchOn` narrows the attributes. Both readings must agree: naming every searchable
// attribute in `attributesToSearchOn` reads the text, so it is the oracle of the postings.

const VOCABULARY = [
  'river',
  'rivet',
  'stone',
  'store',
  'storm',
  'garden',
  'harden',
  'light',
  'night',
  'bridge',
]
const FIELDS = ['title', 'body']

describe('words held by a hit: postings and text agree', () => {
  let dir: string
  let engine: Engine
  let index: Index

  beforeAll(async () => {
    dir = await tempDir()
    engine = await open(dir, { sync: 'none' })
    await engine.createIndex('docs', { primaryKey: 'id', settings: { searchableAttributes: FIELDS } })
    index = engine.index('docs')
    // 200 documents of two or three words per field from a small vocabulary, so that a query's
    // words are held in every combination and most queries match far more than a few documents.
    const docs = fc.sample(
      fc.record({
        title: fc.array(fc.constantFrom(...VOCABULARY), { minLength: 1, maxLength: 3 }),
        body: fc.array(fc.constantFrom(...VOCABULARY), { minLength: 0, maxLength: 3 }),
        hidden: fc.constantFrom(...VOCABULARY),
      }),
      { numRuns: 200, seed: 7 },
    )
    await index.addDocuments(
      docs.map((d, i) => ({ id: i, title: d.title.join(' '), body: d.body.join(' '), hidden: d.hidden })),
    )
  })

  afterAll(async () => {
    await engine.close()
    await removeDir(dir)
  })

  it('gives the same hits in the same order for every matching strategy, typos and prefixes included', () => {
    const word = fc.oneof(
      fc.constantFrom(...VOCABULARY),
      // a typo or a prefix of a vocabulary word
      fc.constantFrom(...VOCABULARY).map((w) => `${w.slice(0, 2)}x${w.slice(3)}`),
      fc.constantFrom(...VOCABULARY).map((w) => w.slice(0, 3)),
    )
    fc.assert(
      fc.property(
        fc.array(word, { minLength: 2, maxLength: 4 }),
        fc.constantFrom('all', 'last', 'frequency') as fc.Arbitrary<'all' | 'last' | 'frequency'>,
        (words, matchingStrategy) => {
          const q = words.join(' ')
          const fromPostings = index.search({ q, matchingStrategy, limit: 1000, showRankingScore: true })
          const fromText = index.search({
            q,
            matchingStrategy,
            limit: 1000,
            showRankingScore: true,
            attributesToSearchOn: FIELDS,
          })
          expect(fromPostings.hits.map((h) => h.id)).toEqual(fromText.hits.map((h) => h.id))
          expect(fromPostings.estimatedTotalHits).toBe(fromText.estimatedTotalHits)
        },
      ),
      { numRuns: 150, seed: 11 },
    )
  })

  it('counts a word only in the searchable attributes, whichever way it is read', () => {
    // `hidden` is not searchable: a word found only there is not held, by the postings (many
    // candidates) as by the text (few candidates).
    const many = index.search({ q: 'garden bridge', matchingStrategy: 'all', limit: 1000 })
    expect(index.search({ q: 'garden bridge', limit: 1000 }).hits.length).toBeGreaterThan(32)
    for (const hit of many.hits) {
      const text = `${hit.title} ${hit.body}`
      expect(text).toMatch(/garden|harden/) // one typo away
      expect(text).toMatch(/bridge/)
    }
  })
})
