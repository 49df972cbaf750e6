import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Engine, type FacetSearchParams, type Index, open } from '../src/index.ts'
import { removeDir, tempDir } from './helpers.ts'

// Meilisearch's facet search (reference/api/facet_search): the values of one facet among the
// documents a search matches, filtered by a folded prefix, with exact counts; the `facetSearch`
// setting switches it off.

const PLACES = [
  { id: 1, name: 'corner cafe', kind: 'Café', city: 'Lyon', stars: 4 },
  { id: 2, name: 'station cafe', kind: 'café', city: 'Paris', stars: 3 },
  { id: 3, name: 'river bistro', kind: 'Bistro', city: 'Paris', stars: 5 },
  { id: 4, name: 'night bar', kind: 'Bar', city: 'Paris', stars: 2 },
  { id: 5, name: 'garden bar', kind: 'Bar', city: 'Lille', stars: 4 },
  { id: 6, name: 'book cafe', kind: 'Bookshop', city: 'Lyon', stars: 5 },
]

describe('facet search', () => {
  let engine: Engine
  let dir: string
  let places: Index

  beforeAll(async () => {
    dir = await tempDir()
    engine = await open(dir, { sync: 'none' })
    await engine.createIndex('places', {
      primaryKey: 'id',
      settings: { filterableAttributes: ['kind', 'city', 'stars'] },
    })
    places = engine.index('places')
    await places.addDocuments(PLACES)
  })
  afterAll(async () => {
    await engine.close()
    await removeDir(dir)
  })

  it('counts every value among all documents, alphabetically by default', () => {
    const result = places.facetSearch({ facetName: 'city' })
    expect(result.facetHits).toEqual([
      { value: 'Lille', count: 1 },
      { value: 'Lyon', count: 2 },
      { value: 'Paris', count: 3 },
    ])
    expect(result.facetQuery).toBeNull()
  })

  // Meilisearch's facet search is typo tolerant, by the index's typoTolerance.
  it('allows typos in facetQuery as a query word of its length gets them', async () => {
    expect(
      places.facetSearch({ facetName: 'kind', facetQuery: 'bistor' }).facetHits.map((h) => h.value),
    ).toEqual(['Bistro'])
    expect(
      places.facetSearch({ facetName: 'kind', facetQuery: 'bookshp' }).facetHits.map((h) => h.value),
    ).toEqual(['Bookshop'])
    // Four letters are below oneTypo (5): no typo.
    expect(places.facetSearch({ facetName: 'kind', facetQuery: 'bsit' }).facetHits).toEqual([])
    await places.updateSettings({ typoTolerance: { enabled: false } })
    expect(places.facetSearch({ facetName: 'kind', facetQuery: 'bistor' }).facetHits).toEqual([])
    await places.updateSettings({ typoTolerance: null })
  })

  it('keeps values starting with facetQuery, folded for case and diacritics', () => {
    expect(places.facetSearch({ facetName: 'kind', facetQuery: 'CAFE' }).facetHits).toEqual([
      { value: 'Café', count: 2 },
    ])
    expect(places.facetSearch({ facetName: 'kind', facetQuery: 'b' }).facetHits).toEqual([
      { value: 'Bar', count: 2 },
      { value: 'Bistro', count: 1 },
      { value: 'Bookshop', count: 1 },
    ])
    expect(places.facetSearch({ facetName: 'kind', facetQuery: 'ar' }).facetHits).toEqual([])
  })

  it('counts only the documents q and filter match', () => {
    const result = places.facetSearch({ facetName: 'city', q: 'cafe', filter: 'stars >= 4' })
    expect(result.facetHits).toEqual([{ value: 'Lyon', count: 2 }])
    const bars = places.facetSearch({ facetName: 'kind', q: 'bar garden', matchingStrategy: 'all' })
    expect(bars.facetHits).toEqual([{ value: 'Bar', count: 1 }])
  })

  it('follows faceting: sortFacetValuesBy count and maxValuesPerFacet', async () => {
    await places.updateSettings({ faceting: { sortFacetValuesBy: { city: 'count' }, maxValuesPerFacet: 2 } })
    expect(places.facetSearch({ facetName: 'city' }).facetHits).toEqual([
      { value: 'Paris', count: 3 },
      { value: 'Lyon', count: 2 },
    ])
    await places.updateSettings({ faceting: null })
  })

  it("refuses bad requests with Meilisearch's codes, and answers nothing once facetSearch is false", async () => {
    const cases: [unknown, string][] = [
      [{}, 'missing_facet_search_facet_name'],
      [{ facetName: 3 }, 'invalid_facet_search_facet_name'],
      [{ facetName: 'name' }, 'invalid_facet_search_facet_name'],
      [{ facetName: 'kind', facetQuery: 1 }, 'invalid_facet_search_facet_query'],
      [{ facetName: 'kind', limit: 3 }, 'bad_request'],
      [{ facetName: 'kind', filter: 'nope = 1' }, 'invalid_search_filter'],
    ]
    for (const [params, code] of cases) {
      expect(() => places.facetSearch(params as FacetSearchParams), JSON.stringify(params)).toThrow(
        expect.objectContaining({ code }),
      )
    }
    await places.updateSettings({ facetSearch: false })
    expect(() => places.facetSearch({ facetName: 'kind' })).toThrow(
      expect.objectContaining({ code: 'facet_search_disabled' }),
    )
    await expect(places.updateSettings({ facetSearch: 'no' as unknown as boolean })).rejects.toMatchObject({
      code: 'invalid_settings_facet_search',
    })
    await places.updateSettings({ facetSearch: null })
    expect(places.facetSearch({ facetName: 'kind', facetQuery: 'bo' }).facetHits).toHaveLength(1)
  })
})
