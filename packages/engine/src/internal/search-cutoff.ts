/**
 * The `searchCutoffMs` setting: a search stops scoring once its deadline has passed and answers
 * with what it has scored. The scans check the deadline between slices of candidates:
 *
 *   - BM25: with a cutoff, the candidates are scored in slices of `CUTOFF_SLICE_IDS` internal
 *     ids, or more so that there are at most `MAX_SLICES` (each slice one exact top-k in the text
 *     index, whose setup costs a pass over the id space), best of all slices kept; slices after
 *     the deadline are not scored. Without a cutoff the whole index is one top-k, as always.
 *   - exact vector scans (exact-semantic.ts): the deadline is checked every `CUTOFF_SLICE_IDS`
 *     candidates.
 *   - reading the hits' text for phrases, exclusions, `matchingStrategy` and
 *     `attributesToSearchOn` (search-refine.ts): checked every 1,024 ranked hits; the hits not
 *     read by then are left out.
 *
   - ordering by sort keys (a `sort`, or ranking rules without relevance) reads every candidate's
 *     document for its keys (search-shard.ts, search-shard-refine.ts, `sortRanked`): the deadline
 *     is checked every `KEYED_ROWS_PER_CHECK` candidates, and the candidates not keyed by then are
 *     left out (a placeholder search keys its candidates in primary-key order, so it answers the
 *     first documents by key, ordered).
 *
 * Without `searchCutoffMs` (null) nothing is cut: the answer does not depend on the machine's
 * speed (Meilisearch's null means 1,500 ms; a time limit by default would make results depend
 * on load, and a sharded answer differ from an unsharded one).
 *
 * The first slice is always scored, so a search past its deadline still answers its best
 * among those candidates. One slice (one WebAssembly top-k or one graph search) is never
 * interrupted: the cutoff is as fine as a slice.
 */

import type { IndexState } from './index-state.ts'
import type { TextHits, TextSearchOptions } from './ports.ts'

export const CUTOFF_SLICE_IDS = 8192
export const MAX_SLICES = 32

/** Candidates keyed for sorting between two deadline checks. */
export const KEYED_ROWS_PER_CHECK = 1024

/** When a search that starts now must stop scoring; undefined without a cutoff. */
export function deadlineOf(cutoffMs: number | null): number | undefined {
  return cutoffMs === null ? undefined : performance.now() + cutoffMs
}

/**
 * `key(row, i)` for the rows in order until `deadline` passes, checked every
 * `KEYED_ROWS_PER_CHECK` rows (the first ones are always keyed): the keyed prefix.
 */
export function keyedUntil<R, K>(
  rows: ArrayLike<R>,
  key: (row: R, i: number) => K,
  deadline: number | undefined,
): K[] {
  const out: K[] = []
  for (let i = 0; i < rows.length; i++) {
    if (i > 0 && i % KEYED_ROWS_PER_CHECK === 0 && pastDeadline(deadline)) break
    out.push(key(rows[i]!, i))
  }
  return out
}

export function pastDeadline(deadline: number | undefined): boolean {
  return deadline !== undefined && performance.now() >= deadline
}

/** `text.search`, slice by slice until the deadline (see the module comment). */
export function textSearchUntil(
  state: IndexState,
  query: string,
  k: number,
  options: TextSearchOptions,
  deadline: number | undefined,
): TextHits {
  const candidates = deadline === undefined ? undefined : (options.allowed ?? state.live.toArray())
  if (candidates === undefined || candidates.length <= CUTOFF_SLICE_IDS) {
    return state.text.search(query, k, options)
  }
  const size = Math.max(CUTOFF_SLICE_IDS, Math.ceil(candidates.length / MAX_SLICES))
  let rows: { id: number; score: number }[] = []
  for (let from = 0; from < candidates.length; from += size) {
    if (from > 0 && pastDeadline(deadline)) break
    const slice = candidates.subarray(from, from + size)
    const hits = state.text.search(query, k, { ...options, allowed: slice })
    for (let i = 0; i < hits.ids.length; i++) rows.push({ id: hits.ids[i]!, score: hits.scores[i]! })
    // The text index's order: best first, equal scores by ascending id.
    rows.sort((a, b) => b.score - a.score || a.id - b.id)
    if (rows.length > k) rows = rows.slice(0, k)
  }
  return {
    ids: Uint32Array.from(rows, (row) => row.id),
    scores: Float32Array.from(rows, (row) => row.score),
  }
}
