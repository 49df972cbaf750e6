import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { create, insertMultiple, search as oramaSearch } from '@orama/orama'
import { defineSuite, type SuiteContext } from '@shoal/bench'
import { Bm25Index, createAnalyzer } from '@shoal/bm25'
import { HnswIndex } from '@shoal/hnsw'
import MiniSearch from 'minisearch'
import { eng } from 'stopword'
import {
  type DebianPackage,
  type KnownItemQuery,
  knownItemQuality,
  knownItemQueries,
  loadDebianCorpus,
} from '../../../bench/corpus/debian.ts'
import { type Engine, open } from '../src/index.ts'
import { HNSW_PARAMETERS } from '../src/internal/hnsw-vector-index.ts'
import { DIMENSIONS, embed } from './vectors.ts'

/**
 * The embedded database on Debian's package descriptions plus generated
 * vectors (bench/vectors.ts), side by side in one run with @orama/orama
 * (full-text + vector + hybrid) and MiniSearch (keyword), and the bare
 * @shoal/bm25 and @shoal/hnsw indexes as the ceiling. Durable ingestion
 * (sync 'always', batches of 1000) against Orama's in-memory insertMultiple;
 * keyword, filtered keyword, vector and hybrid queries/s with p50/p99; known-item
 * MRR@10; memory per document; reopen time.
 */
export default defineSuite({
  description:
    '@shoal/engine on Debian packages + generated vectors: ingestion, keyword/filtered/vector/hybrid q/s and MRR vs Orama, MiniSearch, bare bm25/hnsw',
  async run(ctx) {
    const docs = loadDebianCorpus({ limit: ctx.smoke ? 1000 : Number.MAX_SAFE_INTEGER })
    const queries = knownItemQueries(docs, ctx.seed, ctx.smoke ? 50 : 1000)
    const docVectors = docs.map((d) => embed(d.summary, d.name.replace(/[-.+_]/g, ' ')))
    const queryVectors = queries.map((q) => embed(q.query))
    const sectionOf = new Map(docs.map((d) => [d.id, d.section]))
    ctx.log(`${docs.length} documents, ${queries.length} known-item queries, ${DIMENSIONS}-d vectors`)
    ctx.record({ name: 'corpus-documents', metric: 'count', value: docs.length, unit: 'docs' })

    // ---- ingestion -------------------------------------------------------------------------
    const dir = await mkdtemp(path.join(tmpdir(), 'shoal-engine-bench-'))
    const before = memoryBytes()
    const ingest = await ingestEngine(dir, docs, docVectors)
    const engineMemory = memoryBytes() - before
    const engineIngest = docs.length / ingest.seconds
    ctx.record({ name: 'engine-ingest', metric: 'docs/s', value: engineIngest, unit: 'docs/s' })
    ctx.record({
      name: 'engine-memory-per-document',
      metric: 'memory',
      value: engineMemory / docs.length,
      unit: 'B',
    })
    ctx.log(
      `engine: durable ingestion ${Math.round(engineIngest)} docs/s, ${(engineMemory / docs.length).toFixed(0)} B/doc`,
    )
    const db = ingest.engine
    const index = db.index('packages')

    const oramaBefore = memoryBytes()
    const oramaStarted = performance.now()
    const orama = await buildOrama(docs, docVectors)
    const oramaIngest = docs.length / ((performance.now() - oramaStarted) / 1000)
    const oramaMemory = memoryBytes() - oramaBefore
    ctx.record({ name: 'orama-ingest', metric: 'docs/s', value: oramaIngest, unit: 'docs/s', peer: 'Orama' })
    ctx.record({
      name: 'orama-memory-per-document',
      metric: 'memory',
      value: oramaMemory / docs.length,
      unit: 'B',
      peer: 'Orama',
    })
    ctx.log(`orama: in-memory ingestion ${Math.round(oramaIngest)} docs/s`)
    ctx.ratio('ingest-ratio-vs-orama', engineIngest, oramaIngest, 'Orama')

    const mini = buildMiniSearch(docs)
    const bare = await buildBare(docs, docVectors)

    // ---- keyword ---------------------------------------------------------------------------
    const keywordQuality = quality(queries, (q) => ids(index.search({ q: q.query, limit: 10 }).hits))
    recordQuality(ctx, 'keyword', keywordQuality)
    const bm25Quality = quality(queries, (q) => bare.bm25.search(q.query, 10).ids)
    recordQuality(ctx, 'bare-bm25-keyword', bm25Quality, '@shoal/bm25')
    const oramaKeywordQuality = quality(queries, (q) => orama.keyword(q.query))
    recordQuality(ctx, 'orama-keyword', oramaKeywordQuality, 'Orama')

    const keyword = await perQuery(ctx, 'engine-keyword-query', queries, (q) =>
      index.search({ q: q.query, limit: 10 }),
    )
    const bm25Keyword = await perQuery(
      ctx,
      'bare-bm25-keyword-query',
      queries,
      (q) => bare.bm25.search(q.query, 10),
      '@shoal/bm25',
    )
    const oramaKeyword = await perQuery(
      ctx,
      'orama-keyword-query',
      queries,
      (q) => orama.keyword(q.query),
      'Orama',
    )
    const miniKeyword = await perQuery(
      ctx,
      'minisearch-keyword-query',
      queries,
      (q) => mini(q.query),
      'MiniSearch',
    )
    ctx.ratio('keyword-qps-ratio-vs-bm25', keyword, bm25Keyword, '@shoal/bm25')
    ctx.ratio('keyword-qps-ratio-vs-orama', keyword, oramaKeyword, 'Orama')
    ctx.ratio('keyword-qps-ratio-vs-minisearch', keyword, miniKeyword, 'MiniSearch')

    // ---- filtered keyword (the target's section) ------------------------------------------------
    const filtered = await perQuery(ctx, 'engine-filtered-keyword-query', queries, (q) =>
      index.search({ q: q.query, filter: `section = "${sectionOf.get(q.target)}"`, limit: 10 }),
    )
    const oramaFiltered = await perQuery(
      ctx,
      'orama-filtered-keyword-query',
      queries,
      (q) => orama.keyword(q.query, sectionOf.get(q.target)),
      'Orama',
    )
    ctx.ratio('filtered-keyword-qps-ratio-vs-orama', filtered, oramaFiltered, 'Orama')

    // ---- vector ----------------------------------------------------------------------------
    const at = new Map(queries.map((q, i) => [q, i]))
    const vectorOf = (q: KnownItemQuery) => Array.from(queryVectors[at.get(q)!]!)
    const vectorQuality = quality(queries, (q) =>
      ids(
        index.search({ vector: vectorOf(q), hybrid: { embedder: 'text', semanticRatio: 1 }, limit: 10 }).hits,
      ),
    )
    recordQuality(ctx, 'vector', vectorQuality)
    const vector = await perQuery(ctx, 'engine-vector-query', queries, (q) =>
      index.search({ vector: vectorOf(q), hybrid: { embedder: 'text', semanticRatio: 1 }, limit: 10 }),
    )
    const hnswVector = await perQuery(
      ctx,
      'bare-hnsw-vector-query',
      queries,
      (q) => bare.hnsw.search(queryVectors[at.get(q)!]!, 10),
      '@shoal/hnsw',
    )
    const oramaVector = await perQuery(
      ctx,
      'orama-vector-query',
      queries,
      (q) => orama.vector(vectorOf(q)),
      'Orama',
    )
    ctx.ratio('vector-qps-ratio-vs-hnsw', vector, hnswVector, '@shoal/hnsw')
    ctx.ratio('vector-qps-ratio-vs-orama', vector, oramaVector, 'Orama')

    // ---- hybrid ----------------------------------------------------------------------------
    const hybridSearch = (q: KnownItemQuery) =>
      index.search({
        q: q.query,
        vector: vectorOf(q),
        hybrid: { embedder: 'text', semanticRatio: 0.5 },
        limit: 10,
      })
    const hybridQuality = quality(queries, (q) => ids(hybridSearch(q).hits))
    recordQuality(ctx, 'hybrid', hybridQuality)
    const oramaHybridQuality = quality(queries, (q) => orama.hybrid(q.query, vectorOf(q)))
    recordQuality(ctx, 'orama-hybrid', oramaHybridQuality, 'Orama')
    const hybrid = await perQuery(ctx, 'engine-hybrid-query', queries, hybridSearch)
    const oramaHybrid = await perQuery(
      ctx,
      'orama-hybrid-query',
      queries,
      (q) => orama.hybrid(q.query, vectorOf(q)),
      'Orama',
    )
    ctx.ratio('hybrid-qps-ratio-vs-orama', hybrid, oramaHybrid, 'Orama')
    ctx.record({ name: 'keyword-mrr', metric: 'mrr@10', value: keywordQuality.mrrAt10, unit: 'mrr' })
    ctx.record({ name: 'hybrid-mrr', metric: 'mrr@10', value: hybridQuality.mrrAt10, unit: 'mrr' })
    ctx.record({
      name: 'hybrid-mrr-minus-keyword-mrr',
      metric: 'mrr@10',
      value: hybridQuality.mrrAt10 - keywordQuality.mrrAt10,
      unit: 'mrr',
    })
    ctx.log(
      `MRR@10 keyword ${keywordQuality.mrrAt10.toFixed(3)} (bare bm25 ${bm25Quality.mrrAt10.toFixed(3)}), vector ${vectorQuality.mrrAt10.toFixed(3)}, hybrid ${hybridQuality.mrrAt10.toFixed(3)}, orama hybrid ${oramaHybridQuality.mrrAt10.toFixed(3)}`,
    )

    // ---- reopen ----------------------------------------------------------------------------
    await db.snapshot()
    await db.close()
    let started = performance.now()
    const reopened = await open(dir)
    ctx.record({
      name: 'engine-open-from-snapshot',
      metric: 'time',
      value: performance.now() - started,
      unit: 'ms',
    })
    await reopened.close()
    if (!ctx.smoke) {
      for (const name of await readdir(path.join(dir, 'snapshots')))
        await rm(path.join(dir, 'snapshots', name))
      started = performance.now()
      const replayed = await open(dir)
      ctx.record({
        name: 'engine-open-by-log-replay',
        metric: 'time',
        value: performance.now() - started,
        unit: 'ms',
      })
      await replayed.close()
    }
    await rm(dir, { recursive: true, force: true })
  },
})

const BATCH = 1000

function nameText(doc: DebianPackage): string {
  return `${doc.name.replace(/[-.+_]/g, ' ')} ${doc.name}`
}

async function ingestEngine(
  dir: string,
  docs: readonly DebianPackage[],
  vectors: readonly Float32Array[],
): Promise<{ engine: Engine; seconds: number }> {
  const started = performance.now()
  const engine = await open(dir, { sync: 'always' })
  await engine.createIndex('packages', {
    primaryKey: 'id',
    settings: {
      searchableAttributes: ['name', 'summary', 'description'],
      filterableAttributes: ['section'],
      stopWords: eng,
      embedders: { text: { source: 'userProvided', dimensions: DIMENSIONS } },
    },
  })
  const index = engine.index('packages')
  for (let at = 0; at < docs.length; at += BATCH) {
    const batch = docs.slice(at, at + BATCH).map((d, i) => ({
      id: d.id,
      name: nameText(d),
      section: d.section,
      summary: d.summary,
      description: d.description,
      _vectors: { text: Array.from(vectors[at + i]!) },
    }))
    await index.addDocuments(batch)
  }
  // Searchable means searched once: the text index finishes encoding on its first query.
  index.search({ q: 'kernel' })
  return { engine, seconds: (performance.now() - started) / 1000 }
}

async function buildOrama(docs: readonly DebianPackage[], vectors: readonly Float32Array[]) {
  const db = create({
    schema: {
      name: 'string',
      summary: 'string',
      description: 'string',
      section: 'enum',
      embedding: `vector[${DIMENSIONS}]`,
    } as const,
  })
  await insertMultiple(
    db,
    docs.map((d, i) => ({
      id: String(d.id),
      name: nameText(d),
      summary: d.summary,
      description: d.description,
      section: d.section,
      embedding: Array.from(vectors[i]!),
    })),
  )
  const boost = { name: 3, summary: 2 }
  const hitIds = (result: unknown): number[] => {
    if (result instanceof Promise) throw new Error('Orama search unexpectedly asynchronous')
    return (result as { hits: { id: string }[] }).hits.map((hit) => Number(hit.id))
  }
  return {
    keyword: (term: string, section?: string) =>
      hitIds(
        oramaSearch(db, {
          term,
          limit: 10,
          boost,
          properties: ['name', 'summary', 'description'],
          ...(section === undefined ? {} : { where: { section: { eq: section } } }),
        }),
      ),
    vector: (value: number[]) =>
      hitIds(
        oramaSearch(db, {
          mode: 'vector',
          vector: { value, property: 'embedding' },
          similarity: 0,
          limit: 10,
        }),
      ),
    hybrid: (term: string, value: number[]) =>
      hitIds(
        oramaSearch(db, {
          mode: 'hybrid',
          term,
          vector: { value, property: 'embedding' },
          similarity: 0,
          limit: 10,
          properties: ['name', 'summary', 'description'],
        }),
      ),
  }
}

function buildMiniSearch(docs: readonly DebianPackage[]): (query: string) => number[] {
  const index = new MiniSearch<{ id: number; name: string; summary: string; description: string }>({
    fields: ['name', 'summary', 'description'],
    searchOptions: {
      boost: { name: 3, summary: 2 },
      prefix: (_term: string, i: number, terms: string[]) => i === terms.length - 1,
    },
  })
  index.addAll(
    docs.map((d) => ({ id: d.id, name: nameText(d), summary: d.summary, description: d.description })),
  )
  return (query) =>
    index
      .search(query)
      .slice(0, 10)
      .map((r) => r.id as number)
}

/** The ceiling: the bare cores, configured as the engine configures them. */
async function buildBare(docs: readonly DebianPackage[], vectors: readonly Float32Array[]) {
  const bm25 = await Bm25Index.create({
    fields: { name: { boost: 3 }, summary: { boost: 2 }, description: { boost: 1 } },
    analyzer: createAnalyzer({ locale: 'en', stemming: false, stopwords: [...eng] }),
  })
  for (const d of docs) bm25.add(d.id, { name: nameText(d), summary: d.summary, description: d.description })
  bm25.search('kernel', 10)
  const hnsw = await HnswIndex.create({
    dimensions: DIMENSIONS,
    metric: 'cosine',
    seed: 0x5ea1,
    ...HNSW_PARAMETERS,
  })
  const flat = new Float32Array(docs.length * DIMENSIONS)
  vectors.forEach((v, i) => {
    flat.set(v, i * DIMENSIONS)
  })
  hnsw.addBatch(
    Uint32Array.from(docs, (d) => d.id),
    flat,
  )
  return { bm25, hnsw }
}

function ids(hits: Record<string, unknown>[]): number[] {
  return hits.map((h) => h.id as number)
}

function quality(queries: readonly KnownItemQuery[], run: (q: KnownItemQuery) => ArrayLike<number>) {
  return knownItemQuality(
    queries,
    queries.map((q) => run(q)),
  )
}

function recordQuality(
  ctx: SuiteContext,
  name: string,
  figures: { mrrAt10: number; successAt10: number },
  peer?: string,
): void {
  const tag = peer === undefined ? {} : { peer }
  ctx.record({ name: `${name}-mrr-at-10`, metric: 'mrr@10', value: figures.mrrAt10, unit: 'mrr', ...tag })
  ctx.record({
    name: `${name}-success-at-10`,
    metric: 'success@10',
    value: figures.successAt10,
    unit: 'share',
    ...tag,
  })
}

/** Queries/s from the median latency of single queries (cycling through the query set), with p50/p99. */
async function perQuery(
  ctx: SuiteContext,
  name: string,
  queries: readonly KnownItemQuery[],
  run: (q: KnownItemQuery) => unknown,
  peer?: string,
): Promise<number> {
  let next = 0
  const measured = await ctx.measure(
    name,
    () => {
      run(queries[next]!)
      next = (next + 1) % queries.length
    },
    {
      timeMs: ctx.smoke ? 50 : 1500,
      iterations: ctx.smoke ? 5 : 50,
      ...(peer === undefined ? {} : { peer }),
    },
  )
  return measured.opsPerSecond
}

setFlagsFromString('--expose-gc')
const collect = runInNewContext('gc') as () => void

function memoryBytes(): number {
  collect()
  const usage = process.memoryUsage()
  return usage.heapUsed + usage.external + usage.arrayBuffers
}
