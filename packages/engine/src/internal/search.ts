/**
 * Search over one index: filter → candidates → ranking (placeholder order,
 * BM25, kNN or their fusion) → sort → page → facets → projection.
 *
 * Hybrid fusion is a normalised score blend: the keyword score is divided by
 * the best keyword score of the query, the semantic score is the similarity
 * mapped to [0, 1] (cosine: (1 + cos) / 2; l2: 1 / (1 + d); dot: logistic),
 * and `score = (1 − semanticRatio) · keyword + semanticRatio · semantic`,
 * where a document missing from one list scores 0 on that side. That
 * `_rankingScore` is what `showRankingScore` returns.
 */

import type { Doc, SearchParams, SearchResult } from '../types.ts'
import type { Bitset } from './bitset.ts'
import { pickFields, valuesAt } from './document-path.ts'
import { exactNeighbours, MAX_GRAPH_NEIGHBOURS } from './exact-semantic.ts'
import { evaluateFilter } from './filter/evaluate.ts'
import { parseFilter } from './filter/parse.ts'
import type { IndexState } from './index-state.ts'
import { parseQuerySyntax } from './query-syntax.ts'
import { folder, queryWords } from './query-words.ts'
import { facetDistribution } from './search-facets.ts'
import { formatHit } from './search-format.ts'
import { type CheckedSearch, checkSearch, type SortRule } from './search-params.ts'
import { needsRefinement, refine } from './search-refine.ts'

export interface Ranked {
  ids: ArrayLike<number>
  scores: ArrayLike<number> | undefined
  total: number
  semanticIds?: Set<number>
}

export function search(state: IndexState, params: SearchParams | undefined): SearchResult {
  const started = performance.now()
  const request = checkSearch(params, state.settings)
  const allowed = filterDocuments(state, request.filter)
  const syntax = parseQuerySyntax(request.q, state.text)
  const refining = needsRefinement(request, syntax)
  const needAll =
    request.sort.length > 0 || request.facets !== undefined || request.pages !== undefined || refining
  const ranked = rank(state, { ...request, q: syntax.text }, allowed, needAll)
  let order = ranked.ids
  let scores = ranked.scores
  if (request.sort.length > 0) ({ order, scores } = sortRanked(state, ranked, request.sort))
  // Reading the hits' words is only needed to refine or format them.
  const readsWords = refining || request.format !== undefined
  const words =
    !readsWords || syntax.text.trim() === '' ? [] : queryWords(state.text, syntax.text, state.settings)
  const fold = folder(state.text)
  let matched: Ranked = ranked
  if (refining) {
    ;({ order, scores } = refine(state, request, { order, scores }, ranked.semanticIds, words, fold, syntax))
    matched = { ids: order, scores: scores ?? new Float64Array(order.length).fill(1), total: order.length }
  }
  const pages = request.pages
  const offset = pages === undefined ? request.offset : Math.max(0, pages.page - 1) * pages.hitsPerPage
  const limit = pages === undefined ? request.limit : pages.page === 0 ? 0 : pages.hitsPerPage
  // pagination.maxTotalHits: no hit is reached past this rank, and totals stop at it.
  const maxTotalHits = state.settings.pagination.maxTotalHits
  const end = Math.min(order.length, offset + limit, maxTotalHits)
  const hits: Doc[] = []
  let semanticHitCount = 0
  for (let i = offset; i < end; i++) {
    const id = order[i]!
    const hit = project(state, state.docAt(id)!, request.attributesToRetrieve, request.retrieveVectors)
    if (request.format !== undefined) {
      const { formatted, positions } = formatHit(hit, words, fold, request.format)
      if (formatted !== undefined) hit._formatted = formatted
      if (positions !== undefined) hit._matchesPosition = positions
    }
    if (request.showRankingScore) hit._rankingScore = scores === undefined ? 1 : roundScore(scores[i]!)
    if (ranked.semanticIds?.has(id)) semanticHitCount++
    hits.push(hit)
  }
  const total = Math.min(refining ? order.length : ranked.total, maxTotalHits)
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
    const { distribution, stats } = facetDistribution(state, request.facets, matched, allowed)
    result.facetDistribution = distribution
    result.facetStats = stats
  }
  if (ranked.semanticIds !== undefined) result.semanticHitCount = semanticHitCount
  result.processingTimeMs = Math.round(performance.now() - started)
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

function rank(
  state: IndexState,
  request: CheckedSearch,
  allowed: Bitset | undefined,
  needAll: boolean,
): Ranked {
  const keyword = request.q.trim() !== '' && request.semanticRatio < 1
  const semantic = request.vector !== undefined && request.semanticRatio > 0
  const candidates = allowed ?? state.live
  const candidateCount = allowed === undefined ? state.size : allowed.count()
  if (!keyword && !semantic) {
    const ids = candidates.toArray()
    return { ids, scores: undefined, total: ids.length }
  }
  // Never more than the candidates: a limit beyond them asks for nothing more.
  const window = Math.min(candidateCount, needAll ? candidateCount : request.offset + request.limit)
  const allowedIds = allowed?.toArray()
  if (window === 0) return { ids: [], scores: [], total: 0 }
  if (keyword && !semantic) return keywordRank(state, request, allowedIds, window, candidateCount)
  if (semantic && !keyword) {
    const hits = semanticRank(state, request, allowedIds, window)
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
  const hits = keywordHits(state, request, allowedIds, window)
  const best = hits.scores.length > 0 ? hits.scores[0]! : 1
  const scores = Float64Array.from(hits.scores, (s) => (best > 0 ? s / best : 0))
  // A full window means more matches than were ranked: estimate them from the
  // most frequent query term's document frequency, scaled to the candidates.
  const total =
    hits.ids.length < window
      ? hits.ids.length
      : Math.max(
          hits.ids.length,
          Math.min(
            candidateCount,
            Math.round((state.text.matchEstimate(request.q) * candidateCount) / Math.max(1, state.size)),
          ),
        )
  return { ids: hits.ids, scores, total }
}

function keywordHits(
  state: IndexState,
  request: CheckedSearch,
  allowedIds: Uint32Array | undefined,
  window: number,
) {
  const tolerance = state.settings.typoTolerance
  const typos = tolerance.enabled ? tolerance.minWordSizeForTypos : 0
  return state.text.search(request.q, window, {
    ...(allowedIds === undefined ? {} : { allowed: allowedIds }),
    typos,
    prefix: true,
  })
}

function semanticRank(
  state: IndexState,
  request: CheckedSearch,
  allowedIds: Uint32Array | undefined,
  window: number,
): { ids: Uint32Array; scores: Float64Array } {
  const embedder = request.embedder!
  const index = state.vectorIndex(embedder)!
  const distance = state.settings.embedders[embedder]!.distance ?? 'cosine'
  // The graph answers up to MAX_GRAPH_NEIGHBOURS; a wider window (sorting or
  // faceting a large index, a huge limit) is ranked exactly instead.
  const hits =
    window <= MAX_GRAPH_NEIGHBOURS
      ? index.search(request.vector!, window, allowedIds)
      : exactNeighbours(
          state,
          embedder,
          distance,
          request.vector!,
          allowedIds ?? state.live.toArray(),
          window,
        )
  const scores = Float64Array.from(hits.distances, (d) => similarity(distance, d))
  return { ids: hits.ids, scores }
}

function similarity(distance: string, d: number): number {
  if (distance === 'cosine') return Math.min(1, Math.max(0, 1 - d / 2))
  if (distance === 'l2') return 1 / (1 + Math.sqrt(Math.max(0, d)))
  return 1 / (1 + Math.exp(d))
}

function hybridRank(
  state: IndexState,
  request: CheckedSearch,
  allowedIds: Uint32Array | undefined,
  window: number,
  candidateCount: number,
): Ranked {
  const depth = Math.max(window, 20)
  const keyword = keywordRank(state, request, allowedIds, depth, candidateCount)
  const semantic = semanticRank(state, request, allowedIds, depth)
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
  const ordered = [...fused.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])
  const cut = ordered.slice(0, window)
  return {
    ids: cut.map((e) => e[0]),
    scores: cut.map((e) => e[1]),
    total: Math.max(keyword.total, fused.size),
    semanticIds,
  }
}

type SortKey = { rank: 0 | 1 | 2; n: number; s: string }

function sortKey(doc: Doc, rule: SortRule): SortKey {
  let best: SortKey = { rank: 2, n: 0, s: '' }
  for (const value of valuesAt(doc, rule.attribute)) {
    let key: SortKey | undefined
    if (typeof value === 'number' && Number.isFinite(value)) key = { rank: 0, n: value, s: '' }
    else if (typeof value === 'string') key = { rank: 1, n: 0, s: value.toLowerCase() }
    else if (typeof value === 'boolean') key = { rank: 1, n: 0, s: value ? 'true' : 'false' }
    if (key === undefined) continue
    // Ascending takes an array's smallest value, descending its largest.
    const better = rule.descending
      ? compareKeys(key, best) > 0 || best.rank === 2
      : compareKeys(key, best) < 0
    if (better) best = key
  }
  return best
}

function compareKeys(a: SortKey, b: SortKey): number {
  if (a.rank !== b.rank) return a.rank - b.rank
  if (a.rank === 0) return a.n - b.n
  return a.s < b.s ? -1 : a.s > b.s ? 1 : 0
}

function sortRanked(
  state: IndexState,
  ranked: Ranked,
  rules: SortRule[],
): { order: number[]; scores: number[] | undefined } {
  const rows = Array.from(ranked.ids, (id, position) => ({
    id,
    position,
    keys: rules.map((rule) => sortKey(state.docAt(id)!, rule)),
  }))
  rows.sort((a, b) => {
    for (let r = 0; r < rules.length; r++) {
      const ka = a.keys[r]!
      const kb = b.keys[r]!
      // Documents without a sortable value come last in both directions.
      if (ka.rank === 2 || kb.rank === 2) {
        if (ka.rank !== kb.rank) return ka.rank === 2 ? 1 : -1
        continue
      }
      const c = compareKeys(ka, kb)
      if (c !== 0) return rules[r]!.descending ? -c : c
    }
    return a.position - b.position
  })
  const scores = ranked.scores
  return {
    order: rows.map((row) => row.id),
    scores: scores === undefined ? undefined : rows.map((row) => scores[row.position]!),
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
