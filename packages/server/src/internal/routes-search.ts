import type { Grant } from './api-keys.ts'
import type { SearchParams } from './engine-port.ts'
import { badRequest } from './errors.ts'
import { takeReadOptions } from './read-options.ts'
import { isPlainObject, readJsonBody } from './request-body.ts'
import { checkIndexUid, nonNegativeInt, type RouteSpec, type Services, stringArray } from './route-spec.ts'
import { checkFilter } from './routes-documents.ts'
import { traceMark } from './search-trace.ts'
import { andFilters } from './tenant-token.ts'

/**
 * Search parameters passed to the engine as given; the engine checks their
 * types and meaning and answers `invalid_search_*`.
 */
export const ENGINE_PARAMS = new Set([
  'page',
  'hitsPerPage',
  'rankingScoreThreshold',
  'distinct',
  'matchingStrategy',
  'attributesToSearchOn',
  'attributesToHighlight',
  'highlightPreTag',
  'highlightPostTag',
  'attributesToCrop',
  'cropLength',
  'cropMarker',
  'showMatchesPosition',
  'retrieveVectors',
  'showPerformanceDetails',
  'showRankingScoreDetails',
  'locales',
])

/** Validates a search request body into engine parameters (types only; the engine checks meaning). */
export function parseSearchParams(input: unknown): SearchParams {
  if (input === undefined) return {}
  if (!isPlainObject(input)) throw badRequest('bad_request', 'Invalid search request: expected a JSON object')
  const params: SearchParams = {}
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue
    switch (key) {
      case 'q':
        if (value !== null && typeof value !== 'string')
          throw badRequest('invalid_search_q', 'Invalid value type at `.q`: expected a string')
        if (typeof value === 'string') params.q = value
        break
      case 'offset':
      case 'limit': {
        const n = nonNegativeInt(value, `invalid_search_${key}`, key)
        if (n !== undefined) params[key] = n
        break
      }
      case 'filter':
        if (value !== null) params.filter = checkFilter(value, 'invalid_search_filter')
        break
      case 'facets':
      case 'sort':
      case 'attributesToRetrieve': {
        const code =
          key === 'attributesToRetrieve' ? 'invalid_search_attributes_to_retrieve' : `invalid_search_${key}`
        const list = stringArray(value, code, key)
        if (list !== undefined) params[key] = list
        break
      }
      case 'vector':
        if (!Array.isArray(value) || value.some((v) => typeof v !== 'number')) {
          throw badRequest(
            'invalid_search_vector',
            'Invalid value type at `.vector`: expected an array of numbers',
          )
        }
        params.vector = value as number[]
        break
      case 'hybrid':
        params.hybrid = parseHybrid(value)
        break
      case 'showRankingScore':
        if (typeof value !== 'boolean')
          throw badRequest(
            'invalid_search_show_ranking_score',
            'Invalid value type at `.showRankingScore`: expected a boolean',
          )
        params.showRankingScore = value
        break
      case 'showPerformanceDetails':
        if (typeof value !== 'boolean')
          throw badRequest(
            'invalid_search_show_performance_details',
            'Invalid value type at `.showPerformanceDetails`: expected a boolean',
          )
        params.showPerformanceDetails = value
        break
      case 'indexUid':
        break
      default:
        if (ENGINE_PARAMS.has(key)) (params as Record<string, unknown>)[key] = value
        else throw badRequest('bad_request', `Unknown field \`${key}\` in the search request`)
    }
  }
  return params
}

function parseHybrid(value: unknown): SearchParams['hybrid'] {
  if (!isPlainObject(value) || typeof value.embedder !== 'string') {
    throw badRequest(
      'invalid_search_hybrid_query',
      'Invalid value at `.hybrid`: expected `{ embedder, semanticRatio? }`',
    )
  }
  const ratio = value.semanticRatio
  if (ratio !== undefined && (typeof ratio !== 'number' || ratio < 0 || ratio > 1)) {
    throw badRequest(
      'invalid_search_semantic_ratio',
      'Invalid value at `.hybrid.semanticRatio`: expected a number between 0 and 1',
    )
  }
  return ratio === undefined
    ? { embedder: value.embedder }
    : { embedder: value.embedder, semanticRatio: ratio }
}

const LIST_QUERY_PARAMS = new Set([
  'facets',
  'sort',
  'attributesToRetrieve',
  'attributesToHighlight',
  'attributesToCrop',
  'attributesToSearchOn',
  'locales',
])
const NUMBER_QUERY_PARAMS = new Set([
  'offset',
  'limit',
  'page',
  'hitsPerPage',
  'cropLength',
  'rankingScoreThreshold',
])
const BOOLEAN_QUERY_PARAMS = new Set([
  'showRankingScore',
  'showMatchesPosition',
  'retrieveVectors',
  'showRankingScoreDetails',
  'showPerformanceDetails',
])

/** Every query parameter `GET /search` takes (the POST body's fields, `hybrid` split in two). */
export const SEARCH_QUERY_PARAMS = [
  'q',
  'vector',
  'hybridEmbedder',
  'hybridSemanticRatio',
  'filter',
  'consistency',
  'allowPartialResults',
  ...LIST_QUERY_PARAMS,
  ...NUMBER_QUERY_PARAMS,
  ...BOOLEAN_QUERY_PARAMS,
  'distinct',
  'matchingStrategy',
  'highlightPreTag',
  'highlightPostTag',
  'cropMarker',
]

/**
 * `GET /search` query parameters as the POST body they stand for: lists are
 * comma-separated (`*` kept as `['*']`), numbers and booleans are read from
 * text (a value that does not read stays text, so the body's checks refuse it
 * with their codes), `vector` is a JSON array or comma-separated numbers, and
 * `hybridEmbedder`/`hybridSemanticRatio` form `hybrid`.
 */
export function queryToSearchInput(query: Record<string, string | undefined>): Record<string, unknown> {
  const input: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue
    if (LIST_QUERY_PARAMS.has(key)) {
      input[key] = value
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v !== '')
    } else if (NUMBER_QUERY_PARAMS.has(key)) input[key] = readNumber(value)
    else if (BOOLEAN_QUERY_PARAMS.has(key))
      input[key] = value === 'true' ? true : value === 'false' ? false : value
    else if (key === 'vector') input.vector = readVector(value)
    else if (key === 'hybridEmbedder' || key === 'hybridSemanticRatio') {
      const hybrid = (input.hybrid ?? {}) as Record<string, unknown>
      if (key === 'hybridEmbedder') hybrid.embedder = value
      else hybrid.semanticRatio = readNumber(value)
      input.hybrid = hybrid
    } else input[key] = value
  }
  return input
}

function readNumber(text: string): number | string {
  const n = Number(text)
  return text.trim() !== '' && Number.isFinite(n) ? n : text
}

function readVector(text: string): unknown {
  if (text.trim().startsWith('[')) {
    try {
      return JSON.parse(text)
    } catch {
      return text
    }
  }
  const parts = text.split(',').map(readNumber)
  return parts.every((p) => typeof p === 'number') ? parts : text
}

/** A tenant token's search rule for the index, ANDed to the request's filter. */
export function withTenantRule(grant: Grant, uid: string, params: SearchParams): SearchParams {
  const rule = grant.searchFilter?.(uid) ?? null
  if (rule === null) return params
  const filter = andFilters(rule, params.filter)
  return filter === undefined ? params : { ...params, filter }
}

/** On a standby, an answer says how far it may lag the primary (`standbyLag`). */
export function withStandbyLag<T extends object>(services: Services, result: T): T {
  const lag = services.standby?.searchLag()
  return lag === undefined ? result : { ...result, standbyLag: lag }
}

/**
 * Meilisearch's default `matchingStrategy` is `last`; a node applies it to a search that names
 * none (unless configured `default_matching_strategy = "any"`), on a sharded index as on one
 * index (the shards answer every strategy exactly; docs/distributed-search.md).
 */
export function withDefaultStrategy(services: Services, params: SearchParams): SearchParams {
  if (params.matchingStrategy !== undefined) return params
  if (services.config.defaultMatchingStrategy === 'any') return params
  return { ...params, matchingStrategy: 'last' }
}

/** A search request as the engine gets it: the tenant token's rule, the default strategy. */
export function engineSearch(
  ctx: { services: Services; grant: Grant },
  uid: string,
  input: unknown,
): SearchParams {
  return withDefaultStrategy(ctx.services, withTenantRule(ctx.grant, uid, parseSearchParams(input)))
}

export const searchRoutes: RouteSpec[] = [
  {
    method: 'POST',
    url: '/indexes/:indexUid/search',
    action: 'search',
    tag: 'Search',
    summary:
      'Search an index: q, vector, hybrid, filter, facets, sort, offset/limit or page/hitsPerPage, attributesToRetrieve, retrieveVectors, showRankingScore, rankingScoreThreshold, distinct, matchingStrategy, attributesToSearchOn, highlight and crop (`_formatted`), showMatchesPosition',
    body: 'json',
    async handler({ params, body, contentType, services, grant }) {
      const uid = checkIndexUid(params.indexUid)
      const index = services.engine.index(uid)
      traceMark('index')
      const { input, read } = takeReadOptions(readJsonBody(body, contentType))
      services.standby?.checkSearch(read)
      const search = engineSearch({ services, grant }, uid, input)
      traceMark('parse')
      const result = await index.search(search, read)
      traceMark('search')
      return withStandbyLag(services, result)
    },
  },
  {
    method: 'GET',
    url: '/indexes/:indexUid/search',
    action: 'search',
    tag: 'Search',
    summary:
      'Search an index with query parameters: the POST fields, lists comma-separated, `hybridEmbedder` and `hybridSemanticRatio` for `hybrid`',
    queryParams: SEARCH_QUERY_PARAMS,
    async handler({ params, query, services, grant }) {
      const uid = checkIndexUid(params.indexUid)
      const index = services.engine.index(uid)
      const { input, read } = takeReadOptions(queryToSearchInput(query))
      services.standby?.checkSearch(read)
      return withStandbyLag(services, await index.search(engineSearch({ services, grant }, uid, input), read))
    },
  },
]
