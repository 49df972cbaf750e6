import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { insertMultiple } from '@orama/orama'
import { cpuProfileDir, defineSuite, median, type SuiteContext } from '@shoal/bench'
import { Bm25Index, createAnalyzer } from '@shoal/bm25'
import { HnswIndex } from '@shoal/hnsw'
import { eng } from 'stopword'
import {
  type DebianPackage,
  type KnownItemQuery,
  knownItemQuality,
  knownItemQueries,
  loadDebianCorpus,
  splitKnownItemQueries,
} from '../../../bench/corpus/debian.ts'
import { buildMiniSearch } from '../../bm25/bench/peers.ts'
import { open } from '../src/index.ts'
import { HNSW_PARAMETERS } from '../src/internal/hnsw-vector-index.ts'
import {
  createOrama,
  exactTop10,
  ORAMA_THRESHOLDS,
  type OramaDb,
  oramaSearcher,
  recallAt10,
} from './peers.ts'
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
    '@shoal/engine on Debian packages + synthetic vectors: ingestion, keyword/filtered/vector/hybrid q/s in rounds and held-out MRR vs Orama (same weights, stop words; exact vectors), MiniSearch, bare bm25/hnsw',
  peers: { npm: ['@orama/orama', 'minisearch'] },
  async run(ctx) {
    const docs = loadDebianCorpus({ limit: ctx.smoke ? 1000 : Number.MAX_SAFE_INTEGER })
    BATCH = ctx.smoke ? 200 : 1000
    const queries = knownItemQueries(docs, ctx.seed, ctx.smoke ? 50 : 500)
    const { tuning, heldOut } = splitKnownItemQueries(queries, ctx.seed)
    const weight = idfWeights(docs.map((d) => d.summary))
    const docVectors = docs.map((d) => embed(d.summary, '', weight))
    const queryVectors = queries.map((q) => embed(q.query, '', weight))
    const sectionOf = new Map(docs.map((d) => [d.id, d.section]))
    ctx.log(
      `${docs.length} documents, ${tuning.length} tuning / ${heldOut.length} held-out queries, ${DIMENSIONS}-d synthetic vectors`,
    )
    ctx.record({ name: 'corpus-documents', metric: 'count', value: docs.length, unit: 'docs' })
    ctx.record({ name: 'held-out-queries', metric: 'count', value: heldOut.length, unit: 'queries' })

    // ---- ingestion: engine and Orama take turns batch by batch; each batch is a round ----------
    const dir = await mkdtemp(path.join(tmpdir(), 'shoal-engine-bench-'))
    const ingest = await ingestInterleaved(dir, docs, docVectors)
    const engineIngest = docs.length / ingest.engineSeconds
    const oramaIngest = docs.length / ingest.oramaSeconds
    ctx.record({ name: 'engine-ingest', metric: 'docs/s', value: engineIngest, unit: 'docs/s' })
    ctx.record({ name: 'orama-ingest', metric: 'docs/s', value: oramaIngest, unit: 'docs/s', peer: 'Orama' })
    ctx.log(
      `ingestion: engine (durable) ${Math.round(engineIngest)} docs/s, Orama (in memory) ${Math.round(oramaIngest)} docs/s`,
    )
    ctx.roundRatio('ingest-ratio-vs-orama', ingest.engineBatches, ingest.oramaBatches, 'Orama')
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
    const db = ingest.engine
    const index = db.index('packages')

    // The bare cores as the engine configures them: one build each, for reference (no ratio).
    const bare = await buildBare(docs, docVectors)
    ctx.record({
      name: 'bare-bm25-ingest',
      metric: 'docs/s',
      value: docs.length / bare.bm25Seconds,
      unit: 'docs/s',
    })
    ctx.record({
      name: 'bare-hnsw-ingest',
      metric: 'docs/s',
      value: docs.length / bare.hnswSeconds,
      unit: 'docs/s',
    })

    // BENCH_CPU_PROF=<dir>: where a keyword query's time goes in the engine and in the bare index,
    // on the held-out queries the rounds below time (the profiles are not timed figures).
    // The timed rounds run after the quality passes, which encode every term the queries read
    // (the text index encodes a term's postings on its first search): one untimed pass does it here.
    if (cpuProfileDir() !== undefined) {
      for (const q of heldOut) {
        index.search({ q: q.query, limit: 10 })
        bare.bm25.search(q.query, 10)
      }
    }
    await ctx.cpuProfile('engine-keyword', () =>
      repeatQueries(ctx, heldOut, (q) => index.search({ q: q.query, limit: 10 })),
    )
    await ctx.cpuProfile('bare-bm25-keyword', () =>
      repeatQueries(ctx, heldOut, (q) => bare.bm25.search(q.query, 10)),
    )

    // ---- options chosen on the tuning queries, quality on the held-out ones ---------------------
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
    const orama = chooseOrama(ctx, ingest.oramaDb, tuning)
    const mini = chooseMiniSearch(ctx, docs, tuning)

    const keywordQuality = quality(heldOut, (q) => ids(index.search({ q: q.query, limit: 10 }).hits))
    recordQuality(ctx, 'keyword', keywordQuality)
    recordQuality(
      ctx,
      'bare-bm25-keyword',
      quality(heldOut, (q) => bare.bm25.search(q.query, 10).ids),
    )
    recordQuality(
      ctx,
      'orama-keyword',
      quality(heldOut, (q) => orama.keyword(q.query)),
      'Orama',
    )
    recordQuality(
      ctx,
      'minisearch-keyword',
      quality(heldOut, (q) => mini.search(q.query)),
      'MiniSearch',
    )
    const vectorQuality = quality(heldOut, (q) => ids(vectorSearch(q).hits))
    recordQuality(ctx, 'vector', vectorQuality)
    const hybridQuality = quality(heldOut, (q) => ids(hybridSearch(q).hits))
    recordQuality(ctx, 'hybrid', hybridQuality)
    const oramaHybridQuality = quality(heldOut, (q) => orama.hybrid(q.query, vectorOf(q)))
    recordQuality(ctx, 'orama-hybrid', oramaHybridQuality, 'Orama')

    // ---- vectors at equal recall: Orama scans exactly; Shoal's recall is measured and stated ----
    const docIds = docs.map((d) => d.id)
    const exact = heldOut.map((q) => exactTop10(queryVectors[at.get(q)!]!, docVectors, docIds))
    const engineRecall = recallAt10(
      heldOut.map((q) => ids(vectorSearch(q).hits)),
      exact,
    )
    ctx.record({
      name: 'engine-vector-recall-at-10',
      metric: 'recall@10',
      value: engineRecall,
      unit: 'ratio',
    })
    let ef: number = HNSW_PARAMETERS.efSearch
    let bareRecall = 0
    for (; ef <= 4096; ef *= 2) {
      bare.hnsw.efSearch = ef
      bareRecall = recallAt10(
        heldOut.map((q) => bare.hnsw.search(queryVectors[at.get(q)!]!, 10).ids),
        exact,
      )
      if (bareRecall >= 0.99) break
    }
    ctx.record({
      name: 'bare-hnsw-vector-recall-at-10',
      metric: 'recall@10',
      value: bareRecall,
      unit: 'ratio',
    })
    // The efSearch searched with last (the loop's counter is one doubling past it when 0.99 was
    // not reached).
    ef = bare.hnsw.efSearch
    ctx.record({ name: 'bare-hnsw-vector-ef-search', metric: 'efSearch', value: ef, unit: 'ef' })
    ctx.log(
      `vector recall@10 against the exact top 10: engine ${engineRecall.toFixed(3)}; bare hnsw ${bareRecall.toFixed(3)} at efSearch ${ef}`,
    )

    // Queries/s: every runner answers single held-out queries in turns, round after round.
    const qps = await interleavedQueries(ctx, heldOut, [
      { name: 'engine-keyword-query', run: (q) => index.search({ q: q.query, limit: 10 }) },
      { name: 'bare-bm25-keyword-query', peer: '@shoal/bm25', run: (q) => bare.bm25.search(q.query, 10) },
      { name: 'orama-keyword-query', peer: 'Orama', run: (q) => orama.keyword(q.query) },
      { name: 'minisearch-keyword-query', peer: 'MiniSearch', run: (q) => mini.search(q.query) },
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
        // The graph at the efSearch that reached recall 0.99, or the largest tried (the recall
        // it reached is recorded as bare-hnsw-vector-recall-at-10).
        name: 'bare-hnsw-vector-query-graph',
        peer: '@shoal/hnsw',
        run: (q) => bare.hnsw.search(queryVectors[at.get(q)!]!, 10),
      },
      {
        // Every vector compared with the query, as Orama does: recall 1, like for like.
        name: 'bare-hnsw-vector-query-exact',
        peer: '@shoal/hnsw',
        run: (q) => bare.hnsw.search(queryVectors[at.get(q)!]!, 10, { exact: true }),
      },
      { name: 'orama-vector-query', peer: 'Orama', run: (q) => orama.vector(vectorOf(q)) },
      { name: 'engine-hybrid-query', run: hybridSearch },
      { name: 'orama-hybrid-query', peer: 'Orama', run: (q) => orama.hybrid(q.query, vectorOf(q)) },
    ])
    const q = (name: string) => qps.get(name)!
    ctx.roundRatio(
      'keyword-qps-ratio-vs-bm25',
      q('engine-keyword-query'),
      q('bare-bm25-keyword-query'),
      '@shoal/bm25',
    )
    ctx.roundRatio('keyword-qps-ratio-vs-orama', q('engine-keyword-query'), q('orama-keyword-query'), 'Orama')
    ctx.roundRatio(
      'keyword-qps-ratio-vs-minisearch',
      q('engine-keyword-query'),
      q('minisearch-keyword-query'),
      'MiniSearch',
    )
    ctx.roundRatio(
      'filtered-keyword-qps-ratio-vs-orama',
      q('engine-filtered-keyword-query'),
      q('orama-filtered-keyword-query'),
      'Orama',
    )
    // Orama's vector search is exact: the like-for-like ratio is @shoal/hnsw's exact search
    // (recall 1); the graph's ratio goes with the recall it reached (bare-hnsw-vector-recall-at-10),
    // the engine's with engine-vector-recall-at-10.
    ctx.roundRatio(
      'vector-qps-exact-ratio-vs-orama',
      q('bare-hnsw-vector-query-exact'),
      q('orama-vector-query'),
      'Orama (exact)',
    )
    ctx.roundRatio(
      'vector-qps-graph-ratio-vs-orama',
      q('bare-hnsw-vector-query-graph'),
      q('orama-vector-query'),
      'Orama (exact)',
    )
    ctx.roundRatio(
      'engine-vector-qps-ratio-vs-orama',
      q('engine-vector-query'),
      q('orama-vector-query'),
      'Orama (exact)',
    )
    ctx.roundRatio('hybrid-qps-ratio-vs-orama', q('engine-hybrid-query'), q('orama-hybrid-query'), 'Orama')
    ctx.record({
      name: 'hybrid-mrr-minus-keyword-mrr',
      metric: 'mrr@10',
      value: hybridQuality.mrrAt10 - keywordQuality.mrrAt10,
      unit: 'mrr',
    })
    ctx.log(
      `held-out MRR@10 keyword ${keywordQuality.mrrAt10.toFixed(3)}, vector ${vectorQuality.mrrAt10.toFixed(3)}, hybrid ${hybridQuality.mrrAt10.toFixed(3)}, Orama hybrid ${oramaHybridQuality.mrrAt10.toFixed(3)} (vectors are synthetic)`,
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
    const engineMemory = memoryBytes() - memoryBefore
    if (engineMemory > 0) {
      ctx.record({
        name: 'engine-memory-per-document',
        metric: 'memory',
        value: engineMemory / docs.length,
        unit: 'B',
      })
    } else ctx.log(`heap difference ${engineMemory} B is not a measurement; no memory figure`)
    await reopened.close()
    await rm(dir, { recursive: true, force: true })
  },
})

/** Orama's `threshold` chosen by MRR@10 on the tuning queries (keyword search). */
function chooseOrama(ctx: SuiteContext, db: OramaDb, tuning: readonly KnownItemQuery[]) {
  let best = oramaSearcher(db, ORAMA_THRESHOLDS[0])
  let bestMrr = -1
  for (const threshold of ORAMA_THRESHOLDS) {
    const searcher = oramaSearcher(db, threshold)
    const mrr = quality(tuning, (q) => searcher.keyword(q.query)).mrrAt10
    ctx.record({
      name: `orama-tuning-mrr-at-10/threshold-${threshold}`,
      metric: 'mrr@10',
      value: mrr,
      unit: 'mrr',
      peer: 'Orama',
    })
    if (mrr > bestMrr) [best, bestMrr] = [searcher, mrr]
  }
  return best
}

/** MiniSearch with the bm25 suite's builder and candidates, chosen on the tuning queries. */
function chooseMiniSearch(
  ctx: SuiteContext,
  docs: readonly DebianPackage[],
  tuning: readonly KnownItemQuery[],
) {
  const built = buildMiniSearch(docs)
  let best = built.candidates[0]!
  let bestMrr = -1
  for (const candidate of built.candidates) {
    const mrr = quality(tuning, (q) => candidate.search(q.query)).mrrAt10
    ctx.record({
      name: `minisearch-tuning-mrr-at-10/${candidate.label}`,
      metric: 'mrr@10',
      value: mrr,
      unit: 'mrr',
      peer: 'MiniSearch',
    })
    if (mrr > bestMrr) [best, bestMrr] = [candidate, mrr]
  }
  return best
}

/** Documents per ingestion batch; a smoke run's 1,000 documents still make 5 rounds. */
let BATCH = 1000

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
 * Durable engine ingestion (sync 'always', one addDocuments per batch, timed from open to
 * searchable) and Orama's in-memory insertMultiple of the same batches, taking turns; each batch
 * is a round (docs/s per batch on both sides), so the ratio is the median per-batch ratio.
 */
async function ingestInterleaved(
  dir: string,
  docs: readonly DebianPackage[],
  vectors: readonly Float32Array[],
) {
  let engineMs = 0
  let oramaMs = 0
  const engineBatches: number[] = []
  const oramaBatches: number[] = []
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
    // Alternating which goes first, batch after batch (ABBA…).
    const engineFirst = (at / BATCH) % 2 === 0
    for (const side of engineFirst ? ['engine', 'orama'] : ['orama', 'engine']) {
      started = performance.now()
      if (side === 'engine') await index.addDocuments(forEngine)
      else await insertMultiple(db, forOrama)
      const ms = performance.now() - started
      if (side === 'engine') {
        engineMs += ms
        engineBatches.push(forEngine.length / (ms / 1000))
      } else {
        oramaMs += ms
        oramaBatches.push(forOrama.length / (ms / 1000))
      }
    }
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
    oramaDb: db,
    oramaSeconds: oramaMs / 1000,
    engineBatches,
    oramaBatches,
  }
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

/**
 * Rounds in which each runner answers queries for about `sliceMs`, in rotating order. Returns
 * each runner's per-round queries/s (1000 / that round's median latency), for per-round ratios.
 */
/** Single queries in turn for 5 s (0.2 s in smoke runs): the workload a CPU profile samples. */
function repeatQueries(
  ctx: SuiteContext,
  queries: readonly KnownItemQuery[],
  run: (q: KnownItemQuery) => unknown,
): void {
  const started = performance.now()
  const until = started + (ctx.smoke ? 200 : 5000)
  let n = 0
  while (performance.now() < until) run(queries[n++ % queries.length]!)
  ctx.log(`profiled ${n} queries: ${(((performance.now() - started) * 1000) / n).toFixed(1)} µs each`)
}

async function interleavedQueries(
  ctx: SuiteContext,
  queries: readonly KnownItemQuery[],
  runners: QueryRunner[],
): Promise<Map<string, number[]>> {
  const sliceMs = ctx.smoke ? 10 : 100
  const next = runners.map(() => 0)
  const all = runners.map(() => [] as number[])
  const perRound = await ctx.alternate(
    runners.map((runner, r) => ({
      name: runner.name,
      run: () => {
        const latencies: number[] = []
        const sliceStart = performance.now()
        do {
          const q = queries[next[r]!]!
          next[r] = (next[r]! + 1) % queries.length
          const t = performance.now()
          runner.run(q)
          latencies.push(performance.now() - t)
        } while (performance.now() - sliceStart < sliceMs)
        all[r]!.push(...latencies)
        latencies.sort((a, b) => a - b)
        return 1000 / latencies[latencies.length >> 1]!
      },
    })),
    ctx.smoke ? 5 : 15,
  )
  runners.forEach((runner, r) => {
    const sorted = all[r]!.sort((a, b) => a - b)
    const p50 = sorted[Math.floor(sorted.length * 0.5)]!
    const p99 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!
    const rounds = perRound.get(runner.name)!
    const tag = runner.peer === undefined ? {} : { peer: runner.peer }
    ctx.record({
      name: runner.name,
      metric: 'ops/s',
      value: median(rounds),
      unit: 'ops/s',
      rounds: rounds.length,
      min: Math.min(...rounds),
      max: Math.max(...rounds),
      ...tag,
    })
    ctx.record({ name: runner.name, metric: 'p50-latency', value: p50, unit: 'ms', ...tag })
    ctx.record({ name: runner.name, metric: 'p99-latency', value: p99, unit: 'ms', ...tag })
    ctx.log(
      `${runner.name}: ${Math.round(median(rounds)).toLocaleString('en')} q/s (p50 ${p50.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms, ${sorted.length} queries)`,
    )
  })
  return perRound
}

setFlagsFromString('--expose-gc')
const collect = runInNewContext('gc') as () => void

function memoryBytes(): number {
  collect()
  const usage = process.memoryUsage()
  return usage.heapUsed + usage.external + usage.arrayBuffers
}
