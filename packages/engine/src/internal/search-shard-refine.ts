/**
 * Narrowing a partition's ranked matches for a distributed search, exactly as one index narrows
 * its whole ranked list (search-refine.ts): phrases and exclusions in `q`, `matchingStrategy`,
 * `attributesToSearchOn`, `rankingScoreThreshold`, `distinct`. A search with any of them ranks
 * every match on every partition (the plan's lists are complete), then:
 *
 *   - phrases, exclusions, the matching strategy and `attributesToSearchOn` are predicates on one
 *     document (which words it holds, read with the partition's analyser, the same on every
 *     partition); `frequency` takes the words rarest first by the collection's document
 *     frequencies, which the search context holds. A partition decides them alone, and so the
 *     `bucket` (leading words held) that `last` and `frequency` rank by before anything else;
 *   - `rankingScoreThreshold` compares the ranking score, which a partition knows alone for
 *     placeholder searches (1) and semantic ones (the similarity), but not for keyword and hybrid
 *     ones: their keyword score is normalised by the best raw score of the whole collection. The
 *     partition then drops only what fails even under its own best score (a lower bound of the
 *     collection's) and the merge decides the rest;
 *   - `distinct` keeps the first document of each value in the collection's order, which the
 *     merge decides. A partition drops the documents that certainly lose: those holding a value
 *     some earlier document of its own holds alone (whether that one is kept or not, the value is
 *     taken by then). Without a threshold the merge decides, its local order is the global one.
 *
 * When the merge decides which matches survive (`mergeNarrows`), the partition sends every
 * remaining match, with its distinct values and its own facet counts (documents only for those
 * that can be on the page: all under `distinct`, where several values per document leave no
 * bound), and the merge counts the totals and facets over the survivors. Otherwise it sends its
 * first `offset + limit` (for a hybrid search, whose order needs the collection's best keyword
 * score, those that can be on the page whatever that score is: hybrid-page-bound.ts) and its
 * exact count of remaining matches.
 */

import type { Doc, SearchMode, ShardFacets, ShardRefinePlan, ShardSearchPlan } from '../types.ts'
import type { IndexState } from './index-state.ts'
import type { TextQueryStats } from './ports.ts'
import { hasSyntax, type QuerySyntax, satisfies } from './query-syntax.ts'
import { folder, heldWordsOf, type QueryWord, queryWords } from './query-words.ts'
import { keyedUntil } from './search-cutoff.ts'
import type { CheckedSearch } from './search-params.ts'
import { compareRanked, type SortKey } from './search-rank.ts'
import { distinctValues, leadingHeld, wordSequence } from './search-refine.ts'

/** A ranked match of a partition (search-shard.ts) with its `bucket`. */
export interface RefineRow {
  id: number
  keyword: number | null
  distance: number | null
  similarity: number | null
  bucket: number
}

/** The refine part of a partition's plan: null when nothing narrows the ranked list. */
export function refinePlanOf(request: CheckedSearch, syntax: QuerySyntax): ShardRefinePlan | null {
  const refine: ShardRefinePlan = {
    syntax: hasSyntax(syntax),
    matchingStrategy: request.matchingStrategy ?? null,
    attributesToSearchOn: request.attributesToSearchOn ?? null,
    typoAttributes: request.typoAttributes,
    rankingScoreThreshold: request.rankingScoreThreshold ?? null,
    distinct: request.distinct ?? null,
  }
  const narrows =
    refine.syntax ||
    refine.matchingStrategy !== null ||
    refine.attributesToSearchOn !== null ||
    refine.typoAttributes ||
    refine.rankingScoreThreshold !== null ||
    refine.distinct !== null
  return narrows ? refine : null
}

/** Whether the merge decides which matches survive: `distinct`, or a threshold on a normalised score. */
export function mergeNarrows(plan: Pick<ShardSearchPlan, 'mode' | 'refine'>): boolean {
  const refine = plan.refine
  if (refine === null) return false
  if (refine.distinct !== null) return true
  return refine.rankingScoreThreshold !== null && (plan.mode === 'keyword' || plan.mode === 'hybrid')
}

/** Whether a match is ranked only by its vector (never subject to word matching). */
function semanticOnly(mode: SearchMode, row: RefineRow): boolean {
  return mode === 'semantic' || (mode === 'hybrid' && row.keyword === null)
}

/**
 * The partition's matches left after its own narrowing, in ranked order. `global` is the
 * collection's statistics (undefined: this index is the whole collection), `keywordBest` the
 * partition's best raw keyword score before narrowing.
 */
export function narrowRows(
  state: IndexState,
  request: CheckedSearch,
  plan: ShardSearchPlan,
  syntax: QuerySyntax,
  rows: RefineRow[],
  global: TextQueryStats | undefined,
  keywordBest: number | null,
  reach?: WordReach,
): RefineRow[] {
  const refine = plan.refine!
  const fold = folder(state.text)
  const attributes = request.attributesToSearchOn
  let kept = rows
  if (refine.syntax) kept = kept.filter((r) => satisfies(state.docAt(r.id)!, attributes, syntax, fold))
  const analysed = syntax.text.trim() === '' ? [] : queryWords(state.text, syntax.text, state.settings)
  const words = reach === undefined ? analysed : analysed.map((word) => withReach(word, reach))
  const strategy = request.matchingStrategy
  if (words.length > 0 && (strategy !== undefined || attributes !== undefined || refine.typoAttributes)) {
    const sequence = wordSequence(strategy, words, (term) => state.text.matchEstimate(term, global))
    const ranksByWords = strategy === 'last' || strategy === 'frequency'
    const heldBy = heldWordsOf(
      state,
      state.live.capacity,
      attributes,
      refine.typoAttributes,
      words,
      fold,
      kept.length,
    )
    kept = kept.filter((r) => {
      if (semanticOnly(plan.mode, r)) return true
      const held = heldBy(r.id)
      const leading = leadingHeld(sequence, held)
      if (ranksByWords) r.bucket = leading
      if (strategy === 'all') return leading === words.length
      if (strategy === undefined) return held.size > 0
      return leading > 0
    })
  }
  const threshold = refine.rankingScoreThreshold
  if (threshold !== null) kept = kept.filter((r) => mayPass(plan, r, threshold, keywordBest))
  return kept
}

/**
 * The completions and typo variants of query words, found once for several partitions of one
 * collection (search-partitions.ts), by `reachKey`.
 */
export type WordReach = ReadonlyMap<string, readonly string[] | null>

export function reachKey(word: Pick<QueryWord, 'term' | 'prefix' | 'typos'>): string {
  return `${word.term}\u0000${word.prefix}\u0000${word.typos}`
}

function withReach(word: QueryWord, reach: WordReach): QueryWord {
  const terms = reach.get(reachKey(word))
  return terms === undefined ? word : { ...word, reach: terms }
}

/**
 * Whether `row` can reach `threshold`: exactly for placeholder (score 1) and semantic searches;
 * for keyword and hybrid searches, under the partition's best keyword score, which the
 * collection's can only exceed (a larger divisor gives a smaller score, in floating point too).
 */
function mayPass(
  plan: ShardSearchPlan,
  row: RefineRow,
  threshold: number,
  keywordBest: number | null,
): boolean {
  if (plan.mode === 'placeholder') return 1 >= threshold
  if (plan.mode === 'semantic') return row.similarity! >= threshold
  if (keywordBest === null || keywordBest <= 0) return true
  // The merge's expressions (search-merge.ts), with this partition's best as the divisor.
  const keyword = row.keyword === null ? 0 : (1 - plan.semanticRatio) * (row.keyword / keywordBest)
  const score =
    plan.mode === 'keyword' ? row.keyword! / keywordBest : keyword + plan.semanticRatio * row.similarity!
  return score >= threshold
}

/** `rows` in the collection's order (not for hybrid searches): bucket, ranking rules, primary key. */
export function orderRows(
  plan: ShardSearchPlan,
  rows: RefineRow[],
  sortValues: (id: number) => SortKey[],
  tie: (a: number, b: number) => number,
  deadline: number | undefined,
): RefineRow[] {
  const relevance = (a: RefineRow, b: RefineRow): number =>
    plan.mode === 'keyword'
      ? b.keyword! - a.keyword!
      : plan.mode === 'semantic'
        ? a.distance! - b.distance!
        : 0
  // Past the deadline the rows not keyed yet are left out (search-cutoff.ts).
  const keyed = keyedUntil(rows, (r) => ({ r, values: sortValues(r.id) }), deadline)
  keyed.sort(
    (a, b) =>
      b.r.bucket - a.r.bucket ||
      compareRanked(a.values, b.values, plan.sort, plan.relevanceAt, relevance(a.r, b.r)) ||
      tie(a.r.id, b.r.id),
  )
  return keyed.map((entry) => entry.r)
}

/**
 * `ordered` without the documents that certainly lose to an earlier one under `distinct`: a
 * document holding a value that an earlier document holds alone (see the module comment).
 */
export function pruneDistinct(state: IndexState, ordered: RefineRow[], attribute: string): RefineRow[] {
  const taken = new Set<string>()
  return ordered.filter((r) => {
    const values = distinctValues(state.docAt(r.id) as Doc, attribute)
    if (values.some((v) => taken.has(v))) return false
    if (values.length === 1) taken.add(values[0]!)
    return true
  })
}

/**
 * Which of `ordered` (a keyword search's matches in the collection's order, narrowed by a
 * threshold the merge applies) can be among the first `pageEnd` survivors: a match survives only
 * if every match with a raw score at least its own does, so one with `pageEnd` such matches
 * before it never makes the page.
 */
export function mayReachThresholdPage(ordered: RefineRow[], pageEnd: number): boolean[] {
  const raws = [...new Set(ordered.map((r) => r.keyword!))].sort((a, b) => b - a)
  const rankOf = new Map(raws.map((raw, i) => [raw, i + 1]))
  // A Fenwick tree over score ranks (1 = best): how many earlier matches score at least a raw.
  const tree = new Array<number>(raws.length + 1).fill(0)
  const atLeast = (rank: number): number => {
    let n = 0
    for (let i = rank; i > 0; i -= i & -i) n += tree[i]!
    return n
  }
  return ordered.map((r) => {
    const rank = rankOf.get(r.keyword!)!
    const reach = atLeast(rank) < pageEnd
    for (let i = rank; i < tree.length; i += i & -i) tree[i]!++
    return reach
  })
}

/** Each row's own facet counts (what `countFacets` counts, one document at a time). */
export function facetsByRow(
  state: IndexState,
  facets: readonly string[],
  ids: readonly number[],
): Map<number, ShardFacets> {
  const out = new Map<number, ShardFacets>()
  for (const id of ids) {
    const distribution: ShardFacets['distribution'] = {}
    for (const facet of facets) distribution[facet] = { numbers: [], strings: [] }
    out.set(id, { distribution })
  }
  for (const facet of facets) {
    const field = state.fields.get(facet)
    if (field === undefined) continue
    const countsOf = (id: number) => out.get(id)?.distribution[facet]
    for (const [value, holders] of field.numbers) {
      for (const id of holders) countsOf(id)?.numbers.push([value, 1])
    }
    for (const [key, holders] of field.strings) {
      const spelling = field.spelling.get(key)!
      for (const id of holders) countsOf(id)?.strings.push([key, spelling, 1])
    }
  }
  return out
}
