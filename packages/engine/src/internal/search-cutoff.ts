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
 * The first slice is always scored, so a search past its deadline still answers its best
 * among those candidates. One slice (one WebAssembly top-k or one graph search) is never
 * interrupted: the cutoff is as fine as a slice.
 */

import type { IndexState } from './index-state.ts'
import type { TextHits, TextSearchOptions } from './ports.ts'

export const CUTOFF_SLICE_IDS = 8192
export const MAX_SLICES = 32

/** When a search that starts now must stop scoring; undefined without a cutoff. */
export function deadlineOf(cutoffMs: number | null): number | undefined {
  return cutoffMs === null ? undefined : performance.now() + cutoffMs
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
