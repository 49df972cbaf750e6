/**
 * Which of a partition's hybrid candidates can reach the first `pageEnd` places of the merged
 * answer, when the partition's lists are complete (a search that sorts, facets or pages ranks
 * every match) and only the collection's best keyword score B is unknown.
 *
 * A document's fused score is x + y, with x = (1 − ratio) · raw / B and y = ratio · similarity.
 * Whatever B is, a document e comes before d when they have equal sort values, raw(e) ≥ raw(d)
 * (so x(e) ≥ x(d): every step of x rounds monotonically) and y(e) exceeds y(d) by more than
 * the rounding of the two sums (fused scores are below 2, so 1e-15 is more than enough): then
 * fused(e) > fused(d) strictly. A document with better sort values comes first anyway. A
 * document that `pageEnd` others come before cannot be on the page: it is left out, so a
 * partition sends a few hundred candidates, not every match (the exact set is the union of the
 * top `pageEnd` over every B, which this bound contains).
 */

import type { SortRule } from './search-params.ts'
import { compareSortKeys, type SortKey } from './search-rank.ts'

const Y_MARGIN = 1e-15

export interface BoundedRow {
  /** Raw keyword score, 0 outside the keyword list. */
  raw: number
  /** ratio · similarity, 0 outside the semantic list. */
  y: number
  values: SortKey[]
}

export function mayReachPage<T extends BoundedRow>(
  rows: readonly T[],
  rules: readonly SortRule[],
  pageEnd: number,
): T[] {
  if (pageEnd === 0) return []
  const ordered =
    rules.length === 0 ? [...rows] : [...rows].sort((a, b) => compareSortKeys(a.values, b.values, rules))
  const kept: T[] = []
  let before = 0
  for (let start = 0; start < ordered.length && before < pageEnd; ) {
    let end = start + 1
    while (end < ordered.length && compareSortKeys(ordered[start]!.values, ordered[end]!.values, rules) === 0)
      end++
    const group = ordered.slice(start, end)
    const ahead = dominators(group)
    group.forEach((row, i) => {
      if (before + ahead[i]! < pageEnd) kept.push(row)
    })
    before += group.length
    start = end
  }
  return kept
}

/** For each row, how many rows of `group` come before it whatever B is (see the module comment). */
function dominators(group: readonly BoundedRow[]): number[] {
  const ys = [...new Set(group.map((row) => row.y))].sort((a, b) => a - b)
  const tree = new Fenwick(ys.length)
  const order = group.map((_, i) => i).sort((a, b) => group[b]!.raw - group[a]!.raw)
  const counts = new Array<number>(group.length).fill(0)
  let inserted = 0
  for (let start = 0; start < order.length; ) {
    let end = start + 1
    while (end < order.length && group[order[end]!]!.raw === group[order[start]!]!.raw) end++
    // Rows of equal raw score may come before each other: insert them all, then count.
    for (let i = start; i < end; i++) {
      tree.add(lowerBound(ys, group[order[i]!]!.y))
      inserted++
    }
    for (let i = start; i < end; i++) {
      const row = group[order[i]!]!
      counts[order[i]!] = inserted - tree.countBelow(upperBound(ys, row.y + Y_MARGIN))
    }
    start = end
  }
  return counts
}

/** The first index whose value is at least `value`. */
function lowerBound(sorted: readonly number[], value: number): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (sorted[mid]! < value) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** The first index whose value is above `value`. */
function upperBound(sorted: readonly number[], value: number): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (sorted[mid]! <= value) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Counts of inserted ranks, with prefix sums in O(log n). */
class Fenwick {
  readonly #tree: Int32Array

  constructor(size: number) {
    this.#tree = new Int32Array(size + 1)
  }

  add(rank: number): void {
    for (let i = rank + 1; i < this.#tree.length; i += i & -i) this.#tree[i]!++
  }

  /** How many inserted ranks are below `rank`. */
  countBelow(rank: number): number {
    let total = 0
    for (let i = rank; i > 0; i -= i & -i) total += this.#tree[i]!
    return total
  }
}
