/**
 * Phase 3 of a distributed search: the partitions' answers (search-shard.ts) merged into the
 * answer one index holding every document gives. Pure: it reads only the parts. Candidates are
 * ordered exactly as one index orders its documents (search-rank.ts): by score (keyword scores
 * normalised by the best keyword score of the whole collection), then sort values, with the
 * primary key last; totals and facet counts are sums, facets trimmed after the sum. Given fewer
 * parts than partitions (some unreachable), the answer is that of the partitions given: the
 * caller reports the missing ones.
 */

import assert from 'node:assert/strict'
import { ShardedSearchMismatchError } from '../errors.ts'
import type {
  Doc,
  SearchParams,
  SearchResult,
  ShardFacets,
  ShardHit,
  ShardSearchPlan,
  ShardSearchResult,
} from '../types.ts'
import { compareDocumentKeys } from './document-order.ts'
import { rankingDetails } from './ranking-details.ts'
import { mergeFacets, presentFacets } from './search-facets.ts'
import { narrowMerged } from './search-merge-refine.ts'
import { compareRanked, completeLists, HYBRID_MIN_DEPTH, keywordTotal } from './search-rank.ts'
import { defaultSettings } from './settings.ts'

interface Ranked {
  hits: ShardHit[]
  /** Ranking score of each hit, absent for a placeholder search (every score is 1). */
  scores: number[] | undefined
  total: number
  /** Keys of the semantic hits (semantic and hybrid searches). */
  semantic: Set<string> | undefined
}

export function mergeShardResults(
  params: SearchParams | undefined,
  parts: readonly ShardSearchResult[],
): SearchResult {
  return mergeParts(params, parts).result
}

/** The merged answer and its untrimmed facet counts (what a facet search presents). */
export function mergeParts(
  params: SearchParams | undefined,
  parts: readonly ShardSearchResult[],
): { result: SearchResult; counts: ShardFacets | undefined } {
  const plan = parts[0]?.plan ?? fallbackPlan(params)
  const expected = JSON.stringify(plan)
  for (const part of parts) {
    if (JSON.stringify(part.plan) !== expected) {
      throw new ShardedSearchMismatchError(
        'Partitions understood the search differently (settings out of step?).',
      )
    }
  }
  const candidateCount = sum(parts, (p) => p.candidateCount)
  const needAll = completeLists(plan)
  const window = Math.min(candidateCount, needAll ? candidateCount : plan.offset + plan.limit)
  const ranked = rank(plan, parts, window, candidateCount)
  let order = ranked.hits.map((hit, position) => ({ hit, position }))
  if (plan.sort.length > 0 || plan.relevanceAt === null) {
    const scores = ranked.scores
    order.sort(
      (a, b) =>
        compareRanked(
          a.hit.sortValues,
          b.hit.sortValues,
          plan.sort,
          plan.relevanceAt,
          scores === undefined ? 0 : scores[b.position]! - scores[a.position]!,
        ) ||
        (plan.relevanceAt === null ? compareDocumentKeys(a.hit.key, b.hit.key) : a.position - b.position),
    )
  }
  let total = ranked.total
  let narrowedFacets: ShardFacets | undefined
  if (plan.refine !== null) {
    const narrowed = narrowMerged(plan, parts, order, ranked.scores)
    ;({ order, total } = narrowed)
    narrowedFacets = narrowed.facets
  }
  // pagination.maxTotalHits: no hit is reached past this rank, and totals stop at it.
  order = order.slice(plan.offset, Math.min(plan.offset + plan.limit, plan.maxTotalHits))
  total = Math.min(total, plan.maxTotalHits)
  let semanticHitCount = 0
  const hits = order.map(({ hit, position }) => {
    // A partition leaves out only documents that cannot be on the page (search-shard-refine.ts).
    assert(hit.document !== null, 'a partition left out the document of a hit on the page')
    const document: Doc = { ...hit.document }
    const score = ranked.scores === undefined ? 1 : ranked.scores[position]!
    if (plan.showRankingScore) document._rankingScore = roundScore(score)
    if (plan.details !== null) {
      document._rankingScoreDetails = rankingDetails(plan.details, {
        mode: plan.mode,
        semanticRatio: plan.semanticRatio,
        score,
        match: hit.match,
        sortValues: hit.sortValues,
      })
    }
    if (ranked.semantic?.has(hit.key)) semanticHitCount++
    return document
  })
  const pages = plan.pages
  const result: SearchResult =
    pages === null
      ? {
          hits,
          query: plan.q,
          processingTimeMs: 0,
          limit: plan.limit,
          offset: plan.offset,
          estimatedTotalHits: total,
        }
      : {
          hits,
          query: plan.q,
          processingTimeMs: 0,
          hitsPerPage: pages.hitsPerPage,
          page: pages.page,
          totalPages: pages.hitsPerPage === 0 ? 0 : Math.ceil(total / pages.hitsPerPage),
          totalHits: total,
        }
  let counts: ShardFacets | undefined
  if (plan.facets !== null) {
    counts =
      narrowedFacets ??
      mergeFacets(
        plan.facets,
        parts.map((part) => part.facets ?? { distribution: {} }),
      )
    const { distribution, stats } = presentFacets(plan.facets, counts, plan.faceting)
    result.facetDistribution = distribution
    result.facetStats = stats
  }
  if (plan.mode === 'semantic' || plan.mode === 'hybrid') result.semanticHitCount = semanticHitCount
  return { result, counts }
}

function rank(
  plan: ShardSearchPlan,
  parts: readonly ShardSearchResult[],
  window: number,
  candidateCount: number,
): Ranked {
  const all = parts.flatMap((part) => part.hits)
  if (plan.mode === 'placeholder') {
    all.sort((a, b) => compareDocumentKeys(a.key, b.key))
    return { hits: all, scores: undefined, total: candidateCount, semantic: undefined }
  }
  if (window === 0)
    return { hits: [], scores: [], total: 0, semantic: plan.mode === 'keyword' ? undefined : new Set() }
  const documentCount = sum(parts, (p) => p.documentCount)
  const estimate = parts[0]?.matchEstimate ?? 0
  if (plan.mode === 'keyword') {
    const list = keywordList(all, window)
    // A sorted search returns each partition's first hits by sort values, not its best scores.
    const bests = parts.map((p) => p.keywordBest).filter((b) => b !== null)
    const best = bests.length > 0 ? Math.max(...bests) : 1
    const found = Math.min(
      window,
      sum(parts, (p) => p.keywordFound),
    )
    return {
      hits: list,
      scores: list.map((hit) => (best > 0 ? hit.keyword! / best : 0)),
      total: keywordTotal(found, window, candidateCount, documentCount, estimate),
      semantic: undefined,
    }
  }
  if (plan.mode === 'semantic') {
    const list = semanticList(all, window)
    return {
      hits: list,
      scores: list.map((hit) => hit.similarity!),
      total: Math.min(
        window,
        sum(parts, (p) => p.semanticFound),
      ),
      semantic: new Set(list.map((hit) => hit.key)),
    }
  }
  return fuse(plan, parts, all, window, candidateCount, documentCount, estimate)
}

/** Hybrid fusion over the collection's keyword and semantic lists (see search-rank.ts). */
function fuse(
  plan: ShardSearchPlan,
  parts: readonly ShardSearchResult[],
  all: ShardHit[],
  window: number,
  candidateCount: number,
  documentCount: number,
  estimate: number,
): Ranked {
  const depth = Math.max(window, HYBRID_MIN_DEPTH)
  const keyword = keywordList(all, depth)
  const semantic = semanticList(all, depth)
  // Partitions that rank every match send only what may reach the page (hybrid-page-bound.ts):
  // the best score and the size of the fused list come as figures.
  const complete = completeLists(plan)
  const bests = parts.map((p) => p.keywordBest).filter((b) => b !== null)
  const best = bests.length > 0 ? Math.max(...bests) : 1
  const ratio = plan.semanticRatio
  const fused = new Map<string, { hit: ShardHit; score: number }>()
  for (const hit of keyword)
    fused.set(hit.key, { hit, score: (1 - ratio) * (best > 0 ? hit.keyword! / best : 0) })
  for (const hit of semantic) {
    const had = fused.get(hit.key)
    fused.set(hit.key, { hit: had?.hit ?? hit, score: (had?.score ?? 0) + ratio * hit.similarity! })
  }
  const keywordKeys = new Set(keyword.map((hit) => hit.key))
  const semanticKeys = new Set<string>()
  for (const hit of semantic) if (!keywordKeys.has(hit.key)) semanticKeys.add(hit.key)
  const ordered = [...fused.values()]
    .sort((a, b) => b.score - a.score || compareDocumentKeys(a.hit.key, b.hit.key))
    .slice(0, window)
  const found = Math.min(
    depth,
    sum(parts, (p) => p.keywordFound),
  )
  return {
    hits: ordered.map((entry) => entry.hit),
    scores: ordered.map((entry) => entry.score),
    total: Math.max(
      keywordTotal(found, depth, candidateCount, documentCount, estimate),
      complete ? sum(parts, (p) => p.hybridCount) : fused.size,
    ),
    semantic: semanticKeys,
  }
}

function keywordList(all: readonly ShardHit[], depth: number): ShardHit[] {
  return all
    .filter((hit) => hit.keyword !== null)
    .sort((a, b) => b.keyword! - a.keyword! || compareDocumentKeys(a.key, b.key))
    .slice(0, depth)
}

function semanticList(all: readonly ShardHit[], depth: number): ShardHit[] {
  return all
    .filter((hit) => hit.distance !== null)
    .sort((a, b) => a.distance! - b.distance! || compareDocumentKeys(a.key, b.key))
    .slice(0, depth)
}

/** The plan of a search no partition answered: what can be read from the parameters alone. */
function fallbackPlan(params: SearchParams | undefined): ShardSearchPlan {
  const p = params ?? {}
  const defaults = defaultSettings()
  const paged = p.page !== undefined || p.hitsPerPage !== undefined
  const hitsPerPage = p.hitsPerPage ?? 20
  const page = p.page ?? 1
  const pages = paged ? { page, hitsPerPage } : null
  return {
    q: p.q ?? '',
    mode: 'placeholder',
    offset: pages === null ? (p.offset ?? 0) : Math.max(0, page - 1) * hitsPerPage,
    limit: pages === null ? (p.limit ?? 20) : page === 0 ? 0 : hitsPerPage,
    pages,
    sort: [],
    relevanceAt: 0,
    facets: p.facets?.filter((facet) => facet !== '*') ?? null,
    semanticRatio: 0,
    showRankingScore: p.showRankingScore === true,
    settings: '',
    maxTotalHits: defaults.pagination.maxTotalHits,
    faceting: defaults.faceting,
    refine: null,
    details: null,
  }
}

function sum(parts: readonly ShardSearchResult[], of: (part: ShardSearchResult) => number): number {
  let total = 0
  for (const part of parts) total += of(part)
  return total
}

function roundScore(score: number): number {
  return Math.round(score * 1e6) / 1e6
}
