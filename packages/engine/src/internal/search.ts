/**
 * Search over one index: filter → candidates → ranking (placeholder order, BM25, kNN or their
 * fusion, search-rank.ts) → sort → page → facets → projection.
 *
 * One index answers exactly as a partitioned index does: a search runs the phases of a
 * distributed search over its single partition (the partition's candidates, search-shard.ts,
 * scored with its own statistics; the merge, search-merge.ts). A search that narrows the ranked
 * list after ranking (query syntax, matching strategies, `attributesToSearchOn`,
 * `rankingScoreThreshold`, `distinct`) runs the refining path below, which narrows the whole list
 * in one place: partitions narrow theirs apart and the merge finishes (search-shard-refine.ts),
 * and the equivalence tests check them against this path.
 */

import type { Doc, SearchParams, SearchResult } from '../types.ts'
import { Bitset } from './bitset.ts'
import { byKey } from './document-order.ts'
import { pickFields } from './document-path.ts'
import { evaluateFilter } from './filter/evaluate.ts'
import { parseFilter } from './filter/parse.ts'
import type { IndexState } from './index-state.ts'
import { parseQuerySyntax } from './query-syntax.ts'
import { folder, queryWords } from './query-words.ts'
import { detailsLayout, matchDetails, rankingDetails } from './ranking-details.ts'
import { PhaseTimer } from './search-extras.ts'
import { facetDistribution } from './search-facets.ts'
import { formatHit } from './search-format.ts'
import { mergeShardResults } from './search-merge.ts'
import { type CheckedSearch, checkSearch } from './search-params.ts'
import {
  HYBRID_MIN_DEPTH,
  keywordHits,
  keywordTotal,
  placeholderIds,
  type Ranked,
  semanticHits,
  sortKey,
  sortRanked,
} from './search-rank.ts'
import { needsRefinement, refine } from './search-refine.ts'
import { modeOf, searchShard } from './search-shard.ts'

export function search(state: IndexState, params: SearchParams | undefined): SearchResult {
  const started = performance.now()
  const timer = new PhaseTimer()
  timer.phase('parse')
  const checked = checkSearch(params, state.settings)
  const syntax = parseQuerySyntax(checked.q, state.text)
  const request = withoutIdleStrategy(state, checked, syntax.text)
  let result: SearchResult
  if (needsRefinement(request, syntax)) result = refiningSearch(state, request, syntax, timer)
  else {
    // The plain path reads `params` again: without the strategy it dropped.
    const plain = request === checked ? params : { ...params, matchingStrategy: undefined }
    // One partition's part (filter, rank, page, facets, documents), then the merge.
    timer.phase('partition')
    const part = searchShard(state, plain, 'local')
    timer.phase('merge')
    result = mergeShardResults(plain, [part])
  }
  if (checked.showPerformanceDetails) result.performanceDetails = timer.details()
  result.processingTimeMs = Math.round(performance.now() - started)
  return result
}

/**
 * `last` and `frequency` on a query of fewer than two words keep exactly the documents the text
 * index returns, in its order (each holds the one word, or none is asked for), so the strategy is
 * dropped and the search takes the plain path: the same answer without reading every match.
 * Meilisearch clients send `last` by default, so this is the common case. A shard decides the same
 * (search-shard.ts), so a sharded index answers such a search as one index does.
 */
export function withoutIdleStrategy(state: IndexState, request: CheckedSearch, text: string): CheckedSearch {
  const strategy = request.matchingStrategy
  if (strategy !== 'last' && strategy !== 'frequency') return request
  if (text.trim() !== '' && queryWords(state.text, text, state.settings).length >= 2) return request
  return { ...request, matchingStrategy: undefined }
}

/** Every match of `request`, in ranked order, narrowed by the refining parameters. */
function rankedMatches(
  state: IndexState,
  request: CheckedSearch,
  syntax: ReturnType<typeof parseQuerySyntax>,
  timer?: PhaseTimer,
) {
  timer?.phase('filter')
  const allowed = filterDocuments(state, request.filter)
  timer?.phase('rank')
  const ranked = rank(state, { ...request, q: syntax.text }, allowed, true)
  let order = ranked.ids
  let scores = ranked.scores
  if (request.sort.length > 0 || request.relevanceAt === null) {
    timer?.phase('sort')
    ;({ order, scores } = sortRanked(state, ranked, request.sort, request.relevanceAt, request.deadline))
  }
  timer?.phase('narrow')
  const words = syntax.text.trim() === '' ? [] : queryWords(state.text, syntax.text, state.settings)
  const fold = folder(state.text)
  ;({ order, scores } = refine(state, request, { order, scores }, ranked.semanticIds, words, fold, syntax))
  return { allowed, ranked, order, scores, words, fold }
}

/** The documents `params` matches (what its facets count), whatever page it asks for. */
export function matchedDocuments(state: IndexState, params: SearchParams): Bitset {
  const checked = checkSearch(params, state.settings)
  const syntax = parseQuerySyntax(checked.q, state.text)
  const { order } = rankedMatches(state, withoutIdleStrategy(state, checked, syntax.text), syntax)
  const matched = new Bitset(state.live.capacity)
  for (let i = 0; i < order.length; i++) matched.add(order[i]!)
  return matched
}

function refiningSearch(
  state: IndexState,
  request: CheckedSearch,
  syntax: ReturnType<typeof parseQuerySyntax>,
  timer: PhaseTimer,
): SearchResult {
  const { allowed, ranked, order, scores, words, fold } = rankedMatches(state, request, syntax, timer)
  timer.phase('documents')
  const matched: Ranked = {
    ids: order,
    scores: scores ?? new Float64Array(order.length).fill(1),
    total: order.length,
  }
  const pages = request.pages
  const offset = pages === undefined ? request.offset : Math.max(0, pages.page - 1) * pages.hitsPerPage
  const limit = pages === undefined ? request.limit : pages.page === 0 ? 0 : pages.hitsPerPage
  // pagination.maxTotalHits: no hit is reached past this rank, and totals stop at it.
  const maxTotalHits = state.settings.pagination.maxTotalHits
  const end = Math.min(order.length, offset + limit, maxTotalHits)
  const hits: Doc[] = []
  let semanticHitCount = 0
  const layout = request.showRankingScoreDetails
    ? detailsLayout(state.settings.rankingRules, request.sort)
    : undefined
  const mode = modeOf(request, syntax.text)
  for (let i = offset; i < end; i++) {
    const id = order[i]!
    const hit = project(state, state.docAt(id)!, request.attributesToRetrieve, request.retrieveVectors)
    if (request.format !== undefined) {
      const { formatted, positions } = formatHit(hit, words, fold, request.format)
      if (formatted !== undefined) hit._formatted = formatted
      if (positions !== undefined) hit._matchesPosition = positions
    }
    const score = scores === undefined ? 1 : scores[i]!
    if (request.showRankingScore) hit._rankingScore = roundScore(score)
    if (layout !== undefined) {
      const doc = state.docAt(id)!
      hit._rankingScoreDetails = rankingDetails(layout, {
        mode,
        semanticRatio: request.semanticRatio,
        score,
        match: words.length > 0 ? matchDetails(doc, words, fold, state.settings.searchableAttributes) : null,
        sortValues: request.sort.map((rule) => sortKey(doc, rule)),
      })
    }
    if (ranked.semanticIds?.has(id)) semanticHitCount++
    hits.push(hit)
  }
  const total = Math.min(order.length, maxTotalHits)
  const result: SearchResult =
    pages === undefined
      ? { hits, query: request.q, processingTimeMs: 0, limit, offset, estimatedTotalHits: total }
      : {
          hits,
          query: request.q,
          processingTimeMs: 0,
          hitsPerPage: pages.hitsPerPage,
          page: pages.page,
          totalPages: pages.hitsPerPage === 0 ? 0 : Math.ceil(total / pages.hitsPerPage),
          totalHits: total,
        }
  if (request.facets !== undefined) {
    timer.phase('facets')
    const { distribution, stats } = facetDistribution(state, request.facets, matched, allowed)
    result.facetDistribution = distribution
    result.facetStats = stats
  }
  if (ranked.semanticIds !== undefined) result.semanticHitCount = semanticHitCount
  return result
}

/** The live documents matching `filter` (all live documents when there is none). */
export function filterDocuments(state: IndexState, filter: CheckedSearch['filter']): Bitset | undefined {
  const node = parseFilter(filter)
  if (node === undefined) return undefined
  return evaluateFilter(node, {
    live: state.live,
    fields: state.fields,
    filterable: state.settings.filterableAttributes,
  })
}

/** Every candidate ranked (the refining path narrows the whole list). */
function rank(
  state: IndexState,
  request: CheckedSearch,
  allowed: Bitset | undefined,
  needAll: boolean,
): Ranked {
  const keyword = request.q.trim() !== '' && request.semanticRatio < 1
  const semantic = request.vector !== undefined && request.semanticRatio > 0
  const candidateCount = allowed === undefined ? state.size : allowed.count()
  if (!keyword && !semantic) {
    const ids = placeholderIds(state, allowed)
    return { ids, scores: undefined, total: ids.length }
  }
  // Never more than the candidates: a limit beyond them asks for nothing more.
  const window = Math.min(candidateCount, needAll ? candidateCount : request.offset + request.limit)
  const allowedIds = allowed?.toArray()
  if (window === 0) return { ids: [], scores: [], total: 0 }
  if (keyword && !semantic) return keywordRank(state, request, allowedIds, window, candidateCount)
  if (semantic && !keyword) {
    const hits = semanticHits(state, request, allowedIds, window, candidateCount)
    return { ids: hits.ids, scores: hits.scores, total: hits.ids.length, semanticIds: new Set(hits.ids) }
  }
  return hybridRank(state, request, allowedIds, window, candidateCount)
}

function keywordRank(
  state: IndexState,
  request: CheckedSearch,
  allowedIds: Uint32Array | undefined,
  window: number,
  candidateCount: number,
): Ranked {
  const hits = keywordHits(state, request, allowedIds, window, undefined)
  const best = hits.scores.length > 0 ? hits.scores[0]! : 1
  const scores = hits.scores.map((s) => (best > 0 ? s / best : 0))
  const estimate = state.text.matchEstimate(request.q)
  const total = keywordTotal(hits.ids.length, window, candidateCount, state.size, estimate)
  return { ids: hits.ids, scores, total }
}

function hybridRank(
  state: IndexState,
  request: CheckedSearch,
  allowedIds: Uint32Array | undefined,
  window: number,
  candidateCount: number,
): Ranked {
  const depth = Math.max(window, HYBRID_MIN_DEPTH)
  const keyword = keywordRank(state, request, allowedIds, depth, candidateCount)
  const semantic = semanticHits(state, request, allowedIds, depth, candidateCount)
  const ratio = request.semanticRatio
  const fused = new Map<number, number>()
  for (let i = 0; i < keyword.ids.length; i++) fused.set(keyword.ids[i]!, (1 - ratio) * keyword.scores![i]!)
  for (let i = 0; i < semantic.ids.length; i++) {
    const id = semantic.ids[i]!
    fused.set(id, (fused.get(id) ?? 0) + ratio * semantic.scores[i]!)
  }
  const keywordIds = new Set<number>(Array.from(keyword.ids))
  const semanticIds = new Set<number>()
  for (const id of semantic.ids) if (!keywordIds.has(id)) semanticIds.add(id)
  const tie = byKey(state)
  const ordered = [...fused.entries()].sort((a, b) => b[1] - a[1] || tie(a[0], b[0]))
  const cut = ordered.slice(0, window)
  return {
    ids: cut.map((e) => e[0]),
    scores: cut.map((e) => e[1]),
    total: Math.max(keyword.total, fused.size),
    semanticIds,
  }
}

/** The hit as returned: displayed attributes ∩ attributesToRetrieve, `_vectors` only on request. */
export function project(
  state: IndexState,
  doc: Doc,
  attributesToRetrieve: string[] | undefined,
  retrieveVectors: boolean,
): Doc {
  const displayed = state.settings.displayedAttributes
  let fields: string[] | undefined
  if (displayed.includes('*')) fields = attributesToRetrieve
  else if (attributesToRetrieve === undefined || attributesToRetrieve.includes('*')) fields = displayed
  else fields = attributesToRetrieve.filter((f) => displayed.some((d) => f === d || f.startsWith(`${d}.`)))
  return pickFields(doc, fields, retrieveVectors ? undefined : '_vectors')
}

function roundScore(score: number): number {
  return Math.round(score * 1e6) / 1e6
}
