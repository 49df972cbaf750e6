/**
 * A sharded index answers exactly as one unsharded index holding every document
 * (docs/distributed-search.md): the same Debian-corpus documents, with seeded 16-d vectors, go
 * into one index and into N = 1, 3 and 6 shard indexes (split by `shardOf(primaryKey, N)`); then
 * generated queries — keyword (with prefixes and typos), filtered, faceted, sorted, paginated
 * both ways, vector, hybrid and placeholder, all with `showRankingScore` — are answered by the
 * unsharded index and by stats → shard → merge, with every message passed through msgpack as
 * it would cross the network. The answers must be equal in full, `processingTimeMs` aside.
 */
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { shardOf } from '@shoal/hashring'
import { Rng, testSeed } from '@shoal/testkit/rng'
import { sharedPath } from '@shoal/testkit/shared'
import { pack, unpack } from 'msgpackr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type Doc,
  type Engine,
  type Index,
  mergeSearchStats,
  mergeShardResults,
  open,
  type SearchParams,
  type SearchResult,
  ShardedSearchMismatchError,
  ShardedSearchUnsupportedError,
} from '../src/index.ts'
import { removeDir, tempDir } from './helpers.ts'

const SEED = testSeed(20261207)
const DIMENSIONS = 16
const SHARD_COUNTS = [1, 3, 6] as const
const QUERIES = 210
const SETTINGS = {
  searchableAttributes: ['package', 'summary', 'description'],
  filterableAttributes: ['section', 'size', 'popular', 'tags'],
  sortableAttributes: ['size', 'package'],
  embedders: { default: { source: 'userProvided' as const, dimensions: DIMENSIONS } },
}

interface CorpusLine {
  id: number
  package: string
  section: string
  summary: string
  description: string
}

/** Every 21st package of the corpus (about 3,000), with seeded sizes, tags and clustered vectors. */
function loadDocuments(rng: Rng): Doc[] {
  const lines = gunzipSync(readFileSync(sharedPath('datasets/debian-packages.jsonl.gz')))
    .toString('utf8')
    .split('\n')
  const centres = Array.from({ length: 8 }, () => Array.from({ length: DIMENSIONS }, () => rng.gaussian()))
  const docs: Doc[] = []
  for (let i = 0; i < lines.length; i += 21) {
    if (lines[i]!.trim() === '') continue
    const line = JSON.parse(lines[i]!) as CorpusLine
    const centre = centres[rng.int(centres.length)]!
    const vector = centre.map((c, j) => c + rng.gaussian() * 0.6 * (1 + j) ** -0.35)
    docs.push({
      id: line.id,
      package: line.package,
      section: line.section,
      summary: line.summary,
      description: line.description,
      // Few distinct sizes, so that sorting by size ties and the primary key decides.
      size: rng.int(400),
      popular: rng.chance(0.2),
      tags: rng.chance(0.5) ? [line.section.split('/')[0]!, rng.chance(0.5) ? 'lib' : 'app'] : [],
      _vectors: { default: vector.map((x) => Math.fround(x)) },
    })
  }
  return docs
}

function roundTrip<T>(value: T): T {
  return unpack(pack(value)) as T
}

/** Stats → shard → merge, every message through msgpack. */
function distributedSearch(shards: readonly Index[], params: SearchParams): SearchResult {
  const stats = shards.map((shard) => roundTrip(shard.searchStats(params)))
  const context = roundTrip(mergeSearchStats(stats))
  const parts = shards.map((shard) => roundTrip(shard.searchShard(params, context)))
  const merged = mergeShardResults(params, parts)
  // The merge does not depend on the order the parts arrive in.
  expect(mergeShardResults(params, [...parts].reverse())).toEqual(merged)
  return merged
}

function withoutTime(result: SearchResult): Omit<SearchResult, 'processingTimeMs'> {
  const { processingTimeMs: _, ...rest } = result
  return rest
}

/** Words of real summaries, sometimes cut short (prefix search) or misspelt (typo tolerance). */
function queryText(rng: Rng, docs: readonly Doc[]): string {
  const words = (docs[rng.int(docs.length)]!.summary as string)
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w.length > 1)
  if (words.length === 0) return 'library'
  const start = rng.int(words.length)
  const picked = words.slice(start, start + rng.range(1, 3)).map((w) => w.toLowerCase())
  const last = picked.length - 1
  if (rng.chance(0.3) && picked[last]!.length > 3)
    picked[last] = picked[last]!.slice(0, rng.range(2, picked[last]!.length - 1))
  if (rng.chance(0.2) && picked[0]!.length > 5) {
    const w = picked[0]!
    const at = rng.int(w.length - 1)
    picked[0] = w.slice(0, at) + w[at + 1] + w[at] + w.slice(at + 2)
  }
  return picked.join(' ')
}

function queryVector(rng: Rng): number[] {
  return Array.from({ length: DIMENSIONS }, () => rng.gaussian())
}

const SECTIONS = ['libs', 'utils', 'devel', 'python', 'doc', 'net', 'admin', 'science', 'games', 'x11']

function randomParams(rng: Rng, docs: readonly Doc[]): SearchParams {
  const params: SearchParams = { showRankingScore: true }
  const kind = rng.pick(['keyword', 'keyword', 'keyword', 'vector', 'hybrid', 'hybrid', 'placeholder'])
  if (kind !== 'vector' && kind !== 'placeholder') params.q = queryText(rng, docs)
  if (kind === 'vector' || kind === 'hybrid') params.vector = queryVector(rng)
  if (kind === 'hybrid') params.hybrid = { embedder: 'default', semanticRatio: rng.pick([0.1, 0.5, 0.9]) }
  if (rng.chance(0.35)) {
    params.filter = rng.pick([
      `section = ${rng.pick(SECTIONS)}`,
      `size < ${rng.range(20, 300)}`,
      'popular = true',
      `tags = lib AND size >= ${rng.int(200)}`,
      [[`section = ${rng.pick(SECTIONS)}`, `section = ${rng.pick(SECTIONS)}`], 'popular = false'],
    ])
  }
  if (rng.chance(0.3))
    params.facets = rng.pick([['section'], ['section', 'size'], ['*'], ['tags', 'popular']])
  if (rng.chance(0.25)) params.sort = [rng.pick(['size:asc', 'size:desc', 'package:asc', 'package:desc'])]
  if (rng.chance(0.3)) {
    params.page = rng.range(1, 4)
    params.hitsPerPage = rng.range(1, 25)
  } else {
    if (rng.chance(0.5)) params.offset = rng.int(40)
    if (rng.chance(0.7)) params.limit = rng.range(0, 40)
  }
  if (rng.chance(0.2)) params.attributesToRetrieve = ['id', 'package', 'size']
  if (rng.chance(0.15)) {
    params.attributesToHighlight = ['summary']
    params.attributesToCrop = ['description:6']
    params.showMatchesPosition = true
  }
  if (rng.chance(0.05)) params.retrieveVectors = true
  return params
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
    const kinds = { keyword: 0, vector: 0, hybrid: 0, placeholder: 0, withHits: 0, ties: 0 }
    for (let n = 0; n < QUERIES; n++) {
      const params = randomParams(rng, docs)
      const expected = withoutTime(whole.search(params))
      if (expected.hits.length > 0) kinds.withHits++
      const scores = expected.hits.map((hit) => hit._rankingScore)
      if (new Set(scores).size < scores.length) kinds.ties++
      kinds[params.hybrid ? 'hybrid' : params.vector ? 'vector' : params.q ? 'keyword' : 'placeholder']++
      for (const count of SHARD_COUNTS) {
        const actual = withoutTime(distributedSearch(sharded.get(count)!, params))
        expect(actual, `query ${n} on ${count} shards: ${JSON.stringify(params)}`).toEqual(expected)
      }
    }
    // The generator reached every kind of search, and answers that are not all empty.
    expect(kinds.keyword).toBeGreaterThan(50)
    expect(kinds.vector + kinds.hybrid).toBeGreaterThan(50)
    expect(kinds.placeholder).toBeGreaterThan(10)
    expect(kinds.withHits).toBeGreaterThan(QUERIES / 2)
    expect(kinds.ties).toBeGreaterThan(5)
    // About 8 s alone at load average 14 on the shared 2-core machine; more beside other files.
  }, 180_000)

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
})

describe('distributed search statistics and refusals', () => {
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

  it('refuses with a typed error what shards cannot answer exactly', () => {
    const index = engine.index('s')
    const context = mergeSearchStats([index.searchStats({ q: 'fox' })])
    for (const extra of [
      { distinct: 'kind' },
      { matchingStrategy: 'all' as const },
      { rankingScoreThreshold: 0.5 },
      { attributesToSearchOn: ['title'] },
    ]) {
      expect(() => index.searchShard({ q: 'fox', ...extra }, context)).toThrow(ShardedSearchUnsupportedError)
    }
    const phrase = mergeSearchStats([index.searchStats({ q: '"red fox"' })])
    expect(() => index.searchShard({ q: '"red fox"' }, phrase)).toThrow(ShardedSearchUnsupportedError)
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
