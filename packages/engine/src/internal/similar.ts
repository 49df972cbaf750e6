/**
 * Meilisearch's similar documents (`POST /indexes/{uid}/similar`): the documents whose vectors of
 * one embedder lie nearest the vector of a given document, the document itself left out. It is a
 * semantic search (search-rank.ts `semanticHits`) whose query vector is the document's own, over
 * the documents `filter` keeps, with the page, projection, ranking score and threshold of a
 * search. The other search fields are validated by the search's rules and their `invalid_search_*`
 * codes are answered as `invalid_similar_*`.
 */

import { InvalidSimilarError, ShoalError } from '../errors.ts'
import type { Doc, SearchParams, SimilarParams, SimilarResult } from '../types.ts'
import { isPlainObject } from './document-path.ts'
import type { IndexState } from './index-state.ts'
import { externalIdKey } from './primary-key.ts'
import { filterDocuments, project } from './search.ts'
import { checkSearch } from './search-params.ts'
import { semanticHits } from './search-rank.ts'

const FIELDS = new Set([
  'id',
  'embedder',
  'offset',
  'limit',
  'filter',
  'attributesToRetrieve',
  'showRankingScore',
  'rankingScoreThreshold',
  'retrieveVectors',
])

export function similar(state: IndexState, params: SimilarParams): SimilarResult {
  const started = performance.now()
  if (!isPlainObject(params))
    throw new InvalidSimilarError('bad_request', 'Similar parameters must be an object.')
  for (const key of Object.keys(params)) {
    if (!FIELDS.has(key) && (params as unknown as Record<string, unknown>)[key] !== undefined) {
      throw new InvalidSimilarError('bad_request', `Unknown field \`${key}\` in the similar request.`)
    }
  }
  const target = targetOf(state, params.id)
  const embedder = params.embedder
  if (typeof embedder !== 'string' || state.settings.embedders[embedder] === undefined) {
    const known = Object.keys(state.settings.embedders)
    throw new InvalidSimilarError(
      'invalid_similar_embedder',
      `Cannot find embedder with name \`${String(embedder)}\`: the index has ${known.length === 0 ? 'no embedder' : `only ${known.map((n) => `\`${n}\``).join(', ')}`}.`,
    )
  }
  const vectors = state.docAt(target)!._vectors
  const vector = isPlainObject(vectors) ? vectors[embedder] : undefined
  if (!Array.isArray(vector)) {
    throw new InvalidSimilarError(
      'invalid_similar_id',
      `Document \`${String(params.id)}\` has no vector for embedder \`${embedder}\`: its neighbours cannot be computed.`,
    )
  }
  const request = asSimilar(() =>
    checkSearch(
      {
        vector: vector as number[],
        hybrid: { embedder, semanticRatio: 1 },
        offset: params.offset,
        limit: params.limit,
        filter: params.filter,
        attributesToRetrieve: params.attributesToRetrieve,
        showRankingScore: params.showRankingScore,
        rankingScoreThreshold: params.rankingScoreThreshold,
        retrieveVectors: params.retrieveVectors,
      } as SearchParams,
      state.settings,
    ),
  )
  const allowed = asSimilar(() => filterDocuments(state, request.filter))?.copy() ?? state.live.copy()
  allowed.delete(target)
  const candidates = allowed.count()
  const window = Math.min(candidates, request.offset + request.limit)
  const ranked = semanticHits(state, request, allowed.toArray(), window, candidates)
  const threshold = request.rankingScoreThreshold
  const hits: Doc[] = []
  for (let i = request.offset; i < ranked.ids.length; i++) {
    const score = ranked.scores[i]!
    if (threshold !== undefined && score < threshold) break
    const hit = project(
      state,
      state.docAt(ranked.ids[i]!)!,
      request.attributesToRetrieve,
      request.retrieveVectors,
    )
    if (request.showRankingScore) hit._rankingScore = Math.round(score * 1e6) / 1e6
    hits.push(hit)
  }
  return {
    hits,
    id: state.keyAt(target)!,
    processingTimeMs: Math.round(performance.now() - started),
    limit: request.limit,
    offset: request.offset,
    estimatedTotalHits: Math.min(candidates, state.settings.pagination.maxTotalHits),
  }
}

function targetOf(state: IndexState, id: unknown): number {
  if (id === undefined || id === null) {
    throw new InvalidSimilarError(
      'bad_request',
      'Missing field `id`: the document whose neighbours are wanted.',
    )
  }
  const key = externalIdKey(id)
  if (key === undefined) {
    throw new InvalidSimilarError(
      'invalid_similar_id',
      `Invalid value at \`.id\`: the value of \`id\` is invalid. A document identifier can be of type integer or string, only composed of alphanumeric characters (a-z A-Z 0-9), hyphens (-) and underscores (_), and can not be more than 511 bytes.`,
    )
  }
  const target = state.idOf(key)
  if (target === undefined) {
    throw new InvalidSimilarError('not_found_similar_id', `Document \`${key}\` not found.`)
  }
  return target
}

/** `run`, its `invalid_search_*` errors answered with the similar route's codes. */
function asSimilar<T>(run: () => T): T {
  try {
    return run()
  } catch (error) {
    if (error instanceof ShoalError && error.code.startsWith('invalid_search_')) {
      throw new InvalidSimilarError(error.code.replace(/^invalid_search_/, 'invalid_similar_'), error.message)
    }
    throw error
  }
}
