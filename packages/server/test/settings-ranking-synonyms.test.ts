import { Meilisearch } from 'meilisearch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcessServer, startInProcess } from './harness/in-process.ts'

// `rankingRules`, `synonyms`, `distinctAttribute` and `searchCutoffMs` (Meilisearch's settings
// reference) over HTTP: Meilisearch's defaults, the whole-settings route and each sub-route
// (GET, PUT, DELETE), Meilisearch's error codes, and the effect on search
// (docs/ranking-rules.md says what each rule means in Shoal).

const MASTER = 'in-process-master-key-0123456789'
const DEFAULT_RULES = ['words', 'typo', 'proximity', 'attribute', 'sort', 'exactness']
const RELEVANCE = ['words', 'typo', 'proximity', 'attribute', 'exactness']

const CARS = [
  { id: 1, name: 'small city car', year: 2019, maker: 'alpha' },
  { id: 2, name: 'small city car', year: 2023, maker: 'beta' },
  { id: 3, name: 'small city car', year: 2021, maker: 'alpha' },
  { id: 4, name: 'large family car', year: 2020, maker: 'gamma' },
  { id: 5, name: 'automobile museum guide', year: 2010, maker: 'delta' },
]

describe('ranking and matching settings over HTTP', () => {
  let node: InProcessServer
  let client: Meilisearch
  const ids = async (body: Record<string, unknown>) =>
    ((await node.call('POST', '/indexes/cars/search', body)).body.hits as { id: number }[]).map((h) => h.id)

  beforeAll(async () => {
    node = await startInProcess(MASTER)
    client = new Meilisearch({ host: node.server.url, apiKey: MASTER })
    await node.write('PATCH', '/indexes/cars/settings', { sortableAttributes: ['year'] })
    await node.write('POST', '/indexes/cars/documents?primaryKey=id', CARS)
  })
  afterAll(() => node.close())

  it("returns Meilisearch's defaults, on the settings route and each sub-route", async () => {
    const settings = await client.index('cars').getSettings()
    expect(settings).toMatchObject({
      rankingRules: DEFAULT_RULES,
      synonyms: {},
      distinctAttribute: null,
      searchCutoffMs: null,
    })
    expect((await node.call('GET', '/indexes/cars/settings/ranking-rules')).body).toEqual(DEFAULT_RULES)
    expect((await node.call('GET', '/indexes/cars/settings/synonyms')).body).toEqual({})
    expect((await node.call('GET', '/indexes/cars/settings/distinct-attribute')).body).toBeNull()
    expect((await node.call('GET', '/indexes/cars/settings/search-cutoff-ms')).body).toBeNull()
  })

  it('rankingRules: a custom rule ranks at its place, and resets to the default', async () => {
    const index = client.index('cars')
    await index.updateRankingRules(['year:desc', ...RELEVANCE, 'sort']).waitTask()
    expect(await index.getRankingRules()).toEqual(['year:desc', ...RELEVANCE, 'sort'])
    expect(await ids({ q: 'car' })).toEqual([2, 3, 4, 1])
    await index.updateRankingRules([...RELEVANCE, 'sort', 'year:asc']).waitTask()
    expect((await ids({ q: 'small city car' })).slice(0, 3)).toEqual([1, 3, 2])
    await node.write('DELETE', '/indexes/cars/settings/ranking-rules')
    expect(await index.getRankingRules()).toEqual(DEFAULT_RULES)
    expect(await ids({ q: 'car', sort: ['year:asc'] })).toEqual([1, 4, 3, 2])
  })

  it('rankingRules: a sort parameter without the sort rule is refused with invalid_search_sort', async () => {
    await node.write('PUT', '/indexes/cars/settings/ranking-rules', RELEVANCE)
    const answer = await node.call('POST', '/indexes/cars/search', { q: 'car', sort: ['year:asc'] })
    expect(answer.status).toBe(400)
    expect(answer.body.code).toBe('invalid_search_sort')
    await node.write('DELETE', '/indexes/cars/settings/ranking-rules')
  })

  it('synonyms: a query word finds its synonyms; PUT replaces them and DELETE clears them', async () => {
    const index = client.index('cars')
    expect(await ids({ q: 'automobile' })).toEqual([5])
    await index.updateSynonyms({ automobile: ['car'], car: ['automobile'] }).waitTask()
    expect(await index.getSynonyms()).toEqual({ automobile: ['car'], car: ['automobile'] })
    expect((await ids({ q: 'automobile' })).sort()).toEqual([1, 2, 3, 4, 5])
    expect(await ids({ q: 'car' })).toContain(5)
    await node.write('DELETE', '/indexes/cars/settings/synonyms')
    expect(await ids({ q: 'automobile' })).toEqual([5])
  })

  it('distinctAttribute: one hit per value unless the search names its own distinct', async () => {
    const index = client.index('cars')
    await index.updateDistinctAttribute('maker').waitTask()
    expect(await index.getDistinctAttribute()).toBe('maker')
    expect(await ids({ q: 'car', sort: ['year:desc'] })).toEqual([2, 3, 4])
    await index.updateFilterableAttributes(['year']).waitTask()
    expect(await ids({ q: 'car', distinct: 'year' })).toHaveLength(4)
    await index.resetDistinctAttribute().waitTask()
    expect(await index.getDistinctAttribute()).toBeNull()
    expect(await ids({ q: 'car' })).toHaveLength(4)
  })

  it('searchCutoffMs: stored and reset; a search under it answers in full', async () => {
    const index = client.index('cars')
    await index.updateSearchCutoffMs(150).waitTask()
    expect(await index.getSearchCutoffMs()).toBe(150)
    expect(await ids({ q: 'car' })).toHaveLength(4)
    await index.resetSearchCutoffMs().waitTask()
    expect(await index.getSearchCutoffMs()).toBeNull()
  })

  it('prefixSearch disabled: the last word no longer matches as a prefix', async () => {
    expect((await node.call('GET', '/indexes/cars/settings/prefix-search')).body).toBe('indexingTime')
    expect(await ids({ q: 'muse' })).toEqual([5])
    await node.write('PUT', '/indexes/cars/settings/prefix-search', '"disabled"')
    expect((await node.call('GET', '/indexes/cars/settings/prefix-search')).body).toBe('disabled')
    expect(await ids({ q: 'muse' })).toEqual([])
    await node.write('DELETE', '/indexes/cars/settings/prefix-search')
    expect(await ids({ q: 'muse' })).toEqual([5])
  })

  it('DELETE /settings resets every one of them', async () => {
    await node.write('PATCH', '/indexes/cars/settings', {
      rankingRules: ['sort'],
      synonyms: { a: ['b'] },
      distinctAttribute: 'maker',
      searchCutoffMs: 10,
      prefixSearch: 'disabled',
      pagination: { maxTotalHits: 3 },
    })
    await node.write('DELETE', '/indexes/cars/settings')
    expect(await client.index('cars').getSettings()).toMatchObject({
      rankingRules: DEFAULT_RULES,
      synonyms: {},
      distinctAttribute: null,
      searchCutoffMs: null,
      prefixSearch: 'indexingTime',
      pagination: { maxTotalHits: 1000 },
    })
  })

  it("refuses bad values with Meilisearch's invalid_settings_* codes", async () => {
    const cases: [string, unknown, string][] = [
      ['ranking-rules', ['words', 'typo'], 'invalid_settings_ranking_rules'],
      ['ranking-rules', ['speed'], 'invalid_settings_ranking_rules'],
      ['ranking-rules', '"words"', 'invalid_settings_ranking_rules'],
      ['synonyms', { a: 'b' }, 'invalid_settings_synonyms'],
      ['synonyms', ['a'], 'invalid_settings_synonyms'],
      ['distinct-attribute', 12, 'invalid_settings_distinct_attribute'],
      ['distinct-attribute', '""', 'invalid_settings_distinct_attribute'],
      ['search-cutoff-ms', -5, 'invalid_settings_search_cutoff_ms'],
      ['search-cutoff-ms', '"fast"', 'invalid_settings_search_cutoff_ms'],
      ['prefix-search', '"sometimes"', 'invalid_settings_prefix_search'],
      ['prefix-search', 'true', 'invalid_settings_prefix_search'],
    ]
    for (const [route, value, code] of cases) {
      const answer = await node.call('PUT', `/indexes/cars/settings/${route}`, value)
      const failure = answer.status === 202 ? (await node.waitTask(answer.body.taskUid)).error : answer.body
      expect(failure?.code, `${route} ${JSON.stringify(value)}`).toBe(code)
    }
  })
})
