import type { SimilarParams } from './engine-port.ts'
import { badRequest } from './errors.ts'
import { isPlainObject, readJsonBody } from './request-body.ts'
import { checkIndexUid, type RouteContext, type RouteSpec } from './route-spec.ts'
import { checkFilter } from './routes-documents.ts'
import { andFilters } from './tenant-token.ts'

/**
 * `POST` and `GET /indexes/{uid}/similar`: the documents nearest one document's vector
 * (`@shoal/engine` `index.similar`, which answers the `invalid_similar_*` codes; on a sharded
 * index, cluster/sharded-similar.ts, which answers the same). The route checks
 * the shape of `filter` and of the fields Shoal refuses, and ANDs a tenant token's rule to the
 * filter as for a search.
 */

/** Fields Shoal does not implement: refused unless they ask for nothing. */
const REFUSED = new Map([
  ['showRankingScoreDetails', 'invalid_similar_show_ranking_score_details'],
  ['showPerformanceDetails', 'bad_request'],
])

/** Every field of the POST body, and so every query parameter of the GET form. */
export const SIMILAR_FIELDS = [
  'id',
  'embedder',
  'offset',
  'limit',
  'filter',
  'attributesToRetrieve',
  'showRankingScore',
  'showRankingScoreDetails',
  'showPerformanceDetails',
  'rankingScoreThreshold',
  'retrieveVectors',
]

function toSimilarParams(input: unknown, uid: string, ctx: RouteContext): SimilarParams {
  if (!isPlainObject(input))
    throw badRequest('bad_request', 'Invalid similar request: expected a JSON object')
  const params: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue
    if (!SIMILAR_FIELDS.includes(key)) {
      throw badRequest(
        'bad_request',
        `Unknown field \`${key}\`: expected one of ${SIMILAR_FIELDS.map((f) => `\`${f}\``).join(', ')}`,
      )
    }
    const refused = REFUSED.get(key)
    if (refused !== undefined) {
      if (value === false || value === null) continue
      throw badRequest(
        refused,
        `\`${key}\` is not supported by Shoal; see docs/meilisearch-compatibility.md. Remove it (or send \`false\`).`,
      )
    }
    if (key === 'filter') {
      if (value !== null) params.filter = checkFilter(value, 'invalid_similar_filter')
    } else if (key === 'embedder' && typeof value !== 'string') {
      throw badRequest('invalid_similar_embedder', 'Invalid value type at `.embedder`: expected a string')
    } else if (value !== null) params[key] = value
  }
  if (params.embedder === undefined) {
    throw badRequest(
      'invalid_similar_embedder',
      'Missing field `embedder`: the embedder whose vectors are compared',
    )
  }
  const rule = ctx.grant.searchFilter?.(uid) ?? null
  const filter = andFilters(rule, params.filter as SimilarParams['filter'])
  if (filter !== undefined) params.filter = filter
  return params as unknown as SimilarParams
}

/** `GET` query parameters as the POST body: lists comma-separated, numbers and booleans read from text. */
function queryToSimilarInput(query: Record<string, string | undefined>): Record<string, unknown> {
  const input: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue
    if (key === 'attributesToRetrieve')
      input[key] = value
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v !== '')
    else if (key === 'offset' || key === 'limit' || key === 'rankingScoreThreshold') {
      const n = Number(value)
      input[key] = value.trim() !== '' && Number.isFinite(n) ? n : value
    } else if (key.startsWith('show') || key === 'retrieveVectors') {
      input[key] = value === 'true' ? true : value === 'false' ? false : value
    } else input[key] = value
  }
  return input
}

async function runSimilar(ctx: RouteContext, input: unknown) {
  const uid = checkIndexUid(ctx.params.indexUid)
  const index = ctx.services.engine.index(uid)
  const params = toSimilarParams(input, uid, ctx)
  return index.similar(params)
}

export const similarRoutes: RouteSpec[] = [
  {
    method: 'POST',
    url: '/indexes/:indexUid/similar',
    action: 'search',
    tag: 'Search',
    summary:
      'Documents nearest a document by its vector: id, embedder, offset, limit, filter, attributesToRetrieve, showRankingScore, rankingScoreThreshold, retrieveVectors',
    body: 'json',
    handler(ctx) {
      return runSimilar(ctx, readJsonBody(ctx.body, ctx.contentType))
    },
  },
  {
    method: 'GET',
    url: '/indexes/:indexUid/similar',
    action: 'search',
    tag: 'Search',
    summary: 'Documents nearest a document by its vector, with query parameters (lists comma-separated)',
    queryParams: SIMILAR_FIELDS,
    handler(ctx) {
      return runSimilar(ctx, queryToSimilarInput(ctx.query))
    },
  },
]
