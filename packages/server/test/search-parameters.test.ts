import { Meilisearch, MeilisearchApiError } from 'meilisearch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcessServer, startInProcess } from './harness/in-process.ts'

// Search parameters through the official client and over plain HTTP: GET
// takes what POST takes, every Meilisearch parameter is honoured or refused.

const MASTER = 'in-process-master-key-0123456789'

const MOVIES = [
  {
    id: 1,
    title: 'Star Wars',
    genre: 'scifi',
    overview: 'A farm boy joins a rebellion among the stars',
    _vectors: { e: [1, 0] },
  },
  {
    id: 2,
    title: 'Star Trek',
    genre: 'scifi',
    overview: 'The crew of a starship meets its past',
    _vectors: { e: [0.9, 0.1] },
  },
  {
    id: 3,
    title: 'Stardust',
    genre: 'fantasy',
    overview: 'A young man crosses a wall to find a fallen star',
    _vectors: { e: [0, 1] },
  },
  {
    id: 4,
    title: 'Amélie',
    genre: 'romance',
    overview: 'A shy waitress in Paris changes lives',
    _vectors: { e: [0.2, 0.8] },
  },
]

describe('search parameters over HTTP', () => {
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
  })
  afterAll(() => node.close())

  // Regression: GET search turned `attributesToRetrieve=*` into an empty list and returned empty hits.
  it('GET attributesToRetrieve=* returns whole hits, as POST does', async () => {
    const got = await node.call('GET', '/indexes/movies/search?q=stardust&attributesToRetrieve=*')
    expect(got.body.hits).toEqual([
      { id: 3, title: 'Stardust', genre: 'fantasy', overview: MOVIES[2]!.overview },
    ])
  })

  it('GET takes the same parameters as POST, vector and hybrid included', async () => {
    const index = client.index('movies')
    const body = {
      q: 'star',
      filter: 'genre = scifi',
      attributesToHighlight: ['title'],
      hitsPerPage: 1,
      page: 2,
      showRankingScore: true,
    }
    const posted = await index.search(body.q, body)
    const got = await index.searchGet(body.q, body)
    expect({ ...got, processingTimeMs: 0 }).toEqual({ ...posted, processingTimeMs: 0 })
    expect(posted).toMatchObject({ page: 2, hitsPerPage: 1, totalHits: 2, totalPages: 2 })

    const vectorPost = await node.call('POST', '/indexes/movies/search', { vector: [0, 1], limit: 2 })
    for (const vector of ['0,1', '[0,1]']) {
      const vectorGet = await node.call(
        'GET',
        `/indexes/movies/search?vector=${encodeURIComponent(vector)}&limit=2`,
      )
      expect(vectorGet.body.hits).toEqual(vectorPost.body.hits)
    }
    const hybrid = await node.call(
      'GET',
      '/indexes/movies/search?q=star&vector=1,0&hybridEmbedder=e&hybridSemanticRatio=0.5',
    )
    expect(hybrid.status).toBe(200)
    expect(hybrid.body.semanticHitCount).toEqual(expect.any(Number))
  })

  it('highlights, crops and reports match positions through the client', async () => {
    const result = await client.index('movies').search('rebellion', {
      attributesToHighlight: ['title'],
      attributesToCrop: ['overview'],
      cropLength: 3,
      showMatchesPosition: true,
    })
    expect(result.hits[0]?._formatted).toEqual({
      id: '1',
      title: 'Star Wars',
      genre: 'scifi',
      overview: '…a rebellion among…',
    })
    expect(result.hits[0]?._matchesPosition).toEqual({ overview: [{ start: 19, length: 9 }] })
  })

  it('honours matchingStrategy, distinct and rankingScoreThreshold through the client', async () => {
    const index = client.index('movies')
    expect((await index.search('star wall', { matchingStrategy: 'all' })).hits.map((h) => h.id)).toEqual([3])
    const distinct = await index.search('', { distinct: 'genre' })
    expect(distinct.hits.map((h) => h.genre).sort()).toEqual(['fantasy', 'romance', 'scifi'])
    expect((await index.search('star', { rankingScoreThreshold: 1 })).hits.length).toBe(1)
  })

  it.each([
    ['showRankingScoreDetails', 'yes', 'invalid_search_show_ranking_score_details'],
    ['showPerformanceDetails', 'yes', 'invalid_search_show_performance_details'],
    ['locales', ['jpn'], 'invalid_search_locales'],
    ['locales', ['xx'], 'invalid_search_locales'],
    ['matchingStrategy', 'none', 'invalid_search_matching_strategy'],
    ['rankingScoreThreshold', 1.5, 'invalid_search_ranking_score_threshold'],
    ['page', -1, 'invalid_search_page'],
    ['hitsPerPage', 'ten', 'invalid_search_hits_per_page'],
    ['cropLength', -3, 'invalid_search_crop_length'],
    ['highlightPreTag', 1, 'invalid_search_highlight_pre_tag'],
    ['attributesToSearchOn', ['genre', 1], 'invalid_search_attributes_to_search_on'],
    ['distinct', 'title', 'invalid_search_distinct'],
    ['retrieveVectors', 'yes', 'invalid_search_retrieve_vectors'],
    ['federationOptions', {}, 'bad_request'],
  ])('refuses %s = %j with %s, on POST and GET', async (name, value, code) => {
    const posted = await node.call('POST', '/indexes/movies/search', { [name]: value })
    expect({ status: posted.status, code: posted.body.code }).toEqual({ status: 400, code })
    // In a query string every value is text: a non-string where text is expected cannot arise.
    if (typeof value === 'number' && name === 'highlightPreTag') return
    if (Array.isArray(value) && value.some((v) => typeof v !== 'string')) return
    const text = Array.isArray(value)
      ? value.join(',')
      : typeof value === 'string'
        ? value
        : JSON.stringify(value)
    const got = await node.call('GET', `/indexes/movies/search?${name}=${encodeURIComponent(text)}`)
    expect({ status: got.status, code: got.body.code }).toEqual({ status: 400, code })
  })

  it('showPerformanceDetails adds the time of each phase of the search, on POST and GET', async () => {
    const posted = await client.index('movies').search('star', { showPerformanceDetails: true })
    const details = (posted as unknown as { performanceDetails: Record<string, string> }).performanceDetails
    expect(Object.keys(details)).toEqual(['search', 'search > parse', 'search > partition', 'search > merge'])
    for (const time of Object.values(details)) expect(time).toMatch(/^\d+\.\d{2}(ms|µs)$/)
    const narrowed = await node.call(
      'GET',
      '/indexes/movies/search?q=star&matchingStrategy=all&showPerformanceDetails=true',
    )
    expect(Object.keys(narrowed.body.performanceDetails)).toEqual(
      expect.arrayContaining([
        'search',
        'search > filter',
        'search > rank',
        'search > narrow',
        'search > documents',
      ]),
    )
    const plain = await node.call('POST', '/indexes/movies/search', { q: 'star' })
    expect(plain.body.performanceDetails).toBeUndefined()
  })

  it('multi-search carries the details per query; a federated query refuses showPerformanceDetails', async () => {
    const queries = [
      { indexUid: 'movies', q: 'star', showRankingScoreDetails: true, showPerformanceDetails: true },
    ]
    const plain = await node.call('POST', '/multi-search', { queries })
    expect(plain.body.results[0].performanceDetails.search).toBeDefined()
    expect(plain.body.results[0].hits[0]._rankingScoreDetails.bm25).toBeDefined()
    const federated = await node.call('POST', '/multi-search', { federation: {}, queries })
    expect({ status: federated.status, code: federated.body.code }).toEqual({
      status: 400,
      code: 'bad_request',
    })
    const details = await node.call('POST', '/multi-search', {
      federation: {},
      queries: [{ indexUid: 'movies', q: 'star', showRankingScoreDetails: true }],
    })
    expect(details.body.hits[0]._rankingScoreDetails.bm25).toBeDefined()
  })

  it('locales takes the languages the analyser handles and answers as without them', async () => {
    const plain = await node.call('POST', '/indexes/movies/search', { q: 'star' })
    const localized = await node.call('POST', '/indexes/movies/search', {
      q: 'star',
      locales: ['eng', 'fra'],
    })
    expect(localized.status).toBe(200)
    expect(localized.body.hits).toEqual(plain.body.hits)
    const got = await node.call('GET', '/indexes/movies/search?q=star&locales=eng')
    expect(got.body.hits).toEqual(plain.body.hits)
    // The official client sends them the same way.
    const viaClient = await client.index('movies').search('star', { locales: ['eng'] })
    expect(viaClient.hits).toEqual(plain.body.hits)
  })

  it('showRankingScoreDetails gives each hit one entry per ranking rule, its score equal to _rankingScore', async () => {
    const result = await client
      .index('movies')
      .search('star', { showRankingScore: true, showRankingScoreDetails: true })
    expect(result.hits.length).toBeGreaterThan(0)
    for (const hit of result.hits) {
      const details = hit._rankingScoreDetails as Record<string, { order: number; score?: number }>
      expect(Object.keys(details)).toEqual(['words', 'typo', 'proximity', 'attribute', 'exactness', 'bm25'])
      expect(Object.values(details).map((entry) => entry.order)).toEqual([0, 1, 2, 3, 4, 5])
      expect(details.words).toMatchObject({ matchingWords: 1, maxMatchingWords: 1 })
      expect(details.bm25!.score).toBe(hit._rankingScore)
    }
    const got = await node.call('GET', '/indexes/movies/search?q=star&showRankingScoreDetails=true')
    expect(got.body.hits[0]._rankingScoreDetails).toEqual(result.hits[0]!._rankingScoreDetails)
  })

  it('the extras switches set to false or empty ask for nothing', async () => {
    const answer = await node.call('POST', '/indexes/movies/search', {
      showRankingScoreDetails: false,
      showPerformanceDetails: false,
      locales: [],
    })
    expect(answer.status).toBe(200)
  })

  it('the client sees refusals as MeilisearchApiError', async () => {
    const error = await client
      .index('movies')
      .search('x', { locales: ['jpn'] })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(MeilisearchApiError)
    expect((error as MeilisearchApiError).cause?.code).toBe('invalid_search_locales')
  })

  it('multi-search honours federation (the merged list, limited by federation.limit)', async () => {
    const answer = await node.call('POST', '/multi-search', {
      federation: { limit: 1 },
      queries: [{ indexUid: 'movies', q: 'star' }],
    })
    expect(answer.status).toBe(200)
    expect(answer.body.hits).toHaveLength(1)
    expect(answer.body.hits[0]._federation).toMatchObject({ indexUid: 'movies', queriesPosition: 0 })
    const plain = await node.call('POST', '/multi-search', { queries: [{ indexUid: 'movies', q: 'star' }] })
    expect(plain.body.results[0].hits.length).toBeGreaterThan(0)
  })
})
