/**
 * A sharded index answers exactly as one unsharded index holding every document
 * (docs/distributed-search.md): the same Debian-corpus documents, with seeded 16-d vectors, go
 * into one index and into N = 1, 3 and 6 shard indexes (split by `shardOf(primaryKey, N)`); then
 * generated queries — keyword (with prefixes and typos), filtered, faceted, sorted, paginated
 * both ways, vector, hybrid and placeholder, all with `showRankingScore` — are answered by the
 * unsharded index and by stats → shard → merge, with every message passed through msgpack as
 * it would cross the network. The answers must be equal in full, `processingTimeMs` aside.
 */
import { shardOf } from '@shoal/hashring'
import { Rng, testSeed } from '@shoal/testkit/rng'
import {
  type CorpusDoc,
  corpusQueryVector,
  corpusSearchParams,
  corpusSettings,
  loadSearchCorpus,
} from '@shoal/testkit/search-corpus'
import { pack, unpack } from 'msgpackr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type Doc,
  type Engine,
  type FacetSearchParams,
  Index,
  mergeFacetSearch,
  mergeSearchStats,
  mergeShardResults,
  open,
  type SearchParams,
  type SearchResult,
  ShardedSearchMismatchError,
  searchContextComplete,
} from '../src/index.ts'
import { removeDir, tempDir } from './helpers.ts'

const SEED = testSeed(20261207)
const DIMENSIONS = 16
const SHARD_COUNTS = [1, 3, 6] as const
const QUERIES = 100
const SETTINGS = corpusSettings(DIMENSIONS)

function loadDocuments(rng: Rng): Doc[] {
  return loadSearchCorpus(rng, { every: 21, dimensions: DIMENSIONS }) as Doc[]
}

function roundTrip<T>(value: T): T {
  return unpack(pack(value)) as T
}

/** Stats → shard → merge, every message through msgpack. */
function distributedSearch(shards: readonly Index[], params: SearchParams): SearchResult {
  const stats = shards.map((shard) => roundTrip(shard.searchStats(params)))
  const context = roundTrip(mergeSearchStats(stats))
  const parts = shards.map((shard) => roundTrip(shard.searchShard(params, context)))
  // Every shard held here searched in one pass answers what each shard answers alone.
  expect(roundTrip(Index.searchPartitions(shards, params, context))).toEqual(parts)
  const merged = mergeShardResults(params, parts)
  // The merge does not depend on the order the parts arrive in.
  expect(mergeShardResults(params, [...parts].reverse())).toEqual(merged)
  return merged
}

function withoutTime(result: SearchResult): Omit<SearchResult, 'processingTimeMs'> {
  const { processingTimeMs: _, ...rest } = result
  return rest
}

function queryVector(rng: Rng): number[] {
  return corpusQueryVector(rng, DIMENSIONS)
}

/** Generated parameters of every kind, narrowing ones included unless `narrowing` is false. */
function randomParams(rng: Rng, docs: readonly Doc[], narrowing = true): SearchParams {
  return corpusSearchParams(rng, docs as CorpusDoc[], DIMENSIONS, { narrowing }) as SearchParams
}

const NARROWING = ['matchingStrategy', 'attributesToSearchOn', 'rankingScoreThreshold', 'distinct'] as const

function narrows(params: SearchParams): boolean {
  return NARROWING.some((key) => params[key] !== undefined) || /"|(^|\s)-\S/.test(params.q ?? '')
}

describe(`a sharded index answers like one unsharded index (SEED=${SEED})`, () => {
  const rng = new Rng(SEED)
  let dir: string
  let engine: Engine
  let docs: Doc[]
  let whole: Index
  const sharded = new Map<number, Index[]>()

  beforeAll(async () => {
    dir = await tempDir()
    engine = await open(dir, { sync: 'none' })
    docs = loadDocuments(rng)
    await engine.createIndex('whole', { primaryKey: 'id', settings: SETTINGS })
    whole = engine.index('whole')
    await whole.addDocuments(docs)
    for (const count of SHARD_COUNTS) {
      const shards: Index[] = []
      for (let s = 0; s < count; s++) {
        await engine.createIndex(`shard-${count}-${s}`, { primaryKey: 'id', settings: SETTINGS })
        shards.push(engine.index(`shard-${count}-${s}`))
      }
      const parts = shards.map(() => [] as Doc[])
      for (const doc of docs) parts[shardOf(String(doc.id), count)]!.push(doc)
      // Shards receive their documents in another order than the unsharded index.
      for (let s = 0; s < count; s++) await shards[s]!.addDocuments(parts[s]!.reverse())
      sharded.set(count, shards)
    }
    // Then updates (new text, sizes) and deletions, so that internal ids are reused and the text
    // indexes hold removed documents: both differ between the unsharded index and the shards.
    const updates = Array.from({ length: 150 }, () => {
      const doc = docs[rng.int(docs.length)]!
      const other = docs[rng.int(docs.length)]!
      return { id: doc.id, summary: other.summary, size: rng.int(400) }
    })
    const deletions = Array.from({ length: 100 }, () => docs[rng.int(docs.length)]!.id as number)
    await whole.updateDocuments(updates)
    await whole.deleteDocuments(deletions)
    for (const [count, shards] of sharded) {
      const shardOfId = (id: unknown) => shardOf(String(id), count)
      for (let s = 0; s < count; s++) {
        const mine = updates.filter((u) => shardOfId(u.id) === s)
        if (mine.length > 0) await shards[s]!.updateDocuments(mine)
        const gone = deletions.filter((id) => shardOfId(id) === s)
        if (gone.length > 0) await shards[s]!.deleteDocuments(gone)
        // New documents after the deletions take freed internal ids.
        const added = docs.slice(0, 40).filter((d) => shardOfId(d.id) === s)
        if (added.length > 0) await shards[s]!.addDocuments(added.map((d) => ({ ...d, popular: true })))
      }
    }
    await whole.addDocuments(docs.slice(0, 40).map((d) => ({ ...d, popular: true })))
  }, 120_000)

  afterAll(async () => {
    await engine?.close()
    await removeDir(dir)
  })

  it('holds the corpus split over the shards', () => {
    expect(docs.length).toBeGreaterThan(2500)
    expect(whole.getDocuments({ limit: 0 }).total).toBeLessThan(docs.length)
    for (const count of SHARD_COUNTS) {
      const sizes = sharded.get(count)!.map((shard) => shard.getDocuments({ limit: 0 }).total)
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(whole.getDocuments({ limit: 0 }).total)
      if (count > 1) expect(Math.min(...sizes)).toBeGreaterThan(0)
    }
  })

  it(`answers ${QUERIES} generated queries identically for 1, 3 and 6 shards`, () => {
    const kinds = { keyword: 0, vector: 0, hybrid: 0, placeholder: 0, withHits: 0, ties: 0, narrowed: 0 }
    for (let n = 0; n < QUERIES; n++) {
      const params = randomParams(rng, docs)
      const expected = withoutTime(whole.search(params))
      if (expected.hits.length > 0) kinds.withHits++
      if (narrows(params)) kinds.narrowed++
      const scores = expected.hits.map((hit) => hit._rankingScore)
      if (new Set(scores).size < scores.length) kinds.ties++
      kinds[params.hybrid ? 'hybrid' : params.vector ? 'vector' : params.q ? 'keyword' : 'placeholder']++
      for (const count of SHARD_COUNTS) {
        const actual = withoutTime(distributedSearch(sharded.get(count)!, params))
        expect(actual, `query ${n} on ${count} shards: ${JSON.stringify(params)}`).toEqual(expected)
      }
    }
    // The generator reached every kind of search, and answers that are not all empty.
    expect(kinds.keyword).toBeGreaterThan(QUERIES / 4)
    expect(kinds.vector + kinds.hybrid).toBeGreaterThan(QUERIES / 4)
    expect(kinds.placeholder).toBeGreaterThan(QUERIES / 20)
    expect(kinds.withHits).toBeGreaterThan(QUERIES / 2)
    expect(kinds.ties).toBeGreaterThan(5)
    expect(kinds.narrowed).toBeGreaterThan(QUERIES / 3)
  }, 180_000)

  it('answers matching-strategy searches with misspelt and cut words identically, shards searched in one pass', () => {
    // The strategies read which words a match holds through the postings of every term a word
    // reaches (its completions and typo variants), which one pass finds for all shards at once.
    let reached = 0
    for (let n = 0; n < QUERIES / 2; n++) {
      const generated = randomParams(rng, docs, false)
      if (generated.q === undefined || generated.q.trim() === '') continue
      const params: SearchParams = {
        q: generated.q,
        matchingStrategy: rng.pick(['last', 'all', 'frequency'] as const),
        limit: 1 + rng.int(30),
        showRankingScore: true,
        ...(generated.filter === undefined ? {} : { filter: generated.filter }),
      }
      const expected = withoutTime(whole.search(params))
      if (expected.hits.length > 0) reached++
      for (const count of SHARD_COUNTS) {
        const shards = sharded.get(count)!
        const context = mergeSearchStats(shards.map((shard) => shard.searchStats(params)))
        const merged = mergeShardResults(params, Index.searchPartitions(shards, params, context))
        expect(withoutTime(merged), `query ${n} on ${count} shards: ${JSON.stringify(params)}`).toEqual(
          expected,
        )
      }
    }
    expect(reached).toBeGreaterThan(QUERIES / 8)
  }, 180_000)

  it('answers generated facet searches identically for 1, 3 and 6 shards', () => {
    const searchFields = [
      'q',
      'filter',
      'matchingStrategy',
      'attributesToSearchOn',
      'rankingScoreThreshold',
      'vector',
      'hybrid',
    ]
    let withHits = 0
    // The values a facet query is cut from, listed once per facet.
    const valuesOf = new Map(
      ['section', 'tags'].map((name) => [
        name,
        whole.facetSearch({ facetName: name }).facetHits.map((hit) => hit.value),
      ]),
    )
    for (let n = 0; n < QUERIES / 4; n++) {
      const generated = randomParams(rng, docs) as Record<string, unknown>
      const search = Object.fromEntries(
        Object.entries(generated).filter(([key]) => searchFields.includes(key)),
      )
      const facetName = rng.int(2) === 0 ? 'section' : 'tags'
      const values = valuesOf.get(facetName)!
      const picked = values.length === 0 ? '' : values[rng.int(values.length)]!
      const facetQuery = rng.int(3) === 0 ? undefined : picked.slice(0, rng.int(3)).toUpperCase()
      const params: FacetSearchParams = {
        ...search,
        facetName,
        ...(facetQuery === undefined ? {} : { facetQuery }),
      }
      const { processingTimeMs: _, ...expected } = whole.facetSearch(params)
      if (expected.facetHits.length > 0) withHits++
      for (const count of SHARD_COUNTS) {
        const shards = sharded.get(count)!
        const context = roundTrip(
          mergeSearchStats(shards.map((shard) => roundTrip(shard.searchStats(search)))),
        )
        const parts = shards.map((shard) => roundTrip(shard.facetSearchShard(params, context)))
        const { processingTimeMs: __, ...actual } = mergeFacetSearch(params, parts)
        expect(actual, `facet search ${n} on ${count} shards: ${JSON.stringify(params)}`).toEqual(expected)
      }
    }
    expect(withHits).toBeGreaterThan(QUERIES / 8)
  }, 120_000)

  it('answers identically from statistics without typo variants, gathered again with them when a word is held nowhere', () => {
    const seen = { omitted: 0, completeWithout: 0, gatheredAgain: 0 }
    for (let n = 0; n < QUERIES / 3; n++) {
      // The statistics do not depend on the narrowing parameters.
      const params = randomParams(rng, docs, false)
      const expected = withoutTime(whole.search(params))
      for (const count of [3, 6]) {
        const shards = sharded.get(count)!
        const lean = shards.map((shard) => roundTrip(shard.searchStats(params, { omitTypoVariants: true })))
        if (lean.some((part) => part.text?.unheldWords !== undefined)) seen.omitted++
        let context = roundTrip(mergeSearchStats(lean))
        if (searchContextComplete(context)) {
          if (context.text?.unheldWords !== undefined) seen.completeWithout++
        } else {
          // Such a context is refused, never answered from.
          expect(() => shards[0]!.searchShard(params, context)).toThrow(ShardedSearchMismatchError)
          seen.gatheredAgain++
          context = roundTrip(mergeSearchStats(shards.map((shard) => roundTrip(shard.searchStats(params)))))
          expect(searchContextComplete(context)).toBe(true)
        }
        const parts = shards.map((shard) => roundTrip(shard.searchShard(params, context)))
        expect(
          withoutTime(mergeShardResults(params, parts)),
          `query ${n}: ${JSON.stringify(params)}`,
        ).toEqual(expected)
      }
    }
    // Both paths were taken: lean statistics that sufficed, and ones gathered again.
    expect(seen.completeWithout).toBeGreaterThan(5)
    expect(seen.gatheredAgain).toBeGreaterThan(0)
  }, 120_000)

  it('normalises hybrid keyword scores by the best keyword score of the whole collection', () => {
    const params: SearchParams = {
      q: 'library',
      vector: queryVector(new Rng(SEED + 1)),
      hybrid: { embedder: 'default', semanticRatio: 0.5 },
      showRankingScore: true,
      limit: 30,
    }
    const shards = sharded.get(6)!
    const expected = withoutTime(whole.search(params))
    expect(withoutTime(distributedSearch(shards, params))).toEqual(expected)
    // Each shard alone normalises by its own best: merging those would differ.
    const local = shards.map((shard) => shard.search(params))
    const perShardTop = local.map((r) => r.hits[0]?._rankingScore)
    expect(new Set(perShardTop).size).toBeGreaterThan(1)
  })

  it('counts facets exactly and trims them to 100 values only after the merge', () => {
    const params: SearchParams = { facets: ['size', 'section'], limit: 0 }
    const expected = whole.search(params)
    expect(Object.keys(expected.facetDistribution!.size!)).toHaveLength(100)
    expect(withoutTime(distributedSearch(sharded.get(6)!, params))).toEqual(withoutTime(expected))
  })

  it('sends with their documents only the hits that can reach the page when the merge applies a threshold', () => {
    const params: SearchParams = {
      q: 'library',
      rankingScoreThreshold: 0.05,
      limit: 5,
      showRankingScore: true,
    }
    const shards = sharded.get(3)!
    const context = roundTrip(mergeSearchStats(shards.map((shard) => roundTrip(shard.searchStats(params)))))
    const parts = shards.map((shard) => roundTrip(shard.searchShard(params, context)))
    expect(withoutTime(mergeShardResults(params, parts))).toEqual(withoutTime(whole.search(params)))
    for (const part of parts) {
      // Every candidate is counted, but a hit that 5 hits scoring at least as high precede cannot be shown.
      expect(part.hits.length).toBeGreaterThan(5)
      expect(part.hits.filter((hit) => hit.document !== null)).toHaveLength(5)
    }
  })

  it('answers generated searches with showRankingScoreDetails identically', () => {
    let detailed = 0
    for (let n = 0; n < QUERIES / 4; n++) {
      const params = { ...randomParams(rng, docs), showRankingScoreDetails: true }
      const expected = withoutTime(whole.search(params))
      if (expected.hits.some((hit) => Object.keys(hit._rankingScoreDetails as object).length > 0)) detailed++
      for (const count of SHARD_COUNTS) {
        const actual = withoutTime(distributedSearch(sharded.get(count)!, params))
        expect(actual, `query ${n} on ${count} shards: ${JSON.stringify(params)}`).toEqual(expected)
      }
    }
    expect(detailed).toBeGreaterThan(QUERIES / 16)
  }, 120_000)

  it('answers generated searches identically under typoTolerance.disableOn*', async () => {
    const indexes = [whole, ...[...sharded.values()].flat()]
    const words = docs.slice(0, 20).flatMap((doc) =>
      String(doc.summary ?? '')
        .split(/\W+/)
        .slice(0, 2),
    )
    const typoTolerance = {
      disableOnWords: words.filter((w) => w.length > 0),
      disableOnAttributes: ['summary'],
      disableOnNumbers: true,
    }
    for (const index of indexes) await index.updateSettings({ typoTolerance })
    for (let n = 0; n < QUERIES / 8; n++) {
      const params = randomParams(rng, docs)
      const expected = withoutTime(whole.search(params))
      for (const count of SHARD_COUNTS) {
        const actual = withoutTime(distributedSearch(sharded.get(count)!, params))
        expect(actual, `query ${n} on ${count} shards: ${JSON.stringify(params)}`).toEqual(expected)
      }
    }
    for (const index of indexes) await index.updateSettings({ typoTolerance: null })
  }, 120_000)

  // Last: it changes the settings of every index.
  it('answers generated searches and facet searches identically with a distinctAttribute', async () => {
    const indexes = [whole, ...[...sharded.values()].flat()]
    for (const index of indexes) await index.updateSettings({ distinctAttribute: 'section' })
    let narrowedByDistinct = 0
    for (let n = 0; n < QUERIES / 8; n++) {
      const params = randomParams(rng, docs)
      const expected = withoutTime(whole.search(params))
      if (params.distinct === undefined && expected.hits.length > 1) narrowedByDistinct++
      for (const count of SHARD_COUNTS) {
        const actual = withoutTime(distributedSearch(sharded.get(count)!, params))
        expect(actual, `query ${n} on ${count} shards: ${JSON.stringify(params)}`).toEqual(expected)
      }
      const search = params.q ? { q: params.q } : {}
      const facetParams: FacetSearchParams = { facetName: 'tags', ...search }
      const { processingTimeMs: _, ...facetExpected } = whole.facetSearch(facetParams)
      const shards = sharded.get(6)!
      const context = roundTrip(mergeSearchStats(shards.map((shard) => roundTrip(shard.searchStats(search)))))
      const parts = shards.map((shard) => roundTrip(shard.facetSearchShard(facetParams, context)))
      const { processingTimeMs: __, ...facetActual } = mergeFacetSearch(facetParams, parts)
      expect(facetActual, `facet search ${n}: ${JSON.stringify(facetParams)}`).toEqual(facetExpected)
    }
    // One hit per section: pages of the setting's distinct hits were compared, not only empty ones.
    expect(narrowedByDistinct).toBeGreaterThan(QUERIES / 40)
  }, 120_000)
})

describe('distributed search statistics, narrowing and refusals', () => {
  let dir: string
  let engine: Engine

  beforeAll(async () => {
    dir = await tempDir()
    engine = await open(dir, { sync: 'none' })
    await engine.createIndex('s', { primaryKey: 'id', settings: { filterableAttributes: ['kind'] } })
    await engine.index('s').addDocuments([
      { id: 1, title: 'red fox', kind: 'a' },
      { id: 2, title: 'lazy dog', kind: 'b' },
    ])
  })

  afterAll(async () => {
    await engine?.close()
    await removeDir(dir)
  })

  it('keeps the statistics version across reads and changes it on every write', async () => {
    const index = engine.index('s')
    const before = index.searchStats({ q: 'fox' })
    expect(index.searchStats({ q: 'dog' }).version).toBe(before.version)
    expect(before.text?.docCount).toBe(2)
    await index.updateDocuments([{ id: 2, title: 'lazy red dog' }])
    const after = index.searchStats({ q: 'fox' })
    expect(after.version).not.toBe(before.version)
    // A shard's answer carries its version: the coordinator sees that cached stats went stale.
    expect(index.searchShard({ q: 'fox' }, mergeSearchStats([before])).version).toBe(after.version)
  })

  it('gathers no text statistics for a search without a keyword part', () => {
    expect(engine.index('s').searchStats({ filter: 'kind = a' }).text).toBeNull()
  })

  it('picks one hit per distinct value across shards, several values per document included', async () => {
    // Meilisearch keeps the first hit of each value in rank order; a hit whose values are all new
    // marks them all, a dropped hit marks none (search-refine.ts).
    const settings = { filterableAttributes: ['g'], sortableAttributes: ['n'] }
    const docs = [
      { id: 1, n: 1, g: ['a', 'b'], t: 'x' },
      { id: 2, n: 2, g: ['b', 'c'], t: 'x' },
      { id: 3, n: 3, g: 'c', t: 'x' },
      { id: 4, n: 4, g: 'A', t: 'x' },
      { id: 5, n: 5, t: 'x' },
    ]
    await engine.createIndex('d-whole', { primaryKey: 'id', settings })
    await engine.createIndex('d-a', { primaryKey: 'id', settings })
    await engine.createIndex('d-b', { primaryKey: 'id', settings })
    await engine.index('d-whole').addDocuments(docs)
    await engine.index('d-a').addDocuments([docs[0]!])
    await engine.index('d-b').addDocuments(docs.slice(1))
    const shards = [engine.index('d-a'), engine.index('d-b')]
    for (const params of [
      { sort: ['n:asc'], distinct: 'g', facets: ['g'] },
      { sort: ['n:asc'], distinct: 'g', offset: 1, limit: 1 },
      { q: 'x', sort: ['n:asc'], distinct: 'g', page: 1, hitsPerPage: 1 },
    ] satisfies SearchParams[]) {
      const expected = withoutTime(engine.index('d-whole').search(params))
      expect(withoutTime(distributedSearch(shards, params))).toEqual(expected)
    }
    const all = distributedSearch(shards, { sort: ['n:asc'], distinct: 'g', facets: ['g'] })
    expect(all.hits.map((hit) => hit.id)).toEqual([1, 3, 5])
    expect(all.estimatedTotalHits).toBe(3)
    // Facets count the kept hits only.
    expect(all.facetDistribution).toEqual({ g: { a: 1, b: 1, c: 1 } })
  })

  it('takes the words of matchingStrategy frequency rarest first in the whole collection', async () => {
    // Collection-wide "alpha" (2 documents) is rarer than "beta" (3); shard a alone sees the reverse.
    const docs = [
      { id: 1, title: 'alpha beta' },
      { id: 2, title: 'alpha' },
      { id: 3, title: 'beta' },
      { id: 4, title: 'beta' },
    ]
    await engine.createIndex('f-a', { primaryKey: 'id' })
    await engine.createIndex('f-b', { primaryKey: 'id' })
    await engine.createIndex('f-whole', { primaryKey: 'id' })
    await engine.index('f-a').addDocuments(docs.slice(0, 2))
    await engine.index('f-b').addDocuments(docs.slice(2))
    await engine.index('f-whole').addDocuments(docs)
    const params: SearchParams = { q: 'alpha beta', matchingStrategy: 'frequency', showRankingScore: true }
    const expected = withoutTime(engine.index('f-whole').search(params))
    // Documents holding the rarest word, "alpha", only: the one with both words first.
    expect(expected.hits.map((hit) => hit.id)).toEqual([1, 2])
    expect(
      engine
        .index('f-a')
        .search(params)
        .hits.map((hit) => hit.id),
    ).toEqual([1])
    expect(withoutTime(distributedSearch([engine.index('f-a'), engine.index('f-b')], params))).toEqual(
      expected,
    )
  })

  it('applies rankingScoreThreshold to scores normalised by the best score of the whole collection', async () => {
    await engine.createIndex('t-a', { primaryKey: 'id' })
    await engine.createIndex('t-b', { primaryKey: 'id' })
    await engine.createIndex('t-whole', { primaryKey: 'id' })
    const strong = { id: 1, title: 'otter otter otter' }
    const weak = [
      { id: 2, title: 'otter in a long title of many other words' },
      { id: 3, title: 'otter with a few words' },
    ]
    await engine.index('t-a').addDocuments([strong])
    await engine.index('t-b').addDocuments(weak)
    await engine.index('t-whole').addDocuments([strong, ...weak])
    const shards = [engine.index('t-a'), engine.index('t-b')]
    const params = { q: 'otter', rankingScoreThreshold: 0.8, showRankingScore: true }
    const expected = withoutTime(engine.index('t-whole').search(params))
    // Alone, shard b would keep its best document (score 1 under its own best).
    expect(engine.index('t-b').search(params).hits).toHaveLength(1)
    expect(expected.hits.map((hit) => hit.id)).toEqual([1])
    expect(withoutTime(distributedSearch(shards, params))).toEqual(expected)
  })

  it('refuses a context gathered for another kind of query, and parts of different requests', () => {
    const index = engine.index('s')
    const placeholder = mergeSearchStats([index.searchStats({})])
    expect(() => index.searchShard({ q: 'fox' }, placeholder)).toThrow(ShardedSearchMismatchError)
    const a = index.searchShard({ limit: 1 }, placeholder)
    const b = index.searchShard({ limit: 2 }, placeholder)
    expect(() => mergeShardResults({ limit: 1 }, [a, b])).toThrow(ShardedSearchMismatchError)
  })

  it('refuses to merge parts searched under different settings', async () => {
    await engine.createIndex('other', {
      primaryKey: 'id',
      settings: { filterableAttributes: ['kind', 'title'] },
    })
    const other = engine.index('other')
    await other.addDocuments([{ id: 3, title: 'red hen', kind: 'a' }])
    const params = { q: 'red' }
    const stats = mergeSearchStats([engine.index('s').searchStats(params), other.searchStats(params)])
    const parts = [engine.index('s').searchShard(params, stats), other.searchShard(params, stats)]
    expect(() => mergeShardResults(params, parts)).toThrow(ShardedSearchMismatchError)
  })

  it('answers from the parts it has, and an empty answer with none', () => {
    const index = engine.index('s')
    const context = mergeSearchStats([index.searchStats({ q: 'red' })])
    const part = index.searchShard({ q: 'red' }, context)
    expect(mergeShardResults({ q: 'red' }, [part]).hits.map((h) => h.id)).toEqual([1, 2])
    expect(mergeShardResults({ q: 'red', limit: 5 }, [])).toEqual({
      hits: [],
      query: 'red',
      processingTimeMs: 0,
      limit: 5,
      offset: 0,
      estimatedTotalHits: 0,
    })
  })
})
