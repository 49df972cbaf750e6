/**
 * Meilisearch's facet search: the values of one facet among the documents a search matches, whose
 * text starts with `facetQuery`, with how many matching documents hold each. The match set is the
 * one the search's `facets` count (search.ts `matchedDocuments`), so counts are exact. Values are
 * compared folded (case and diacritics, as the analyser folds text) and as a whole: `facetQuery`
 * is a prefix of the value, with the typos `typoTolerance` allows a query word of its length. Only string values are searched, as in
 * Meilisearch. The hits are ordered by `faceting.sortFacetValuesBy` (`alpha`: by value; `count`:
 * most frequent first) and at most `faceting.maxValuesPerFacet` are returned.
 */

import { normalizeText } from '@shoal/bm25'
import { InvalidFacetSearchError } from '../errors.ts'
import type { FacetSearchParams, FacetSearchResult, SearchParams, Settings } from '../types.ts'
import { isPlainObject } from './document-path.ts'
import type { IndexState } from './index-state.ts'
import { withinEdits } from './query-words.ts'
import { matchedDocuments } from './search.ts'
import { countFacets } from './search-facets.ts'
import { isCovered } from './settings.ts'

/** The search parameters a facet search narrows its documents with. */
const SEARCH_FIELDS = new Set([
  'q',
  'filter',
  'matchingStrategy',
  'attributesToSearchOn',
  'vector',
  'hybrid',
  'rankingScoreThreshold',
])

export function facetSearch(state: IndexState, params: FacetSearchParams): FacetSearchResult {
  const started = performance.now()
  const { facetName, facetQuery, search } = checkFacetSearch(state, params)
  const counts = countFacets(state, [facetName], matchedDocuments(state, search)).distribution[facetName]!
  const prefix = facetQuery === null ? '' : normalizeText(facetQuery)
  const matches = prefixMatcher(prefix, state.settings.typoTolerance)
  const hits = counts.strings
    .filter(([, spelling]) => matches(normalizeText(spelling)))
    .map(([, value, count]) => ({ value, count }))
  const faceting = state.settings.faceting
  const byCount = (faceting.sortFacetValuesBy[facetName] ?? faceting.sortFacetValuesBy['*']) === 'count'
  hits.sort(
    (a, b) => (byCount ? b.count - a.count : 0) || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0),
  )
  return {
    facetHits: hits.slice(0, faceting.maxValuesPerFacet),
    facetQuery,
    processingTimeMs: Math.round(performance.now() - started),
  }
}

/**
 * Whether a folded value starts with `prefix`, allowing typos as a query word of its length
 * gets them (`typoTolerance`: one from `oneTypo` characters, two from `twoTypos`): some start of
 * the value within that many edits of `prefix`.
 */
function prefixMatcher(prefix: string, typos: Settings['typoTolerance']): (value: string) => boolean {
  const length = [...prefix].length
  const budget = !typos.enabled
    ? 0
    : length >= typos.minWordSizeForTypos.twoTypos
      ? 2
      : length >= typos.minWordSizeForTypos.oneTypo
        ? 1
        : 0
  return (value) => {
    if (value.startsWith(prefix)) return true
    if (budget === 0) return false
    const chars = [...value]
    for (let n = Math.max(1, length - budget); n <= Math.min(chars.length, length + budget); n++) {
      if (withinEdits(chars.slice(0, n).join(''), prefix, budget)) return true
    }
    return false
  }
}

function checkFacetSearch(
  state: IndexState,
  params: FacetSearchParams,
): { facetName: string; facetQuery: string | null; search: SearchParams } {
  if (!isPlainObject(params)) {
    throw new InvalidFacetSearchError('bad_request', 'A facet search must be an object.')
  }
  const { facetName, facetQuery, exhaustiveFacetCount, ...rest } = params as Record<string, unknown>
  for (const [key, value] of Object.entries(rest)) {
    if (value !== undefined && !SEARCH_FIELDS.has(key)) {
      throw new InvalidFacetSearchError('bad_request', `Unknown field \`${key}\` in the facet search.`)
    }
  }
  if (facetName === undefined || facetName === null) {
    throw new InvalidFacetSearchError('missing_facet_search_facet_name', 'Missing field `facetName`.')
  }
  if (typeof facetName !== 'string') {
    throw new InvalidFacetSearchError(
      'invalid_facet_search_facet_name',
      'Invalid value type at `.facetName`: expected a string.',
    )
  }
  if (!state.settings.facetSearch) {
    throw new InvalidFacetSearchError(
      'facet_search_disabled',
      'The facet search is disabled for this index (the `facetSearch` setting is false).',
    )
  }
  const filterable = state.settings.filterableAttributes
  if (!isCovered(facetName, filterable)) {
    throw new InvalidFacetSearchError(
      'invalid_facet_search_facet_name',
      `Attribute \`${facetName}\` is not facet-searchable. ${filterable.length === 0 ? 'This index does not have configured facet-searchable attributes.' : `Available facet-searchable attributes are: \`${filterable.join(', ')}\`.`} To make it facet-searchable add it to the \`filterableAttributes\` index settings.`,
    )
  }
  if (facetQuery !== undefined && facetQuery !== null && typeof facetQuery !== 'string') {
    throw new InvalidFacetSearchError(
      'invalid_facet_search_facet_query',
      'Invalid value type at `.facetQuery`: expected a string.',
    )
  }
  if (exhaustiveFacetCount !== undefined && exhaustiveFacetCount !== null) {
    if (typeof exhaustiveFacetCount !== 'boolean') {
      throw new InvalidFacetSearchError(
        'invalid_facet_search_exhaustive_facet_count',
        'Invalid value type at `.exhaustiveFacetCount`: expected a boolean.',
      )
    }
  }
  return { facetName, facetQuery: facetQuery ?? null, search: rest as SearchParams }
}
