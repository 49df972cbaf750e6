/**
 * The merge's part of narrowing a ranked list (search-shard-refine.ts): `last` and `frequency`
 * put the matches holding more leading query words first (a stable reordering: the collection's
 * order within a bucket), then, when the partitions could not decide alone (`mergeNarrows`),
 * `rankingScoreThreshold` on the collection's scores and `distinct` in the collection's order,
 * exactly as one index applies them (search-refine.ts); totals and facets then count the
 * survivors.
 */

import type { ShardFacets, ShardHit, ShardSearchPlan, ShardSearchResult } from '../types.ts'
import { mergeFacets } from './search-facets.ts'
import { mergeNarrows } from './search-shard-refine.ts'

export interface MergedEntry {
  hit: ShardHit
  /** Index of the hit's score in the ranked scores. */
  position: number
}

export interface Narrowed {
  order: MergedEntry[]
  /** Matches left after narrowing, collection-wide. */
  total: number
  /** The survivors' facet counts, when the merge decided which matches survive. */
  facets: ShardFacets | undefined
}

/** `order` (every candidate, in the collection's order) narrowed as one index narrows it. */
export function narrowMerged(
  plan: ShardSearchPlan,
  parts: readonly ShardSearchResult[],
  order: readonly MergedEntry[],
  scores: readonly number[] | undefined,
): Narrowed {
  let rows = order
    .map((entry, at) => ({ entry, at }))
    .sort((a, b) => b.entry.hit.bucket - a.entry.hit.bucket || a.at - b.at)
    .map(({ entry }) => entry)
  if (!mergeNarrows(plan)) {
    let total = 0
    for (const part of parts) total += part.refinedCount ?? 0
    return { order: rows, total, facets: undefined }
  }
  const refine = plan.refine!
  const threshold = refine.rankingScoreThreshold
  if (threshold !== null) {
    rows = rows.filter((entry) => (scores === undefined ? 1 : scores[entry.position]!) >= threshold)
  }
  if (refine.distinct !== null) rows = firstOfEachValue(rows)
  const facets =
    plan.facets === null
      ? undefined
      : mergeFacets(
          plan.facets,
          rows.map((entry) => entry.hit.facets ?? { distribution: {} }),
        )
  return { order: rows, total: rows.length, facets }
}

/** The first hit of each distinct value; hits without one are all kept (search-refine.ts). */
function firstOfEachValue(rows: readonly MergedEntry[]): MergedEntry[] {
  const seen = new Set<string>()
  return rows.filter(({ hit }) => {
    const values = hit.distinctValues ?? []
    if (values.length === 0) return true
    if (values.some((v) => seen.has(v))) return false
    for (const v of values) seen.add(v)
    return true
  })
}
