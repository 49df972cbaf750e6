import { Meilisearch } from 'meilisearch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcessServer, startInProcess } from './harness/in-process.ts'

// The object form of filterableAttributes through the official client, and its exact errors over HTTP.

const MASTER = 'in-process-master-key-0123456789'

const RULES = [
  'genre',
  {
    attributePatterns: ['pri*'],
    features: { facetSearch: false, filter: { equality: true, comparison: true } },
  },
  {
    attributePatterns: ['*_id'],
    features: { facetSearch: true, filter: { equality: true, comparison: false } },
  },
]

describe('filterableAttributes rules over HTTP', () => {
  let node: InProcessServer
  let client: Meilisearch

  beforeAll(async () => {
    node = await startInProcess(MASTER)
    client = new Meilisearch({ host: node.server.url, apiKey: MASTER })
    await node.write('POST', '/indexes/shop/documents?primaryKey=id', [
      { id: 1, genre: 'sf', price: 10, store_id: 'a' },
      { id: 2, genre: 'drama', price: 20, store_id: 'b' },
    ])
    await client
      .index('shop')
      .updateFilterableAttributes(RULES as never)
      .waitTask()
  })
  afterAll(() => node.close())

  it('GET returns the rules as set, mixed with names', async () => {
    expect(await client.index('shop').getFilterableAttributes()).toEqual(RULES)
    expect((await node.call('GET', '/indexes/shop/settings')).body.filterableAttributes).toEqual(RULES)
  })

  it('filters and facet-searches as the features allow', async () => {
    const search = await client.index('shop').search('', { filter: 'price >= 15 AND store_id = b' })
    expect(search.hits.map((hit) => hit.id)).toEqual([2])
    const facets = await client.index('shop').searchForFacetValues({ facetName: 'store_id' })
    expect(facets.facetHits).toEqual([
      { value: 'a', count: 1 },
      { value: 'b', count: 1 },
    ])
  })

  it('a filter using a disabled feature answers 400 invalid_search_filter', async () => {
    const answer = await node.call('POST', '/indexes/shop/search', { filter: 'store_id > a' })
    expect({ status: answer.status, code: answer.body.code }).toEqual({
      status: 400,
      code: 'invalid_search_filter',
    })
    expect(answer.body.message).toContain('Filter operator `>` is not allowed for the attribute `store_id`')
  })

  it('a facet search on an attribute without facetSearch answers invalid_facet_search_facet_name', async () => {
    const answer = await node.call('POST', '/indexes/shop/facet-search', { facetName: 'price' })
    expect({ status: answer.status, code: answer.body.code }).toEqual({
      status: 400,
      code: 'invalid_facet_search_facet_name',
    })
  })

  it('POST /fields reports each field with its features', async () => {
    const answer = await node.call('POST', '/indexes/shop/fields', {})
    const byName = Object.fromEntries(
      (answer.body.results as { name: string; filterable: unknown }[]).map((f) => [f.name, f.filterable]),
    )
    expect(byName.price).toMatchObject({
      enabled: true,
      facetSearch: false,
      equality: true,
      comparison: true,
    })
    expect(byName.store_id).toMatchObject({
      enabled: true,
      facetSearch: true,
      equality: true,
      comparison: false,
    })
  })

  it('a malformed rule fails the settings task with invalid_settings_filterable_attributes', async () => {
    const answer = await node.call('PUT', '/indexes/shop/settings/filterable-attributes', [
      { attributePatterns: ['a'], features: { filter: { equality: 'yes' } } },
    ])
    const code =
      answer.status === 202 ? (await node.waitTask(answer.body.taskUid)).error?.code : answer.body.code
    expect(code).toBe('invalid_settings_filterable_attributes')
  })
})
