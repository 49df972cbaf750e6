import { beforeAll, describe, expect, it } from 'vitest'
import { type HnswIndex, InvalidArgumentError } from '../src/index.ts'
import { buildIndex, type Fixture, fixture, groundTruth, query } from './reference/fixture.ts'

// `exact: true` compares the query with every live vector (the reference at recall 1 that a
// comparison with an exact peer needs), with or without a filter, and follows adds and removes.
describe('exact search', () => {
  let data: Fixture
  let index: HnswIndex
  beforeAll(async () => {
    data = fixture(33, 6_000, 24, 30)
    // A small graph (M 4, efSearch 10) misses some true neighbours, so the test can tell.
    index = await buildIndex(data, { metric: 'cosine', M: 4, efConstruction: 16, efSearch: 10 })
  })

  it('returns the brute-force top 10 for every query, where the graph misses some', () => {
    const truth = groundTruth(data, 'cosine', 10)
    let graphMisses = 0
    for (let q = 0; q < data.queryCount; q++) {
      const exact = index.search(query(data, q), 10, { exact: true, explain: true })
      expect(Array.from(exact.ids)).toEqual(truth[q])
      expect(exact.stats?.strategy).toBe('exact')
      const graph = index.search(query(data, q), 10)
      if (Array.from(graph.ids).join() !== truth[q]!.join()) graphMisses++
    }
    expect(graphMisses).toBeGreaterThan(0)
  })

  it('answers searchBatch exactly too, and a wide filter exactly over the allowed ids', () => {
    const allowed = (id: number) => id % 2 === 1
    const truth = groundTruth(data, 'cosine', 10, allowed)
    const found = index.searchBatch(data.queries, 10, { exact: true, filter: allowed })
    expect(found.map((r) => Array.from(r.ids))).toEqual(truth)
  })

  it('sees vectors added and removed since the last exact search', async () => {
    const small = await buildIndex(fixture(34, 500, 8, 1), { metric: 'l2' })
    const probe = new Float32Array(8).fill(100)
    const before = small.search(probe, 1, { exact: true })
    small.add(1_000_000, probe)
    expect(Array.from(small.search(probe, 1, { exact: true }).ids)).toEqual([1_000_000])
    small.remove(1_000_000)
    expect(Array.from(small.search(probe, 1, { exact: true }).ids)).toEqual(Array.from(before.ids))
  })

  it('refuses an exact flag that is not a boolean', () => {
    expect(() => index.search(query(data, 0), 10, { exact: 1 as unknown as boolean })).toThrow(
      InvalidArgumentError,
    )
  })
})
