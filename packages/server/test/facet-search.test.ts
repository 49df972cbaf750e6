import { Meilisearch } from 'meilisearch'
import { generateTenantToken } from 'meilisearch/token'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcessServer, startInProcess } from './harness/in-process.ts'

// POST /indexes/{uid}/facet-search (Meilisearch's facet search reference) through the official
// client and plain HTTP: values of a facet among a search's matches, the `facetSearch` setting,
// Meilisearch's error codes, and a tenant token's filter.

const MASTER = 'in-process-master-key-0123456789'

const GAMES = [
  { id: 1, title: 'space miner', genre: 'Strategy', studio: 'Orbit', year: 2020 },
  { id: 2, title: 'space racer', genre: 'Racing', studio: 'Orbit', year: 2021 },
  { id: 3, title: 'castle siege', genre: 'Strategy', studio: 'Keep', year: 2019 },
  { id: 4, title: 'star trader', genre: 'Simulation', studio: 'Orbit', year: 2022 },
  { id: 5, title: 'farm life', genre: 'Simulation', studio: 'Barn', year: 2018 },
]

describe('facet search over HTTP', () => {
  let node: InProcessServer
  let client: Meilisearch

  beforeAll(async () => {
    node = await startInProcess(MASTER)
    client = new Meilisearch({ host: node.server.url, apiKey: MASTER })
    await node.write('PATCH', '/indexes/games/settings', { filterableAttributes: ['genre', 'studio'] })
    await node.write('POST', '/indexes/games/documents?primaryKey=id', GAMES)
  })
  afterAll(() => node.close())

  it('answers facetHits for a facetQuery among the documents q and filter match', async () => {
    const index = client.index('games')
    const all = await index.searchForFacetValues({ facetName: 'genre', facetQuery: 's' })
    expect(all.facetHits).toEqual([
      { value: 'Simulation', count: 2 },
      { value: 'Strategy', count: 2 },
    ])
    expect(all.facetQuery).toBe('s')
    const narrowed = await index.searchForFacetValues({
      facetName: 'genre',
      q: 'space',
      filter: 'studio = Orbit',
    })
    expect(narrowed.facetHits).toEqual([
      { value: 'Racing', count: 1 },
      { value: 'Strategy', count: 1 },
    ])
  })

  it("refuses bad requests with Meilisearch's codes", async () => {
    const cases: [unknown, string][] = [
      [{ facetQuery: 'a' }, 'missing_facet_search_facet_name'],
      [{ facetName: 'title' }, 'invalid_facet_search_facet_name'],
      [{ facetName: 'genre', facetQuery: 7 }, 'invalid_facet_search_facet_query'],
      [{ facetName: 'genre', nonsense: true }, 'bad_request'],
      [{ facetName: 'genre', q: 5 }, 'invalid_search_q'],
      [{ facetName: 'genre', locales: ['jpn'] }, 'invalid_search_locales'],
      [{ facetName: 'genre', showRankingScoreDetails: true }, 'bad_request'],
    ]
    for (const [body, code] of cases) {
      const answer = await node.call('POST', '/indexes/games/facet-search', body)
      expect(answer.status, JSON.stringify(body)).toBe(400)
      expect(answer.body.code, JSON.stringify(body)).toBe(code)
    }
  })

  it('the facetSearch setting switches it off and on', async () => {
    expect((await node.call('GET', '/indexes/games/settings/facet-search')).body).toBe(true)
    await node.write('PUT', '/indexes/games/settings/facet-search', false)
    const refused = await node.call('POST', '/indexes/games/facet-search', { facetName: 'genre' })
    expect(refused.status).toBe(400)
    expect(refused.body.code).toBe('facet_search_disabled')
    const bad = await node.call('PUT', '/indexes/games/settings/facet-search', '"yes"')
    expect(bad.body.code).toBe('invalid_settings_facet_search')
    await node.write('DELETE', '/indexes/games/settings/facet-search')
    expect((await node.call('POST', '/indexes/games/facet-search', { facetName: 'genre' })).status).toBe(200)
  })

  it("applies a tenant token's filter", async () => {
    const key = await client.createKey({ actions: ['search'], indexes: ['games'], expiresAt: null })
    const token = await generateTenantToken({
      apiKey: key.key,
      apiKeyUid: key.uid,
      searchRules: { games: { filter: 'studio = Orbit' } },
    })
    const tenant = new Meilisearch({ host: node.server.url, apiKey: token })
    const result = await tenant.index('games').searchForFacetValues({ facetName: 'studio' })
    expect(result.facetHits).toEqual([{ value: 'Orbit', count: 3 }])
  })
})
