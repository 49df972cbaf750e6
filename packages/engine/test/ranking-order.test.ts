import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { SortRule } from '../src/internal/search-params.ts'
import { compareRanked, type SortKey, sortKey } from '../src/internal/search-rank.ts'
import { RELEVANCE_RULES, rankingPlan, rankingRules } from '../src/internal/settings-ranking.ts'

// The order the ranking rules give (docs/ranking-rules.md), checked against a naive oracle that
// walks the rule list itself: each rule compares two documents in turn, the relevance rules as
// one score at the place of the last of them, `sort` as the search's sort rules.

type Candidate = {
  score: number
  price?: number
  year?: number
}

const ATTRIBUTES = ['price', 'year'] as const

/** The oracle: the rule list, read rule by rule. */
function oracle(rules: string[], requested: SortRule[], a: Candidate, b: Candidate): number {
  const lastRelevance = Math.max(...RELEVANCE_RULES.map((rule) => rules.lastIndexOf(rule)))
  const byRule = (rule: SortRule): number => {
    const ka = sortKey(a, rule)
    const kb = sortKey(b, rule)
    if (ka.rank === 2 || kb.rank === 2) return ka.rank === kb.rank ? 0 : ka.rank === 2 ? 1 : -1
    return rule.descending ? kb.n - ka.n : ka.n - kb.n
  }
  for (const [i, rule] of rules.entries()) {
    let c = 0
    if (i === lastRelevance) c = b.score - a.score
    else if (rule === 'sort') for (const r of requested) c ||= byRule(r)
    else if (!RELEVANCE_RULES.includes(rule)) {
      const [attribute, direction] = rule.split(':') as [string, string]
      c = byRule({ attribute, descending: direction === 'desc' })
    }
    if (c !== 0) return Math.sign(c)
  }
  return 0
}

/** What search does: the plan's keys and where relevance stands among them, then compareRanked. */
function searchOrder(rules: string[], requested: SortRule[], a: Candidate, b: Candidate): number {
  const keys: SortRule[] = []
  let relevanceAt: number | null = null
  for (const rule of rankingPlan(rules)) {
    if (rule.kind === 'relevance') relevanceAt = keys.length
    else if (rule.kind === 'sort') keys.push(...requested)
    else keys.push({ attribute: rule.attribute, descending: rule.descending })
  }
  const valuesOf = (c: Candidate): SortKey[] => keys.map((k) => sortKey(c, k))
  return Math.sign(compareRanked(valuesOf(a), valuesOf(b), keys, relevanceAt, b.score - a.score))
}

const candidate = fc.record(
  {
    score: fc.constantFrom(0.5, 1, 2),
    price: fc.integer({ min: 0, max: 3 }),
    year: fc.integer({ min: 0, max: 3 }),
  },
  { requiredKeys: ['score'] },
)

/** Valid rule lists: the relevance block or not, `sort` or not, custom rules, in any order. */
const ruleList = fc
  .record({
    relevance: fc.boolean(),
    sort: fc.boolean(),
    custom: fc
      .subarray([...ATTRIBUTES])
      .chain((names) => fc.tuple(...names.map((name) => fc.constantFrom(`${name}:asc`, `${name}:desc`)))),
    seed: fc.integer(),
  })
  .map(({ relevance, sort, custom, seed }) => {
    const items: string[][] = [...(relevance ? [[...RELEVANCE_RULES]] : []), ...custom.map((c) => [c])]
    if (sort) items.push(['sort'])
    // A seeded shuffle of the blocks (the relevance rules stay one block, in their order).
    let state = seed
    const next = (): number => {
      state = (Math.imul(state, 1103515245) + 12345) | 0
      return state >>> 16
    }
    for (let i = items.length - 1; i > 0; i--) {
      const j = next() % (i + 1)
      ;[items[i], items[j]] = [items[j]!, items[i]!]
    }
    return items.flat()
  })

const requestedSort = fc
  .subarray([...ATTRIBUTES])
  .chain((names) =>
    fc.tuple(
      ...names.map((attribute) => fc.record({ attribute: fc.constant(attribute), descending: fc.boolean() })),
    ),
  )

describe('ranking rules order', () => {
  it('compareRanked over the rules plan orders as walking the rule list does', () => {
    fc.assert(
      fc.property(ruleList, requestedSort, candidate, candidate, (rules, requested, a, b) => {
        expect(rankingRules(rules)).toEqual(rules)
        expect(searchOrder(rules, requested, a, b)).toBe(oracle(rules, requested, a, b))
      }),
      { numRuns: 2000 },
    )
  })

  it("Meilisearch's default list puts the search's sort before the score", () => {
    const rules = ['words', 'typo', 'proximity', 'attribute', 'sort', 'exactness']
    const cheap = { score: 0.5, price: 1 }
    const relevant = { score: 2, price: 3 }
    const byPrice: SortRule[] = [{ attribute: 'price', descending: false }]
    expect(searchOrder(rules, byPrice, cheap, relevant)).toBe(-1)
    expect(searchOrder(rules, [], cheap, relevant)).toBe(1)
  })
})
