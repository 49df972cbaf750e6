/**
 * Facets of a search: the count of matching documents per value (numbers
 * first, ascending, then strings, or by count: the index's `faceting` setting; at most its
 * `maxValuesPerFacet` values per facet) and, for a
 * facet with numeric values, their `min` and `max` among the matches
 * (Meilisearch's `facetStats`).
 */

import { Bitset } from './bitset.ts'
import type { IndexState } from './index-state.ts'
import type { Ranked } from './search.ts'

export function facetDistribution(
  state: IndexState,
  facets: string[],
  ranked: Ranked,
  allowed: Bitset | undefined,
): {
  distribution: Record<string, Record<string, number>>
  stats: Record<string, { min: number; max: number }>
} {
  let matched: Bitset
  if (ranked.scores === undefined) matched = allowed ?? state.live
  else {
    matched = new Bitset(state.live.capacity)
    for (let i = 0; i < ranked.ids.length; i++) matched.add(ranked.ids[i]!)
  }
  const out: Record<string, Record<string, number>> = {}
  const stats: Record<string, { min: number; max: number }> = {}
  for (const facet of facets) {
    const field = state.fields.get(facet)
    const numbers: [number, number][] = []
    const strings: [string, number][] = []
    if (field !== undefined) {
      for (const [value, ids] of field.numbers) {
        const c = matched.countOf(ids)
        if (c > 0) numbers.push([value, c])
      }
      for (const [key, ids] of field.strings) {
        const c = matched.countOf(ids)
        if (c > 0) strings.push([field.spelling.get(key)!, c])
      }
    }
    numbers.sort((a, b) => a[0] - b[0])
    if (numbers.length > 0) stats[facet] = { min: numbers[0]![0], max: numbers[numbers.length - 1]![0] }
    strings.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    // faceting: `alpha` lists numbers ascending then strings; `count` the most frequent first
    // (ties in that order); either way at most maxValuesPerFacet values.
    const { maxValuesPerFacet, sortFacetValuesBy } = state.settings.faceting
    const listed: [string, number][] = [
      ...numbers.map(([v, c]): [string, number] => [String(v), c]),
      ...strings,
    ]
    if ((sortFacetValuesBy[facet] ?? sortFacetValuesBy['*']) === 'count') listed.sort((a, b) => b[1] - a[1])
    const values: Record<string, number> = {}
    let shown = 0
    for (const [value, c] of listed) {
      if (values[value] === undefined && shown++ >= maxValuesPerFacet) break
      values[value] = (values[value] ?? 0) + c
    }
    out[facet] = values
  }
  return { distribution: out, stats }
}
