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
  ShardHit,
  ShardSearchPlan,
  ShardSearchResult,
} from '../types.ts'
import { Bitset } from './bitset.ts'
import { mayReachPage } from './hybrid-page-bound.ts'
import type { IndexState } from './index-state.ts'
import { hasSyntax, parseQuerySyntax } from './query-syntax.ts'
import { folder, queryWords } from './query-words.ts'
import { filterDocuments, project } from './search.ts'
import { countFacets } from './search-facets.ts'
import { formatHit } from './search-format.ts'
import { type CheckedSearch, checkSearch } from './search-params.ts'
import {
  compareSortKeys,
  HYBRID_MIN_DEPTH,
  keywordHits,
  placeholderIds,
  semanticHits,
  sortKey,
} from './search-rank.ts'
import { hasKeywordPart, statsVersion } from './search-stats.ts'
import { settingsFingerprint } from './settings-fingerprint.ts'

interface Row {
  id: number
  keyword: number | null
  distance: number | null
  similarity: number | null
}

export function searchShard(
  state: IndexState,
  params: SearchParams | undefined,
  context: SearchContext,
): ShardSearchResult {
  const request = checkSearch(params, state.settings)
  const syntax = parseQuerySyntax(request.q, state.text)
  refuseUnsupported(request, hasSyntax(syntax))
  const text = syntax.text
  const plan = planOf(request, text, settingsFingerprint(state.settings), state.settings)
  if ((context.text !== null) !== (plan.mode === 'keyword' || plan.mode === 'hybrid')) {
    throw new ShardedSearchMismatchError('The search context was gathered for another query.')
  }
  const allowed = filterDocuments(state, request.filter)
  const candidateCount = allowed === undefined ? state.size : allowed.count()
  const allowedIds = allowed?.toArray()
  const pageEnd = plan.offset + plan.limit
  const needAll = plan.sort.length > 0 || plan.facets !== null || plan.pages !== null
  const window = Math.min(candidateCount, needAll ? candidateCount : pageEnd)
  const depth = Math.min(candidateCount, needAll ? candidateCount : Math.max(pageEnd, HYBRID_MIN_DEPTH))
  let rows: Row[] = []
  let keywordFound = 0
  let keywordBest: number | null = null
  let semanticFound = 0
  if (plan.mode === 'placeholder') {
    rows = placeholderIds(state, allowed, plan.sort.length > 0 ? undefined : pageEnd).map((id) => row(id))
  } else if (window > 0) {
    const listDepth = plan.mode === 'hybrid' ? depth : window
    if (plan.mode !== 'semantic') {
      const hits = keywordHits(state, { ...request, q: text }, allowedIds, listDepth, context.text!)
      keywordFound = hits.ids.length
      keywordBest = hits.scores[0] ?? null
      rows = hits.ids.map((id, i) => row(id, hits.scores[i]!))
    }
    if (plan.mode !== 'keyword') {
      const hits = semanticHits(state, request, allowedIds, listDepth, candidateCount)
      semanticFound = hits.ids.length
      const byId = new Map(rows.map((r) => [r.id, r]))
      hits.ids.forEach((id, i) => {
        const had = byId.get(id)
        if (had === undefined) rows.push(row(id, null, hits.distances[i]!, hits.scores[i]!))
        else {
          had.distance = hits.distances[i]!
          had.similarity = hits.scores[i]!
        }
      })
    }
  }
  const matched = plan.facets === null ? undefined : matchedSet(state, plan.mode, rows, allowed)
  const hybridCount = plan.mode === 'hybrid' ? rows.length : 0
  const sortValues = (id: number) => plan.sort.map((rule) => sortKey(state.docAt(id)!, rule))
  if (plan.mode !== 'hybrid') {
    if (plan.sort.length > 0) {
      const keyed = rows.map((r, position) => ({ r, position, values: sortValues(r.id) }))
      keyed.sort((a, b) => compareSortKeys(a.values, b.values, plan.sort) || a.position - b.position)
      rows = keyed.map((entry) => entry.r)
    }
    if (rows.length > pageEnd) rows = rows.slice(0, pageEnd)
  } else if (needAll) {
    // Complete lists: send only what can reach the page, whatever the collection's best score.
    const ratio = plan.semanticRatio
    const bounded = rows.map((r) => ({
      r,
      raw: r.keyword ?? 0,
      y: ratio * (r.similarity ?? 0),
      values: sortValues(r.id),
    }))
    rows = mayReachPage(bounded, plan.sort, pageEnd).map((entry) => entry.r)
  }
  const words =
    request.format === undefined || text.trim() === '' ? [] : queryWords(state.text, text, state.settings)
  const fold = folder(state.text)
  const hits: ShardHit[] = rows.map((r) => ({
    key: state.keyAt(r.id)!,
    keyword: r.keyword,
    distance: r.distance,
    similarity: r.similarity,
    sortValues: sortValues(r.id),
    document: hitDocument(state, request, r.id, words, fold),
  }))
  return {
    version: statsVersion(state),
    plan,
    documentCount: state.size,
    candidateCount,
    keywordFound,
    keywordBest,
    semanticFound,
    hybridCount,
    matchEstimate: context.text === null ? 0 : state.text.matchEstimate(text, context.text),
    hits,
    facets: matched === undefined ? null : countFacets(state, plan.facets!, matched),
  }
}

function row(
  id: number,
  keyword: number | null = null,
  distance: number | null = null,
  similarity: number | null = null,
): Row {
  return { id, keyword, distance, similarity }
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
  limits: Pick<Settings, 'pagination' | 'faceting'>,
): ShardSearchPlan {
  const pages = request.pages ?? null
  return {
    q: request.q,
    mode: modeOf(request, text),
    offset: pages === null ? request.offset : Math.max(0, pages.page - 1) * pages.hitsPerPage,
    limit: pages === null ? request.limit : pages.page === 0 ? 0 : pages.hitsPerPage,
    pages,
    sort: request.sort,
    facets: request.facets ?? null,
    semanticRatio: request.semanticRatio,
    showRankingScore: request.showRankingScore,
    settings,
    maxTotalHits: limits.pagination.maxTotalHits,
    faceting: limits.faceting,
  }
}

/** What only one index answers exactly: refused, never answered differently (see the docs). */
export function refuseUnsupported(request: CheckedSearch, querySyntax: boolean): void {
  if (querySyntax) throw new ShardedSearchUnsupportedError('q')
  if (request.matchingStrategy !== undefined) throw new ShardedSearchUnsupportedError('matchingStrategy')
  if (request.attributesToSearchOn !== undefined)
    throw new ShardedSearchUnsupportedError('attributesToSearchOn')
  if (request.rankingScoreThreshold !== undefined)
    throw new ShardedSearchUnsupportedError('rankingScoreThreshold')
  if (request.distinct !== undefined) throw new ShardedSearchUnsupportedError('distinct')
}
