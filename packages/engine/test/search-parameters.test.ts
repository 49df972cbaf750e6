import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Engine, type Index, open } from '../src/index.ts'
import { removeDir, tempDir } from './helpers.ts'

// Meilisearch's search parameters (reference/api/search): pagination,
// rankingScoreThreshold, distinct, matchingStrategy, attributesToSearchOn,
// highlighting, cropping and _matchesPosition.

const BOOKS = [
  {
    id: 1,
    title: 'The Hobbit',
    author: 'Tolkien',
    series: 'middle-earth',
    blurb: 'A hobbit goes on an adventure',
  },
  {
    id: 2,
    title: 'The Fellowship of the Ring',
    author: 'Tolkien',
    series: 'middle-earth',
    blurb: 'A ring must be destroyed',
  },
  {
    id: 3,
    title: 'Ring of Fire',
    author: 'Someone',
    series: 'fire',
    blurb: 'A story about a volcano and a ring',
  },
  { id: 4, title: 'Hobbit Cooking', author: 'Baker', blurb: 'Recipes from the shire' },
  {
    id: 5,
    title: 'Dune',
    author: 'Herbert',
    series: 'dune',
    blurb: 'Spice, sand and a desert planet far away from home',
  },
]

describe('search parameters', () => {
  let engine: Engine
  let dir: string
  let books: Index

  beforeAll(async () => {
    dir = await tempDir()
    engine = await open(dir, { sync: 'none' })
    await engine.createIndex('books', {
      primaryKey: 'id',
      settings: {
        filterableAttributes: ['series', 'author'],
        searchableAttributes: ['title', 'blurb', 'author'],
      },
    })
    books = engine.index('books')
    await books.addDocuments(BOOKS)
  })
  afterAll(async () => {
    await engine.close()
    await removeDir(dir)
  })

  it('page and hitsPerPage give exact totalHits and totalPages instead of offset/limit', () => {
    const result = books.search({ page: 2, hitsPerPage: 2 })
    expect(result.hits.map((h) => h.id)).toEqual([3, 4])
    expect(result).toMatchObject({ page: 2, hitsPerPage: 2, totalHits: 5, totalPages: 3 })
    expect(result).not.toHaveProperty('offset')
    expect(result).not.toHaveProperty('estimatedTotalHits')
    expect(books.search({ page: 0, hitsPerPage: 2 })).toMatchObject({ hits: [], totalHits: 5 })
  })

  it('rankingScoreThreshold leaves out hits scoring below it', () => {
    const all = books.search({ q: 'hobbit ring', showRankingScore: true })
    const scores = all.hits.map((h) => h._rankingScore as number)
    // Shown scores are rounded to 6 decimals; the threshold compares unrounded ones.
    const cut = scores[1]! - 1e-6
    const kept = books.search({ q: 'hobbit ring', rankingScoreThreshold: cut, showRankingScore: true })
    expect(kept.hits.map((h) => h.id)).toEqual(
      all.hits.filter((h) => (h._rankingScore as number) >= cut).map((h) => h.id),
    )
    expect(kept.estimatedTotalHits).toBe(kept.hits.length)
  })

  it('distinct keeps the best hit of each value and every hit without one', () => {
    const result = books.search({ q: 'hobbit ring', distinct: 'series' })
    const series = result.hits.map((h) => h.series)
    expect(new Set(series.filter((s) => s !== undefined)).size).toBe(
      series.filter((s) => s !== undefined).length,
    )
    expect(result.hits.map((h) => h.id)).toContain(4)
    expect(() => books.search({ distinct: 'title' })).toThrow(
      expect.objectContaining({ code: 'invalid_search_distinct' }),
    )
  })

  it('matchingStrategy all keeps only hits holding every word', () => {
    expect(books.search({ q: 'ring volcano', matchingStrategy: 'all' }).hits.map((h) => h.id)).toEqual([3])
  })

  it('matchingStrategy last keeps hits holding the first word, those holding more words first', () => {
    const result = books.search({ q: 'ring volcano', matchingStrategy: 'last' })
    expect(result.hits.map((h) => h.id)).toEqual([3, 2])
  })

  // Meilisearch clients send `last` by default; with one word it keeps what the text index returns.
  it('matchingStrategy last on a one-word query answers exactly as without a strategy', () => {
    for (const q of ['ring', 'hobb', 'volcano', '']) {
      const plain = books.search({ q, showRankingScore: true })
      expect(books.search({ q, matchingStrategy: 'last', showRankingScore: true })).toEqual({
        ...plain,
        processingTimeMs: expect.any(Number),
      })
    }
  })

  it('matchingStrategy frequency drops the most frequent word first', () => {
    // `ring` is in two documents, `volcano` in one: the rarer word must be held.
    expect(books.search({ q: 'ring volcano', matchingStrategy: 'frequency' }).hits.map((h) => h.id)).toEqual([
      3,
    ])
    expect(() => books.search({ matchingStrategy: 'some' as 'all' })).toThrow(
      expect.objectContaining({ code: 'invalid_search_matching_strategy' }),
    )
  })

  it('attributesToSearchOn finds the words only in the attributes named', () => {
    expect(
      books
        .search({ q: 'ring', attributesToSearchOn: ['title'] })
        .hits.map((h) => h.id)
        .sort(),
    ).toEqual([2, 3])
    expect(books.search({ q: 'volcano', attributesToSearchOn: ['title'] }).hits).toEqual([])
    expect(() => books.search({ q: 'x', attributesToSearchOn: ['series'] })).toThrow(
      expect.objectContaining({ code: 'invalid_search_attributes_to_search_on' }),
    )
  })

  it('attributesToHighlight wraps matches in _formatted, with custom tags and prefix matches', () => {
    const [hit] = books.search({
      q: 'hobb',
      attributesToHighlight: ['title'],
      filter: 'author = Tolkien',
    }).hits
    expect(hit!._formatted).toEqual({
      id: '1',
      title: 'The <em>Hobb</em>it',
      author: 'Tolkien',
      series: 'middle-earth',
      blurb: 'A hobbit goes on an adventure',
    })
    const [tagged] = books.search({
      q: 'ring',
      attributesToHighlight: ['*'],
      highlightPreTag: '[',
      highlightPostTag: ']',
      filter: 'series = fire',
    }).hits
    expect((tagged!._formatted as Record<string, string>).title).toBe('[Ring] of Fire')
    expect((tagged!._formatted as Record<string, string>).blurb).toBe('A story about a volcano and a [ring]')
  })

  it('attributesToCrop keeps cropLength words around the matches, with the crop marker', () => {
    const [hit] = books.search({ q: 'desert', attributesToCrop: ['blurb'], cropLength: 3 }).hits
    expect((hit!._formatted as Record<string, string>).blurb).toBe('…a desert planet…')
    const [marked] = books.search({ q: 'desert', attributesToCrop: ['blurb:2'], cropMarker: '~' }).hits
    expect((marked!._formatted as Record<string, string>).blurb).toBe('~desert planet~')
  })

  it('a quoted phrase must appear as consecutive words', () => {
    expect(books.search({ q: '"the ring"' }).hits.map((h) => h.id)).toEqual([2])
    expect(books.search({ q: '"ring the"' }).hits).toEqual([])
    expect(books.search({ q: '"ring of fire"' }).hits.map((h) => h.id)).toEqual([3])
    expect(books.search({ q: 'hobbit "goes on"' }).hits.map((h) => h.id)).toEqual([1])
  })

  it('-word and -"phrase" exclude the documents holding them, also without other words', () => {
    expect(books.search({ q: 'hobbit -cooking' }).hits.map((h) => h.id)).toEqual([1])
    expect(
      books
        .search({ q: '-tolkien' })
        .hits.map((h) => h.id)
        .sort(),
    ).toEqual([3, 4, 5])
    expect(books.search({ q: 'ring -"ring of fire"' }).hits.map((h) => h.id)).toEqual([2])
  })

  it('facetStats gives min and max of numeric facets among the matches', async () => {
    await books.updateSettings({ filterableAttributes: ['series', 'author', 'id'] })
    const result = books.search({ q: 'hobbit', facets: ['id', 'author'] })
    expect(result.facetStats).toEqual({ id: { min: 1, max: 4 } })
  })

  it('showMatchesPosition reports where each match starts and how long it is', () => {
    const [hit] = books.search({ q: 'dune', showMatchesPosition: true }).hits
    expect(hit!._matchesPosition).toEqual({
      title: [{ start: 0, length: 4 }],
      series: [{ start: 0, length: 4 }],
    })
  })
})

// Regression: the typoTolerance setting's word sizes were stored but search used fixed ones (5 and 9).
describe('typoTolerance.minWordSizeForTypos', () => {
  it('sets the word length from which a query word may hold one or two typos', async () => {
    const dir = await tempDir()
    const engine = await open(dir, { sync: 'none' })
    try {
      await engine.createIndex('pets', { primaryKey: 'id' })
      const pets = engine.index('pets')
      await pets.addDocuments([
        { id: 1, name: 'cat' },
        { id: 2, name: 'elephant' },
      ])
      expect(pets.search({ q: 'cet' }).hits).toEqual([])
      expect(pets.search({ q: 'elepant' }).hits.map((h) => h.id)).toEqual([2])
      await pets.updateSettings({ typoTolerance: { minWordSizeForTypos: { oneTypo: 3, twoTypos: 3 } } })
      expect(pets.search({ q: 'cet' }).hits.map((h) => h.id)).toEqual([1])
      await pets.updateSettings({ typoTolerance: { minWordSizeForTypos: { oneTypo: 8, twoTypos: 10 } } })
      expect(pets.search({ q: 'elepant' }).hits).toEqual([])
    } finally {
      await engine.close()
      await removeDir(dir)
    }
  })
})
