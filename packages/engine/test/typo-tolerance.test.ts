import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type Engine,
  type Index,
  mergeSearchStats,
  mergeShardResults,
  open,
  type SearchParams,
} from '../src/index.ts'
import { removeDir, tempDir } from './helpers.ts'

// Meilisearch's typoTolerance (reference/api/settings#typo-tolerance): `disableOnWords`,
// `disableOnAttributes` and `disableOnNumbers`, on one index and split over two partitions.

const ANIMALS = [
  { id: 1, name: 'elephant', note: 'grey' },
  { id: 2, name: 'giraffe', note: 'an elephant friend' },
  { id: 3, name: 'counter', note: 'tag 123456' },
  { id: 4, name: 'ledger', note: 'tag 123457' },
]

describe('typoTolerance.disableOn*', () => {
  let dir: string
  let engine: Engine
  let whole: Index
  let parts: Index[]

  const ids = (params: SearchParams) => whole.search(params).hits.map((hit) => hit.id)
  /** Stats → shard → merge over the two partitions, as an index of a cluster searches. */
  const sharded = (params: SearchParams) => {
    const context = mergeSearchStats(parts.map((part) => part.searchStats(params)))
    return mergeShardResults(
      params,
      parts.map((part) => part.searchShard(params, context)),
    )
  }
  const settle = async (update: Parameters<Index['updateSettings']>[0]) => {
    for (const index of [whole, ...parts]) await index.updateSettings(update)
  }

  beforeAll(async () => {
    dir = await tempDir()
    engine = await open(dir, { sync: 'none' })
    await engine.createIndex('whole', { primaryKey: 'id' })
    whole = engine.index('whole')
    await whole.addDocuments(ANIMALS)
    parts = []
    for (const [n, docs] of [
      ANIMALS.filter((a) => a.id % 2 === 0),
      ANIMALS.filter((a) => a.id % 2 === 1),
    ].entries()) {
      await engine.createIndex(`part-${n}`, { primaryKey: 'id' })
      parts.push(engine.index(`part-${n}`))
      await parts[n]!.addDocuments(docs)
    }
  })
  afterAll(async () => {
    await engine?.close()
    await removeDir(dir)
  })

  it('stores the lists sorted and once each, and null resets them', async () => {
    await whole.updateSettings({ typoTolerance: { disableOnWords: ['zeta', 'alpha', 'zeta'] } })
    expect(whole.getSettings().typoTolerance).toEqual({
      enabled: true,
      minWordSizeForTypos: { oneTypo: 5, twoTypos: 9 },
      disableOnWords: ['alpha', 'zeta'],
      disableOnAttributes: [],
      disableOnNumbers: false,
    })
    await whole.updateSettings({ typoTolerance: { disableOnNumbers: true, disableOnWords: null } })
    expect(whole.getSettings().typoTolerance.disableOnWords).toEqual([])
    expect(whole.getSettings().typoTolerance.disableOnNumbers).toBe(true)
    await whole.updateSettings({ typoTolerance: null })
    expect(whole.getSettings().typoTolerance.disableOnNumbers).toBe(false)
  })

  it('refuses lists of anything but non-empty strings, and a non-boolean disableOnNumbers', async () => {
    for (const typoTolerance of [
      { disableOnWords: 'word' },
      { disableOnWords: [''] },
      { disableOnAttributes: [1] },
      { disableOnNumbers: 'yes' },
    ]) {
      await expect(whole.updateSettings({ typoTolerance } as never)).rejects.toMatchObject({
        code: 'invalid_settings_typo_tolerance',
      })
    }
  })

  it('disableOnWords: a listed query word matches only as typed; other words keep their typos', async () => {
    expect(ids({ q: 'elephont' })).toEqual([1, 2])
    await settle({ typoTolerance: { disableOnWords: ['Elephont'] } })
    expect(ids({ q: 'elephont' })).toEqual([])
    expect(sharded({ q: 'elephont' }).hits).toEqual([])
    expect(ids({ q: 'elephent' })).toEqual([1, 2])
    expect(ids({ q: 'elephont', matchingStrategy: 'all', attributesToHighlight: ['*'] })).toEqual([])
    await settle({ typoTolerance: { disableOnWords: null } })
  })

  it('disableOnNumbers: a query number matches only as typed', async () => {
    // A word held as typed is never expanded with typo variants: the query holds a new number.
    expect(ids({ q: '123450' })).toEqual([3, 4])
    expect(ids({ q: 'countr' })).toEqual([3])
    await settle({ typoTolerance: { disableOnNumbers: true } })
    expect(ids({ q: '123450' })).toEqual([])
    expect(sharded({ q: '123450' }).hits).toEqual([])
    expect(ids({ q: '123456' })).toEqual([3])
    expect(ids({ q: 'countr' })).toEqual([3])
    await settle({ typoTolerance: { disableOnNumbers: false } })
  })

  it('disableOnAttributes: no typo match in those attributes, exact words still match there', async () => {
    await settle({ typoTolerance: { disableOnAttributes: ['note'] } })
    expect(ids({ q: 'elephont' })).toEqual([1])
    expect(ids({ q: 'elephant' })).toEqual([1, 2])
    const params: SearchParams = { q: 'elephont giraffe', attributesToHighlight: ['*'] }
    const hits = whole.search(params).hits
    expect(hits.map((hit) => hit.id).sort()).toEqual([1, 2])
    const giraffe = hits.find((hit) => hit.id === 2)!
    expect(giraffe._formatted).toMatchObject({ name: '<em>giraffe</em>', note: 'an elephant friend' })
    const { processingTimeMs: _a, ...expected } = whole.search({ q: 'elephont', showRankingScore: true })
    const { processingTimeMs: _b, ...actual } = sharded({ q: 'elephont', showRankingScore: true })
    expect(actual).toEqual(expected)
    await settle({ typoTolerance: { disableOnAttributes: null } })
    expect(ids({ q: 'elephont' })).toEqual([1, 2])
  })
})
