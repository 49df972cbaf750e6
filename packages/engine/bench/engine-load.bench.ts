import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import path from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { create, insertMultiple } from '@orama/orama'
import { defineSuite, type SuiteContext, spreadOf } from '@shoal/bench'
import MiniSearch from 'minisearch'
import { eng } from 'stopword'
import { type DebianPackage, knownItemQueries, loadDebianCorpus } from '../../../bench/corpus/debian.ts'
import { type Engine, open } from '../src/index.ts'
import { DIMENSIONS, embed, idfWeights } from './vectors.ts'

setFlagsFromString('--expose-gc')
const collect = runInNewContext('gc') as () => void

const BATCH = 1000

/**
 * The engine under load, on Debian's package descriptions with generated 64-d vectors:
 * - search latency while durable ingestion runs against idle: the first half of the corpus is
 *   loaded, then a client issues hybrid and keyword searches one after another (each issued
 *   1 ms after the previous answer) while the second half is ingested in 1000-document batches;
 *   response time counts from issue to answer, so it includes waiting behind a batch being
 *   applied; the same client on the idle engine is the baseline (target: p99 at most 3x idle);
 *   idle and ingesting windows alternate over 5 rounds;
 * - memory per document (heap, external and array buffers after a full collection) of the
 *   engine (reopened from its snapshot), Orama (text + vectors) and MiniSearch (text only, it has
 *   no vectors) holding the same documents.
 */
export default defineSuite({
  description:
    '@shoal/engine under load: search p50/p99 while ingesting vs idle (alternating windows, 5 rounds); memory per document vs Orama and MiniSearch',
  peers: { npm: ['@orama/orama', 'minisearch'] },
  async run(ctx) {
    const docs = loadDebianCorpus({ limit: ctx.smoke ? 4000 : 64_000 })
    const weight = idfWeights(docs.map((d) => d.summary))
    const vectors = docs.map((d) => embed(d.summary, '', weight))
    const queries = knownItemQueries(docs, ctx.seed, 200).map((q) => ({
      q: q.query,
      vector: Array.from(embed(q.query, '', weight)),
    }))
    const dir = await mkdtemp(path.join(tmpdir(), 'shoal-engine-load-'))
    // On a shared machine the waits for a core show in every figure: the load is recorded.
    ctx.record({ name: 'load-average-start', metric: 'load', value: loadavg()[0]!, unit: 'runnable' })
    try {
      await searchUnderIngestion(ctx, dir, docs, vectors, queries)
      ctx.record({
        name: 'load-average-after-search',
        metric: 'load',
        value: loadavg()[0]!,
        unit: 'runnable',
      })
      await memoryPerDocument(ctx, dir, docs, vectors)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  },
})

type Query = { q: string; vector: number[] }

async function searchUnderIngestion(
  ctx: SuiteContext,
  dir: string,
  docs: readonly DebianPackage[],
  vectors: readonly Float32Array[],
  queries: readonly Query[],
): Promise<void> {
  const engine = await open(dir, { sync: 'always', snapshotEvery: 0 })
  await engine.createIndex('packages', {
    primaryKey: 'id',
    settings: {
      searchableAttributes: ['name', 'summary', 'description'],
      filterableAttributes: ['section'],
      stopWords: eng,
      embedders: { text: { source: 'userProvided', dimensions: DIMENSIONS } },
    },
  })
  const half = Math.floor(docs.length / 2 / BATCH) * BATCH
  for (let at = 0; at < half; at += BATCH)
    await engine.index('packages').addDocuments(batch(docs, vectors, at, half))
  await engine.whenVectorsIndexed()

  // Idle and ingesting windows alternate (the order swapping each round) over 5 rounds; each
  // ingesting window takes the next fifth of the second half. The ratio is the median of the
  // per-round p99 ratios.
  const rounds = ctx.rounds
  const chunk = Math.ceil((docs.length - half) / rounds / BATCH) * BATCH
  let ingestMs = 0
  let nextAt = half
  const windows = await ctx.alternate([
    {
      name: 'idle',
      run: () =>
        client(engine, queries, async () => {
          await sleep(ctx.smoke ? 200 : 2000)
        }),
    },
    {
      name: 'ingesting',
      run: () =>
        client(engine, queries, async () => {
          const started = performance.now()
          const end = Math.min(docs.length, nextAt + chunk)
          for (let at = nextAt; at < end; at += BATCH) {
            await engine.index('packages').addDocuments(batch(docs, vectors, at, end))
          }
          nextAt = end
          ingestMs += performance.now() - started
        }),
    },
  ])
  const drainStarted = performance.now()
  await engine.whenVectorsIndexed()
  const drainMs = performance.now() - drainStarted
  await engine.close()
  for (const name of ['idle', 'ingesting'] as const) {
    const perRound = windows.get(name)!
    const p50 = spreadOf(perRound.map((w) => w.p50))
    const p99 = spreadOf(perRound.map((w) => w.p99))
    const spread = (s: typeof p50) => ({ rounds: s.rounds, min: s.min, max: s.max })
    ctx.record({
      name: `search-${name}-p50`,
      metric: 'p50-latency',
      value: p50.median,
      unit: 'ms',
      ...spread(p50),
    })
    ctx.record({
      name: `search-${name}-p99`,
      metric: 'p99-latency',
      value: p99.median,
      unit: 'ms',
      ...spread(p99),
    })
    const count = perRound.reduce((sum, w) => sum + w.count, 0)
    ctx.record({ name: `search-${name}-count`, metric: 'count', value: count, unit: 'queries' })
    ctx.log(
      `search ${name}: p50 ${p50.median.toFixed(2)} ms, p99 ${p99.median.toFixed(2)} ms over ${count} queries`,
    )
  }
  ctx.roundRatio(
    'search-p99-ingesting-vs-idle',
    windows.get('ingesting')!.map((w) => w.p99),
    windows.get('idle')!.map((w) => w.p99),
    'idle (target at most 3x)',
  )
  ctx.record({
    name: 'ingest-while-searching',
    metric: 'docs/s',
    value: (docs.length - half) / (ingestMs / 1000),
    unit: 'docs/s',
  })
  ctx.record({ name: 'backlog-drain-after-ingest', metric: 'time', value: drainMs, unit: 'ms' })
  await rm(dir, { recursive: true, force: true })
}

/**
 * Issues queries one after another (each 1 ms after the previous answer) until `work` settles;
 * a query's response time runs from its issue to its answer.
 */
async function client(engine: Engine, queries: readonly Query[], work: () => Promise<void>) {
  const latencies: number[] = []
  let done = false
  const running = work().finally(() => {
    done = true
  })
  let i = 0
  while (!done) {
    const issued = performance.now() + 1
    await sleep(1)
    const query = queries[i++ % queries.length]!
    engine
      .index('packages')
      .search(
        i % 2 === 0
          ? { q: query.q, vector: query.vector, hybrid: { embedder: 'text', semanticRatio: 0.5 }, limit: 10 }
          : { q: query.q, limit: 10 },
      )
    latencies.push(performance.now() - issued)
  }
  await running
  latencies.sort((a, b) => a - b)
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0
  return { p50: at(0.5), p99: at(0.99), count: latencies.length }
}

async function memoryPerDocument(
  ctx: SuiteContext,
  dir: string,
  docs: readonly DebianPackage[],
  vectors: readonly Float32Array[],
): Promise<void> {
  const build = await open(dir, { sync: 'none', snapshotEvery: 0 })
  await build.createIndex('packages', {
    primaryKey: 'id',
    settings: {
      searchableAttributes: ['name', 'summary', 'description'],
      filterableAttributes: ['section'],
      embedders: { text: { source: 'userProvided', dimensions: DIMENSIONS } },
    },
  })
  for (let at = 0; at < docs.length; at += BATCH)
    await build.index('packages').addDocuments(batch(docs, vectors, at, docs.length))
  await build.whenVectorsIndexed()
  await build.snapshot()
  await build.close()

  const measured: Record<string, number> = {}
  let before = memoryBytes()
  const engine = await open(dir, { sync: 'none', snapshotEvery: 0 })
  measured.engine = (memoryBytes() - before) / docs.length
  // Reading every document once decodes it from the snapshot's column (then both are held until
  // the column is released): memory after a full read.
  engine.index('packages').getDocuments({ limit: docs.length })
  measured['engine-after-reading-all'] = (memoryBytes() - before) / docs.length
  await engine.close()

  before = memoryBytes()
  const orama = create({
    schema: {
      name: 'string',
      summary: 'string',
      description: 'string',
      section: 'enum',
      embedding: `vector[${DIMENSIONS}]`,
    } as const,
  })
  for (let at = 0; at < docs.length; at += BATCH) {
    await insertMultiple(
      orama,
      docs.slice(at, at + BATCH).map((d, i) => ({
        id: String(d.id),
        name: d.name,
        summary: d.summary,
        description: d.description,
        section: d.section,
        embedding: Array.from(vectors[at + i]!),
      })),
    )
  }
  measured.orama = (memoryBytes() - before) / docs.length
  keep(orama)

  before = memoryBytes()
  const mini = new MiniSearch<DebianPackage>({
    fields: ['name', 'summary', 'description'],
    storeFields: ['section'],
  })
  mini.addAll(docs as DebianPackage[])
  measured.minisearch = (memoryBytes() - before) / docs.length
  keep(mini)

  // A difference of heap readings can come out at or below zero when a collection freed more than
  // the structure added (the closed build's memory, released late): that is not a measurement, so
  // no figure is recorded for it, nor a ratio built on it.
  const real = (name: string) => (measured[name] ?? 0) > 0
  for (const [name, bytes] of Object.entries(measured)) {
    if (!real(name)) {
      ctx.log(
        `memory per document, ${name}: heap difference ${bytes.toFixed(0)} B is not a measurement; none recorded`,
      )
      continue
    }
    const peer = name === 'orama' ? { peer: 'Orama' } : name === 'minisearch' ? { peer: 'MiniSearch' } : {}
    ctx.record({ name: `memory-per-document-${name}`, metric: 'memory', value: bytes, unit: 'B', ...peer })
    ctx.log(`memory per document, ${name}: ${bytes.toFixed(0)} B`)
  }
  // Memory after a full collection is a reading, not a timing: no rounds.
  if (real('engine') && real('orama'))
    ctx.ratio('memory-per-document-vs-orama', measured.engine!, measured.orama!, 'Orama (text + vectors)', {
      timed: false,
    })
  if (real('engine') && real('minisearch'))
    ctx.ratio(
      'memory-per-document-vs-minisearch',
      measured.engine!,
      measured.minisearch!,
      'MiniSearch (text only)',
      { timed: false },
    )
}

function batch(docs: readonly DebianPackage[], vectors: readonly Float32Array[], at: number, end: number) {
  return docs.slice(at, Math.min(end, at + BATCH)).map((d, i) => ({
    id: d.id,
    name: d.name,
    section: d.section,
    summary: d.summary,
    description: d.description,
    _vectors: { text: Array.from(vectors[at + i]!) },
  }))
}

function memoryBytes(): number {
  collect()
  const usage = process.memoryUsage()
  return usage.heapUsed + usage.external + usage.arrayBuffers
}

let kept: unknown
/** Keeps a structure reachable until the next is measured. */
function keep(value: unknown): void {
  kept = value
  if (kept === undefined) throw new Error('unreachable')
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
