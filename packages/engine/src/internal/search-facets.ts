/**
 * Facets of a search: the count of matching documents per value (numbers first, ascending, then
 * strings, or by count, per the `faceting` setting; at most its `maxValuesPerFacet` values per facet) and, for a facet with numeric values, their `min` and
 * `max` among the matches (Meilisearch's `facetStats`).
 *
 * Counting and presenting are apart so that partitions count exactly and untrimmed
 * (`countFacets`), their counts add up (`mergeFacets`), and only the sum is trimmed
 * (`presentFacets`). A string value is counted under its lower-cased form and shown with the
 * first spelling the partition indexed; partitions that learnt different spellings of one value
 * show the smallest in code-unit order.
 */

import type { FacetingSettings, ShardFacets } from '../types.ts'
import { Bitset } from './bitset.ts'
import type { IndexState } from './index-state.ts'
import type { Ranked } from './search-rank.ts'

export interface PresentedFacets {
  distribution: Record<string, Record<string, number>>
  stats: Record<string, { min: number; max: number }>
}

/** Every value's count among `matched`, untrimmed; numbers ascending, strings by spelling. */
export function countFacets(state: IndexState, facets: readonly string[], matched: Bitset): ShardFacets {
  const distribution: ShardFacets['distribution'] = {}
  for (const facet of facets) {
    const field = state.fields.get(facet)
    const numbers: [number, number][] = []
    const strings: [string, string, number][] = []
    if (field !== undefined) {
      for (const [value, ids] of field.numbers) {
        const c = matched.countOf(ids)
        if (c > 0) numbers.push([value, c])
      }
      for (const [key, ids] of field.strings) {
        const c = matched.countOf(ids)
        if (c > 0) strings.push([key, field.spelling.get(key)!, c])
      }
    }
    distribution[facet] = { numbers, strings }
  }
  return { distribution }
}

/** The sum of several partitions' counts (partitions hold disjoint documents). */
export function mergeFacets(facets: readonly string[], parts: readonly ShardFacets[]): ShardFacets {
  const distribution: ShardFacets['distribution'] = {}
  for (const facet of facets) {
    const numbers = new Map<number, number>()
    const strings = new Map<string, [string, number]>()
    for (const part of parts) {
      const counts = part.distribution[facet]
      if (counts === undefined) continue
      for (const [value, c] of counts.numbers) numbers.set(value, (numbers.get(value) ?? 0) + c)
      for (const [key, spelling, c] of counts.strings) {
        const had = strings.get(key)
        if (had === undefined) strings.set(key, [spelling, c])
        else strings.set(key, [firstOf(spelling, had[0]), had[1] + c])
      }
    }
    distribution[facet] = {
      numbers: [...numbers],
      strings: [...strings].map(([key, [spelling, c]]) => [key, spelling, c]),
    }
  }
  return { distribution }
}

/** The facets as answered: ordered and trimmed by the `faceting` setting, with numeric min and max. */
export function presentFacets(
  facets: readonly string[],
  counts: ShardFacets,
  faceting: FacetingSettings,
): PresentedFacets {
  const out: Record<string, Record<string, number>> = {}
  const stats: Record<string, { min: number; max: number }> = {}
  for (const facet of facets) {
    const numbers = [...(counts.distribution[facet]?.numbers ?? [])].sort((a, b) => a[0] - b[0])
    const strings = [...(counts.distribution[facet]?.strings ?? [])].sort((a, b) =>
      a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0,
    )
    if (numbers.length > 0) stats[facet] = { min: numbers[0]![0], max: numbers[numbers.length - 1]![0] }
    // faceting: `alpha` lists numbers ascending then strings; `count` the most frequent first
    // (ties in that order); either way at most maxValuesPerFacet values.
    const listed: [string, number][] = [
      ...numbers.map(([v, c]): [string, number] => [String(v), c]),
      ...strings.map(([, spelling, c]): [string, number] => [spelling, c]),
    ]
    if ((faceting.sortFacetValuesBy[facet] ?? faceting.sortFacetValuesBy['*']) === 'count')
      listed.sort((x, y) => y[1] - x[1])
    const values: Record<string, number> = {}
    let shown = 0
    for (const [value, c] of listed) {
      if (values[value] === undefined && shown++ >= faceting.maxValuesPerFacet) break
      values[value] = (values[value] ?? 0) + c
    }
    out[facet] = values
  }
  return { distribution: out, stats }
}

/** The smaller of two spellings in code-unit order. */
function firstOf(a: string, b: string): string {
  if (a < b) return a
  return b
}

/** The facets of one index's ranked matches (every candidate when unscored). */
export function facetDistribution(
  state: IndexState,
  facets: readonly string[],
  ranked: Ranked,
  allowed: Bitset | undefined,
): PresentedFacets {
  let matched: Bitset
  if (ranked.scores === undefined) matched = allowed ?? state.live
  else {
    matched = new Bitset(state.live.capacity)
    for (let i = 0; i < ranked.ids.length; i++) matched.add(ranked.ids[i]!)
  }
  return presentFacets(facets, countFacets(state, facets, matched), state.settings.faceting)
}
