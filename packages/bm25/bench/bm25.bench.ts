import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { defineSuite, type SuiteContext } from '@shoal/bench'
import {
  type DebianPackage,
  debianCorpusPaths,
  type KnownItemQuery,
  knownItemQuality,
  knownItemQueries,
  loadDebianCorpus,
} from '../../../bench/corpus/debian.ts'
import { Bm25Index, createAnalyzer } from '../src/index.ts'
import {
  BOOSTS,
  buildFlexSearch,
  buildMiniSearch,
  buildOrama,
  buildSqlite,
  type Engine,
  nameText,
  runXapian,
  xapianAvailable,
} from './peers.ts'

/**
 * BM25 full-text search over Debian's package descriptions, side by side in one run: @shoal/bm25
 * against Xapian (python3-xapian, BM25Weight), SQLite FTS5 bm25(), MiniSearch, Orama and
 * FlexSearch. Per engine: index build docs/s, memory, queries/s for the top 10 and known-item
 * MRR@10 / success@10 on seeded queries (2–4 words of a sampled package's summary).
 */
export default defineSuite({
  description:
    'BM25 top-10 on Debian package descriptions: @shoal/bm25 vs Xapian, SQLite FTS5, MiniSearch, Orama, FlexSearch',
  async run(ctx) {
    const corpusFile = debianCorpusPaths().find((p) => loadable(p))
    if (corpusFile === undefined) throw new Error('Debian corpus not found; see bench/corpus/debian.ts')
    const limit = ctx.smoke ? 2000 : Number.MAX_SAFE_INTEGER
    const docs = loadDebianCorpus({ file: corpusFile, limit })
    const queries = knownItemQueries(docs, ctx.seed, ctx.smoke ? 100 : 1000)
    ctx.log(`${docs.length} documents, ${queries.length} known-item queries (seed ${ctx.seed})`)
    ctx.record({ name: 'corpus-documents', metric: 'count', value: docs.length, unit: 'docs' })

    const figures = new Map<string, Figures>()
    // timedQueries: how many queries one timed call runs (slow engines fewer, so that a call
    // stays near a second); judgedQueries: how many count for MRR (Orama, at about one query a second: the first 100).
    const all = queries.length
    const engines: EngineSpec[] = [
      { name: 'shoal-bm25', build: () => buildShoal(docs), timedQueries: all, judgedQueries: all },
      {
        name: 'flexsearch',
        peer: 'FlexSearch',
        build: () => buildFlexSearch(docs),
        timedQueries: all,
        judgedQueries: all,
      },
      {
        name: 'sqlite-fts5',
        peer: 'SQLite FTS5',
        build: () => buildSqlite(docs),
        timedQueries: 50,
        judgedQueries: all,
      },
      {
        name: 'minisearch',
        peer: 'MiniSearch',
        build: () => buildMiniSearch(docs),
        timedQueries: 50,
        judgedQueries: all,
      },
      { name: 'orama', peer: 'Orama', build: () => buildOrama(docs), timedQueries: 5, judgedQueries: 100 },
    ]
    // Xapian first and Shoal right after it: on a shared machine the load drifts, and this
    // pair's ratios are the targets.
    if (xapianAvailable()) {
      const report = runXapian(
        corpusFile,
        docs.length,
        queries.map((q) => q.query),
        ctx.smoke ? 1 : 3,
      )
      const quality = knownItemQuality(queries, report.results)
      const xapian: Figures = {
        buildDocsPerSecond: report.docs / report.buildSeconds,
        queriesPerSecond: report.queriesPerSecond,
        ...quality,
      }
      figures.set('xapian', xapian)
      const peer = `Xapian ${report.version}`
      ctx.record({
        name: 'xapian-build',
        metric: 'docs/s',
        value: xapian.buildDocsPerSecond,
        unit: 'docs/s',
        peer,
      })
      ctx.record({
        name: 'xapian-query',
        metric: 'ops/s',
        value: xapian.queriesPerSecond,
        unit: 'queries/s',
        peer,
      })
      ctx.record({ name: 'xapian-max-rss', metric: 'memory', value: report.maxRssBytes, unit: 'B', peer })
      recordQuality(ctx, 'xapian', quality, peer)
      ctx.log(
        `xapian: build ${Math.round(xapian.buildDocsPerSecond)} docs/s, ${Math.round(xapian.queriesPerSecond)} q/s, MRR@10 ${quality.mrrAt10.toFixed(3)}`,
      )
    } else if (ctx.smoke) {
      ctx.log('xapian: python3-xapian not installed, skipped in smoke mode (scripts/install-peers.sh)')
    } else {
      throw new Error('python3-xapian is needed for a full run: bash scripts/install-peers.sh')
    }

    for (const engine of engines) {
      figures.set(engine.name, await measureEngine(ctx, engine, docs, queries))
    }

    const ours = figures.get('shoal-bm25')!
    for (const [name, peer] of figures) {
      if (name === 'shoal-bm25') continue
      ctx.ratio(`qps-ratio-vs-${name}`, ours.queriesPerSecond, peer.queriesPerSecond, name)
      ctx.ratio(`build-ratio-vs-${name}`, ours.buildDocsPerSecond, peer.buildDocsPerSecond, name)
      ctx.ratio(`mrr-ratio-vs-${name}`, ours.mrrAt10, peer.mrrAt10, name)
    }
    const best = Math.max(...[...figures].filter(([n]) => n !== 'shoal-bm25').map(([, f]) => f.mrrAt10))
    ctx.record({
      name: 'mrr-at-10-minus-best-peer',
      metric: 'mrr@10',
      value: ours.mrrAt10 - best,
      unit: 'mrr',
    })
  },
})

interface EngineSpec {
  name: string
  peer?: string
  build: () => Engine | Promise<Engine>
  timedQueries: number
  judgedQueries: number
}

interface Figures {
  buildDocsPerSecond: number
  queriesPerSecond: number
  mrrAt10: number
  successAt10: number
}

function loadable(file: string): boolean {
  try {
    loadDebianCorpus({ file, limit: 1 })
    return true
  } catch {
    return false
  }
}

async function buildShoal(docs: readonly DebianPackage[]): Promise<Engine> {
  const index = await Bm25Index.create({
    fields: { name: { boost: BOOSTS.name }, summary: { boost: BOOSTS.summary }, description: {} },
    // Package descriptions are technical text full of identifiers: exact words find packages
    // better than Porter stems (known-item MRR@10 0.76 against 0.72 with stemming and stop words).
    analyzer: createAnalyzer({ locale: 'en', stemming: false }),
  })
  for (const d of docs) index.add(d.id, { name: nameText(d), summary: d.summary, description: d.description })
  index.flush()
  return { search: (query) => index.search(query, 10).ids }
}

// A garbage collection before each reading, so that the difference is what the index holds.
setFlagsFromString('--expose-gc')
const collect = runInNewContext('gc') as () => void

function memoryBytes(): number {
  collect()
  const usage = process.memoryUsage()
  return usage.heapUsed + usage.external + usage.arrayBuffers
}

async function measureEngine(
  ctx: SuiteContext,
  engine: EngineSpec,
  docs: readonly DebianPackage[],
  queries: readonly KnownItemQuery[],
): Promise<Figures> {
  const peer = engine.peer === undefined ? {} : { peer: engine.peer }
  const before = memoryBytes()
  const started = performance.now()
  const searcher = await engine.build()
  const buildSeconds = (performance.now() - started) / 1000
  const memory = memoryBytes() - before
  const buildDocsPerSecond = docs.length / buildSeconds
  ctx.record({
    name: `${engine.name}-build`,
    metric: 'docs/s',
    value: buildDocsPerSecond,
    unit: 'docs/s',
    ...peer,
  })
  ctx.record({ name: `${engine.name}-memory`, metric: 'memory', value: memory, unit: 'B', ...peer })
  const judged = queries.slice(0, engine.judgedQueries)
  const quality = knownItemQuality(
    judged,
    judged.map((q) => searcher.search(q.query)),
  )
  recordQuality(ctx, engine.name, quality, engine.peer)
  ctx.record({
    name: `${engine.name}-judged-queries`,
    metric: 'count',
    value: judged.length,
    unit: 'queries',
    ...peer,
  })
  const batch = queries.slice(0, engine.timedQueries).map((q) => q.query)
  const measured = await ctx.measure(
    `${engine.name}-query`,
    () => {
      for (const q of batch) searcher.search(q)
    },
    { opsPerCall: batch.length, iterations: ctx.smoke ? 1 : 5, timeMs: ctx.smoke ? 50 : 1000, ...peer },
  )
  ctx.log(
    `${engine.name}: build ${Math.round(buildDocsPerSecond)} docs/s, ${Math.round(measured.opsPerSecond)} q/s, MRR@10 ${quality.mrrAt10.toFixed(3)}, memory ${(memory / 2 ** 20).toFixed(0)} MiB`,
  )
  ;(searcher as { close?: () => void }).close?.()
  return { buildDocsPerSecond, queriesPerSecond: measured.opsPerSecond, ...quality }
}

function recordQuality(
  ctx: SuiteContext,
  name: string,
  quality: { mrrAt10: number; successAt10: number },
  peer: string | undefined,
): void {
  const tag = peer === undefined ? {} : { peer }
  ctx.record({ name: `${name}-mrr-at-10`, metric: 'mrr@10', value: quality.mrrAt10, unit: 'mrr', ...tag })
  ctx.record({
    name: `${name}-success-at-10`,
    metric: 'success@10',
    value: quality.successAt10,
    unit: 'share',
    ...tag,
  })
}
