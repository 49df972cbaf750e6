import { mkdtemp, rm } from 'node:fs/promises'
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
import { open } from '../src/index.ts'
import { HNSW_PARAMETERS } from '../src/internal/hnsw-vector-index.ts'
import { DIMENSIONS, embed, idfWeights } from './vectors.ts'

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
    const weight = idfWeights(docs.map((d) => d.summary))
    const docVectors = docs.map((d) => embed(d.summary, '', weight))
    const queryVectors = queries.map((q) => embed(q.query, '', weight))
    const sectionOf = new Map(docs.map((d) => [d.id, d.section]))
    ctx.log(`${docs.length} documents, ${queries.length} known-item queries, ${DIMENSIONS}-d vectors`)
    ctx.record({ name: 'corpus-documents', metric: 'count', value: docs.length, unit: 'docs' })

    // ---- ingestion: engine and Orama take turns, one 1000-document batch each, so that load
    // changes on this shared machine weigh on both alike ------------------------------------------
    const dir = await mkdtemp(path.join(tmpdir(), 'shoal-engine-bench-'))
    const ingest = await ingestInterleaved(dir, docs, docVectors)
    const engineIngest = docs.length / ingest.engineSeconds
    const oramaIngest = docs.length / ingest.oramaSeconds
    ctx.record({ name: 'engine-ingest', metric: 'docs/s', value: engineIngest, unit: 'docs/s' })
    ctx.record({ name: 'orama-ingest', metric: 'docs/s', value: oramaIngest, unit: 'docs/s', peer: 'Orama' })
    ctx.log(
      `ingestion: engine (durable) ${Math.round(engineIngest)} docs/s, Orama (in memory) ${Math.round(oramaIngest)} docs/s`,
    )
    ctx.ratio('ingest-ratio-vs-orama', engineIngest, oramaIngest, 'Orama')
    ctx.record({ name: 'engine-backlog-at-last-ack', metric: 'count', value: ingest.backlog, unit: 'ops' })
    ctx.record({
      name: 'engine-backlog-drain',
      metric: 'time',
      value: ingest.drainSeconds * 1000,
      unit: 'ms',
    })
    const indexedIngest = docs.length / (ingest.engineSeconds + ingest.drainSeconds)
    ctx.record({
      name: 'engine-ingest-until-graph-built',
      metric: 'docs/s',
      value: indexedIngest,
      unit: 'docs/s',
    })
    ctx.log(
      `vector backlog at the last acknowledgement ${ingest.backlog}, drained in ${ingest.drainSeconds.toFixed(1)} s; ${Math.round(indexedIngest)} docs/s until the graph is built`,
    )
    const db = ingest.engine
    const index = db.index('packages')
    const orama = ingest.orama

    const mini = buildMiniSearch(docs)
    const bare = await buildBare(docs, docVectors)
    ctx.record({
      name: 'bare-bm25-ingest',
      metric: 'docs/s',
      value: docs.length / bare.bm25Seconds,
      unit: 'docs/s',
      peer: '@shoal/bm25',
    })
    ctx.record({
      name: 'bare-hnsw-ingest',
      metric: 'docs/s',
      value: docs.length / bare.hnswSeconds,
      unit: 'docs/s',
      peer: '@shoal/hnsw',
    })
    ctx.ratio('ingest-ratio-vs-bare-bm25', engineIngest, docs.length / bare.bm25Seconds, '@shoal/bm25')
    ctx.ratio('ingest-ratio-vs-bare-hnsw', engineIngest, docs.length / bare.hnswSeconds, '@shoal/hnsw')

    // ---- keyword ---------------------------------------------------------------------------
    const keywordQuality = quality(queries, (q) => ids(index.search({ q: q.query, limit: 10 }).hits))
    recordQuality(ctx, 'keyword', keywordQuality)
    const bm25Quality = quality(queries, (q) => bare.bm25.search(q.query, 10).ids)
    recordQuality(ctx, 'bare-bm25-keyword', bm25Quality, '@shoal/bm25')
    const oramaKeywordQuality = quality(queries.slice(0, ctx.smoke ? queries.length : 200), (q) =>
      orama.keyword(q.query),
    )
    recordQuality(ctx, 'orama-keyword', oramaKeywordQuality, 'Orama')

    const at = new Map(queries.map((q, i) => [q, i]))
    const vectorOf = (q: KnownItemQuery) => Array.from(queryVectors[at.get(q)!]!)
    const filterOf = (q: KnownItemQuery) => `section = "${sectionOf.get(q.target)}"`
    const hybridSearch = (q: KnownItemQuery) =>
      index.search({
        q: q.query,
        vector: vectorOf(q),
        hybrid: { embedder: 'text', semanticRatio: 0.5 },
        limit: 10,
      })
    const vectorSearch = (q: KnownItemQuery) =>
      index.search({ vector: vectorOf(q), hybrid: { embedder: 'text', semanticRatio: 1 }, limit: 10 })

    const vectorQuality = quality(queries, (q) => ids(vectorSearch(q).hits))
    recordQuality(ctx, 'vector', vectorQuality)
    const hybridQuality = quality(queries, (q) => ids(hybridSearch(q).hits))
    recordQuality(ctx, 'hybrid', hybridQuality)
    const oramaQueries = queries.slice(0, ctx.smoke ? queries.length : 200)
    const oramaHybridQuality = quality(oramaQueries, (q) => orama.hybrid(q.query, vectorOf(q)))
    recordQuality(ctx, 'orama-hybrid', oramaHybridQuality, 'Orama')

    // Queries/s: every engine answers single queries in turns (rounds of about 100 ms each), so
    // load changes weigh on all alike; the figure is 1000 / median latency.
    const qps = await interleavedQueries(ctx, queries, [
      { name: 'engine-keyword-query', run: (q) => index.search({ q: q.query, limit: 10 }) },
      { name: 'bare-bm25-keyword-query', peer: '@shoal/bm25', run: (q) => bare.bm25.search(q.query, 10) },
      { name: 'orama-keyword-query', peer: 'Orama', run: (q) => orama.keyword(q.query) },
      { name: 'minisearch-keyword-query', peer: 'MiniSearch', run: (q) => mini(q.query) },
      {
        name: 'engine-filtered-keyword-query',
        run: (q) => index.search({ q: q.query, filter: filterOf(q), limit: 10 }),
      },
      {
        name: 'orama-filtered-keyword-query',
        peer: 'Orama',
        run: (q) => orama.keyword(q.query, sectionOf.get(q.target)),
      },
      { name: 'engine-vector-query', run: vectorSearch },
      {
        name: 'bare-hnsw-vector-query',
        peer: '@shoal/hnsw',
        run: (q) => bare.hnsw.search(queryVectors[at.get(q)!]!, 10),
      },
      { name: 'orama-vector-query', peer: 'Orama', run: (q) => orama.vector(vectorOf(q)) },
      { name: 'engine-hybrid-query', run: hybridSearch },
      { name: 'orama-hybrid-query', peer: 'Orama', run: (q) => orama.hybrid(q.query, vectorOf(q)) },
    ])
    const q = (name: string) => qps.get(name)!
    ctx.ratio(
      'keyword-qps-ratio-vs-bm25',
      q('engine-keyword-query'),
      q('bare-bm25-keyword-query'),
      '@shoal/bm25',
    )
    ctx.ratio('keyword-qps-ratio-vs-orama', q('engine-keyword-query'), q('orama-keyword-query'), 'Orama')
    ctx.ratio(
      'keyword-qps-ratio-vs-minisearch',
      q('engine-keyword-query'),
      q('minisearch-keyword-query'),
      'MiniSearch',
    )
    ctx.ratio(
      'filtered-keyword-qps-ratio-vs-orama',
      q('engine-filtered-keyword-query'),
      q('orama-filtered-keyword-query'),
      'Orama',
    )
    ctx.ratio(
      'vector-qps-ratio-vs-hnsw',
      q('engine-vector-query'),
      q('bare-hnsw-vector-query'),
      '@shoal/hnsw',
    )
    ctx.ratio('vector-qps-ratio-vs-orama', q('engine-vector-query'), q('orama-vector-query'), 'Orama')
    ctx.ratio('hybrid-qps-ratio-vs-orama', q('engine-hybrid-query'), q('orama-hybrid-query'), 'Orama')
    ctx.record({ name: 'keyword-mrr', metric: 'mrr@10', value: keywordQuality.mrrAt10, unit: 'mrr' })
    ctx.record({ name: 'hybrid-mrr', metric: 'mrr@10', value: hybridQuality.mrrAt10, unit: 'mrr' })
    ctx.record({
      name: 'hybrid-mrr-minus-keyword-mrr',
      metric: 'mrr@10',
      value: hybridQuality.mrrAt10 - keywordQuality.mrrAt10,
      unit: 'mrr',
    })
    ctx.log(
      `MRR@10 keyword ${keywordQuality.mrrAt10.toFixed(3)} (bare bm25 ${bm25Quality.mrrAt10.toFixed(3)}), vector ${vectorQuality.mrrAt10.toFixed(3)}, hybrid ${hybridQuality.mrrAt10.toFixed(3)}, Orama hybrid ${oramaHybridQuality.mrrAt10.toFixed(3)} (first ${oramaQueries.length} queries)`,
    )

    // ---- reopen ----------------------------------------------------------------------------
    await db.close()
    let started = performance.now()
    const replayed = await open(dir)
    ctx.record({
      name: 'engine-open-by-log-replay',
      metric: 'time',
      value: performance.now() - started,
      unit: 'ms',
    })
    // Replay queues every vector again; the snapshot is taken once the graph holds them.
    started = performance.now()
    await replayed.whenVectorsIndexed()
    ctx.record({
      name: 'engine-replay-backlog-drain',
      metric: 'time',
      value: performance.now() - started,
      unit: 'ms',
    })
    await replayed.snapshot()
    await replayed.close()
    const memoryBefore = memoryBytes()
    started = performance.now()
    const reopened = await open(dir)
    ctx.record({
      name: 'engine-open-from-snapshot',
      metric: 'time',
      value: performance.now() - started,
      unit: 'ms',
    })
    const reopenMs = performance.now() - started
    ctx.ratio(
      'reopen-time-vs-ingest-time',
      reopenMs,
      (ingest.engineSeconds + ingest.drainSeconds) * 1000,
      'durable ingestion of the same documents, graph built',
    )
    const engineMemory = memoryBytes() - memoryBefore
    ctx.record({
      name: 'engine-memory-per-document',
      metric: 'memory',
      value: engineMemory / docs.length,
      unit: 'B',
    })
    ctx.log(
      `engine: ${(engineMemory / docs.length).toFixed(0)} B per document (documents, text and vector indexes)`,
    )
    await reopened.close()
    await rm(dir, { recursive: true, force: true })
  },
})

const BATCH = 1000

function nameText(doc: DebianPackage): string {
  return `${doc.name.replace(/[-.+_]/g, ' ')} ${doc.name}`
}

function engineBatch(docs: readonly DebianPackage[], vectors: readonly Float32Array[], at: number) {
  return docs.slice(at, at + BATCH).map((d, i) => ({
    id: d.id,
    name: nameText(d),
    section: d.section,
    summary: d.summary,
    description: d.description,
    _vectors: { text: Array.from(vectors[at + i]!) },
  }))
}

function oramaBatch(docs: readonly DebianPackage[], vectors: readonly Float32Array[], at: number) {
  return docs.slice(at, at + BATCH).map((d, i) => ({
    id: String(d.id),
    name: nameText(d),
    summary: d.summary,
    description: d.description,
    section: d.section,
    embedding: Array.from(vectors[at + i]!),
  }))
}

/**
 * Durable engine ingestion (sync 'always', one addDocuments per 1000 documents, timed from open
 * to searchable) and Orama's in-memory insertMultiple of the same batches, taking turns.
 */
async function ingestInterleaved(
  dir: string,
  docs: readonly DebianPackage[],
  vectors: readonly Float32Array[],
) {
  let engineMs = 0
  let oramaMs = 0
  let started = performance.now()
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
  engineMs += performance.now() - started
  const index = engine.index('packages')
  started = performance.now()
  const db = createOrama()
  oramaMs += performance.now() - started
  for (let at = 0; at < docs.length; at += BATCH) {
    const forEngine = engineBatch(docs, vectors, at)
    const forOrama = oramaBatch(docs, vectors, at)
    started = performance.now()
    await index.addDocuments(forEngine)
    engineMs += performance.now() - started
    started = performance.now()
    await insertMultiple(db, forOrama)
    oramaMs += performance.now() - started
  }
  // Searchable means searched once: the text index finishes encoding on its first query.
  started = performance.now()
  index.search({ q: 'kernel' })
  engineMs += performance.now() - started
  // Vectors are searchable at once (the backlog is scanned exactly); the graph takes them in the
  // background. The drain is timed apart: from the last acknowledgement to an empty backlog.
  const backlog = engine.vectorBacklog()
  started = performance.now()
  await engine.whenVectorsIndexed()
  const drainMs = performance.now() - started
  return {
    engine,
    engineSeconds: engineMs / 1000,
    drainSeconds: drainMs / 1000,
    backlog,
    orama: oramaSearcher(db),
    oramaSeconds: oramaMs / 1000,
  }
}

function createOrama() {
  return create({
    schema: {
      name: 'string',
      summary: 'string',
      description: 'string',
      section: 'enum',
      embedding: `vector[${DIMENSIONS}]`,
    } as const,
  })
}

function oramaSearcher(db: ReturnType<typeof createOrama>) {
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
  let started = performance.now()
  const bm25 = await Bm25Index.create({
    fields: { name: { boost: 3 }, summary: { boost: 2 }, description: { boost: 1 } },
    analyzer: createAnalyzer({ locale: 'en', stemming: false, stopwords: [...eng] }),
  })
  for (const d of docs) bm25.add(d.id, { name: nameText(d), summary: d.summary, description: d.description })
  bm25.search('kernel', 10)
  const bm25Seconds = (performance.now() - started) / 1000
  started = performance.now()
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
  return { bm25, hnsw, bm25Seconds, hnswSeconds: (performance.now() - started) / 1000 }
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

interface QueryRunner {
  name: string
  peer?: string
  run: (q: KnownItemQuery) => unknown
}

/** Rounds in which each runner answers queries for about `sliceMs`, in rotating order. */
async function interleavedQueries(
  ctx: SuiteContext,
  queries: readonly KnownItemQuery[],
  runners: QueryRunner[],
): Promise<Map<string, number>> {
  const rounds = ctx.smoke ? 3 : 15
  const sliceMs = ctx.smoke ? 20 : 100
  const latencies = runners.map(() => [] as number[])
  const next = runners.map(() => 0)
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < runners.length; k++) {
      const r = (k + round) % runners.length
      const runner = runners[r]!
      const sliceStart = performance.now()
      do {
        const q = queries[next[r]!]!
        next[r] = (next[r]! + 1) % queries.length
        const t = performance.now()
        runner.run(q)
        latencies[r]!.push(performance.now() - t)
      } while (performance.now() - sliceStart < sliceMs)
    }
    await new Promise((resolve) => setImmediate(resolve))
  }
  const out = new Map<string, number>()
  runners.forEach((runner, r) => {
    const sorted = latencies[r]!.sort((a, b) => a - b)
    const p50 = sorted[Math.floor(sorted.length * 0.5)]!
    const p99 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!
    const tag = runner.peer === undefined ? {} : { peer: runner.peer }
    ctx.record({ name: runner.name, metric: 'ops/s', value: 1000 / p50, unit: 'ops/s', ...tag })
    ctx.record({ name: runner.name, metric: 'p50-latency', value: p50, unit: 'ms', ...tag })
    ctx.record({ name: runner.name, metric: 'p99-latency', value: p99, unit: 'ms', ...tag })
    ctx.log(
      `${runner.name}: ${Math.round(1000 / p50).toLocaleString('en')} q/s (p50 ${p50.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms, ${sorted.length} queries)`,
    )
    out.set(runner.name, 1000 / p50)
  })
  return out
}

setFlagsFromString('--expose-gc')
const collect = runInNewContext('gc') as () => void

function memoryBytes(): number {
  collect()
  const usage = process.memoryUsage()
  return usage.heapUsed + usage.external + usage.arrayBuffers
}
