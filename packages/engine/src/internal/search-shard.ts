/**
 * Phase 2 of a distributed search: one partition's candidates for the global answer. Scores are
 * raw (BM25 with the collection's statistics from the context, vector distances), every hit
 * carries its primary key and sort values so that the merge (search-merge.ts) can order
 * candidates from every partition exactly as one index would, and facet counts are exact and
 * untrimmed. What a partition returns:
 *
 *   - placeholder, keyword, semantic: its best `offset + limit` documents in the final order
 *     (sort rules, then score, then primary key); a partition's share of the global page is
 *     always among its own best `offset + limit`;
 *   - hybrid: its whole keyword and semantic lists (each `max(offset + limit, 20)` deep, or every
 *     match when sorting, faceting or paging), because whether a document makes the global
 *     lists, and the keyword normaliser, depend on the other partitions.
 */

import { ShardedSearchMismatchError, ShardedSearchUnsupportedError } from '../errors.ts'
import type {
  Doc,
  SearchContext,
  SearchMode,
  SearchParams,
  Settings,
  ShardFacets,
  ShardHit,
  ShardRefinePlan,
  ShardSearchPlan,
  ShardSearchResult,
} from '../types.ts'
import { Bitset } from './bitset.ts'
import { byKey } from './document-order.ts'
import { mayReachPage } from './hybrid-page-bound.ts'
import type { IndexState } from './index-state.ts'
import type { TextQueryStats } from './ports.ts'
import { parseQuerySyntax, type QuerySyntax } from './query-syntax.ts'
import { folder, queryWords } from './query-words.ts'
import { detailsLayout, matchDetails } from './ranking-details.ts'
import { filterDocuments, project, withoutIdleStrategy } from './search.ts'
import { keyedUntil } from './search-cutoff.ts'
import { countFacets } from './search-facets.ts'
import { formatHit } from './search-format.ts'
import { type CheckedSearch, checkSearch } from './search-params.ts'
import {
  compareRanked,
  completeLists,
  HYBRID_MIN_DEPTH,
  keywordHits,
  placeholderIds,
  type SortKey,
  semanticHits,
  sortKey,
} from './search-rank.ts'
import { distinctValues } from './search-refine.ts'
import {
  facetsByRow,
  mayReachThresholdPage,
  mergeNarrows,
  narrowRows,
  orderRows,
  pruneDistinct,
  type RefineRow,
  refinePlanOf,
  type WordReach,
} from './search-shard-refine.ts'
import { hasKeywordPart, statsVersion } from './search-stats.ts'
import { settingsFingerprint } from './settings-fingerprint.ts'

type Row = RefineRow

interface Ranked {
  rows: Row[]
  keywordFound: number
  keywordBest: number | null
  semanticFound: number
}

/** What a partition sends: its candidates, which of them carry their document, its facets. */
interface Choice {
  rows: Row[]
  /** Per row: whether its document is sent (all when absent). */
  documented: boolean[] | undefined
  facets: ShardFacets | null
  refinedCount: number | null
  /** Each row's own facet counts, when the merge decides which rows the facets count. */
  rowFacets: Map<number, ShardFacets> | undefined
  /** The distinct attribute, when the merge picks one hit per value. */
  distinct: string | null
}

/**
 * `context` is the collection's statistics, or `'local'` when this index is the whole collection
 * (one unsharded index): it then scores with its own, which is what merged statistics of one
 * partition amount to, without gathering them. `reach`: the query words' completions and typo
 * variants found once for every partition held here (search-partitions.ts); the answer is the same.
 */
export function searchShard(
  state: IndexState,
  params: SearchParams | undefined,
  context: SearchContext | 'local',
  reach?: WordReach,
): ShardSearchResult {
  const checked = checkSearch(params, state.settings)
  // A partition times only its own part: the phases of a search over several are not measured.
  if (checked.showPerformanceDetails && context !== 'local')
    throw new ShardedSearchUnsupportedError('showPerformanceDetails')
  const syntax = parseQuerySyntax(checked.q, state.text)
  const text = syntax.text
  // As one index does: `last`/`frequency` on fewer than two words is the plain search.
  const request = withoutIdleStrategy(state, checked, text)
  const plan = planOf(
    request,
    text,
    settingsFingerprint(state.settings),
    state.settings,
    refinePlanOf(request, syntax),
  )
  const keywordPart = plan.mode === 'keyword' || plan.mode === 'hybrid'
  if (context !== 'local' && (context.text !== null) !== keywordPart) {
    throw new ShardedSearchMismatchError('The search context was gathered for another query.')
  }
  const global = context === 'local' ? undefined : (context.text ?? undefined)
  const allowed = filterDocuments(state, request.filter)
  const candidateCount = allowed === undefined ? state.size : allowed.count()
  const ranked = rankCandidates(state, { ...request, q: text }, plan, global, allowed, candidateCount)
  const sortValues = (id: number) => plan.sort.map((rule) => sortKey(state.docAt(id)!, rule))
  const choice =
    plan.refine === null
      ? plainChoice(state, plan, ranked, allowed, sortValues, request.deadline)
      : refinedChoice(state, request, plan, syntax, ranked, global, sortValues, reach)
  const words =
    (request.format === undefined && plan.details === null) || text.trim() === ''
      ? []
      : queryWords(state.text, text, state.settings)
  const fold = folder(state.text)
  const documented = (i: number) => choice.documented?.[i] !== false
  const hits: ShardHit[] = choice.rows.map((r, i) => ({
    key: state.keyAt(r.id)!,
    keyword: r.keyword,
    distance: r.distance,
    similarity: r.similarity,
    sortValues: sortValues(r.id),
    document: documented(i) ? hitDocument(state, request, r.id, words, fold) : null,
    bucket: r.bucket,
    distinctValues: choice.distinct === null ? null : distinctValues(state.docAt(r.id)!, choice.distinct),
    facets: choice.rowFacets?.get(r.id) ?? null,
    match:
      plan.details !== null && words.length > 0 && documented(i)
        ? matchDetails(state.docAt(r.id)!, words, fold, state.settings.searchableAttributes)
        : null,
  }))
  return {
    version: statsVersion(state),
    plan,
    documentCount: state.size,
    candidateCount,
    keywordFound: ranked.keywordFound,
    keywordBest: ranked.keywordBest,
    semanticFound: ranked.semanticFound,
    hybridCount: plan.mode === 'hybrid' ? ranked.rows.length : 0,
    matchEstimate: keywordPart ? state.text.matchEstimate(text, global) : 0,
    refinedCount: choice.refinedCount,
    hits,
    facets: choice.facets,
  }
}

/** A search nothing narrows: the ranked rows that can reach the page, facets over every match. */
function plainChoice(
  state: IndexState,
  plan: ShardSearchPlan,
  ranked: Ranked,
  allowed: Bitset | undefined,
  sortValues: (id: number) => SortKey[],
  deadline: number | undefined,
): Choice {
  const matched = plan.facets === null ? undefined : matchedSet(state, plan.mode, ranked.rows, allowed)
  return {
    rows: pageCandidates(plan, ranked.rows, sortValues, byKey(state), deadline),
    documented: undefined,
    facets: matched === undefined ? null : countFacets(state, plan.facets!, matched),
    refinedCount: null,
    rowFacets: undefined,
    distinct: null,
  }
}

/** A search narrowed after ranking (search-shard-refine.ts). */
function refinedChoice(
  state: IndexState,
  request: CheckedSearch,
  plan: ShardSearchPlan,
  syntax: QuerySyntax,
  ranked: Ranked,
  global: TextQueryStats | undefined,
  sortValues: (id: number) => SortKey[],
  reach: WordReach | undefined,
): Choice {
  const refine = plan.refine!
  const rows = narrowRows(state, request, plan, syntax, ranked.rows, global, ranked.keywordBest, reach)
  const pageEnd = plan.offset + plan.limit
  const ordered =
    plan.mode === 'hybrid' ? rows : orderRows(plan, rows, sortValues, byKey(state), request.deadline)
  if (!mergeNarrows(plan)) {
    const matched = new Bitset(state.live.capacity)
    for (const r of rows) matched.add(r.id)
    return {
      rows: plan.mode === 'hybrid' ? hybridPageRows(plan, rows, sortValues) : ordered.slice(0, pageEnd),
      documented: undefined,
      facets: plan.facets === null ? null : countFacets(state, plan.facets, matched),
      refinedCount: rows.length,
      rowFacets: undefined,
      distinct: null,
    }
  }
  const thresholdLocal =
    refine.rankingScoreThreshold === null || plan.mode === 'placeholder' || plan.mode === 'semantic'
  const sent =
    refine.distinct !== null && plan.mode !== 'hybrid' && thresholdLocal
      ? pruneDistinct(state, ordered, refine.distinct)
      : ordered
  let documented: boolean[] | undefined
  if (pageEnd === 0) documented = sent.map(() => false)
  else if (refine.distinct === null && plan.mode === 'keyword')
    documented = mayReachThresholdPage(sent, pageEnd)
  return {
    rows: sent,
    documented,
    facets: null,
    refinedCount: null,
    rowFacets:
      plan.facets === null
        ? undefined
        : facetsByRow(
            state,
            plan.facets,
            sent.map((r) => r.id),
          ),
    distinct: refine.distinct,
  }
}

/** The partition's ranked lists: as deep as its share of the global answer can reach. */
function rankCandidates(
  state: IndexState,
  request: CheckedSearch,
  plan: ShardSearchPlan,
  global: TextQueryStats | undefined,
  allowed: Bitset | undefined,
  candidateCount: number,
): Ranked {
  const ranked: Ranked = { rows: [], keywordFound: 0, keywordBest: null, semanticFound: 0 }
  const pageEnd = plan.offset + plan.limit
  const needAll = completeLists(plan)
  const window = Math.min(candidateCount, needAll ? candidateCount : pageEnd)
  if (plan.mode === 'placeholder') {
    ranked.rows = placeholderIds(
      state,
      allowed,
      plan.sort.length > 0 || plan.refine !== null ? undefined : pageEnd,
    ).map((id) => row(id))
    return ranked
  }
  if (window === 0) return ranked
  const depth = Math.min(candidateCount, needAll ? candidateCount : Math.max(pageEnd, HYBRID_MIN_DEPTH))
  const listDepth = plan.mode === 'hybrid' ? depth : window
  const allowedIds = allowed?.toArray()
  if (plan.mode !== 'semantic') {
    const hits = keywordHits(state, request, allowedIds, listDepth, global)
    ranked.keywordFound = hits.ids.length
    ranked.keywordBest = hits.scores[0] ?? null
    ranked.rows = hits.ids.map((id, i) => row(id, hits.scores[i]!))
  }
  if (plan.mode !== 'keyword') {
    const hits = semanticHits(state, request, allowedIds, listDepth, candidateCount)
    ranked.semanticFound = hits.ids.length
    const byId = new Map(ranked.rows.map((r) => [r.id, r]))
    hits.ids.forEach((id, i) => {
      const had = byId.get(id)
      if (had === undefined) ranked.rows.push(row(id, null, hits.distances[i]!, hits.scores[i]!))
      else {
        had.distance = hits.distances[i]!
        had.similarity = hits.scores[i]!
      }
    })
  }
  return ranked
}

/** The ranked rows that can be on the global page (see the module comment). */
function pageCandidates(
  plan: ShardSearchPlan,
  rows: Row[],
  sortValues: (id: number) => SortKey[],
  tie: (a: number, b: number) => number,
  deadline: number | undefined,
): Row[] {
  const pageEnd = plan.offset + plan.limit
  if (plan.mode !== 'hybrid') {
    let ordered = rows
    if (plan.sort.length > 0 || plan.relevanceAt === null) {
      const relevance = (a: Row, b: Row): number =>
        plan.mode === 'keyword'
          ? b.keyword! - a.keyword!
          : plan.mode === 'semantic'
            ? a.distance! - b.distance!
            : 0
      // Past the deadline the rows not keyed yet are left out (search-cutoff.ts).
      const keyed = keyedUntil(rows, (r, position) => ({ r, position, values: sortValues(r.id) }), deadline)
      keyed.sort(
        (a, b) =>
          compareRanked(a.values, b.values, plan.sort, plan.relevanceAt, relevance(a.r, b.r)) ||
          (plan.relevanceAt === null ? tie(a.r.id, b.r.id) : a.position - b.position),
      )
      ordered = keyed.map((entry) => entry.r)
    }
    return ordered.length > pageEnd ? ordered.slice(0, pageEnd) : ordered
  }
  if (!completeLists(plan)) return rows
  // Keys ranked after relevance, or no relevance: the bound below does not hold; send everything.
  if (plan.relevanceAt !== plan.sort.length) return rows
  // Complete lists: send only what can reach the page, whatever the collection's best score.
  const ratio = plan.semanticRatio
  const bounded = rows.map((r) => ({
    r,
    raw: r.keyword ?? 0,
    y: ratio * (r.similarity ?? 0),
    values: sortValues(r.id),
  }))
  return mayReachPage(bounded, plan.sort, pageEnd).map((entry) => entry.r)
}

/**
 * The narrowed rows of a hybrid search that can be on the page whatever the collection's best
 * keyword score (hybrid-page-bound.ts), the bucket ranking first; every row when keys rank
 * after the score.
 */
function hybridPageRows(plan: ShardSearchPlan, rows: Row[], sortValues: (id: number) => SortKey[]): Row[] {
  if (plan.relevanceAt !== plan.sort.length) return rows
  const ratio = plan.semanticRatio
  const bounded = rows.map((r) => ({
    r,
    raw: r.keyword ?? 0,
    y: ratio * (r.similarity ?? 0),
    values: [{ rank: 0 as const, n: r.bucket, s: '' }, ...sortValues(r.id)],
  }))
  const rules = [{ attribute: '', descending: true }, ...plan.sort]
  return mayReachPage(bounded, rules, plan.offset + plan.limit).map((entry) => entry.r)
}

function row(
  id: number,
  keyword: number | null = null,
  distance: number | null = null,
  similarity: number | null = null,
): Row {
  return { id, keyword, distance, similarity, bucket: 0 }
}

/** The documents facets count: every candidate of a placeholder search, else every ranked one. */
function matchedSet(state: IndexState, mode: SearchMode, rows: Row[], allowed: Bitset | undefined): Bitset {
  if (mode === 'placeholder') return allowed ?? state.live
  const matched = new Bitset(state.live.capacity)
  for (const r of rows) matched.add(r.id)
  return matched
}

function hitDocument(
  state: IndexState,
  request: CheckedSearch,
  id: number,
  words: ReturnType<typeof queryWords>,
  fold: ReturnType<typeof folder>,
): Doc {
  const hit = project(state, state.docAt(id)!, request.attributesToRetrieve, request.retrieveVectors)
  if (request.format !== undefined) {
    const { formatted, positions } = formatHit(hit, words, fold, request.format)
    if (formatted !== undefined) hit._formatted = formatted
    if (positions !== undefined) hit._matchesPosition = positions
  }
  return hit
}

export function modeOf(request: CheckedSearch, text: string): SearchMode {
  const keyword = hasKeywordPart(request, text)
  const semantic = request.vector !== undefined && request.semanticRatio > 0
  return keyword ? (semantic ? 'hybrid' : 'keyword') : semantic ? 'semantic' : 'placeholder'
}

export function planOf(
  request: CheckedSearch,
  text: string,
  settings: string,
  limits: Pick<Settings, 'pagination' | 'faceting' | 'rankingRules'>,
  refine: ShardRefinePlan | null,
): ShardSearchPlan {
  const pages = request.pages ?? null
  return {
    q: request.q,
    mode: modeOf(request, text),
    offset: pages === null ? request.offset : Math.max(0, pages.page - 1) * pages.hitsPerPage,
    limit: pages === null ? request.limit : pages.page === 0 ? 0 : pages.hitsPerPage,
    pages,
    sort: request.sort,
    relevanceAt: request.relevanceAt,
    facets: request.facets ?? null,
    semanticRatio: request.semanticRatio,
    showRankingScore: request.showRankingScore,
    settings,
    maxTotalHits: limits.pagination.maxTotalHits,
    faceting: limits.faceting,
    refine,
    details: request.showRankingScoreDetails ? detailsLayout(limits.rankingRules, request.sort) : null,
  }
}
