/**
 * The candidates a partition sends for a hybrid search that ranks every match
 * (src/internal/hybrid-page-bound.ts) contain its share of the page for every possible best
 * keyword score B of the collection: checked against the brute-force order for random rows,
 * ratios, sort values and B.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { mayReachPage } from '../src/internal/hybrid-page-bound.ts'
import { compareSortKeys, type SortKey } from '../src/internal/search-rank.ts'

interface TestRow {
  key: number
  raw: number
  similarity: number
  y: number
  values: SortKey[]
}

const row = fc.record({
  raw: fc.constantFrom(0, 0.5, 1.25, 3, 3, 7.5),
  similarity: fc.constantFrom(0, 0.2, 0.2, 0.61, 0.9),
  sortValue: fc.constantFrom(0, 1, 2, -1),
})

describe('hybrid page bound', () => {
  it('keeps every row that is on the page under some best keyword score', () => {
    fc.assert(
      fc.property(
        fc.array(row, { maxLength: 60 }),
        fc.constantFrom(0.1, 0.5, 0.9),
        fc.integer({ min: 0, max: 25 }),
        fc.boolean(),
        fc.constantFrom(7.5, 9, 40, 1e6),
        (drawn, ratio, pageEnd, sorted, best) => {
          const rules = sorted ? [{ attribute: 'n', descending: false }] : []
          const rows: TestRow[] = drawn.map((d, key) => ({
            key,
            raw: d.raw,
            similarity: d.similarity,
            y: ratio * d.similarity,
            values: sorted
              ? [d.sortValue < 0 ? { rank: 2, n: 0, s: '' } : { rank: 0, n: d.sortValue, s: '' }]
              : [],
          }))
          // The merge's fused score and order (search-merge.ts).
          const fused = (r: TestRow) => (1 - ratio) * (r.raw / best) + ratio * r.similarity
          const page = [...rows]
            .sort(
              (a, b) => compareSortKeys(a.values, b.values, rules) || fused(b) - fused(a) || a.key - b.key,
            )
            .slice(0, pageEnd)
          const kept = new Set(mayReachPage(rows, rules, pageEnd).map((r) => r.key))
          for (const r of page) expect(kept.has(r.key)).toBe(true)
        },
      ),
      { seed: 20261207, numRuns: 400 },
    )
  })

  it('sends far fewer rows than it ranks when many are beaten', () => {
    const rows = Array.from({ length: 1000 }, (_, i) => ({
      raw: 1000 - i,
      y: 0.5 * ((1000 - i) / 1000),
      values: [],
    }))
    expect(mayReachPage(rows, [], 10)).toHaveLength(10)
  })
})
