import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type Doc,
  type Engine,
  type Index,
  mergeSearchStats,
  mergeShardResults,
  open,
  type SearchParams,
  type SearchResult,
  type Settings,
} from '../src/index.ts'
import { removeDir, tempDir } from './helpers.ts'

// Meilisearch's index settings that shape ranking and matching (reference/api/settings):
// rankingRules, synonyms, distinctAttribute and searchCutoffMs, as Shoal honours them
// (docs/ranking-rules.md): stored, validated, applied by search alike on one index and on its
// partitions, and kept across a restart.

const RELEVANCE = ['words', 'typo', 'proximity', 'attribute', 'exactness']

const SHOES: Doc[] = [
  { id: 1, title: 'red running shoe', price: 30, brand: 'acme' },
  { id: 2, title: 'red running shoe', price: 90, brand: 'acme' },
  { id: 3, title: 'red running shoe', price: 60, brand: 'zeta' },
  { id: 4, title: 'running shoe for trail running in red mud', price: 10, brand: 'zeta' },
  { id: 5, title: 'blue sandal', price: 20, brand: 'acme' },
  { id: 6, title: 'sneakers from new york', price: 50, brand: 'vega' },
  { id: 7, title: 'nyc city guide', price: 15, brand: 'nova' },
]

const ids = (result: SearchResult) => result.hits.map((hit) => hit.id)

function distributed(shards: readonly Index[], params: SearchParams): SearchResult {
  const stats = shards.map((shard) => shard.searchStats(params))
  const context = mergeSearchStats(stats)
  return mergeShardResults(
    params,
    shards.map((shard) => shard.searchShard(params, context)),
  )
}

function withoutTime({ processingTimeMs: _, ...rest }: SearchResult) {
  return rest
}

describe('ranking and matching settings', () => {
  let engine: Engine
  let dir: string
  let shoes: Index
  let shards: Index[]

  /** The same settings on the whole index and on each of its three partitions. */
  async function configure(settings: Partial<Settings> | null): Promise<void> {
    for (const index of [shoes, ...shards]) {
      await index.resetSettings()
      if (settings !== null) await index.updateSettings({ sortableAttributes: ['price'], ...settings })
    }
  }

  /** What one index answers, checked equal to the merged answer of its partitions. */
  function search(params: SearchParams): SearchResult {
    const one = shoes.search(params)
    expect(withoutTime(distributed(shards, params)), JSON.stringify(params)).toEqual(withoutTime(one))
    return one
  }

  beforeAll(async () => {
    dir = await tempDir()
    engine = await open(dir, { sync: 'none' })
    await engine.createIndex('shoes', { primaryKey: 'id' })
    shoes = engine.index('shoes')
    await shoes.addDocuments(SHOES)
    shards = []
    for (let s = 0; s < 3; s++) {
      await engine.createIndex(`shoes-${s}`, { primaryKey: 'id' })
      const shard = engine.index(`shoes-${s}`)
      await shard.addDocuments(SHOES.filter((doc) => (doc.id as number) % 3 === s))
      shards.push(shard)
    }
  })
  afterAll(async () => {
    await engine.close()
    await removeDir(dir)
  })

  describe('rankingRules', () => {
    it("defaults to Meilisearch's list, where sort outranks the relevance score", async () => {
      await configure({})
      expect(shoes.getSettings().rankingRules).toEqual([
        'words',
        'typo',
        'proximity',
        'attribute',
        'sort',
        'exactness',
      ])
      expect(ids(search({ q: 'running', sort: ['price:asc'] }))).toEqual([4, 1, 3, 2])
    })

    it('sort after every relevance rule only breaks ties of the score', async () => {
      await configure({ rankingRules: [...RELEVANCE, 'sort'] })
      // 1, 2, 3 hold the same text and tie; 4 says "running" twice in a longer title.
      const result = search({ q: 'red running shoe', sort: ['price:desc'] })
      expect(ids(result).slice(0, 3)).toEqual([2, 3, 1])
      expect(ids(result)).toContain(4)
    })

    it('a custom rule before relevance orders every match by the attribute first', async () => {
      await configure({ rankingRules: ['price:desc', ...RELEVANCE, 'sort'] })
      expect(ids(search({ q: 'running' }))).toEqual([2, 3, 1, 4])
      expect(ids(search({ q: 'running', limit: 2 }))).toEqual([2, 3])
      expect(ids(search({ limit: 3 }))).toEqual([2, 3, 6])
    })

    it('a custom rule after relevance orders documents of equal score', async () => {
      await configure({ rankingRules: [...RELEVANCE, 'sort', 'price:asc'] })
      expect(ids(search({ q: 'red running shoe', limit: 3 }))).toEqual([1, 3, 2])
      await configure({ rankingRules: [...RELEVANCE, 'sort', 'price:desc'] })
      expect(ids(search({ q: 'red running shoe', limit: 3 }))).toEqual([2, 3, 1])
    })

    it('without relevance rules, matches are ordered by the remaining rules, then primary key', async () => {
      await configure({ rankingRules: ['sort'] })
      expect(ids(search({ q: 'running' }))).toEqual([1, 2, 3, 4])
      expect(ids(search({ q: 'running', sort: ['price:asc'], limit: 2 }))).toEqual([4, 1])
    })

    it('a sort parameter needs the sort rule', async () => {
      await configure({ rankingRules: RELEVANCE })
      expect(() => shoes.search({ q: 'shoe', sort: ['price:asc'] })).toThrow(
        expect.objectContaining({ code: 'invalid_search_sort' }),
      )
      expect(ids(shoes.search({ q: 'blue' }))).toEqual([5])
    })

    it('refuses rules Shoal cannot honour, with invalid_settings_ranking_rules', async () => {
      const refused: unknown[] = [
        ['words', 'typo', 'sort'],
        ['typo', 'words', 'proximity', 'attribute', 'exactness'],
        [...RELEVANCE, 'sort', 'sort'],
        [...RELEVANCE, 'price:asc', 'price:desc'],
        [...RELEVANCE, 'fastest'],
        [...RELEVANCE, ':asc'],
        'words',
        [1],
      ]
      for (const rankingRules of refused) {
        await expect(
          shoes.updateSettings({ rankingRules } as Partial<Settings>),
          JSON.stringify(rankingRules),
        ).rejects.toMatchObject({ code: 'invalid_settings_ranking_rules' })
      }
    })
  })

  describe('synonyms', () => {
    it('a word finds what its synonyms find, one way only', async () => {
      await configure({ synonyms: { trainer: ['shoe'] } })
      expect(ids(search({ q: 'trainer' }))).toEqual(expect.arrayContaining([1, 2, 3, 4]))
      expect(ids(search({ q: 'shoe trainer' }))).toHaveLength(4)
      await shoes.updateSettings({ synonyms: { shoe: ['trainer'] } })
      expect(ids(shoes.search({ q: 'trainer' }))).toEqual([])
      await configure({ synonyms: {} })
      expect(ids(search({ q: 'trainer' }))).toEqual([])
    })

    it('multi-word synonyms expand both ways when listed both ways', async () => {
      await configure({ synonyms: { nyc: ['new york'], 'New York': ['NYC'] } })
      expect(ids(search({ q: 'nyc' }))).toEqual(expect.arrayContaining([6, 7]))
      expect(ids(search({ q: 'new york' }))).toEqual(expect.arrayContaining([6, 7]))
    })

    it('a synonym counts as the word for matchingStrategy all and highlighting', async () => {
      await configure({ synonyms: { nyc: ['new york'] } })
      const all = shoes.search({ q: 'nyc', matchingStrategy: 'all', attributesToHighlight: ['title'] })
      expect(ids(all)).toEqual(expect.arrayContaining([6, 7]))
      const six = all.hits.find((hit) => hit.id === 6)!
      expect((six._formatted as Doc).title).toBe('sneakers from <em>new</em> <em>york</em>')
    })

    it('refuses a malformed value with invalid_settings_synonyms', async () => {
      for (const synonyms of [['a'], { a: 'b' }, { a: [1] }, { ' ': ['b'] }]) {
        await expect(
          shoes.updateSettings({ synonyms } as unknown as Partial<Settings>),
          JSON.stringify(synonyms),
        ).rejects.toMatchObject({ code: 'invalid_settings_synonyms' })
      }
    })
  })

  describe('prefixSearch', () => {
    it('disabled: the last query word matches whole words only', async () => {
      await configure({})
      expect(shoes.getSettings().prefixSearch).toBe('indexingTime')
      expect(ids(search({ q: 'sand' }))).toEqual([5])
      await configure({ prefixSearch: 'disabled' })
      expect(ids(search({ q: 'sand' }))).toEqual([])
      expect(ids(search({ q: 'sandal' }))).toEqual([5])
      const highlighted = shoes.search({ q: 'blue sand', attributesToHighlight: ['title'] })
      expect((highlighted.hits[0]!._formatted as Doc).title).toBe('<em>blue</em> sandal')
    })

    it('refuses another value with invalid_settings_prefix_search', async () => {
      await expect(
        shoes.updateSettings({ prefixSearch: 'always' } as unknown as Partial<Settings>),
      ).rejects.toMatchObject({ code: 'invalid_settings_prefix_search' })
    })
  })

  describe('distinctAttribute', () => {
    it('is the distinct of a search that names none; the parameter overrides it', async () => {
      await configure({ filterableAttributes: ['brand'], distinctAttribute: 'brand' })
      const result = shoes.search({ q: 'running shoe', sort: ['price:desc'] })
      expect(ids(result)).toEqual([2, 3])
      expect(ids(shoes.search({ q: 'shoe sandal guide sneakers', limit: 10 }))).toHaveLength(4)
      await shoes.updateSettings({ filterableAttributes: ['brand', 'price'] })
      expect(ids(shoes.search({ q: 'red running shoe', distinct: 'price' }))).toHaveLength(4)
    })

    it('partitions answer it as one index does, one hit per value collection-wide', async () => {
      await configure({ filterableAttributes: ['brand', 'price'], distinctAttribute: 'brand' })
      expect(ids(search({ q: 'running shoe', sort: ['price:desc'] }))).toEqual([2, 3])
      expect(ids(search({ q: 'shoe sandal guide sneakers', limit: 10, facets: ['brand'] }))).toHaveLength(4)
      expect(ids(search({ q: 'red running shoe', distinct: 'price' }))).toHaveLength(4)
      await configure({ distinctAttribute: null })
    })
  })

  it('every setting resets to its default and survives a restart', async () => {
    await configure(null)
    const defaults = shoes.getSettings()
    expect(defaults).toMatchObject({ synonyms: {}, distinctAttribute: null, searchCutoffMs: null })
    await shoes.updateSettings({
      rankingRules: ['price:asc', ...RELEVANCE, 'sort'],
      synonyms: { nyc: ['new york'] },
      distinctAttribute: 'brand',
      searchCutoffMs: 250,
      prefixSearch: 'disabled',
    })
    const stored = shoes.getSettings()
    await engine.snapshot()
    await shoes.updateSettings({ searchCutoffMs: 300 })
    await engine.close()
    engine = await open(dir, { sync: 'none' })
    shoes = engine.index('shoes')
    shards = [0, 1, 2].map((s) => engine.index(`shoes-${s}`))
    expect(shoes.getSettings()).toEqual({ ...stored, searchCutoffMs: 300 })
    expect(ids(shoes.search({ q: 'nyc' }))).toEqual([7, 6])
    await shoes.resetSettings()
    expect(shoes.getSettings()).toEqual(defaults)
  })
})

describe('searchCutoffMs', () => {
  let engine: Engine
  let dir: string
  let words: Index
  const COUNT = 9000

  beforeAll(async () => {
    dir = await tempDir()
    engine = await open(dir, { sync: 'none' })
    await engine.createIndex('words', { primaryKey: 'id' })
    words = engine.index('words')
    // The last documents say "apple" most often: the best matches are scored last.
    const docs = Array.from({ length: COUNT }, (_, i) => ({
      id: i,
      text: i >= COUNT - 10 ? 'apple apple apple pie' : `apple pie number ${i}`,
    }))
    await words.addDocuments(docs)
  })
  afterAll(async () => {
    await engine.close()
    await removeDir(dir)
  })

  it('a search past its cutoff answers the best of what it scored before it', async () => {
    const full = words.search({ q: 'apple', limit: 5 })
    expect(ids(full).every((id) => (id as number) >= COUNT - 10)).toBe(true)
    await words.updateSettings({ searchCutoffMs: 0 })
    const cut = words.search({ q: 'apple', limit: 5 })
    expect(cut.hits).toHaveLength(5)
    expect(ids(cut).every((id) => (id as number) < COUNT - 10)).toBe(true)
    await words.updateSettings({ searchCutoffMs: 60_000 })
    expect(ids(words.search({ q: 'apple', limit: 5 }))).toEqual(ids(full))
  })

  it('reading hits for matchingStrategy stops at the cutoff too, keeping the hits read', async () => {
    await words.updateSettings({ searchCutoffMs: null, pagination: { maxTotalHits: 100_000 } })
    const params = { q: 'apple pie', matchingStrategy: 'all' as const, limit: 3 }
    expect(words.search(params).estimatedTotalHits).toBe(COUNT)
    await words.updateSettings({ searchCutoffMs: 0 })
    // One BM25 slice (8,192 candidates) is scored; then 1,024 of its hits are read.
    const cut = words.search(params)
    expect(cut.estimatedTotalHits).toBe(1024)
    expect(cut.hits).toHaveLength(3)
    await words.updateSettings({ searchCutoffMs: null, pagination: null })
  })

  it('a sorted search without q past its cutoff orders the documents it keyed before it', async () => {
    // Issue 24: ordering by sort keys reads every candidate's document; the deadline is checked
    // every 1,024 candidates, read in primary-key order (search-cutoff.ts).
    await words.updateSettings({ sortableAttributes: ['text'] })
    const params = { sort: ['text:desc'], limit: 3 }
    // Descending text: "apple pie number 999" (among keys 0..1023: 999) beats every later key's.
    const full = words.search(params)
    expect(ids(full)).toEqual([999, 998, 997])
    await words.updateSettings({ searchCutoffMs: 0 })
    // Only the first 1,024 documents by key are keyed: "apple pie number 999" still leads them.
    expect(ids(words.search(params))).toEqual([999, 998, 997])
    expect(ids(words.search({ sort: ['text:asc'], limit: 2 }))).toEqual([0, 1])
    const cut = words.search({ sort: ['text:asc'], limit: 2, offset: 998 })
    // Keys 0..1023 in text order: "… number 0", "… number 1", "… number 10", "… number 100", …
    const keyed = Array.from({ length: 1024 }, (_, i) => i).sort((a, b) => (String(a) < String(b) ? -1 : 1))
    expect(ids(cut)).toEqual(keyed.slice(998, 1000))
    // The total still counts every candidate (up to `maxTotalHits`).
    expect(cut.estimatedTotalHits).toBe(1000)
    await words.updateSettings({ searchCutoffMs: null })
    expect(ids(words.search({ sort: ['text:asc'], limit: 2, offset: 998 }))).not.toEqual(ids(cut))
    await words.updateSettings({ sortableAttributes: [] })
  })

  it('refuses a value that is not a count of milliseconds', async () => {
    for (const searchCutoffMs of [-1, 1.5, '100', 86_400_001]) {
      await expect(
        words.updateSettings({ searchCutoffMs } as Partial<Settings>),
        JSON.stringify(searchCutoffMs),
      ).rejects.toMatchObject({ code: 'invalid_settings_search_cutoff_ms' })
    }
  })
})
