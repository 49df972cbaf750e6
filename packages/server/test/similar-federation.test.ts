import { Meilisearch } from 'meilisearch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcessServer, startInProcess } from './harness/in-process.ts'

// Meilisearch's similar documents (reference/api/similar), federated multi-search
// (reference/api/multi_search, federation) and the default matching strategy (`last`), through the
// official client and over plain HTTP for the exact error codes.

const MASTER = 'in-process-master-key-0123456789'

const MOVIES = [
  { id: 1, title: 'Star Wars', genre: 'scifi', _vectors: { e: [1, 0] } },
  { id: 2, title: 'Star Trek', genre: 'scifi', _vectors: { e: [0.9, 0.1] } },
  { id: 3, title: 'Stardust', genre: 'fantasy', _vectors: { e: [0, 1] } },
  { id: 4, title: 'Amélie', genre: 'romance', _vectors: { e: [0.2, 0.8] } },
  { id: 5, title: 'Wars of the Roses', genre: 'history' },
]

const BOOKS = [
  { id: 'b1', title: 'Star Wars: Thrawn', genre: 'scifi' },
  { id: 'b2', title: 'Dune', genre: 'scifi' },
  { id: 'b3', title: 'Stars and their wars', genre: 'essay' },
]

describe('similar documents, federated multi-search and the default matching strategy', () => {
  let node: InProcessServer
  let client: Meilisearch

  beforeAll(async () => {
    node = await startInProcess(MASTER)
    client = new Meilisearch({ host: node.server.url, apiKey: MASTER })
    await node.write('PATCH', '/indexes/movies/settings', {
      filterableAttributes: ['genre'],
      embedders: { e: { source: 'userProvided', dimensions: 2 } },
    })
    await node.write('POST', '/indexes/movies/documents?primaryKey=id', MOVIES)
    await node.write('PATCH', '/indexes/books/settings', { filterableAttributes: ['genre'] })
    await node.write('POST', '/indexes/books/documents?primaryKey=id', BOOKS)
  })
  afterAll(() => node.close())

  describe('similar', () => {
    it('answers the nearest documents by vector through the client, the document left out', async () => {
      const result = await client.index('movies').searchSimilarDocuments({ id: 1, embedder: 'e' })
      expect(result.hits.map((h) => h.id)).toEqual([2, 4, 3])
      expect(result).toMatchObject({ id: '1', offset: 0, limit: 20 })
    })

    it('takes offset, limit, filter, attributesToRetrieve, showRankingScore and the threshold', async () => {
      const index = client.index('movies')
      const page = await index.searchSimilarDocuments({ id: 1, embedder: 'e', offset: 1, limit: 1 })
      expect(page.hits.map((h) => h.id)).toEqual([4])
      const fantasy = await index.searchSimilarDocuments({ id: 1, embedder: 'e', filter: 'genre = fantasy' })
      expect(fantasy.hits.map((h) => h.id)).toEqual([3])
      const scored = await index.searchSimilarDocuments({
        id: 3,
        embedder: 'e',
        attributesToRetrieve: ['title'],
        showRankingScore: true,
        rankingScoreThreshold: 0.9,
      })
      expect(scored.hits).toEqual([{ title: 'Amélie', _rankingScore: expect.any(Number) }])
    })

    it('has a GET form with the same fields as query parameters', async () => {
      const got = await node.call(
        'GET',
        '/indexes/movies/similar?id=1&embedder=e&limit=2&retrieveVectors=true',
      )
      expect(got.status).toBe(200)
      expect(got.body.hits.map((h: { id: number }) => h.id)).toEqual([2, 4])
      expect(got.body.hits[0]._vectors).toEqual({ e: [0.9, 0.1] })
    })

    it.each([
      [{ id: 99, embedder: 'e' }, 404, 'not_found_similar_id'],
      [{ id: 'not an id', embedder: 'e' }, 400, 'invalid_similar_id'],
      [{ id: 5, embedder: 'e' }, 400, 'invalid_similar_id'],
      [{ id: 1, embedder: 'nope' }, 400, 'invalid_similar_embedder'],
      [{ id: 1 }, 400, 'invalid_similar_embedder'],
      [{ id: 1, embedder: 'e', limit: -1 }, 400, 'invalid_similar_limit'],
      [{ id: 1, embedder: 'e', offset: 'a' }, 400, 'invalid_similar_offset'],
      [{ id: 1, embedder: 'e', filter: 5 }, 400, 'invalid_similar_filter'],
      [{ id: 1, embedder: 'e', filter: 'title = x' }, 400, 'invalid_similar_filter'],
      [
        { id: 1, embedder: 'e', attributesToRetrieve: 'title' },
        400,
        'invalid_similar_attributes_to_retrieve',
      ],
      [{ id: 1, embedder: 'e', showRankingScore: 'yes' }, 400, 'invalid_similar_show_ranking_score'],
      [
        { id: 1, embedder: 'e', showRankingScoreDetails: true },
        400,
        'invalid_similar_show_ranking_score_details',
      ],
      [{ id: 1, embedder: 'e', rankingScoreThreshold: 3 }, 400, 'invalid_similar_ranking_score_threshold'],
      [{ id: 1, embedder: 'e', retrieveVectors: 1 }, 400, 'invalid_similar_retrieve_vectors'],
      [{ id: 1, embedder: 'e', q: 'star' }, 400, 'bad_request'],
    ])('refuses %j with %i %s', async (body, status, code) => {
      const answer = await node.call('POST', '/indexes/movies/similar', body)
      expect({ status: answer.status, code: answer.body.code }).toEqual({ status, code })
    })
  })

  describe('federated multi-search', () => {
    it('merges the queries into one list by ranking score, each hit carrying _federation', async () => {
      const result = await client.multiSearch({
        federation: {},
        queries: [
          { indexUid: 'movies', q: 'star wars' },
          { indexUid: 'books', q: 'star wars' },
        ],
      })
      const hits = result.hits as unknown as { id: string | number; _federation: Record<string, unknown> }[]
      // `last` by default: "Stars and their wars" lacks the first word ("stars" is not "star").
      expect(hits.map((h) => h.id)).toEqual(expect.arrayContaining([1, 2, 'b1']))
      expect(hits.length).toBe(3)
      const scores = hits.map((h) => h._federation.weightedRankingScore as number)
      expect(scores).toEqual([...scores].sort((a, b) => b - a))
      expect(hits.find((h) => h.id === 'b1')!._federation).toMatchObject({
        indexUid: 'books',
        queriesPosition: 1,
      })
      expect(hits.find((h) => h.id === 1)!._federation).toMatchObject({
        indexUid: 'movies',
        queriesPosition: 0,
      })
      expect(result).toMatchObject({ offset: 0, limit: 20, estimatedTotalHits: 3 })
    })

    it('weights a query by federationOptions.weight and pages with federation offset and limit', async () => {
      const queries = [
        { indexUid: 'movies', q: 'stardust', federationOptions: { weight: 0.5 } },
        { indexUid: 'books', q: 'dune', federationOptions: { weight: 2 } },
      ]
      const result = await client.multiSearch({ federation: {}, queries })
      expect(result.hits.map((h) => h.id)).toEqual(['b2', 3])
      expect(result.hits.map((h) => h._federation?.weightedRankingScore)).toEqual([2, 0.5])
      const second = await client.multiSearch({ federation: { offset: 1, limit: 1 }, queries })
      expect(second.hits.map((h) => h.id)).toEqual([3])
      expect(second).toMatchObject({ offset: 1, limit: 1 })
    })

    it('keeps each query order (its sort) while interleaving', async () => {
      const result = await client.multiSearch({
        federation: {},
        queries: [
          { indexUid: 'books', q: '', filter: 'genre = scifi' },
          { indexUid: 'movies', q: '', filter: 'genre = scifi' },
        ],
      })
      // Placeholder hits all score 1: equal scores go to the earlier query first.
      expect(result.hits.map((h) => h.id)).toEqual(['b1', 'b2', 1, 2])
    })

    it('answers facetsByIndex per index, or merged with mergeFacets', async () => {
      const queries = [
        { indexUid: 'movies', q: '' },
        { indexUid: 'books', q: '' },
      ]
      const byIndex = await client.multiSearch({
        federation: { facetsByIndex: { movies: ['genre'], books: ['genre'] } },
        queries,
      })
      expect(byIndex.facetsByIndex?.movies?.distribution).toEqual({
        genre: { fantasy: 1, history: 1, romance: 1, scifi: 2 },
      })
      expect(byIndex.facetsByIndex?.books?.distribution).toEqual({ genre: { essay: 1, scifi: 2 } })
      const merged = await client.multiSearch({
        federation: {
          facetsByIndex: { movies: ['genre'], books: ['genre'] },
          mergeFacets: { maxValuesPerFacet: 3 },
        },
        queries,
      })
      expect(merged.facetDistribution).toEqual({ genre: { essay: 1, fantasy: 1, history: 1 } })
      expect(merged.facetsByIndex).toBeUndefined()
      const all = await client.multiSearch({
        federation: { facetsByIndex: { movies: ['genre'], books: ['genre'] }, mergeFacets: {} },
        queries,
      })
      expect(all.facetDistribution?.genre?.scifi).toBe(4)
    })

    it.each([
      [
        { federation: {}, queries: [{ indexUid: 'movies', limit: 3 }] },
        'invalid_multi_search_query_pagination',
      ],
      [
        { federation: {}, queries: [{ indexUid: 'movies', page: 1 }] },
        'invalid_multi_search_query_pagination',
      ],
      [
        { federation: {}, queries: [{ indexUid: 'movies', facets: ['genre'] }] },
        'invalid_multi_search_query_facets',
      ],
      [
        { queries: [{ indexUid: 'movies', federationOptions: { weight: 2 } }] },
        'invalid_multi_search_federation_options',
      ],
      [
        { federation: {}, queries: [{ indexUid: 'movies', federationOptions: { weight: -1 } }] },
        'invalid_multi_search_weight',
      ],
      [
        { federation: {}, queries: [{ indexUid: 'movies', federationOptions: { remote: 'x' } }] },
        'invalid_multi_search_federation_options',
      ],
      [{ federation: 3, queries: [] }, 'invalid_multi_search_federated'],
      [{ federation: { limit: -1 }, queries: [] }, 'invalid_search_limit'],
      [{ federation: { page: 1 }, queries: [] }, 'bad_request'],
      [
        { federation: { facetsByIndex: { books: 'genre' } }, queries: [] },
        'invalid_multi_search_facets_by_index',
      ],
      [
        { federation: { facetsByIndex: { books: ['genre'] } }, queries: [{ indexUid: 'movies' }] },
        'invalid_multi_search_facets_by_index',
      ],
      [{ federation: { mergeFacets: { other: 1 } }, queries: [] }, 'invalid_multi_search_merge_facets'],
    ])('refuses %j with %s', async (body, code) => {
      const answer = await node.call('POST', '/multi-search', body)
      expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 400, code })
    })
  })

  describe('default matching strategy', () => {
    it('is last, as in Meilisearch: hits must hold the first word, those holding every word first', async () => {
      // "wars star": the documents holding "wars" (Star Wars, Wars of the Roses); "Star Trek" and
      // "Stardust" hold only the last word, which `last` drops before the first.
      const result = await client.index('movies').search('wars star')
      expect(result.hits.map((h) => h.id)).toEqual([1, 5])
      const any = await client.index('movies').search('wars star', { matchingStrategy: 'last' })
      expect(any.hits.map((h) => h.id)).toEqual([1, 5])
    })

    it('is any query word, in BM25 order, on a node started with --default-matching-strategy any', async () => {
      const other = await startInProcess(MASTER, { 'default-matching-strategy': 'any' })
      try {
        await other.write('POST', '/indexes/movies/documents?primaryKey=id', MOVIES)
        const answer = await other.call('POST', '/indexes/movies/search', { q: 'wars star' })
        expect(answer.body.hits.map((h: { id: number }) => h.id).sort()).toEqual([1, 2, 3, 5])
        const last = await other.call('POST', '/indexes/movies/search', {
          q: 'wars star',
          matchingStrategy: 'last',
        })
        expect(last.body.hits.map((h: { id: number }) => h.id)).toEqual([1, 5])
      } finally {
        await other.close()
      }
    })

    it('facet search allows typos in facetQuery, through the client', async () => {
      const result = await client
        .index('movies')
        .searchForFacetValues({ facetName: 'genre', facetQuery: 'fantsy' })
      expect(result.facetHits).toEqual([{ value: 'fantasy', count: 1 }])
    })

    it('applies to facet search too', async () => {
      const answer = await node.call('POST', '/indexes/movies/facet-search', {
        facetName: 'genre',
        q: 'wars star',
      })
      expect(answer.body.facetHits).toEqual([
        { value: 'history', count: 1 },
        { value: 'scifi', count: 1 },
      ])
    })
  })
})
