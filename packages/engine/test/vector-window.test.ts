import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Engine, open } from '../src/index.ts'
import { removeDir, tempDir } from './helpers.ts'

// Regression: the graph answers at most 65,536 neighbours per search, and a
// vector search asking for more (a huge `limit`, or `sort`/`facets` over a
// larger index) failed with an internal error instead of answering.

const COUNT = 70_000

describe('vector searches wider than the graph answers', () => {
  let engine: Engine
  let dir: string

  beforeAll(async () => {
    dir = await tempDir()
    engine = await open(dir, { sync: 'none', snapshotEvery: 0 })
    await engine.createIndex('points', {
      primaryKey: 'id',
      settings: {
        filterableAttributes: ['parity'],
        sortableAttributes: ['rank'],
        embedders: { e: { source: 'userProvided', dimensions: 2, distance: 'l2' } },
        // The windows below reach past Meilisearch's default cap of 1000 hits.
        pagination: { maxTotalHits: 1_000_000 },
      },
    })
    const docs = Array.from({ length: COUNT }, (_, i) => ({
      id: i,
      parity: i % 2 === 0 ? 'even' : 'odd',
      rank: COUNT - i,
      _vectors: { e: [i, 0] },
    }))
    for (let i = 0; i < COUNT; i += 10_000)
      await engine.index('points').addDocuments(docs.slice(i, i + 10_000))
  }, 120_000)

  afterAll(async () => {
    await engine.close()
    await removeDir(dir)
  })

  it('facets a vector search over every document', () => {
    const result = engine.index('points').search({ vector: [0, 0], facets: ['parity'], limit: 3 })
    expect(result.hits.map((h) => h.id)).toEqual([0, 1, 2])
    expect(result.facetDistribution).toEqual({ parity: { even: COUNT / 2, odd: COUNT / 2 } })
  })

  it('sorts a vector search over every document', () => {
    const result = engine.index('points').search({ vector: [0, 0], sort: ['rank:asc'], limit: 2 })
    expect(result.hits.map((h) => h.id)).toEqual([COUNT - 1, COUNT - 2])
  })

  it('answers a limit above 65,536 with every document, nearest first', () => {
    const result = engine.index('points').search({ vector: [10, 0], limit: 100_000, offset: 69_998 })
    expect(result.hits.map((h) => h.id)).toEqual([69_998, 69_999])
  })
})
