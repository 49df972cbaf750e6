/**
 * What narrows a ranked result after ranking, in Meilisearch's order:
 * phrases and exclusions (query-syntax.ts), the matching strategy and `attributesToSearchOn` (read from the hits
 * themselves, see query-words.ts), then `rankingScoreThreshold`, then
 * `distinct`. Each keeps the ranked order; `last` and `frequency` put the
 * documents holding more of the query first (Meilisearch's `words` rule
 * comes before relevance).
 *
 *   - `all`: only documents holding every query word;
 *   - `last`: documents holding at least the first word, grouped by how many
 *     leading words they hold (all words first);
 *   - `frequency`: the same with the words taken rarest first;
 *   - absent: every document the text index returned (any word), in BM25 order.
 *
 * A word found only through a typo in an attribute of `typoTolerance.disableOnAttributes` is not
 * held there (query-words.ts): the text index scores typo variants in every attribute alike, so
 * such documents are dropped here.
 *
 * Semantic hits of a hybrid search are not subject to word matching.
 */

import type { Doc } from '../types.ts'
import { valuesAt } from './document-path.ts'
import type { IndexState } from './index-state.ts'
import { hasSyntax, type QuerySyntax, satisfies } from './query-syntax.ts'
import { type Fold, heldWordsOf, type QueryWord } from './query-words.ts'
import { pastDeadline } from './search-cutoff.ts'
import type { CheckedSearch } from './search-params.ts'

export interface Ordered {
  order: ArrayLike<number>
  scores: ArrayLike<number> | undefined
}

export function needsRefinement(request: CheckedSearch, syntax: QuerySyntax): boolean {
  return (
    hasSyntax(syntax) ||
    request.matchingStrategy !== undefined ||
    request.attributesToSearchOn !== undefined ||
    request.typoAttributes ||
    request.rankingScoreThreshold !== undefined ||
    request.distinct !== undefined
  )
}

export function refine(
  state: IndexState,
  request: CheckedSearch,
  ranked: Ordered,
  semanticIds: Set<number> | undefined,
  words: QueryWord[],
  fold: Fold,
  syntax: QuerySyntax,
): { order: number[]; scores: number[] | undefined } {
  let rows = Array.from(ranked.order, (id, i) => ({ id, score: ranked.scores?.[i], bucket: 0 }))
  const deadline = request.deadline
  if (hasSyntax(syntax)) {
    rows = filterInTime(
      rows,
      (row) =>
        satisfies(
          state.docAt(row.id)!,
          request.attributesToSearchOn,
          syntax,
          fold,
          state.settings.proximityPrecision,
        ),
      deadline,
    )
  }
  const byWords =
    words.length > 0 &&
    (request.matchingStrategy !== undefined ||
      request.attributesToSearchOn !== undefined ||
      request.typoAttributes)
  if (byWords) {
    const sequence = wordSequence(request.matchingStrategy, words, (term) => state.text.matchEstimate(term))
    const heldBy = heldWordsOf(
      state,
      state.live.capacity,
      request.attributesToSearchOn,
      request.typoAttributes,
      words,
      fold,
      rows.length,
    )
    rows = filterInTime(
      rows,
      (row) => {
        if (semanticIds?.has(row.id)) return true
        const held = heldBy(row.id)
        row.bucket = leadingHeld(sequence, held)
        if (request.matchingStrategy === 'all') return row.bucket === words.length
        if (request.matchingStrategy === undefined) return held.size > 0
        return row.bucket > 0
      },
      deadline,
    )
    if (request.matchingStrategy === 'last' || request.matchingStrategy === 'frequency') {
      rows = rows
        .map((row, position) => ({ row, position }))
        .sort((a, b) => b.row.bucket - a.row.bucket || a.position - b.position)
        .map((entry) => entry.row)
    }
  }
  const threshold = request.rankingScoreThreshold
  if (threshold !== undefined) rows = rows.filter((row) => (row.score ?? 1) >= threshold)
  if (request.distinct !== undefined) rows = distinctRows(state, rows, request.distinct)
  return {
    order: rows.map((row) => row.id),
    scores: ranked.scores === undefined ? undefined : rows.map((row) => row.score!),
  }
}

/** Rows read between two deadline checks. */
const ROWS_PER_CHECK = 1024

/**
 * The rows `keep` accepts, in order, read until `searchCutoffMs` passes (search-cutoff.ts): the
 * rows not read by then are left out, so a search past its cutoff answers its best-ranked rows
 * that were checked.
 */
function filterInTime<T>(rows: T[], keep: (row: T) => boolean, deadline: number | undefined): T[] {
  if (deadline === undefined) return rows.filter(keep)
  const kept: T[] = []
  for (let i = 0; i < rows.length; i++) {
    if (i > 0 && i % ROWS_PER_CHECK === 0 && pastDeadline(deadline)) break
    if (keep(rows[i]!)) kept.push(rows[i]!)
  }
  return kept
}

/**
 * Query words in the order they are kept: as typed (`last`), or rarest first (`frequency`, by
 * `frequencyOf`: the index's document frequency of a word, the collection's on a partition).
 */
export function wordSequence(
  strategy: CheckedSearch['matchingStrategy'],
  words: QueryWord[],
  frequencyOf: (term: string) => number,
): number[] {
  const indices = words.map((_, i) => i)
  if (strategy !== 'frequency') return indices
  const frequency = words.map((w) => frequencyOf(w.term))
  return indices.sort((a, b) => frequency[a]! - frequency[b]! || a - b)
}

export function leadingHeld(sequence: number[], held: Set<number>): number {
  let n = 0
  while (n < sequence.length && held.has(sequence[n]!)) n++
  return n
}

/** The first document of each value of `attribute`; documents without it are all kept. */
function distinctRows<T extends { id: number }>(state: IndexState, rows: T[], attribute: string): T[] {
  const seen = new Set<string>()
  return rows.filter((row) => {
    const values = distinctValues(state.docAt(row.id)!, attribute)
    if (values.length === 0) return true
    if (values.some((v) => seen.has(v))) return false
    for (const v of values) seen.add(v)
    return true
  })
}

/**
 * A document's values of the distinct attribute, each once: strings compared without case,
 * numbers and booleans by value (other values are not distinct values).
 */
export function distinctValues(doc: Doc, attribute: string): string[] {
  const values = new Set<string>()
  for (const v of valuesAt(doc, attribute)) {
    if (typeof v === 'string') values.add(`s:${v.toLowerCase()}`)
    else if (typeof v === 'number' || typeof v === 'boolean') values.add(`${typeof v}:${String(v)}`)
  }
  return [...values]
}
