import type { SearchParams } from './engine-port.ts'
import { badRequest, invalidApiKey } from './errors.ts'
import { isPlainObject, readJsonBody } from './request-body.ts'
import { checkIndexUid, listParam, nonNegativeInt, type RouteSpec, stringArray } from './route-spec.ts'
import { checkFilter } from './routes-documents.ts'

/**
 * Meilisearch search parameters that the engine does not implement yet are
 * accepted and ignored, so that existing clients keep working; anything else
 * unknown is refused.
 */
const IGNORED_PARAMS = new Set([
  'attributesToHighlight',
  'attributesToCrop',
  'cropLength',
  'cropMarker',
  'highlightPreTag',
  'highlightPostTag',
  'showMatchesPosition',
  'matchingStrategy',
  'showRankingScoreDetails',
  'rankingScoreThreshold',
  'page',
  'hitsPerPage',
  'distinct',
  'locales',
  'retrieveVectors',
  'attributesToSearchOn',
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
      case 'indexUid':
        break
      default:
        if (!IGNORED_PARAMS.has(key))
          throw badRequest('bad_request', `Unknown field \`${key}\` in the search request`)
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

function queryToSearchInput(query: Record<string, string | undefined>): Record<string, unknown> {
  const input: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue
    if (key === 'offset' || key === 'limit') input[key] = /^\d+$/.test(value) ? Number(value) : value
    else if (key === 'facets' || key === 'sort' || key === 'attributesToRetrieve')
      input[key] = listParam(value) ?? []
    else if (key === 'showRankingScore')
      input[key] = value === 'true' ? true : value === 'false' ? false : value
    else if (key === 'vector') input[key] = safeJson(value)
    else input[key] = value
  }
  return input
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

export const searchRoutes: RouteSpec[] = [
  {
    method: 'POST',
    url: '/indexes/:indexUid/search',
    action: 'search',
    tag: 'Search',
    summary:
      'Search an index: q, vector, hybrid, filter, facets, sort, offset, limit, attributesToRetrieve, showRankingScore',
    body: 'json',
    handler({ params, body, contentType, services }) {
      const index = services.engine.index(checkIndexUid(params.indexUid))
      return index.search(parseSearchParams(readJsonBody(body, contentType)))
    },
  },
  {
    method: 'GET',
    url: '/indexes/:indexUid/search',
    action: 'search',
    tag: 'Search',
    summary: 'Search an index with query parameters (lists comma-separated)',
    queryParams: [
      'q',
      'filter',
      'facets',
      'sort',
      'offset',
      'limit',
      'attributesToRetrieve',
      'showRankingScore',
    ],
    handler({ params, query, services }) {
      const index = services.engine.index(checkIndexUid(params.indexUid))
      return index.search(parseSearchParams(queryToSearchInput(query)))
    },
  },
  {
    method: 'POST',
    url: '/multi-search',
    action: 'search',
    tag: 'Search',
    summary: 'Several searches in one call: body `{ queries: [{ indexUid, ...search }] }`',
    body: 'json',
    handler({ body, contentType, services, grant }) {
      const input = readJsonBody(body, contentType)
      if (!isPlainObject(input) || !Array.isArray(input.queries)) {
        throw badRequest(
          'missing_multi_search_queries',
          'Missing field `queries`: expected an array of search queries',
        )
      }
      // Everything is validated before anything runs, so one bad query fails the whole call.
      const queries = input.queries.map((query: unknown, i: number) => {
        if (!isPlainObject(query) || query.indexUid === undefined) {
          throw badRequest('missing_index_uid', `Inside \`.queries[${i}]\`: Missing field \`indexUid\``)
        }
        const uid = checkIndexUid(query.indexUid)
        if (!grant.allowsIndex(uid)) throw invalidApiKey()
        return { uid, params: parseSearchParams(query) }
      })
      const results = queries.map(({ uid, params }) => ({
        indexUid: uid,
        ...services.engine.index(uid).search(params),
      }))
      return { results }
    },
  },
]
