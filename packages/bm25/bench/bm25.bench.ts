import { DatabaseSync } from 'node:sqlite'
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
  splitKnownItemQueries,
} from '../../../bench/corpus/debian.ts'
import { Bm25Index, createAnalyzer } from '../src/index.ts'
import {
  BOOSTS,
  type Built,
  buildFlexSearch,
  buildMiniSearch,
  buildOrama,
  buildSqlite,
  type Candidate,
  nameText,
  XapianPeer,
  xapianAvailable,
} from './peers.ts'

/**
 * BM25 full-text search over Debian's package descriptions: @shoal/bm25 against Xapian
 * (python3-xapian, BM25Weight; its usual stemmed, positional setup and one without positions
 * or stemming, as Shoal), SQLite FTS5 bm25() with a prefix index, MiniSearch, Orama and
 * FlexSearch. Every engine gets the same field weights and chooses among its documented
 * options on the tuning queries; MRR@10 is reported on the held-out queries only. Query speed:
 * every engine answers the same held-out queries, in interleaved rounds. Build speed: the
 * same documents, in interleaved rounds (a 10,000-document slice in full runs, to keep five
 * rounds of every engine affordable).
 */
export default defineSuite({
  description:
    'BM25 top-10 on Debian package descriptions: @shoal/bm25 vs Xapian (stemmed+positions, plain), SQLite FTS5, MiniSearch, Orama, FlexSearch; options chosen on tuning queries, MRR@10 on held-out queries, interleaved rounds',
  peers: { npm: ['minisearch', '@orama/orama', 'flexsearch'], debian: ['python3-xapian', 'libxapian30'] },
  async run(ctx) {
    const corpusFile = debianCorpusPaths().find((p) => loadable(p))
    if (corpusFile === undefined) throw new Error('Debian corpus not found; see bench/corpus/debian.ts')
    const docs = loadDebianCorpus({ file: corpusFile, limit: ctx.smoke ? 1000 : Number.MAX_SAFE_INTEGER })
    const { tuning, heldOut } = splitKnownItemQueries(
      knownItemQueries(docs, ctx.seed, ctx.smoke ? 100 : 500),
      ctx.seed,
    )
    const timed = heldOut.slice(0, ctx.smoke ? 10 : 50).map((q) => q.query)
    ctx.peerVersion('node:sqlite (SQLite)', sqliteVersion())
    ctx.log(
      `${docs.length} documents; ${tuning.length} tuning and ${heldOut.length} held-out queries (seed ${ctx.seed}); ${timed.length} timed`,
    )
    ctx.record({ name: 'corpus-documents', metric: 'count', value: docs.length, unit: 'docs' })
    ctx.record({ name: 'tuning-queries', metric: 'count', value: tuning.length, unit: 'queries' })
    ctx.record({ name: 'held-out-queries', metric: 'count', value: heldOut.length, unit: 'queries' })

    const engines: EngineSpec[] = [
      { name: 'shoal-bm25', build: [() => buildShoal(docs, false), () => buildShoal(docs, true)] },
      { name: 'sqlite-fts5', peer: 'SQLite FTS5', build: [() => buildSqlite(docs)] },
      { name: 'minisearch', peer: 'MiniSearch', build: [() => buildMiniSearch(docs)] },
      { name: 'orama', peer: 'Orama', build: [() => buildOrama(docs)] },
      { name: 'flexsearch', peer: 'FlexSearch', build: [() => buildFlexSearch(docs)] },
    ]
    const sides: QuerySide[] = []
    const heldOutMrr = new Map<string, number>()
    for (const engine of engines) {
      const chosen = await chooseAndJudge(ctx, engine, tuning, heldOut)
      sides.push({ name: engine.name, peer: engine.peer, pass: () => passOf(chosen.candidate, timed) })
      heldOutMrr.set(engine.name, chosen.mrrAt10)
      // BENCH_CPU_PROF=<dir>: where Shoal's query time goes, on the timed queries (not timed itself).
      if (engine.name === 'shoal-bm25')
        await ctx.cpuProfile('shoal-query', () => repeatPasses(ctx, chosen.candidate, timed))
    }
    const xapians: XapianPeer[] = []
    try {
      if (xapianAvailable()) {
        for (const analysis of ['stem', 'plain'] as const) {
          const xapian = new XapianPeer(corpusFile, analysis, docs.length)
          xapians.push(xapian)
          const name = analysis === 'stem' ? 'xapian' : 'xapian-plain'
          const buildSeconds = await xapian.build('disk', docs.length)
          ctx.record({
            name: `${name}-build-once`,
            metric: 'docs/s',
            value: docs.length / buildSeconds,
            unit: 'docs/s',
            peer: name,
          })
          const candidates = [false, true].map((partial) => ({
            label: partial ? 'FLAG_PARTIAL' : 'default flags',
            partial,
          }))
          let best = candidates[0]!
          let bestMrr = -1
          for (const c of candidates) {
            const mrr = knownItemQuality(
              tuning,
              await xapian.search(
                tuning.map((q) => q.query),
                c.partial,
              ),
            ).mrrAt10
            ctx.record({
              name: `${name}-tuning-mrr-at-10/${c.label}`,
              metric: 'mrr@10',
              value: mrr,
              unit: 'mrr',
              peer: name,
            })
            if (mrr > bestMrr) [best, bestMrr] = [c, mrr]
          }
          const quality = knownItemQuality(
            heldOut,
            await xapian.search(
              heldOut.map((q) => q.query),
              best.partial,
            ),
          )
          recordQuality(ctx, name, quality, name)
          heldOutMrr.set(name, quality.mrrAt10)
          ctx.log(`${name} (${analysis}): chose ${best.label}; held-out MRR@10 ${quality.mrrAt10.toFixed(3)}`)
          sides.push({
            name,
            peer: name,
            pass: async () => timed.length / (await xapian.time(timed, best.partial)),
          })
        }
        const info = await xapians[0]!.info()
        ctx.peerVersion('xapian (library)', info.version)
        ctx.record({
          name: 'xapian-max-rss',
          metric: 'memory',
          value: info.maxRssBytes,
          unit: 'B',
          peer: 'xapian',
        })
      } else if (ctx.smoke) {
        ctx.log('xapian: python3-xapian not installed, skipped in smoke mode (scripts/install-peers.sh)')
      } else {
        throw new Error('python3-xapian is needed for a full run: bash scripts/install-peers.sh')
      }

      // Quality is deterministic (the same on every run): a difference, not a timed ratio.
      const ours = heldOutMrr.get('shoal-bm25')!
      const bestPeer = Math.max(...[...heldOutMrr].filter(([n]) => n !== 'shoal-bm25').map(([, m]) => m))
      ctx.record({ name: 'mrr-at-10-minus-best-peer', metric: 'mrr@10', value: ours - bestPeer, unit: 'mrr' })

      // Queries/s: one pass over the same timed queries per engine per round, in rotating order.
      const qps = await ctx.alternate(sides.map((s) => ({ name: s.name, run: s.pass })))
      for (const side of sides) {
        const values = qps.get(side.name)!
        const sorted = [...values].sort((a, b) => a - b)
        ctx.record({
          name: `${side.name}-query`,
          metric: 'ops/s',
          value: sorted[sorted.length >> 1]!,
          unit: 'queries/s',
          rounds: values.length,
          min: sorted[0]!,
          max: sorted.at(-1)!,
          ...(side.peer === undefined ? {} : { peer: side.peer }),
        })
        if (side.name !== 'shoal-bm25') {
          ctx.roundRatio(`qps-ratio-vs-${side.name}`, qps.get('shoal-bm25')!, values, side.peer ?? side.name)
        }
      }

      await buildRounds(ctx, docs.slice(0, ctx.smoke ? 300 : 10_000), xapians)
    } finally {
      for (const xapian of xapians) await xapian.close()
    }
  },
})

interface EngineSpec {
  name: string
  peer?: string
  /** Index-time alternatives (Shoal: without and with stemming); each offers query-time candidates. */
  build: Array<() => Built | Promise<Built>>
}

interface QuerySide {
  name: string
  peer: string | undefined
  /** One pass over the timed queries; returns queries/s. */
  pass: () => number | Promise<number>
}

function passOf(candidate: Candidate, queries: readonly string[]): number {
  const started = performance.now()
  for (const q of queries) candidate.search(q)
  return queries.length / ((performance.now() - started) / 1000)
}

/** Passes over the timed queries for 5 s (0.2 s in smoke runs): the workload a CPU profile samples. */
function repeatPasses(ctx: SuiteContext, candidate: Candidate, queries: readonly string[]): void {
  const until = performance.now() + (ctx.smoke ? 200 : 5000)
  let passes = 0
  const started = performance.now()
  while (performance.now() < until) {
    passOf(candidate, queries)
    passes++
  }
  const seconds = (performance.now() - started) / 1000
  ctx.log(
    `profiled ${passes} passes: ${Math.round((passes * queries.length) / seconds)} queries/s under the profiler`,
  )
}

/**
 * Builds an engine once on every document (memory measured), chooses its best candidate by
 * MRR@10 on the tuning queries, and records MRR@10 and success@10 on the held-out queries.
 */
async function chooseAndJudge(
  ctx: SuiteContext,
  engine: EngineSpec,
  tuning: readonly KnownItemQuery[],
  heldOut: readonly KnownItemQuery[],
): Promise<{ candidate: Candidate; mrrAt10: number }> {
  const tag = engine.peer === undefined ? {} : { peer: engine.peer }
  let best: Candidate | undefined
  let bestMrr = -1
  for (const [i, build] of engine.build.entries()) {
    const before = memoryBytes()
    const built = await build()
    const heap = memoryBytes() - before
    const memory = built.ownMemoryBytes ?? heap
    const suffix = engine.build.length > 1 ? `-${i}` : ''
    // A heap difference can read negative when a collection freed more than the index added:
    // such a figure is not a measurement, so none is recorded.
    if (memory > 0)
      ctx.record({
        name: `${engine.name}${suffix}-memory`,
        metric: 'memory',
        value: memory,
        unit: 'B',
        ...tag,
      })
    else ctx.log(`${engine.name}: heap difference ${heap} B is not a measurement; no memory figure`)
    for (const candidate of built.candidates) {
      const mrr = knownItemQuality(
        tuning,
        tuning.map((q) => candidate.search(q.query)),
      ).mrrAt10
      ctx.record({
        name: `${engine.name}-tuning-mrr-at-10/${candidate.label}`,
        metric: 'mrr@10',
        value: mrr,
        unit: 'mrr',
        ...tag,
      })
      if (mrr > bestMrr) [best, bestMrr] = [candidate, mrr]
    }
  }
  const quality = knownItemQuality(
    heldOut,
    heldOut.map((q) => best!.search(q.query)),
  )
  recordQuality(ctx, engine.name, quality, engine.peer)
  ctx.log(
    `${engine.name}: chose ${best!.label} (tuning MRR@10 ${bestMrr.toFixed(3)}); held-out MRR@10 ${quality.mrrAt10.toFixed(3)}`,
  )
  return { candidate: best!, mrrAt10: quality.mrrAt10 }
}

/** Index builds of the same documents, every engine once per round in rotating order. */
async function buildRounds(
  ctx: SuiteContext,
  docs: readonly DebianPackage[],
  xapians: readonly XapianPeer[],
) {
  const timedBuild = (build: () => unknown) => async () => {
    const started = performance.now()
    const built = (await build()) as Built
    const seconds = (performance.now() - started) / 1000
    built.close?.()
    return docs.length / seconds
  }
  const sides = [
    { name: 'shoal-bm25', run: timedBuild(() => buildShoal(docs, false)) },
    { name: 'sqlite-fts5', run: timedBuild(() => buildSqlite(docs)) },
    { name: 'minisearch', run: timedBuild(() => buildMiniSearch(docs)) },
    { name: 'orama', run: timedBuild(() => buildOrama(docs)) },
    { name: 'flexsearch', run: timedBuild(() => buildFlexSearch(docs)) },
  ]
  const [stem, plain] = xapians
  if (stem !== undefined && plain !== undefined) {
    sides.push(
      { name: 'xapian-disk', run: async () => docs.length / (await stem.build('disk', docs.length)) },
      { name: 'xapian-memory', run: async () => docs.length / (await stem.build('memory', docs.length)) },
      { name: 'xapian-plain-disk', run: async () => docs.length / (await plain.build('disk', docs.length)) },
      {
        name: 'xapian-plain-memory',
        run: async () => docs.length / (await plain.build('memory', docs.length)),
      },
    )
  }
  ctx.record({ name: 'build-round-documents', metric: 'count', value: docs.length, unit: 'docs' })
  const rates = await ctx.alternate(sides)
  for (const side of sides) {
    const values = rates.get(side.name)!
    const sorted = [...values].sort((a, b) => a - b)
    const peer = side.name === 'shoal-bm25' ? {} : { peer: side.name }
    ctx.record({
      name: `${side.name}-build`,
      metric: 'docs/s',
      value: sorted[sorted.length >> 1]!,
      unit: 'docs/s',
      rounds: values.length,
      min: sorted[0]!,
      max: sorted.at(-1)!,
      ...peer,
    })
    if (side.name !== 'shoal-bm25') {
      ctx.roundRatio(`build-ratio-vs-${side.name}`, rates.get('shoal-bm25')!, values, side.name)
    }
  }
}

function loadable(file: string): boolean {
  try {
    loadDebianCorpus({ file, limit: 1 })
    return true
  } catch {
    return false
  }
}

function sqliteVersion(): string {
  const db = new DatabaseSync(':memory:')
  try {
    return String((db.prepare('SELECT sqlite_version() AS v').get() as { v: unknown }).v)
  } finally {
    db.close()
  }
}

/** @shoal/bm25 with the shared field weights; its analyzer without or with Porter stemming. */
async function buildShoal(docs: readonly DebianPackage[], stemming: boolean): Promise<Built> {
  const index = await Bm25Index.create({
    fields: {
      name: { boost: BOOSTS.name },
      summary: { boost: BOOSTS.summary },
      description: { boost: BOOSTS.description },
    },
    analyzer: createAnalyzer({ locale: 'en', stemming }),
  })
  for (const d of docs) index.add(d.id, { name: nameText(d), summary: d.summary, description: d.description })
  index.flush()
  return {
    candidates: [
      { label: stemming ? 'Porter stemming' : 'no stemming', search: (q) => index.search(q, 10).ids },
    ],
  }
}

// A garbage collection before each reading, so that the difference is what the index holds.
setFlagsFromString('--expose-gc')
const collect = runInNewContext('gc') as () => void

function memoryBytes(): number {
  collect()
  const usage = process.memoryUsage()
  return usage.heapUsed + usage.external + usage.arrayBuffers
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
