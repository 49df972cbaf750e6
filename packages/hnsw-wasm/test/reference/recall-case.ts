import { expect } from 'vitest'
import type { Metric } from '../../src/index.ts'
import { recall } from './brute-force.ts'
import { buildIndex, fixture, groundTruth, query } from './fixture.ts'

/**
 * Recall@10 against brute force at default settings (M 16, efConstruction
 * 200, efSearch 64) on a seeded 128-dimensional Gaussian mixture of 20k
 * vectors. One file per metric, so the three builds can run in parallel.
 */
export async function expectDefaultRecall(metric: Metric): Promise<void> {
  const data = fixture(11, 20_000, 128, 50)
  const index = await buildIndex(data, { metric })
  expect(index.size).toBe(20_000)
  const truth = groundTruth(data, metric, 10)
  const found = index.searchBatch(data.queries, 10).map((r) => r.ids)
  expect(recall(found, truth)).toBeGreaterThanOrEqual(0.95)
  // Single-query search answers exactly as the batch does.
  for (let q = 0; q < 5; q++) expect(index.search(query(data, q), 10).ids).toEqual(found[q])
}
