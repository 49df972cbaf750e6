/**
 * `POST /multi-search`: one result list per query, or with `federation` one merged list.
 *
 * A federated search runs every query for the first `offset + limit` of its own hits, then merges
 * the lists by weighted ranking score (`_rankingScore × federationOptions.weight`): the merge
 * always takes the best head of the lists, so each query's own order (its `sort`, its matching
 * strategy) is kept and the lists interleave by score; equal scores go to the earlier query.
 * Facets are counted per index (`facetsByIndex`) and may be merged into one distribution
 * (`mergeFacets`): indexes hold distinct documents, so their counts add up.
 */

import type { Grant } from './api-keys.ts'
import type { Doc, SearchParams, SearchResult } from './engine-port.ts'
import { badRequest, invalidApiKey } from './errors.ts'
import { type ReadOptions, takeReadOptions } from './read-options.ts'
import { isPlainObject, readJsonBody } from './request-body.ts'
import { checkIndexUid, nonNegativeInt, type RouteSpec, type Services, stringArray } from './route-spec.ts'
import { engineSearch, withStandbyLag } from './routes-search.ts'

interface Query {
  uid: string
  params: SearchParams
  /** `consistency` and `allowPartialResults` of the query (read-options.ts). */
  read: ReadOptions
  weight: number
}

interface Federation {
  offset: number
  limit: number
  facetsByIndex: Map<string, string[]>
  /** `maxValuesPerFacet` of the merged distribution; undefined: facets stay per index. */
  mergeFacets: { maxValuesPerFacet: number } | undefined
}

/** Query fields a federated search decides for itself (`federation.offset`/`limit`, `facetsByIndex`). */
const PAGINATION = ['offset', 'limit', 'page', 'hitsPerPage']

function parseQueries(input: unknown[], grant: Grant, services: Services, federated: boolean): Query[] {
  return input.map((query: unknown, i: number) => {
    if (!isPlainObject(query) || query.indexUid === undefined) {
      throw badRequest('missing_index_uid', `Inside \`.queries[${i}]\`: Missing field \`indexUid\``)
    }
    const uid = checkIndexUid(query.indexUid)
    if (!grant.allowsIndex(uid)) throw invalidApiKey()
    const { input: rest, read } = takeReadOptions(query)
    services.standby?.checkSearch(read)
    const { federationOptions, ...search } = rest as Record<string, unknown>
    let weight = 1
    if (federationOptions !== undefined && federationOptions !== null) {
      if (!federated) {
        throw badRequest(
          'invalid_multi_search_federation_options',
          `Inside \`.queries[${i}]\`: Using \`federationOptions\` is not allowed in a non-federated search. Hint: add \`federation\` to the request.`,
        )
      }
      weight = parseWeight(federationOptions, i)
    }
    if (federated) {
      for (const key of PAGINATION) {
        if (search[key] !== undefined && search[key] !== null) {
          throw badRequest(
            'invalid_multi_search_query_pagination',
            `Inside \`.queries[${i}]\`: \`${key}\` is not allowed in a federated search; use \`federation.offset\` and \`federation.limit\`.`,
          )
        }
      }
      // The merged list has no per-query phases to time: refused rather than dropped.
      if (search.showPerformanceDetails === true) {
        throw badRequest(
          'bad_request',
          `Inside \`.queries[${i}]\`: \`showPerformanceDetails\` is not supported in a federated search; send the query without \`federation\`.`,
        )
      }
      if (search.facets !== undefined && search.facets !== null) {
        throw badRequest(
          'invalid_multi_search_query_facets',
          `Inside \`.queries[${i}]\`: \`facets\` is not allowed in a federated search; use \`federation.facetsByIndex\`.`,
        )
      }
    }
    return { uid, params: engineSearch({ services, grant }, uid, search), read, weight }
  })
}

function parseWeight(options: unknown, i: number): number {
  if (!isPlainObject(options)) {
    throw badRequest(
      'invalid_multi_search_federation_options',
      `Invalid value type at \`.queries[${i}].federationOptions\`: expected an object`,
    )
  }
  for (const key of Object.keys(options)) {
    if (key !== 'weight') {
      throw badRequest(
        'invalid_multi_search_federation_options',
        `Unknown field \`${key}\` inside \`.queries[${i}].federationOptions\`: expected \`weight\` (remote queries are not supported)`,
      )
    }
  }
  const weight = options.weight ?? 1
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) {
    throw badRequest(
      'invalid_multi_search_weight',
      `Invalid value at \`.queries[${i}].federationOptions.weight\`: expected a positive number, but found ${JSON.stringify(weight)}`,
    )
  }
  return weight
}

function parseFederation(value: unknown): Federation {
  if (!isPlainObject(value)) {
    throw badRequest(
      'invalid_multi_search_federated',
      'Invalid value type at `.federation`: expected an object',
    )
  }
  const federation: Federation = { offset: 0, limit: 20, facetsByIndex: new Map(), mergeFacets: undefined }
  for (const [key, field] of Object.entries(value)) {
    if (field === undefined || field === null) continue
    if (key === 'offset' || key === 'limit') {
      federation[key] = nonNegativeInt(field, `invalid_search_${key}`, `federation.${key}`)!
    } else if (key === 'facetsByIndex') {
      if (!isPlainObject(field)) {
        throw badRequest(
          'invalid_multi_search_facets_by_index',
          'Invalid value type at `.federation.facetsByIndex`: expected an object of index uids to arrays of facet names',
        )
      }
      for (const [uid, facets] of Object.entries(field)) {
        const list = stringArray(
          facets,
          'invalid_multi_search_facets_by_index',
          `federation.facetsByIndex.${uid}`,
        )
        federation.facetsByIndex.set(checkIndexUid(uid), list ?? [])
      }
    } else if (key === 'mergeFacets') {
      federation.mergeFacets = parseMergeFacets(field)
    } else {
      throw badRequest(
        'bad_request',
        `Unknown field \`${key}\` inside \`.federation\`: expected one of \`offset\`, \`limit\`, \`facetsByIndex\`, \`mergeFacets\``,
      )
    }
  }
  return federation
}

function parseMergeFacets(value: unknown): Federation['mergeFacets'] {
  if (!isPlainObject(value)) {
    throw badRequest(
      'invalid_multi_search_merge_facets',
      'Invalid value type at `.federation.mergeFacets`: expected an object',
    )
  }
  let maxValuesPerFacet = 100
  for (const [key, field] of Object.entries(value)) {
    if (key !== 'maxValuesPerFacet') {
      throw badRequest(
        'invalid_multi_search_merge_facets',
        `Unknown field \`${key}\` inside \`.federation.mergeFacets\`: expected \`maxValuesPerFacet\``,
      )
    }
    const n = nonNegativeInt(
      field,
      'invalid_multi_search_max_values_per_facet',
      'federation.mergeFacets.maxValuesPerFacet',
    )
    if (n !== undefined) maxValuesPerFacet = n
  }
  return { maxValuesPerFacet }
}

/** Facet counts of one index: the query on it with `facets`, and no hits asked for. */
async function indexFacets(services: Services, queries: Query[], uid: string, facets: string[]) {
  const on = queries.filter((q) => q.uid === uid)
  if (on.length !== 1) {
    throw badRequest(
      'invalid_multi_search_facets_by_index',
      on.length === 0
        ? `Inside \`.federation.facetsByIndex.${uid}\`: no query of the request searches index \`${uid}\``
        : `Inside \`.federation.facetsByIndex.${uid}\`: Shoal counts the facets of an index searched by one query only; index \`${uid}\` is searched by ${on.length}`,
    )
  }
  const result = await services.engine
    .index(uid)
    .search({ ...on[0]!.params, facets, offset: 0, limit: 0 }, on[0]!.read)
  return { distribution: result.facetDistribution ?? {}, stats: result.facetStats ?? {} }
}

type IndexFacets = Awaited<ReturnType<typeof indexFacets>>

function mergeFacetCounts(byIndex: IndexFacets[], maxValuesPerFacet: number) {
  const distribution: Record<string, Record<string, number>> = {}
  const stats: Record<string, { min: number; max: number }> = {}
  for (const facets of byIndex) {
    for (const [name, values] of Object.entries(facets.distribution)) {
      const merged = distribution[name] ?? {}
      distribution[name] = merged
      for (const [value, n] of Object.entries(values)) merged[value] = (merged[value] ?? 0) + n
    }
    for (const [name, { min, max }] of Object.entries(facets.stats)) {
      const s = stats[name]
      stats[name] = s === undefined ? { min, max } : { min: Math.min(s.min, min), max: Math.max(s.max, max) }
    }
  }
  for (const name of Object.keys(distribution)) {
    const entries = Object.entries(distribution[name]!).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    distribution[name] = Object.fromEntries(entries.slice(0, maxValuesPerFacet))
  }
  return { facetDistribution: distribution, facetStats: stats }
}

async function federatedSearch(services: Services, queries: Query[], federation: Federation) {
  const started = performance.now()
  const window = federation.offset + federation.limit
  const results: SearchResult[] = await Promise.all(
    queries.map(({ uid, params, read }) =>
      services.engine
        .index(uid)
        .search({ ...params, offset: 0, limit: window, showRankingScore: true }, read),
    ),
  )
  // A k-way merge by weighted score: each list stays in its own order.
  const heads = results.map(() => 0)
  const merged: Doc[] = []
  while (merged.length < window) {
    let best = -1
    let bestScore = Number.NEGATIVE_INFINITY
    for (let q = 0; q < results.length; q++) {
      const hit = results[q]!.hits[heads[q]!]
      if (hit === undefined) continue
      const score = (hit._rankingScore as number) * queries[q]!.weight
      if (score > bestScore) {
        best = q
        bestScore = score
      }
    }
    if (best === -1) break
    const { _rankingScore, ...hit } = results[best]!.hits[heads[best]!]!
    heads[best]!++
    if (queries[best]!.params.showRankingScore === true) hit._rankingScore = _rankingScore
    hit._federation = {
      indexUid: queries[best]!.uid,
      queriesPosition: best,
      weightedRankingScore: Math.round(bestScore * 1e6) / 1e6,
    }
    merged.push(hit)
  }
  const answer: Record<string, unknown> = {
    hits: merged.slice(federation.offset),
    processingTimeMs: 0,
    limit: federation.limit,
    offset: federation.offset,
    estimatedTotalHits: results.reduce((sum, r) => sum + (r.estimatedTotalHits ?? r.totalHits ?? 0), 0),
  }
  if (federation.facetsByIndex.size > 0) {
    const byIndex = new Map<string, IndexFacets>()
    for (const [uid, facets] of federation.facetsByIndex) {
      byIndex.set(uid, await indexFacets(services, queries, uid, facets))
    }
    if (federation.mergeFacets === undefined) answer.facetsByIndex = Object.fromEntries(byIndex)
    else
      Object.assign(answer, mergeFacetCounts([...byIndex.values()], federation.mergeFacets.maxValuesPerFacet))
  }
  const semantic = results.reduce((sum, r) => sum + (r.semanticHitCount ?? 0), 0)
  if (results.some((r) => r.semanticHitCount !== undefined)) answer.semanticHitCount = semantic
  answer.processingTimeMs = Math.round(performance.now() - started)
  return answer
}

export const multiSearchRoutes: RouteSpec[] = [
  {
    method: 'POST',
    url: '/multi-search',
    action: 'search',
    tag: 'Search',
    summary:
      'Several searches in one call: `{ queries: [{ indexUid, ...search }] }`, one result list per query; with `federation` (`offset`, `limit`, `facetsByIndex`, `mergeFacets`) one list merged by `_rankingScore × federationOptions.weight`, each hit with `_federation`',
    body: 'json',
    async handler({ body, contentType, services, grant }) {
      const input = readJsonBody(body, contentType)
      if (!isPlainObject(input) || !Array.isArray(input.queries)) {
        throw badRequest(
          'missing_multi_search_queries',
          'Missing field `queries`: expected an array of search queries',
        )
      }
      for (const key of Object.keys(input)) {
        if (key !== 'queries' && key !== 'federation') {
          throw badRequest(
            'bad_request',
            `Unknown field \`${key}\`: expected one of \`queries\`, \`federation\``,
          )
        }
      }
      const federated = input.federation !== undefined && input.federation !== null
      const federation = federated ? parseFederation(input.federation) : undefined
      // Everything is validated before anything runs, so one bad query fails the whole call.
      const queries = parseQueries(input.queries, grant, services, federated)
      if (federation !== undefined) {
        for (const uid of federation.facetsByIndex.keys()) {
          if (!grant.allowsIndex(uid)) throw invalidApiKey()
        }
        return federatedSearch(services, queries, federation)
      }
      const results = await Promise.all(
        queries.map(async ({ uid, params, read }) => ({
          indexUid: uid,
          ...withStandbyLag(services, await services.engine.index(uid).search(params, read)),
        })),
      )
      return { results }
    },
  },
]
