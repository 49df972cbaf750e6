// Flat memory under churn (issue: "replace the same 10k documents 100 times; memory and search
// at the end within 1.2x of a fresh index with the same documents"): internal ids of removed
// documents are reused, so every structure is sized by the documents held, not by every id ever
// issued. Sizes come from `storageStats()`; timings belong to the benchmark. The 100-round run is
// churn.soak.test.ts; this file runs 10 rounds.

import { Rng, testSeed } from '@shoal/testkit/rng'
import { describe, expect, it } from 'vitest'
import { type Churned, expectFlat, fresh, makeDoc, replaceRounds } from './churn-case.ts'

describe('replacing the same documents over and over', () => {
  it('keeps the structures within 1.2x of a fresh index after 10 rounds of 10k replacements', async () => {
    await replaceRounds(10)
  }, 120_000)

  it('reuses ids across deletes and re-adds, and filters never see a removed document', async () => {
    const engine = await fresh()
    const docs = engine.index('docs')
    const rng = new Rng(testSeed(7))
    await docs.addDocuments(Array.from({ length: 100 }, (_, id) => makeDoc(rng, id, 0, 0)))
    await docs.deleteDocuments(Array.from({ length: 50 }, (_, i) => i * 2))
    expect(docs.storageStats()).toMatchObject({ documents: 50, idSpace: 100, freeIds: 50 })
    await docs.addDocuments(Array.from({ length: 50 }, (_, i) => ({ ...makeDoc(rng, 1000 + i, 1, 0) })))
    expect(docs.storageStats()).toMatchObject({ documents: 100, idSpace: 100, freeIds: 0 })
    expect(
      docs
        .search({ filter: 'round = 0', limit: 1000 })
        .hits.map((h) => h.id)
        .sort(),
    ).toEqual(Array.from({ length: 50 }, (_, i) => i * 2 + 1).sort())
    expect(docs.search({ filter: 'round = 1', limit: 1000 }).hits).toHaveLength(50)
    // Deleting the documents at the top of the id space gives it back.
    await docs.deleteDocumentsByFilter('round = 1')
    await docs.deleteDocuments(Array.from({ length: 50 }, (_, i) => i * 2 + 1))
    expect(docs.storageStats()).toMatchObject({ documents: 0, idSpace: 0, freeIds: 0 })
  })

  it('keeps vectors searchable and the graph bounded when batches replace part of the index', async () => {
    const rng = new Rng(testSeed(11))
    const count = 1000
    const churned = await fresh(8)
    const docs = churned.index('docs')
    const current: Churned[] = Array.from({ length: count }, (_, id) => makeDoc(rng, id, 0, 8))
    await docs.addDocuments(current)
    for (let round = 1; round <= 30; round++) {
      const replaced = rng.shuffle(current.slice()).slice(0, 100)
      const next = replaced.map((doc) => makeDoc(rng, doc.id, round, 8))
      await docs.addDocuments(next)
      for (const doc of next) current[doc.id] = doc
    }
    const baseline = await fresh(8)
    await baseline.index('docs').addDocuments(current)
    await churned.whenVectorsIndexed()
    await baseline.whenVectorsIndexed()
    const stats = docs.storageStats()
    const base = baseline.index('docs').storageStats()
    expectFlat(stats, base)
    // New vectors take the graph slots of removed ones, so the graph stays at its live size.
    expect(stats.vectors.v!.documents).toBe(count)
    expect(stats.vectors.v!.documents + stats.vectors.v!.removed).toBeLessThanOrEqual(1.2 * count)
    expect(stats.vectors.v!.bytes).toBeLessThanOrEqual(1.2 * base.vectors.v!.bytes)
    const query = current[17]!._vectors!.v
    const hit = docs.search({ vector: query, hybrid: { embedder: 'v', semanticRatio: 1 }, limit: 1 }).hits[0]
    expect(hit?.id).toBe(17)
  })
})
