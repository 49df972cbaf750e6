import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type Engine, InvalidSearchError, open } from '../src/index.ts'
import { removeDir, tempDir } from './helpers.ts'

let engine: Engine
let dir: string

const DOCS = [
  { id: 1, title: 'red apple pie', kind: 'food', _vectors: { e: [1, 0, 0] } },
  { id: 2, title: 'green apple', kind: 'food', _vectors: { e: [0.9, 0.1, 0] } },
  { id: 3, title: 'red car', kind: 'vehicle', _vectors: { e: [0, 1, 0] } },
  { id: 4, title: 'blue boat', kind: 'vehicle', _vectors: { e: [0, 0.2, 1] } },
  { id: 5, title: 'apple tree', kind: 'plant' },
]

beforeEach(async () => {
  dir = await tempDir()
  engine = await open(dir, { sync: 'none' })
  await engine.createIndex('things', {
    primaryKey: 'id',
    settings: {
      filterableAttributes: ['kind'],
      embedders: { e: { source: 'userProvided', dimensions: 3 } },
    },
  })
  await engine.index('things').addDocuments(DOCS)
})

afterEach(async () => {
  await engine.close()
  await removeDir(dir)
})

describe('vector search', () => {
  it('returns nearest neighbours by cosine, nearest first, without _vectors unless asked', () => {
    const result = engine.index('things').search({ vector: [1, 0.05, 0], limit: 2, showRankingScore: true })
    expect(result.hits.map((h) => h.id)).toEqual([1, 2])
    expect(result.hits[0]!._vectors).toBeUndefined()
    expect(result.hits[0]!._rankingScore).toBeGreaterThan(result.hits[1]!._rankingScore as number)
    expect(result.semanticHitCount).toBe(2)
    const withVectors = engine.index('things').search({ vector: [1, 0, 0], limit: 1, retrieveVectors: true })
    expect(withVectors.hits[0]!._vectors).toEqual({ e: [1, 0, 0] })
  })
  it('applies the filter to vector hits', () => {
    const result = engine.index('things').search({ vector: [0.1, 1, 0], filter: 'kind = vehicle' })
    expect(result.hits.map((h) => h.id)).toEqual([3, 4])
  })
  it('a replaced or deleted document leaves the vector index', async () => {
    const things = engine.index('things')
    await things.addDocuments([{ id: 1, title: 'moved', kind: 'food', _vectors: { e: [0, 0, 1] } }])
    await things.deleteDocument(2)
    const result = things.search({ vector: [1, 0, 0], limit: 5 })
    expect(result.hits.map((h) => h.id)).not.toContain(2)
    // Document 1 now points along z: nearest to z, ahead of 4 ([0, 0.2, 1]).
    expect(things.search({ vector: [0, 0, 1], limit: 2 }).hits.map((h) => h.id)).toEqual([1, 4])
    await engine.whenVectorsIndexed()
    expect(things.search({ vector: [1, 0, 0], limit: 5 }).hits.map((h) => h.id)).not.toContain(2)
    expect(things.search({ vector: [0, 0, 1], limit: 2 }).hits.map((h) => h.id)).toEqual([1, 4])
  })
  it('rejects a query vector of the wrong dimension and an unknown embedder', () => {
    const things = engine.index('things')
    expect(() => things.search({ vector: [1, 0] })).toThrow(
      expect.objectContaining({ code: 'invalid_search_vector' }),
    )
    expect(() => things.search({ vector: [1, 0, 0], hybrid: { embedder: 'nope' } })).toThrow(
      InvalidSearchError,
    )
    expect(() => things.search({ q: 'apple', hybrid: { embedder: 'e' } })).toThrow(
      expect.objectContaining({ code: 'invalid_search_vector' }),
    )
  })
  it('changing the embedder dimensions is refused while documents hold other vectors', async () => {
    await expect(
      engine.index('things').updateSettings({ embedders: { e: { source: 'userProvided', dimensions: 4 } } }),
    ).rejects.toThrow(expect.objectContaining({ code: 'invalid_settings_embedders' }))
  })
})

describe('hybrid search', () => {
  it('semanticRatio 0 is keyword ranking, 1 is vector ranking', () => {
    const things = engine.index('things')
    const keyword = things.search({
      q: 'apple',
      vector: [0, 0, 1],
      hybrid: { embedder: 'e', semanticRatio: 0 },
    })
    expect(keyword.hits.map((h) => h.id).sort()).toEqual([1, 2, 5])
    const semantic = things.search({
      q: 'apple',
      vector: [0, 0, 1],
      hybrid: { embedder: 'e', semanticRatio: 1 },
    })
    expect(semantic.hits[0]!.id).toBe(4)
  })
  it('fuses both rankings: a document strong in both comes first', () => {
    const things = engine.index('things')
    const result = things.search({
      q: 'red',
      vector: [1, 0, 0],
      hybrid: { embedder: 'e', semanticRatio: 0.5 },
      showRankingScore: true,
    })
    expect(result.hits[0]!.id).toBe(1)
    const scores = result.hits.map((h) => h._rankingScore as number)
    expect([...scores].sort((a, b) => b - a)).toEqual(scores)
    expect(result.semanticHitCount).toBeGreaterThan(0)
  })
  it('survives a reopen (vector index restored from the snapshot and the log)', async () => {
    await engine.snapshot()
    await engine
      .index('things')
      .addDocuments([{ id: 6, title: 'late', kind: 'food', _vectors: { e: [0.95, 0, 0.05] } }])
    const before = engine.index('things').search({ vector: [1, 0, 0], limit: 3 })
    await engine.close()
    engine = await open(dir, { sync: 'none' })
    expect(engine.index('things').search({ vector: [1, 0, 0], limit: 3 })).toEqual({
      ...before,
      processingTimeMs: expect.any(Number),
    })
  })
  // Regression (found by the server's HTTP fuzz): 1e-300 is not 0 as a double but is as a
  // 32-bit float; the graph refused it after the write was logged, and the write never settled.
  it('refuses a vector that is zero once stored as 32-bit floats, before anything is logged', async () => {
    await expect(
      engine.index('things').addDocuments([{ id: 9, title: 'tiny', _vectors: { e: [1e-300, 0, -1e-50] } }]),
    ).rejects.toMatchObject({ code: 'invalid_document_fields' })
    expect(engine.index('things').search({ q: 'tiny' }).hits).toEqual([])
    await engine.index('things').addDocuments([{ id: 10, title: 'after' }])
    expect(engine.index('things').getDocument(10)).toEqual({ id: 10, title: 'after' })
  })
})
