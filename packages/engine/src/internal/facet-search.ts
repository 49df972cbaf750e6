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
import { InvalidFacetSearchError, ShardedSearchMismatchError } from '../errors.ts'
import type {
  FacetingSettings,
  FacetSearchParams,
  FacetSearchResult,
  SearchContext,
  SearchParams,
  Settings,
  ShardFacets,
  ShardSearchResult,
} from '../types.ts'
import { isPlainObject } from './document-path.ts'
import { filterableNames, filterFeatures } from './filterable-rules.ts'
import type { IndexState } from './index-state.ts'
import { withinEdits } from './query-words.ts'
import { matchedDocuments } from './search.ts'
import { countFacets, mergeFacets } from './search-facets.ts'
import { mergeParts } from './search-merge.ts'
import { searchShard } from './search-shard.ts'
import { mergeNarrows } from './search-shard-refine.ts'

/** The search parameters a facet search narrows its documents with. */
const SEARCH_FIELDS = new Set([
  'q',
  'filter',
  'matchingStrategy',
  'attributesToSearchOn',
  'vector',
  'hybrid',
  'rankingScoreThreshold',
  // Checked as a search's (only locales the analyser handles); it changes nothing else.
  'locales',
])

export function facetSearch(state: IndexState, params: FacetSearchParams): FacetSearchResult {
  const started = performance.now()
  const { facetName, facetQuery, search } = checkFacetSearch(state, params)
  const counts = countFacets(state, [facetName], matchedDocuments(state, search)).distribution[facetName]!
  return {
    facetHits: facetHits(
      counts,
      facetName,
      valueMatcher(facetQuery, state.settings),
      state.settings.faceting,
    ),
    facetQuery,
    processingTimeMs: Math.round(performance.now() - started),
  }
}

/**
 * One partition's part of a facet search over a sharded index: the search part of `params` run as
 * phase 2 of a sharded search (`context` holds the collection's statistics), counting `facetName`
 * untrimmed over every matching document, with only the values `facetQuery` can match kept.
 * `mergeFacetSearch` sums the parts and orders and trims them as one index would.
 */
export function facetSearchShard(
  state: IndexState,
  params: FacetSearchParams,
  context: SearchContext,
): ShardSearchResult {
  const { facetName, facetQuery, search } = checkFacetSearch(state, params)
  const part = searchShard(state, { ...search, facets: [facetName], offset: 0, limit: 0 }, context)
  const matches = valueMatcher(facetQuery, state.settings)
  // Only the string values `facetQuery` can match are counted.
  const kept = (facets: ShardFacets | null): ShardFacets | null => {
    const counts = facets?.distribution[facetName]
    if (counts === undefined) return facets
    const strings = counts.strings.filter(([, spelling]) => matches(spelling))
    return { distribution: { [facetName]: { numbers: [], strings } } }
  }
  // When the merge narrows the matches, each hit carries its own counts (search-shard-refine.ts).
  const hits = part.hits.map((hit) => (hit.facets === null ? hit : { ...hit, facets: kept(hit.facets) }))
  return { ...part, hits, facets: kept(part.facets) }
}

/** The answer to a facet search from every partition's `facetSearchShard`. */
export function mergeFacetSearch(
  params: FacetSearchParams,
  parts: readonly ShardSearchResult[],
  startedMs: number = performance.now(),
): FacetSearchResult {
  const facetName = params.facetName
  const facetQuery = params.facetQuery ?? null
  const plan = parts[0]?.plan
  if (plan === undefined) return { facetHits: [], facetQuery, processingTimeMs: 0 }
  const expected = JSON.stringify(plan)
  if (parts.some((part) => JSON.stringify(part.plan) !== expected))
    throw new ShardedSearchMismatchError(
      'Partitions understood the search differently (settings out of step?).',
    )
  const merged = mergeNarrows(plan)
    ? (mergeParts(undefined, parts).counts ?? { distribution: { [facetName]: { numbers: [], strings: [] } } })
    : mergeFacets(
        [facetName],
        parts.map((part) => part.facets ?? { distribution: {} }),
      )
  return {
    // Each shard kept only the values `facetQuery` matches (with its own typo settings, the same).
    facetHits: facetHits(merged.distribution[facetName]!, facetName, () => true, plan.faceting),
    facetQuery,
    processingTimeMs: Math.round(performance.now() - startedMs),
  }
}

type FacetCounts = ShardFacets['distribution'][string]

/** Whether a value's spelling is one `facetQuery` finds (a folded prefix, with typos as allowed). */
function valueMatcher(facetQuery: string | null, settings: Settings): (spelling: string) => boolean {
  const matches = prefixMatcher(facetQuery === null ? '' : normalizeText(facetQuery), settings.typoTolerance)
  return (spelling) => matches(normalizeText(spelling))
}

/** The values `matches` keeps, ordered and trimmed by `faceting`. */
function facetHits(
  counts: FacetCounts,
  facetName: string,
  matches: (spelling: string) => boolean,
  faceting: FacetingSettings,
): Array<{ value: string; count: number }> {
  const hits = counts.strings
    .filter(([, spelling]) => matches(spelling))
    .map(([, value, count]) => ({ value, count }))
  const byCount = (faceting.sortFacetValuesBy[facetName] ?? faceting.sortFacetValuesBy['*']) === 'count'
  hits.sort(
    (a, b) => (byCount ? b.count - a.count : 0) || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0),
  )
  return hits.slice(0, faceting.maxValuesPerFacet)
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
  const rules = state.settings.filterableAttributes
  // A name is facet-searchable; a rule's attributes only with `features.facetSearch`.
  const filterable = filterableNames(
    rules.filter((rule) => typeof rule === 'string' || rule.features.facetSearch),
  )
  if (filterFeatures(rules, facetName)?.facetSearch !== true) {
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
