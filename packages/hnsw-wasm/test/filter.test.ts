import { beforeAll, describe, expect, it } from 'vitest'
import { type HnswIndex, InvalidArgumentError } from '../src/index.ts'
import { recall } from './reference/brute-force.ts'
import { buildIndex, type Fixture, fixture, groundTruth, query } from './reference/fixture.ts'

// Filtered search: a narrow filter (<= 5% of ids, or <= 2048 ids) is answered
// exactly over the allowed ids; a wide one by graph traversal in which every
// node routes but only allowed ones become results.
describe('filtered search', () => {
  let data: Fixture
  let index: HnswIndex
  beforeAll(async () => {
    data = fixture(21, 8_000, 32, 40)
    index = await buildIndex(data, { metric: 'cosine' })
  })

  it('returns the exact k best allowed ids when the filter allows 1% of ids (sorted id list)', () => {
    const allowedIds = data.ids.filter((_, i) => i % 100 === 3)
    const allowed = new Set(allowedIds)
    const truth = groundTruth(data, 'cosine', 10, (id) => allowed.has(id))
    for (let q = 0; q < data.queryCount; q++) {
      const result = index.search(query(data, q), 10, { filter: allowedIds, explain: true })
      expect(Array.from(result.ids)).toEqual(truth[q])
      expect(result.stats?.strategy).toBe('exact')
    }
  })

  it('accepts a predicate as the filter', () => {
    const allowed = (id: number) => id % 101 === 0
    const truth = groundTruth(data, 'cosine', 10, allowed)
    const found = index.searchBatch(data.queries, 10, { filter: allowed }).map((r) => r.ids)
    expect(recall(found, truth)).toBe(1)
    for (const ids of found) for (const id of ids) expect(allowed(id)).toBe(true)
  })

  it('keeps recall@10 >= 0.95 with a wide filter answered on the graph', () => {
    const allowed = (id: number) => id % 10 < 3
    const truth = groundTruth(data, 'cosine', 10, allowed)
    const found: Uint32Array[] = []
    for (let q = 0; q < data.queryCount; q++) {
      const result = index.search(query(data, q), 10, { filter: allowed, explain: true })
      expect(result.stats?.strategy).toBe('graph')
      for (const id of result.ids) expect(allowed(id)).toBe(true)
      found.push(result.ids)
    }
    expect(recall(found, truth)).toBeGreaterThanOrEqual(0.95)
  })

  it('leaves no filter behind: an unfiltered search after a filtered one is unaffected', () => {
    const before = index.search(query(data, 0), 10)
    index.search(query(data, 0), 10, { filter: (id) => id % 10 < 5 })
    expect(index.search(query(data, 0), 10)).toEqual(before)
  })

  it('returns fewer than k when fewer ids are allowed, and none for an empty filter', () => {
    const few = index.search(query(data, 1), 10, { filter: [data.ids[0]!, data.ids[1]!, 999_999_999] })
    expect(Array.from(few.ids).sort((a, b) => a - b)).toEqual([data.ids[0], data.ids[1]])
    expect(index.search(query(data, 1), 10, { filter: new Uint32Array(0) }).ids.length).toBe(0)
  })

  it('counts an id listed twice in the filter once', () => {
    const id = data.ids[5]!
    expect(Array.from(index.search(query(data, 2), 10, { filter: [id, id, id] }).ids)).toEqual([id])
  })

  it('rejects a filter that is neither an id list nor a predicate', () => {
    expect(() => index.search(query(data, 2), 10, { filter: 'x' as unknown as number[] })).toThrow(
      InvalidArgumentError,
    )
  })
})
