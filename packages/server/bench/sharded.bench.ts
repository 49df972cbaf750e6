import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { defineSuite, mulberry32, percentile, type SuiteContext } from '@shoal/bench'
import {
  type DebianPackage,
  type KnownItemQuery,
  knownItemQueries,
  loadDebianCorpus,
} from '../../../bench/corpus/debian.ts'
import { DIMENSIONS, embed, idfWeights } from '../../engine/bench/vectors.ts'
import { recordMachineLoad, recordRatio } from '../../raft/bench/stats.ts'
import {
  createIndex,
  failedTasks,
  fillIndex,
  type IndexingRun,
  type IndexTarget,
  median,
  mergeRuns,
} from './sharded-indexing.ts'
import {
  counters,
  SearchClient,
  type ShoalProcess,
  serverErrors,
  startCluster,
  startSingle,
  taskNotFoundAfterEnqueue,
} from './sharded-processes.ts'
import { logTraces, timedWindow } from './sharded-trace.ts'

/**
 * Sharded, replicated indexes on three `shoal start` processes on loopback against one
 * standalone `shoal start`, in the same run, on the same documents (Debian packages with 64-d
 * user-provided vectors) and the same queries:
 * - indexing: the same batches into the single node and into indexes of 1, 3, 6 and 12 shards
 *   (replication factor 3), a chunk per round to every index in turn, docs/s until each chunk's
 *   last task succeeded, and where the time went;
 * - search: held-out known-item queries one after another over one keep-alive connection, p50 and
 *   p99, single node and each shard count taking turns, rounds alternating which goes first and
 *   which cluster node coordinates; per-round ratios reported as median (min–max).
 * Only the HTTP API is used, so the figures do not depend on how the cluster merges; around each
 * timed cluster pass the coordinator's `/metrics` counters say how its searches were read (in one
 * local pass or through the shards, and why not locally), logged per pass and recorded as
 * `search-<target>-local-share`. SHARDED_CPU_PROF=<dir> has every process write a CPU profile;
 * SHARDED_SEARCH_TRACE=<dir> logs where each timed search's time went, stage by stage, on the
 * coordinator and on the single node (sharded-trace.ts).
 */

const SAMPLE = fileURLToPath(new URL('../data/sample-packages.json', import.meta.url))
const TARGET_SHARDS = 6

interface Plan {
  documents: number
  batch: number
  shardCounts: number[]
  rounds: number
  tuning: number
  heldOut: number
}

/** A setting of the full run: a positive integer, or the run stops before it starts. */
function positiveInteger(name: string, text: string): number {
  const value = Number(text)
  if (!Number.isInteger(value) || value <= 0)
    throw new Error(
      `${name} must be a positive integer (a comma-separated list for SHARDED_SHARDS), got ${text}`,
    )
  return value
}

// SHARDED_DOCUMENTS, SHARDED_SHARDS (comma-separated) and SHARDED_ROUNDS narrow a full run (a
// shorter run of the 6-shard target, say); the JSON records the plan it ran.
const FULL: Plan = {
  documents: positiveInteger('SHARDED_DOCUMENTS', process.env.SHARDED_DOCUMENTS ?? '20000'),
  batch: 500,
  shardCounts: (process.env.SHARDED_SHARDS ?? '1,3,6,12')
    .split(',')
    .map((count) => positiveInteger('SHARDED_SHARDS', count)),
  rounds: positiveInteger('SHARDED_ROUNDS', process.env.SHARDED_ROUNDS ?? '5'),
  tuning: 60,
  heldOut: 200,
}
const SMOKE: Plan = { documents: 502, batch: 50, shardCounts: [1, 3], rounds: 5, tuning: 10, heldOut: 30 }

async function loadDocs(plan: Plan, smoke: boolean, seed: number): Promise<DebianPackage[]> {
  if (smoke) {
    const rows = JSON.parse(await readFile(SAMPLE, 'utf8')) as Array<DebianPackage & { package: string }>
    return rows.map((r) => ({
      id: r.id,
      name: r.package,
      section: r.section,
      summary: r.summary,
      description: r.description,
    }))
  }
  // A seeded sample of the corpus (the file is in name order; a prefix would be one alphabet slice).
  const all = loadDebianCorpus()
  const random = mulberry32(seed)
  for (let i = 0; i < plan.documents; i++) {
    const j = i + Math.floor(random() * (all.length - i))
    ;[all[i], all[j]] = [all[j]!, all[i]!]
  }
  return all.slice(0, plan.documents).sort((a, b) => a.id - b.id)
}

function toBatches(docs: readonly DebianPackage[], size: number): object[][] {
  const weight = idfWeights(docs.map((d) => d.summary))
  const rows = docs.map((d) => ({ ...d, _vectors: { text: Array.from(embed(d.summary, '', weight)) } }))
  const batches: object[][] = []
  for (let i = 0; i < rows.length; i += size) batches.push(rows.slice(i, i + size))
  return batches
}

/** Searches that failed and were sent again (recorded with the results). */
const searchErrors: string[] = []

interface Pass {
  p50: number
  p99: number
  /** Share of the queries whose package is in the top 10. */
  hit10: number
}

/** Every held-out query once, in order, one at a time. */
async function searchPass(
  client: SearchClient,
  url: string,
  queries: readonly KnownItemQuery[],
  extra: object = {},
): Promise<Pass> {
  const latencies: number[] = []
  let hits = 0
  for (const { query, target } of queries) {
    const body = { q: query, limit: 10, attributesToRetrieve: ['id'], ...extra }
    // A failed search (a shard leader changing under load) is sent again; its latency counts in full.
    let answer: { ms: number; text: string } | undefined
    let spent = 0
    for (let attempt = 1; answer === undefined; attempt++) {
      const started = performance.now()
      try {
        answer = await client.post(url, body)
      } catch (error) {
        spent += performance.now() - started
        searchErrors.push(String((error as Error).message).slice(0, 300))
        if (attempt >= 3) throw error
      }
    }
    const { ms, text } = answer
    latencies.push(spent + ms)
    const ids = (JSON.parse(text) as { hits: Array<{ id: number }> }).hits.map((h) => h.id)
    if (ids.includes(target)) hits++
  }
  latencies.sort((a, b) => a - b)
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), hit10: hits / queries.length }
}

/** The coordinator's counters of how sharded searches were read (docs/distributed-search.md). */
const PATH_COUNTERS = [
  'shoal_sharded_searches_total',
  'shoal_sharded_search_local_declined_total',
  'shoal_shard_strong_reads_total',
]

/** The counters that moved between two scrapes, as `name{labels} +n` (short names). */
function movedCounters(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const moved = new Map<string, number>()
  for (const [key, value] of after) {
    const delta = value - (before.get(key) ?? 0)
    if (delta > 0) moved.set(key.replace(/^shoal_/, '').replace(/_total/, ''), delta)
  }
  return moved
}

interface Target {
  label: string
  /** The index searched. */
  uid: string
  url: (round: number) => string
  extra?: object
}

/**
 * Creates the single-node index and one sharded index per shard count, then fills them in rounds:
 * the batches are cut into `plan.rounds` chunks and each round sends its chunk to every index in
 * turn (the order rotating each round), so that every side sees the same share of the machine and
 * the per-round ratio of a sharded index to the single node compares like with like.
 */
async function indexAll(
  ctx: SuiteContext,
  plan: Plan,
  single: ShoalProcess,
  cluster: readonly ShoalProcess[],
  batches: object[][],
): Promise<{ single: IndexingRun; sharded: Map<number, IndexingRun>; perRound: Map<string, number[]> }> {
  const targets: IndexTarget[] = [
    await createIndex({
      label: 'single',
      writer: single,
      processes: [single],
      uid: 'packages',
      dimensions: DIMENSIONS,
    }),
  ]
  for (const shards of plan.shardCounts) {
    targets.push(
      await createIndex({
        label: `s${shards}`,
        writer: cluster[0]!,
        processes: cluster,
        uid: `s${shards}`,
        shardCount: shards,
        dimensions: DIMENSIONS,
      }),
    )
  }
  if (batches.length < plan.rounds) {
    throw new Error(`${batches.length} batches cannot fill ${plan.rounds} rounds: use more documents`)
  }
  // Round r takes batches [⌊r·n/R⌋, ⌊(r+1)·n/R⌋): every round at least one batch, sizes within one.
  const edge = (r: number) => Math.floor((r * batches.length) / plan.rounds)
  const chunks = Array.from({ length: plan.rounds }, (_, r) => batches.slice(edge(r), edge(r + 1)))
  const runs = await ctx.alternate(
    targets.map((target) => ({
      name: target.label,
      run: async (round: number) => {
        const run = await fillIndex(target, chunks[round]!)
        ctx.log(
          `indexing ${target.label}, round ${round + 1}: ${run.docsPerS.toFixed(0)} docs/s; ` +
            `enqueue ${run.enqueueMs.toFixed(1)} ms, wait ${run.queueWaitMs.toFixed(0)} ms, ` +
            `processing ${run.processingMs.toFixed(0)} ms, gap ${run.schedulerGapMs.toFixed(0)} ms, ` +
            `CPU ${run.cpuS.map((c) => c.toFixed(1)).join('/')} s, ` +
            `RSS ${run.rssBeforeMiB.map((r) => r.toFixed(0)).join('/')} → ${run.rssAfterMiB.map((r) => r.toFixed(0)).join('/')} MiB`,
        )
        return run
      },
    })),
    plan.rounds,
  )
  const perRound = new Map<string, number[]>()
  for (const [label, list] of runs)
    perRound.set(
      label,
      list.map((r) => r.docsPerS),
    )
  const sharded = new Map<number, IndexingRun>()
  for (const shards of plan.shardCounts) sharded.set(shards, mergeRuns(runs.get(`s${shards}`)!))
  return { single: mergeRuns(runs.get('single')!), sharded, perRound }
}

function recordIndexing(ctx: SuiteContext, run: IndexingRun, name: string): void {
  const add = (metric: string, value: number, unit: string) =>
    ctx.record({ name: `${name}-${metric}`, metric, value, unit })
  add('docs-per-s', run.docsPerS, 'docs/s')
  add('create-index', run.createMs, 'ms')
  add('enqueue-latency-p50', run.enqueueMs, 'ms')
  add('queue-wait-p50', run.queueWaitMs, 'ms')
  add('task-processing-p50', run.processingMs, 'ms')
  if (Number.isFinite(run.schedulerGapMs)) add('scheduler-gap-p50', run.schedulerGapMs, 'ms')
  add('processing-share', run.processingShare, 'fraction')
  add(
    'cpu-seconds-total',
    run.cpuS.reduce((a, b) => a + b, 0),
    's',
  )
  add('cpu-seconds-max-process', Math.max(...run.cpuS), 's')
  add(
    'run-queue-seconds-total',
    run.runQueueS.reduce((a, b) => a + b, 0),
    's',
  )
  // Growth of the resident set while the index was filled (its data, its replicas, garbage).
  add('rss-growth-max-process', Math.max(...run.rssAfterMiB.map((m, i) => m - run.rssBeforeMiB[i]!)), 'MiB')
}

export default defineSuite({
  description:
    'Sharded indexes (RF 3) on 3 processes vs 1 standalone node: search p50/p99 at 1/3/6/12 shards, indexing docs/s and where the time goes',
  async run(ctx) {
    const plan = ctx.smoke ? SMOKE : FULL
    recordMachineLoad(ctx, 'start')
    const docs = await loadDocs(plan, ctx.smoke, ctx.seed)
    const batches = toBatches(docs, plan.batch)
    const tuning = knownItemQueries(docs, ctx.seed, plan.tuning)
    const seen = new Set(tuning.map((q) => q.query))
    const heldOut = knownItemQueries(docs, ctx.seed + 1, plan.heldOut * 2)
      .filter((q) => !seen.has(q.query))
      .slice(0, plan.heldOut)
    ctx.log(
      `${docs.length} documents in ${batches.length} batches; ${tuning.length} + ${heldOut.length} queries; shard counts ${plan.shardCounts.join(', ')}; ${plan.rounds} rounds`,
    )
    ctx.record({ name: 'plan-documents', metric: 'count', value: plan.documents, unit: 'documents' })
    ctx.record({ name: 'plan-rounds', metric: 'count', value: plan.rounds, unit: 'rounds' })
    const dir = await mkdtemp(path.join(tmpdir(), 'shoal-bench-sharded-'))
    const processes: ShoalProcess[] = []
    const client = new SearchClient()
    try {
      const single = await startSingle(dir)
      processes.push(single)
      const cluster = await startCluster(dir)
      processes.push(...cluster)

      const indexing = await indexAll(ctx, plan, single, cluster, batches)
      recordIndexing(ctx, indexing.single, 'index-single')
      const singleRates = indexing.perRound.get('single')!
      for (const [shards, run] of indexing.sharded) {
        recordIndexing(ctx, run, `index-s${shards}`)
        ctx.roundRatio(
          `index-s${shards}-vs-single-docs-per-s`,
          indexing.perRound.get(`s${shards}`)!,
          singleRates,
          'single node',
        )
      }

      const targets: Target[] = plan.shardCounts.map((shards) => ({
        label: `s${shards}`,
        uid: indexing.sharded.get(shards)!.uid,
        url: (round) =>
          `${cluster[round % cluster.length]!.url}/indexes/${indexing.sharded.get(shards)!.uid}/search`,
      }))
      const eventualShards = plan.shardCounts.includes(TARGET_SHARDS)
        ? TARGET_SHARDS
        : plan.shardCounts.at(-1)!
      targets.push({
        label: `s${eventualShards}-eventual`,
        uid: indexing.sharded.get(eventualShards)!.uid,
        url: (round) =>
          `${cluster[round % cluster.length]!.url}/indexes/${indexing.sharded.get(eventualShards)!.uid}/search`,
        extra: { consistency: 'eventual' },
      })
      const singleUrl = `${single.url}/indexes/${indexing.single.uid}/search`
      // The tuning queries warm every path (and the JIT) before anything is timed.
      await searchPass(client, singleUrl, tuning)
      for (const target of targets)
        for (let node = 0; node < cluster.length; node++)
          await searchPass(client, target.url(node), tuning, target.extra)

      const passes = new Map<string, { single: Pass; cluster: Pass }[]>()
      const paths = new Map<string, Map<string, number>>()
      for (let round = 0; round < plan.rounds; round++) {
        for (const target of targets) {
          const singleFirst = round % 2 === 0
          const coordinator = cluster[round % cluster.length]!
          let singlePass: Pass
          let clusterPass: Pass
          const clusterSide = async () => {
            const before = await counters(coordinator.url, PATH_COUNTERS)
            const pass = await timedWindow(target.label, coordinator.name, target.uid, () =>
              searchPass(client, target.url(round), heldOut, target.extra),
            )
            const moved = movedCounters(before, await counters(coordinator.url, PATH_COUNTERS))
            const sums = paths.get(target.label) ?? new Map<string, number>()
            for (const [key, n] of moved) sums.set(key, (sums.get(key) ?? 0) + n)
            paths.set(target.label, sums)
            ctx.log(
              `round ${round + 1} ${target.label} via ${coordinator.name}: ${[...moved].map(([k, n]) => `${k} ${n}`).join(', ')}`,
            )
            return pass
          }
          const singleSide = () =>
            timedWindow(target.label, single.name, indexing.single.uid, () =>
              searchPass(client, singleUrl, heldOut),
            )
          if (singleFirst) {
            singlePass = await singleSide()
            clusterPass = await clusterSide()
          } else {
            clusterPass = await clusterSide()
            singlePass = await singleSide()
          }
          passes.set(target.label, [
            ...(passes.get(target.label) ?? []),
            { single: singlePass, cluster: clusterPass },
          ])
          ctx.log(
            `round ${round + 1} ${target.label} via n${round % cluster.length}: p50 ${clusterPass.p50.toFixed(2)} vs ` +
              `${singlePass.p50.toFixed(2)} ms, p99 ${clusterPass.p99.toFixed(2)} vs ${singlePass.p99.toFixed(2)} ms`,
          )
        }
      }
      for (const target of targets) {
        // How the coordinators read the timed searches: in one local pass or through the shards.
        const sums = paths.get(target.label) ?? new Map<string, number>()
        const searches = [...sums].filter(([key]) => key.startsWith('sharded_searches'))
        const total = searches.reduce((sum, [, n]) => sum + n, 0)
        const local = searches
          .filter(([key]) => key.includes('path="local"'))
          .reduce((sum, [, n]) => sum + n, 0)
        if (total > 0)
          ctx.record({
            name: `search-${target.label}-local-share`,
            metric: 'share',
            value: local / total,
            unit: 'fraction',
          })
        const list = passes.get(target.label) ?? []
        const add = (name: string, metric: string, values: number[], unit: string) =>
          ctx.record({ name, metric, value: median(values), unit })
        add(
          `search-${target.label}-p50`,
          'p50-latency',
          list.map((p) => p.cluster.p50),
          'ms',
        )
        add(
          `search-${target.label}-p99`,
          'p99-latency',
          list.map((p) => p.cluster.p99),
          'ms',
        )
        add(
          `search-${target.label}-single-p50`,
          'p50-latency',
          list.map((p) => p.single.p50),
          'ms',
        )
        add(
          `search-${target.label}-single-p99`,
          'p99-latency',
          list.map((p) => p.single.p99),
          'ms',
        )
        add(
          `search-${target.label}-hit10`,
          'hit@10',
          list.map((p) => p.cluster.hit10),
          'fraction',
        )
        add(
          `search-${target.label}-single-hit10`,
          'hit@10',
          list.map((p) => p.single.hit10),
          'fraction',
        )
        for (const q of ['p50', 'p99'] as const)
          recordRatio(
            ctx,
            `search-${target.label}-vs-single-${q}`,
            list.map((p) => p.cluster[q] / p.single[q]),
            'single node',
          )
      }
      ctx.record({
        name: 'task-not-found-after-enqueue',
        metric: 'count',
        value: taskNotFoundAfterEnqueue.count,
        unit: 'requests',
      })
    } finally {
      ctx.record({ name: 'server-errors', metric: 'count', value: serverErrors.length, unit: 'answers' })
      ctx.record({ name: 'search-errors', metric: 'count', value: searchErrors.length, unit: 'searches' })
      ctx.record({ name: 'failed-tasks', metric: 'count', value: failedTasks.length, unit: 'tasks' })
      for (const message of [...serverErrors, ...searchErrors, ...failedTasks])
        ctx.log(`error answer: ${message}`)
      client.close()
      await Promise.all(processes.map((p) => p.stop()))
      logTraces(ctx.log)
      await rm(dir, { recursive: true, force: true })
      recordMachineLoad(ctx, 'end')
    }
  },
})
