import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Engine, type Index, open } from '../src/index.ts'
import { removeDir, tempDir } from './helpers.ts'

// Meilisearch's object form of filterableAttributes (reference/api/settings#filterable-attributes):
// `{ attributePatterns, features: { facetSearch, filter: { equality, comparison } } }`, mixed with
// attribute names; `*` in patterns; the first entry matching an attribute decides its features.

const PRODUCTS = [
  { id: 1, genre: 'sf', price: 10, store_id: 'a', meta: { color: 'red' } },
  { id: 2, genre: 'drama', price: 20, store_id: 'b', meta: { color: 'blue' } },
  { id: 3, genre: 'sf', price: 30, store_id: 'a', meta: { color: 'red' } },
]

describe('filterableAttributes rules', () => {
  let dir: string
  let engine: Engine
  let index: Index
  const ids = (filter: string) => index.search({ filter }).hits.map((hit) => hit.id)

  beforeAll(async () => {
    dir = await tempDir()
    engine = await open(dir, { sync: 'none' })
    await engine.createIndex('shop', { primaryKey: 'id' })
    index = engine.index('shop')
    await index.addDocuments(PRODUCTS)
    await index.updateSettings({
      filterableAttributes: [
        'genre',
        {
          attributePatterns: ['pri*'],
          features: { facetSearch: false, filter: { equality: true, comparison: true } },
        },
        { attributePatterns: ['*_id', 'meta'] } as never,
      ],
    })
  })
  afterAll(async () => {
    await engine?.close()
    await removeDir(dir)
  })

  it('keeps the entries in their order, with the features a rule leaves out at their defaults', () => {
    expect(index.getSettings().filterableAttributes).toEqual([
      'genre',
      {
        attributePatterns: ['pri*'],
        features: { facetSearch: false, filter: { equality: true, comparison: true } },
      },
      {
        attributePatterns: ['*_id', 'meta'],
        features: { facetSearch: false, filter: { equality: true, comparison: false } },
      },
    ])
  })

  it('filters by every operator a rule allows, on attributes its patterns match (and under them)', () => {
    expect(ids('genre = sf')).toEqual([1, 3])
    expect(ids('price > 15')).toEqual([2, 3])
    expect(ids('price 15 TO 25')).toEqual([2])
    expect(ids('store_id = a')).toEqual([1, 3])
    expect(ids('meta.color IN [blue]')).toEqual([2])
    expect(ids('store_id EXISTS')).toEqual([1, 2, 3])
  })

  it('refuses an operator the rule disables, naming it, with invalid_search_filter', () => {
    for (const filter of ['store_id > a', 'meta.color 1 TO 2']) {
      expect(() => index.search({ filter })).toThrow(/is not allowed for the attribute/)
      try {
        index.search({ filter })
      } catch (error) {
        expect((error as { code: string }).code).toBe('invalid_search_filter')
      }
    }
    expect(() => index.search({ filter: 'title = x' })).toThrow(/not filterable/)
  })

  it('counts facets of every filterable attribute, facet-searches only where facetSearch is on', () => {
    expect(index.search({ facets: ['store_id', 'price'] }).facetDistribution).toEqual({
      store_id: { a: 2, b: 1 },
      price: { '10': 1, '20': 1, '30': 1 },
    })
    expect(index.facetSearch({ facetName: 'genre' }).facetHits).toEqual([
      { value: 'drama', count: 1 },
      { value: 'sf', count: 2 },
    ])
    expect(() => index.facetSearch({ facetName: 'store_id' })).toThrow(/not facet-searchable/)
  })

  it('refuses malformed rules with invalid_settings_filterable_attributes', async () => {
    for (const rule of [
      { attributePatterns: 'price' },
      { attributePatterns: [''] },
      { attributePatterns: ['a'], features: { filter: { comparison: 'yes' } } },
      { attributePatterns: ['a'], features: { sortable: true } },
      { patterns: ['a'] },
    ]) {
      await expect(index.updateSettings({ filterableAttributes: [rule] as never })).rejects.toMatchObject({
        code: 'invalid_settings_filterable_attributes',
      })
    }
  })

  it('names alone are still sorted and kept once', async () => {
    await index.updateSettings({ filterableAttributes: ['price', 'genre', 'price'] })
    expect(index.getSettings().filterableAttributes).toEqual(['genre', 'price'])
    expect(ids('price < 25')).toEqual([1, 2])
  })
})
