import { Meilisearch } from 'meilisearch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcessServer, startInProcess } from './harness/in-process.ts'

// `pagination.maxTotalHits` and `faceting` (Meilisearch's settings reference):
// stored, returned with Meilisearch's defaults, reset, and in effect.

const MASTER = 'in-process-master-key-0123456789'

const BOOKS = Array.from({ length: 12 }, (_, i) => ({
  id: i + 1,
  genre: ['drama', 'scifi', 'scifi', 'poetry'][i % 4],
  year: 2000 + (i % 3),
}))

describe('pagination and faceting settings', () => {
  let node: InProcessServer
  let client: Meilisearch

  beforeAll(async () => {
    node = await startInProcess(MASTER)
    client = new Meilisearch({ host: node.server.url, apiKey: MASTER })
    await node.write('PATCH', '/indexes/books/settings', { filterableAttributes: ['genre', 'year'] })
    await node.write('POST', '/indexes/books/documents?primaryKey=id', BOOKS)
  })
  afterAll(() => node.close())

  it("returns Meilisearch's defaults", async () => {
    const settings = await client.index('books').getSettings()
    expect(settings.pagination).toEqual({ maxTotalHits: 1000 })
    expect(settings.faceting).toEqual({ maxValuesPerFacet: 100, sortFacetValuesBy: { '*': 'alpha' } })
  })

  it('maxTotalHits caps the hits reachable and the totals, in both pagination modes', async () => {
    const index = client.index('books')
    await index.updatePagination({ maxTotalHits: 5 }).waitTask()
    const window = await index.search('', { offset: 3, limit: 10 })
    expect(window.hits).toHaveLength(2)
    expect(window.estimatedTotalHits).toBe(5)
    expect((await index.search('', { offset: 5, limit: 10 })).hits).toEqual([])
    const paged = await index.search('', { hitsPerPage: 2, page: 3 })
    expect(paged).toMatchObject({ totalHits: 5, totalPages: 3 })
    expect(paged.hits).toHaveLength(1)
    await index.resetPagination().waitTask()
    expect((await index.search('', { limit: 50 })).hits).toHaveLength(12)
  })

  it('maxValuesPerFacet trims each facet, and sortFacetValuesBy count orders by frequency', async () => {
    const index = client.index('books')
    await index.updateFaceting({ maxValuesPerFacet: 2 }).waitTask()
    const alpha = await index.search('', { facets: ['genre', 'year'] })
    expect(alpha.facetDistribution).toEqual({
      genre: { drama: 3, poetry: 3 },
      year: { '2000': 4, '2001': 4 },
    })
    await index.updateFaceting({ sortFacetValuesBy: { genre: 'count' } }).waitTask()
    const byCount = await index.search('', { facets: ['genre'] })
    expect(Object.entries(byCount.facetDistribution!.genre!)[0]).toEqual(['scifi', 6])
    expect(Object.keys(byCount.facetDistribution!.genre!)).toHaveLength(2)
    expect((await index.getFaceting()).sortFacetValuesBy).toEqual({ '*': 'alpha', genre: 'count' })
    await node.write('DELETE', '/indexes/books/settings/faceting')
    expect(
      Object.keys((await index.search('', { facets: ['genre'] })).facetDistribution!.genre!),
    ).toHaveLength(3)
  })

  it('refuses bad values with invalid_settings_pagination / invalid_settings_faceting', async () => {
    const cases: [string, unknown, string][] = [
      ['pagination', { maxTotalHits: -1 }, 'invalid_settings_pagination'],
      ['pagination', { maxTotalHits: 1.5 }, 'invalid_settings_pagination'],
      ['pagination', { other: 1 }, 'invalid_settings_pagination'],
      ['faceting', { maxValuesPerFacet: 'many' }, 'invalid_settings_faceting'],
      ['faceting', { sortFacetValuesBy: { genre: 'random' } }, 'invalid_settings_faceting'],
    ]
    for (const [setting, value, code] of cases) {
      const answer = await node.call('PATCH', `/indexes/books/settings/${setting}`, value)
      const failure = answer.status === 202 ? (await node.waitTask(answer.body.taskUid)).error : answer.body
      expect(failure?.code, JSON.stringify(value)).toBe(code)
    }
  })
})
