/**
 * Ranking one index's candidates: placeholder order, BM25, kNN and their fusion, and `sort`.
 * Everything that ties (equal scores, equal sort values, a placeholder search) is ordered by
 * primary key (document-order.ts), never by internal id, so one index and the merged answer of
 * its partitions agree (distributed search, search-merge.ts).
 *
 * Hybrid fusion is a normalised score blend: the keyword score is divided by the best keyword
 * score of the query, the semantic score is the similarity mapped to [0, 1] (cosine:
 * (1 + cos) / 2; l2: 1 / (1 + d); dot: logistic), and
 * `score = (1 − semanticRatio) · keyword + semanticRatio · semantic`, where a document missing
 * from one list scores 0 on that side; each list holds the best max(window, 20) documents.
 */

import type { Doc, ShardSearchPlan } from '../types.ts'
import type { Bitset } from './bitset.ts'
import { byKey, idsByKey } from './document-order.ts'
import { valuesAt } from './document-path.ts'
import { exactNeighbours, MAX_GRAPH_NEIGHBOURS } from './exact-semantic.ts'
import type { IndexState } from './index-state.ts'
import type { TextQueryStats } from './ports.ts'
import { keyedUntil, pastDeadline, textSearchUntil } from './search-cutoff.ts'
import type { CheckedSearch, SortRule } from './search-params.ts'
import { synonymTerms } from './synonyms.ts'
import { typoBudget, typoExemption } from './typo-policy.ts'

/**
 * A vector search over at most this many candidates scans them exactly instead of asking the
 * graph: cheap at this size, and exact answers are the same in any partitioning.
 */
export const EXACT_VECTOR_CANDIDATES = 4096

/** The least depth of each list a hybrid search fuses. */
export const HYBRID_MIN_DEPTH = 20

export interface Ranked {
  ids: ArrayLike<number>
  scores: ArrayLike<number> | undefined
  total: number
  semanticIds?: Set<number>
}

export interface ScoredIds {
  ids: number[]
  scores: number[]
}

/** Live candidates in primary-key order, the first `k` of them (all when `k` is undefined). */
export function placeholderIds(state: IndexState, allowed: Bitset | undefined, k?: number): number[] {
  const ordered = idsByKey(state)
  const out: number[] = []
  const want = k ?? Number.POSITIVE_INFINITY
  for (let i = 0; i < ordered.length && out.length < want; i++) {
    const id = ordered[i]!
    if (allowed === undefined || allowed.has(id)) out.push(id)
  }
  return out
}

/**
 * The `k` best keyword matches, raw BM25 scores, best first, ties by primary key. The text
 * index breaks ties by internal id, so the search is widened until the last score fetched is
 * below the `k`th: every document tied with the `k`th is then seen.
 */
export function keywordHits(
  state: IndexState,
  request: CheckedSearch,
  allowedIds: Uint32Array | undefined,
  k: number,
  global: TextQueryStats | undefined,
): ScoredIds {
  if (k === 0) return { ids: [], scores: [] }
  const options = {
    ...(allowedIds === undefined ? {} : { allowed: allowedIds }),
    ...(global === undefined ? {} : { global }),
    typos: typoBudget(state.settings),
    typoExempt: typoExemption(state.text, state.settings),
    prefix: state.settings.prefixSearch !== 'disabled',
    synonyms: synonymTerms(state.text, request.q, state.settings.synonyms),
  }
  const most = allowedIds === undefined ? state.size : allowedIds.length
  // One more than asked: when it scores below the kth, no tie with the kth was left out.
  let want = Math.min(k + 1, most)
  const deadline = request.deadline
  let hits = textSearchUntil(state, request.q, Math.max(1, want), options, deadline)
  while (
    hits.ids.length === want &&
    want < most &&
    hits.scores[want - 1] === hits.scores[k - 1] &&
    !pastDeadline(deadline)
  ) {
    want = Math.min(most, want * 2)
    hits = textSearchUntil(state, request.q, want, options, deadline)
  }
  const tie = byKey(state)
  const rows = Array.from(hits.ids, (id, i) => ({ id, score: hits.scores[i]! }))
  rows.sort((a, b) => b.score - a.score || tie(a.id, b.id))
  const top = rows.length > k ? rows.slice(0, k) : rows
  return { ids: top.map((r) => r.id), scores: top.map((r) => r.score) }
}

export interface SemanticHits extends ScoredIds {
  /** The vector port's distances (lower is closer); `scores` are the similarities. */
  distances: number[]
}

/** The `k` nearest candidates, closest first, ties by primary key; exact over few candidates. */
export function semanticHits(
  state: IndexState,
  request: CheckedSearch,
  allowedIds: Uint32Array | undefined,
  k: number,
  candidateCount: number,
): SemanticHits {
  if (k === 0) return { ids: [], scores: [], distances: [] }
  const embedder = request.embedder!
  const distance = state.settings.embedders[embedder]!.distance ?? 'cosine'
  const tie = byKey(state)
  // The graph answers up to MAX_GRAPH_NEIGHBOURS; a wider window (sorting or faceting a large
  // index, a huge limit) and a small candidate set are ranked exactly instead.
  const exact = candidateCount <= EXACT_VECTOR_CANDIDATES || k > MAX_GRAPH_NEIGHBOURS
  const hits = exact
    ? exactNeighbours(
        state,
        embedder,
        distance,
        request.vector!,
        allowedIds ?? state.live.toArray(),
        k,
        tie,
        request.deadline,
      )
    : state.vectorIndex(embedder)!.search(request.vector!, k, allowedIds)
  const rows = Array.from(hits.ids, (id, i) => ({ id, distance: hits.distances[i]! }))
  rows.sort((a, b) => a.distance - b.distance || tie(a.id, b.id))
  return {
    ids: rows.map((r) => r.id),
    distances: rows.map((r) => r.distance),
    scores: rows.map((r) => similarity(distance, r.distance)),
  }
}

export function similarity(distance: string, d: number): number {
  if (distance === 'cosine') return Math.min(1, Math.max(0, 1 - d / 2))
  if (distance === 'l2') return 1 / (1 + Math.sqrt(Math.max(0, d)))
  return 1 / (1 + Math.exp(d))
}

/**
 * How many documents a keyword search matches: exact when fewer than `window` were found,
 * otherwise estimated from the most frequent query term's document frequency scaled to the
 * candidates (never below what was found).
 */
export function keywordTotal(
  found: number,
  window: number,
  candidateCount: number,
  documentCount: number,
  matchEstimate: number,
): number {
  if (found < window) return found
  return Math.max(
    found,
    Math.min(candidateCount, Math.round((matchEstimate * candidateCount) / Math.max(1, documentCount))),
  )
}

export type SortKey = { rank: 0 | 1 | 2; n: number; s: string }

export function sortKey(doc: Doc, rule: SortRule): SortKey {
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

/** Compares two documents' sort keys under `rules[from..to)`; 0 when they tie on every one. */
export function compareSortKeys(
  a: readonly SortKey[],
  b: readonly SortKey[],
  rules: readonly SortRule[],
  from = 0,
  to = rules.length,
): number {
  for (let r = from; r < to; r++) {
    const ka = a[r]!
    const kb = b[r]!
    // Documents without a sortable value come last in both directions.
    if (ka.rank === 2 || kb.rank === 2) {
      if (ka.rank !== kb.rank) return ka.rank === 2 ? 1 : -1
      continue
    }
    const c = compareKeys(ka, kb)
    if (c !== 0) return rules[r]!.descending ? -c : c
  }
  return 0
}

/**
 * Orders two documents as the ranking rules say (settings-ranking.ts): by the keys that outrank
 * relevance, then by `relevance` (negative when `a` is more relevant), then by the keys after
 * it; 0 when they tie on all. With no relevance rule (`relevanceAt` null), keys only.
 */
export function compareRanked(
  a: readonly SortKey[],
  b: readonly SortKey[],
  rules: readonly SortRule[],
  relevanceAt: number | null,
  relevance: number,
): number {
  const split = relevanceAt ?? rules.length
  const before = compareSortKeys(a, b, rules, 0, split)
  if (before !== 0) return before
  if (relevanceAt !== null && relevance !== 0) return relevance
  return compareSortKeys(a, b, rules, split, rules.length)
}

/**
 * `ranked` reordered by `rules` and the relevance's place among them; among ties, ranked order,
 * or primary-key order when relevance does not rank.
 */
export function sortRanked(
  state: IndexState,
  ranked: Ranked,
  rules: SortRule[],
  relevanceAt: number | null,
  deadline?: number,
): { order: number[]; scores: number[] | undefined } {
  // Past the deadline the ids not keyed yet are left out (search-cutoff.ts).
  const rows = keyedUntil(
    ranked.ids,
    (id, position) => ({ id, position, keys: rules.map((rule) => sortKey(state.docAt(id)!, rule)) }),
    deadline,
  )
  const scores = ranked.scores
  const tie = byKey(state)
  rows.sort(
    (a, b) =>
      compareRanked(
        a.keys,
        b.keys,
        rules,
        relevanceAt,
        scores === undefined ? 0 : scores[b.position]! - scores[a.position]!,
      ) || (relevanceAt === null ? tie(a.id, b.id) : a.position - b.position),
  )
  return {
    order: rows.map((row) => row.id),
    scores: scores === undefined ? undefined : rows.map((row) => scores[row.position]!),
  }
}

/**
 * Whether the search ranks every match, not only the best `offset + limit`: it orders by keys
 * (sort, custom ranking rules, no relevance rule), counts facets or pages exactly, or narrows
 * the ranked list (search-shard-refine.ts).
 */
export function completeLists(
  plan: Pick<ShardSearchPlan, 'sort' | 'relevanceAt' | 'facets' | 'pages' | 'refine'>,
): boolean {
  return (
    plan.sort.length > 0 ||
    plan.relevanceAt === null ||
    plan.facets !== null ||
    plan.pages !== null ||
    plan.refine !== null
  )
}
