import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type Doc,
  type Engine,
  type Index,
  mergeSearchStats,
  mergeShardResults,
  open,
  type SearchParams,
} from '../src/index.ts'
import { removeDir, tempDir } from './helpers.ts'

// `showRankingScoreDetails` (Meilisearch's reference/api/search#ranking-score-details): one entry per
// ranking rule in the index's order, the score Shoal ranks by equal to `_rankingScore`
// (docs/ranking-rules.md), on one index and over partitions alike.

const BOOKS = [
  { id: 1, title: 'The Hobbit', blurb: 'a hobbit goes on an adventure', year: 1937, _vectors: { e: [1, 0] } },
  { id: 2, title: 'Hobbit Cooking', blurb: 'recipes', year: 2001, _vectors: { e: [0.8, 0.2] } },
  { id: 3, title: 'Ring of Fire', blurb: 'a story about an old hobbit', year: 1990, _vectors: { e: [0, 1] } },
  { id: 4, title: 'Dune', blurb: 'sand', year: 1965, _vectors: { e: [0.5, 0.5] } },
]

type Details = Record<string, { order: number } & Record<string, unknown>>

describe('_rankingScoreDetails', () => {
  let dir: string
  let engine: Engine
  let whole: Index
  let parts: Index[]
  const details = (hit: Doc) => hit._rankingScoreDetails as Details

  beforeAll(async () => {
    dir = await tempDir()
    engine = await open(dir, { sync: 'none' })
    const settings = {
      sortableAttributes: ['year'],
      filterableAttributes: ['year'],
      embedders: { e: { source: 'userProvided' as const, dimensions: 2 } },
    }
    await engine.createIndex('whole', { primaryKey: 'id', settings })
    whole = engine.index('whole')
    await whole.addDocuments(BOOKS)
    parts = []
    for (const n of [0, 1]) {
      await engine.createIndex(`part-${n}`, { primaryKey: 'id', settings })
      parts.push(engine.index(`part-${n}`))
      await parts[n]!.addDocuments(BOOKS.filter((b) => b.id % 2 === n))
    }
  })
  afterAll(async () => {
    await engine?.close()
    await removeDir(dir)
  })

  it('lists every rule of the default order, the bm25 score after exactness, equal to _rankingScore', () => {
    const hits = whole.search({ q: 'hobbit', showRankingScore: true, showRankingScoreDetails: true }).hits
    expect(hits.length).toBe(3)
    for (const hit of hits) {
      const entries = details(hit)
      expect(Object.entries(entries).map(([name, e]) => [name, e.order])).toEqual([
        ['words', 0],
        ['typo', 1],
        ['proximity', 2],
        ['attribute', 3],
        ['exactness', 4],
        ['bm25', 5],
      ])
      expect(entries.bm25!.score).toBe(hit._rankingScore)
      expect(entries.words).toMatchObject({ matchingWords: 1, maxMatchingWords: 1, score: 1 })
      expect(entries.typo).toMatchObject({ typoCount: 0, score: 1 })
    }
    // Searchable `*`: the document's attributes in order (id, title, blurb, year). "Hobbit Cooking"
    // holds the word first in `title`; "Ring of Fire" only in `blurb`, as its sixth word.
    const byId = new Map(hits.map((hit) => [hit.id, details(hit)]))
    expect(byId.get(3)!.attribute).toMatchObject({
      attributeRankingOrderScore: 0.5,
      queryWordDistanceScore: 0.166667,
    })
    expect(byId.get(2)!.attribute).toMatchObject({
      attributeRankingOrderScore: 0.75,
      queryWordDistanceScore: 1,
    })
    expect(byId.get(2)!.exactness).toMatchObject({ matchType: 'matchesStart' })
  })

  it('counts typos and the words a hit lacks', () => {
    const [hit] = whole.search({ q: 'hobbitt cooking', showRankingScoreDetails: true }).hits
    expect(hit!.id).toBe(2)
    expect(details(hit!).words).toMatchObject({ matchingWords: 2, maxMatchingWords: 2 })
    expect(details(hit!).typo).toMatchObject({ typoCount: 1, maxTypoCount: 2 })
    expect(details(hit!).proximity).toEqual({ order: 2, score: 1 })
  })

  it('places sort keys and custom rules where the rules place them, with the value compared', async () => {
    const hits = whole.search({ q: 'hobbit', sort: ['year:desc'], showRankingScoreDetails: true }).hits
    expect(Object.keys(details(hits[0]!))).toEqual([
      'words',
      'typo',
      'proximity',
      'attribute',
      'year:desc',
      'exactness',
      'bm25',
    ])
    expect(hits.map((hit) => details(hit)['year:desc']!.value)).toEqual([2001, 1990, 1937])
    const placeholder = whole.search({ sort: ['year:asc'], showRankingScoreDetails: true }).hits
    expect(details(placeholder[0]!)).toEqual({ 'year:asc': { order: 0, value: 1937 } })
  })

  it('a semantic search reports the similarity, a hybrid one the blend, each equal to _rankingScore', () => {
    const semantic = whole.search({
      vector: [1, 0],
      showRankingScore: true,
      showRankingScoreDetails: true,
    }).hits
    for (const hit of semantic) expect(details(hit).vectorSort!.similarity).toBe(hit._rankingScore)
    const hybrid = whole.search({
      q: 'hobbit',
      vector: [1, 0],
      hybrid: { embedder: 'e', semanticRatio: 0.5 },
      showRankingScore: true,
      showRankingScoreDetails: true,
    }).hits
    for (const hit of hybrid) {
      expect(details(hit).hybrid).toMatchObject({ semanticRatio: 0.5, score: hit._rankingScore })
    }
  })

  it('answers the same over two partitions as on one index, narrowed searches included', () => {
    const sharded = (params: SearchParams) => {
      const context = mergeSearchStats(parts.map((part) => part.searchStats(params)))
      return mergeShardResults(
        params,
        parts.map((part) => part.searchShard(params, context)),
      )
    }
    for (const params of [
      { q: 'hobbit', showRankingScoreDetails: true },
      { q: 'hobbit adventure', matchingStrategy: 'all' as const, showRankingScoreDetails: true },
      { q: 'old hobbit', sort: ['year:asc'], showRankingScoreDetails: true },
      { vector: [1, 0], showRankingScoreDetails: true },
    ]) {
      const { processingTimeMs: _a, ...expected } = whole.search(params)
      const { processingTimeMs: _b, ...actual } = sharded(params)
      expect(actual, JSON.stringify(params)).toEqual(expected)
    }
  })
})
