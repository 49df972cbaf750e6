import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Engine, type Index, open } from '../src/index.ts'
import { removeDir, tempDir } from './helpers.ts'

// Meilisearch's similar documents (reference/api/similar): the nearest neighbours of one
// document's vector, the document itself left out.

const POINTS = [
  { id: 1, kind: 'a', _vectors: { pos: [1, 0] } },
  { id: 2, kind: 'a', _vectors: { pos: [0.9, 0.1] } },
  { id: 3, kind: 'b', _vectors: { pos: [0.6, 0.4] } },
  { id: 4, kind: 'b', _vectors: { pos: [0, 1] } },
  { id: 5, kind: 'a' },
]

describe('similar documents', () => {
  let dir: string
  let engine: Engine
  let points: Index

  beforeAll(async () => {
    dir = await tempDir()
    engine = await open(dir, { sync: 'none' })
    await engine.createIndex('points', {
      primaryKey: 'id',
      settings: {
        embedders: { pos: { source: 'userProvided', dimensions: 2, distance: 'cosine' } },
        filterableAttributes: ['kind'],
      },
    })
    points = engine.index('points')
    await points.addDocuments(POINTS)
  })

  afterAll(async () => {
    await engine.close()
    await removeDir(dir)
  })

  it('ranks the other documents by the distance of their vectors to the document, itself left out', () => {
    const result = points.similar({ id: 1, embedder: 'pos' })
    expect(result.hits.map((h) => h.id)).toEqual([2, 3, 4])
    expect(result.id).toBe('1')
    expect(result.offset).toBe(0)
    expect(result.limit).toBe(20)
  })

  it('pages, filters, projects and scores like a search', () => {
    expect(points.similar({ id: 1, embedder: 'pos', offset: 1, limit: 1 }).hits.map((h) => h.id)).toEqual([3])
    expect(points.similar({ id: 1, embedder: 'pos', filter: 'kind = b' }).hits.map((h) => h.id)).toEqual([
      3, 4,
    ])
    const scored = points.similar({
      id: 4,
      embedder: 'pos',
      attributesToRetrieve: ['id'],
      showRankingScore: true,
    })
    expect(Object.keys(scored.hits[0]!).sort()).toEqual(['_rankingScore', 'id'])
    const scores = scored.hits.map((h) => h._rankingScore as number)
    expect(scores).toEqual([...scores].sort((a, b) => b - a))
    const kept = points.similar({ id: 4, embedder: 'pos', rankingScoreThreshold: scores[0]! })
    expect(kept.hits.map((h) => h.id)).toEqual([scored.hits[0]!.id])
    expect(
      points.similar({ id: 1, embedder: 'pos', limit: 1, retrieveVectors: true }).hits[0]!._vectors,
    ).toEqual({
      pos: [0.9, 0.1],
    })
  })

  it('refuses an unknown document, an invalid id, an unknown embedder and a document without a vector', () => {
    expect(() => points.similar({ id: 99, embedder: 'pos' })).toThrow(
      expect.objectContaining({ code: 'not_found_similar_id', httpStatus: 404 }),
    )
    expect(() => points.similar({ id: 'a b', embedder: 'pos' })).toThrow(
      expect.objectContaining({ code: 'invalid_similar_id' }),
    )
    expect(() => points.similar({ id: 1, embedder: 'nope' })).toThrow(
      expect.objectContaining({ code: 'invalid_similar_embedder' }),
    )
    expect(() => points.similar({ id: 5, embedder: 'pos' })).toThrow(
      expect.objectContaining({ code: 'invalid_similar_id' }),
    )
  })

  it('answers the search fields errors under invalid_similar_* codes', () => {
    expect(() => points.similar({ id: 1, embedder: 'pos', limit: -1 })).toThrow(
      expect.objectContaining({ code: 'invalid_similar_limit' }),
    )
    expect(() => points.similar({ id: 1, embedder: 'pos', filter: 'price > 3' })).toThrow(
      expect.objectContaining({ code: 'invalid_similar_filter' }),
    )
    expect(() => points.similar({ id: 1, embedder: 'pos', rankingScoreThreshold: 2 })).toThrow(
      expect.objectContaining({ code: 'invalid_similar_ranking_score_threshold' }),
    )
  })
})
