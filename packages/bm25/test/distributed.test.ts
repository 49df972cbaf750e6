import { describe, expect, it } from 'vitest'
import {
  Bm25Index,
  type CollectionStats,
  candidateTerms,
  mergeQueryCandidates,
  mergeStats,
} from '../src/index.ts'
import { wordSource } from './helpers.ts'

function seeded(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state / 2 ** 32
  }
}

const fields = { title: { boost: 2 }, body: {} }

describe('distributed IDF (issue: 4 shards searched with merged stats equal one index)', () => {
  it('scores every document as the unsharded index does, so merged shard results equal its results', async () => {
    const random = seeded(7)
    const word = wordSource(random, 300)
    const text = (n: number) => Array.from({ length: n }, word).join(' ')
    const whole = await Bm25Index.create({ fields })
    const shards = await Promise.all([0, 1, 2, 3].map(() => Bm25Index.create({ fields })))
    for (let id = 0; id < 2000; id++) {
      const doc = { title: text(1 + Math.floor(random() * 4)), body: text(Math.floor(random() * 30)) }
      whole.add(id, doc)
      shards[id % 4]!.add(id, doc)
    }
    for (let q = 0; q < 40; q++) {
      const query = text(1 + Math.floor(random() * 3))
      const k = 10
      // Coordinator: gather every shard's query terms, then their statistics, and merge.
      const terms = new Set<string>()
      for (const shard of shards)
        for (const t of shard.expandQuery(query, { prefix: false })) terms.add(t.term)
      const stats: CollectionStats = mergeStats(shards.map((shard) => shard.stats([...terms])))
      const merged = shards
        .flatMap((shard) => {
          const r = shard.search(query, k, { prefix: false, stats })
          return [...r.ids].map((id, i) => ({ id, score: r.scores[i]! }))
        })
        .sort((a, b) => b.score - a.score || a.id - b.id)
        .slice(0, k)
      const expected = whole.search(query, k, { prefix: false })
      expect(merged.map((r) => r.id)).toEqual([...expected.ids])
      merged.forEach((r, i) => {
        expect(r.score).toBeCloseTo(expected.scores[i]!, 5)
      })
    }
  })

  it('chooses prefix and typo expansions from the merged dictionaries, so shards score bit for bit like one index', async () => {
    const random = seeded(11)
    const word = wordSource(random, 400)
    const text = (n: number) => Array.from({ length: n }, word).join(' ')
    const whole = await Bm25Index.create({ fields })
    const shards = await Promise.all([0, 1, 2].map(() => Bm25Index.create({ fields })))
    for (let id = 0; id < 1500; id++) {
      const doc = { title: text(1 + Math.floor(random() * 4)), body: text(Math.floor(random() * 30)) }
      whole.add(id, doc)
      shards[(id * 7919) % 3]!.add(id, doc)
    }
    for (let q = 0; q < 40; q++) {
      // A misspelt first word and a truncated last one: both expand through the dictionary.
      const first = word()
      const last = word()
      const query = `${first.slice(1)}${first[0]} ${last.slice(0, Math.max(1, last.length - 2))}`
      const options = { prefix: true, typos: 2 } as const
      const candidates = mergeQueryCandidates(shards.map((shard) => shard.queryCandidates(query, options)))
      const stats = mergeStats(shards.map((shard) => shard.stats(candidateTerms(candidates))))
      const terms = shards.map((shard) => shard.chooseTerms(candidates, stats))
      for (const chosen of terms) expect(chosen).toEqual(whole.expandQuery(query, options))
      const merged = shards
        .flatMap((shard, s) => {
          const r = shard.searchTerms(terms[s]!, 15, { stats })
          return [...r.ids].map((id, i) => ({ id, score: r.scores[i]! }))
        })
        .sort((a, b) => b.score - a.score || a.id - b.id)
        .slice(0, 15)
      const expected = whole.search(query, 15, options)
      expect(merged.map((r) => r.id)).toEqual([...expected.ids])
      expect(merged.map((r) => r.score)).toEqual([...expected.scores])
    }
  })

  it("queryCandidatesAcross equals merging each index's candidates, removed documents and late terms included", async () => {
    const random = seeded(13)
    const word = wordSource(random, 500)
    const text = (n: number) => Array.from({ length: n }, word).join(' ')
    const shards = await Promise.all([0, 1, 2, 3, 4, 5].map(() => Bm25Index.create({ fields })))
    const add = (from: number, to: number) => {
      for (let id = from; id < to; id++)
        shards[(id * 7919) % 6]!.add(id, {
          title: text(1 + Math.floor(random() * 3)),
          body: text(Math.floor(random() * 20)),
        })
    }
    const check = (round: string) => {
      for (let q = 0; q < 30; q++) {
        const first = word()
        const last = word()
        const query = `${first.slice(1)}${first[0]} ${word()} ${last.slice(0, Math.max(1, last.length - 2))}`
        for (const options of [
          { prefix: true, typos: 2 },
          { prefix: false, typos: 1 },
          { prefix: true, typos: 'auto' },
          { prefix: true, typos: 0 },
        ] as const) {
          const merged = mergeQueryCandidates(shards.map((shard) => shard.queryCandidates(query, options)))
          expect(Bm25Index.queryCandidatesAcross(shards, query, options), `${round}: ${query}`).toEqual(
            merged,
          )
        }
      }
    }
    add(0, 900)
    check('first documents')
    // Terms added after a query sit in a recent run; removed documents leave terms nobody holds.
    add(900, 1200)
    for (let id = 0; id < 300; id += 3) shards[(id * 7919) % 6]!.remove(id)
    check('after adds and removals')
    expect(Bm25Index.queryCandidatesAcross([], 'anything')).toEqual({ words: [] })
  })

  it('stats report document count, per-field total length and document frequencies', async () => {
    const index = await Bm25Index.create({ fields })
    index.add(1, { title: 'red fox', body: 'a red red fox runs' })
    index.add(2, { title: 'blue', body: 'sky' })
    const stats = index.stats()
    expect(stats.docCount).toBe(2)
    expect(stats.fieldLengths).toEqual({ title: 3, body: 6 })
    expect(stats.docFrequencies.red).toBe(1)
    expect(index.stats(['fox', 'missing']).docFrequencies).toEqual({ fox: 1, missing: 0 })
    const merged = mergeStats([stats, stats])
    expect(merged.docCount).toBe(4)
    expect(merged.fieldLengths.body).toBe(12)
    expect(merged.docFrequencies.sky).toBe(2)
  })
})
