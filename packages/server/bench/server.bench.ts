import { spawn } from 'node:child_process'
import { createReadStream } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { Agent, request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { createGunzip } from 'node:zlib'
import {
  cpuProfArgs,
  cpuProfileDir,
  defineSuite,
  formatSummary,
  mulberry32,
  profileClockUs,
  readProfile,
  type SuiteContext,
  summarizeProfile,
} from '@shoal/bench'
import { open } from '@shoal/engine'
import autocannon from 'autocannon'
import { debianCorpusFile } from '../../../bench/corpus/debian.ts'

/**
 * The HTTP node against the embedded engine it wraps, on the Debian corpus:
 * import docs/s through the API; then, with both holding the same documents,
 * interleaved rounds of: the same queries one at a time over one keep-alive
 * connection to a real `shoal start` process, in-process on the embedded
 * engine, and with autocannon at 1, 16 and 64 connections. Ratios are the
 * median of per-round ratios (p50, p99, throughput) with their min and max.
 */

/** Smoke runs use the sample the package ships (502 packages of the same corpus). */
const SAMPLE = fileURLToPath(new URL('../data/sample-packages.json', import.meta.url))
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const BATCH = 5000

interface Pkg {
  id: number
  package: string
  section: string
  summary: string
  description: string
}

async function loadCorpus(smoke: boolean): Promise<Pkg[]> {
  if (smoke) return JSON.parse(await readFile(SAMPLE, 'utf8')) as Pkg[]
  const docs: Pkg[] = []
  for await (const line of createInterface({
    input: createReadStream(debianCorpusFile()).pipe(createGunzip()),
  })) {
    docs.push(JSON.parse(line) as Pkg)
  }
  return docs
}

/** Known-item queries: two or three words of a sampled package's summary (seeded). */
function makeQueries(docs: Pkg[], count: number, seed: number): string[] {
  const random = mulberry32(seed)
  const queries: string[] = []
  while (queries.length < count) {
    const doc = docs[Math.floor(random() * docs.length)]!
    const words = doc.summary
      .toLowerCase()
      .split(/[^a-z0-9]+/)
      .filter((w) => w.length > 2)
    if (words.length < 2) continue
    const start = Math.floor(random() * Math.max(1, words.length - 2))
    queries.push(words.slice(start, start + 2 + Math.floor(random() * 2)).join(' '))
  }
  return queries
}

async function startNode(dataDir: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(
    process.execPath,
    [
      ...cpuProfArgs(cpuProfileDir(), 'server-node'),
      CLI,
      'start',
      '--data-dir',
      dataDir,
      '--http-addr',
      '127.0.0.1:0',
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const match = /listening on (http:\/\/\S+)/.exec(out)
      if (match?.[1] !== undefined) resolve(match[1])
    })
    child.once('exit', (code) => reject(new Error(`shoal exited with ${code}`)))
  })
  return {
    url,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}

async function request(url: string, method: string, route: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${url}${route}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${await response.text()}`)
  return response.json()
}

async function waitTask(url: string, uid: number): Promise<void> {
  for (;;) {
    const task = (await request(url, 'GET', `/tasks/${uid}`)) as { status: string; error: unknown }
    if (task.status === 'succeeded') return
    if (task.status === 'failed') throw new Error(`task ${uid} failed: ${JSON.stringify(task.error)}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

async function importOverHttp(ctx: SuiteContext, url: string, docs: Pkg[]): Promise<void> {
  const settings = (await request(url, 'PATCH', '/indexes/packages/settings', {
    searchableAttributes: ['package', 'summary', 'description'],
    filterableAttributes: ['section'],
  })) as { taskUid: number }
  await waitTask(url, settings.taskUid)
  const started = performance.now()
  let last = 0
  for (let i = 0; i < docs.length; i += BATCH) {
    last = (
      (await request(url, 'POST', '/indexes/packages/documents?primaryKey=id', docs.slice(i, i + BATCH))) as {
        taskUid: number
      }
    ).taskUid
  }
  await waitTask(url, last)
  const seconds = (performance.now() - started) / 1000
  ctx.record({ name: 'http-import', metric: 'docs/s', value: docs.length / seconds, unit: 'docs/s' })
  ctx.log(`imported ${docs.length} docs over HTTP in ${seconds.toFixed(1)} s`)
}

/**
 * One autocannon run: for `seconds` in a full run; in smoke mode a fixed
 * number of requests (so that even 64 connections on a slow machine finish some).
 */
async function cannon(url: string, queries: string[], connections: number, seconds: number, smoke: boolean) {
  let next = 0
  const began = performance.now()
  const result = await autocannon({
    url: `${url}/indexes/packages/search`,
    connections,
    timeout: 120,
    ...(smoke ? { amount: Math.max(50, connections * 4) } : { duration: seconds }),
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        setupRequest: (req) => ({
          ...req,
          body: JSON.stringify({ q: queries[next++ % queries.length], limit: 10 }),
        }),
      },
    ],
  })
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`autocannon: ${result.non2xx} non-2xx, ${result.errors} errors`)
  // autocannon's latencies are whole milliseconds; throughput is taken over the measured time.
  return {
    qps: result.requests.total / ((performance.now() - began) / 1000),
    p50: result.latency.p50,
    p99: result.latency.p99,
  }
}

/** One POST with node:http (lighter than fetch, so the figure is the server's more than the client's). */
function postOnce(agent: Agent, url: string, body: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
      (response) => {
        if (response.statusCode !== 200) reject(new Error(`search answered ${response.statusCode}`))
        response.resume()
        response.on('end', () => resolve())
      },
    )
    request.on('error', reject)
    request.end(JSON.stringify(body))
  })
}

interface Timing {
  qps: number
  p50Ms: number
  p99Ms: number
}

/** Runs `query` one call after another for `seconds`; microsecond latencies, throughput = calls ÷ seconds. */
async function sequential(seconds: number, query: (i: number) => unknown): Promise<Timing> {
  const latencies: number[] = []
  const began = performance.now()
  for (let i = 0; performance.now() - began < seconds * 1000; i++) {
    const t0 = performance.now()
    await query(i)
    latencies.push(performance.now() - t0)
  }
  const elapsed = (performance.now() - began) / 1000
  latencies.sort((a, b) => a - b)
  return {
    qps: latencies.length / elapsed,
    p50Ms: latencies[Math.floor(latencies.length * 0.5)] ?? 0,
    p99Ms: latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] ?? 0,
  }
}

/** Records a side's median figures over the rounds, each with its min and max. */
function recordTiming(ctx: SuiteContext, name: string, rounds: readonly Timing[], peer?: string): void {
  const extra = peer === undefined ? {} : { peer }
  ctx.recordSpread(
    name,
    'ops/s',
    'q/s',
    rounds.map((t) => t.qps),
    extra,
  )
  ctx.recordSpread(
    name,
    'p50-latency',
    'ms',
    rounds.map((t) => t.p50Ms),
    extra,
  )
  ctx.recordSpread(
    name,
    'p99-latency',
    'ms',
    rounds.map((t) => t.p99Ms),
    extra,
  )
}

export default defineSuite({
  description:
    'HTTP node vs embedded engine on the Debian corpus, alternated in rounds on the same data: search p50/p99 one at a time, throughput at 1/16/64 connections; import docs/s',
  peers: { npm: ['autocannon'] },
  async run(ctx) {
    const docs = await loadCorpus(ctx.smoke)
    const queries = makeQueries(docs, 500, ctx.seed)
    const seconds = ctx.smoke ? 0.2 : 4
    const dir = await mkdtemp(path.join(tmpdir(), 'shoal-bench-server-'))
    try {
      // Both sides hold the same documents at once: the node (a `shoal start` process) imported
      // over HTTP, the embedded engine in this process; then they take turns, round after round.
      const node = await startNode(path.join(dir, 'node'))
      const engine = await open(path.join(dir, 'embedded'), { sync: 'none' })
      const agent = new Agent({ keepAlive: true, maxSockets: 1 })
      const window: { fromUs?: number; toUs?: number } = {}
      try {
        await importOverHttp(ctx, node.url, docs)
        await engine.createIndex('packages', {
          primaryKey: 'id',
          settings: {
            searchableAttributes: ['package', 'summary', 'description'],
            filterableAttributes: ['section'],
          },
        })
        const index = engine.index('packages')
        for (let i = 0; i < docs.length; i += BATCH) await index.addDocuments(docs.slice(i, i + BATCH))
        // The same warm-up on both sides.
        await cannon(node.url, queries, 4, 2, ctx.smoke)
        for (const q of queries.slice(0, 50)) index.search({ q, limit: 10, matchingStrategy: 'last' })

        const sides: Array<{ name: string; peer?: string; run: () => Promise<Timing> }> = [
          {
            name: 'http-search-sequential',
            // The same queries one after another over one keep-alive connection, to the microsecond.
            run: () =>
              sequential(seconds, (i) =>
                postOnce(agent, `${node.url}/indexes/packages/search`, {
                  q: queries[i % queries.length],
                  limit: 10,
                }),
              ),
          },
          {
            name: 'embedded-search',
            peer: 'embedded engine',
            run: () =>
              // The node's default matching strategy (`last`, as Meilisearch's), asked for explicitly.
              sequential(seconds, (i) =>
                index.search({ q: queries[i % queries.length], limit: 10, matchingStrategy: 'last' }),
              ),
          },
          ...[1, 16, 64].map((connections) => ({
            name: `http-search-c${connections}`,
            run: async (): Promise<Timing> => {
              const r = await cannon(node.url, queries, connections, seconds, ctx.smoke)
              return { qps: r.qps, p50Ms: r.p50, p99Ms: r.p99 }
            },
          })),
        ]
        const perRound = await ctx.alternate(sides.map((side) => ({ name: side.name, run: side.run })))
        for (const side of sides) recordTiming(ctx, side.name, perRound.get(side.name)!, side.peer)
        const of = (name: string, pick: (t: Timing) => number) => perRound.get(name)!.map(pick)
        const embedded = 'embedded-search'
        ctx.roundRatio(
          'http-vs-embedded-throughput',
          of('http-search-sequential', (t) => t.qps),
          of(embedded, (t) => t.qps),
          'embedded engine',
        )
        ctx.roundRatio(
          'http-vs-embedded-p50-latency',
          of('http-search-sequential', (t) => t.p50Ms),
          of(embedded, (t) => t.p50Ms),
          'embedded engine',
        )
        ctx.roundRatio(
          'http-vs-embedded-p99-latency',
          of('http-search-sequential', (t) => t.p99Ms),
          of(embedded, (t) => t.p99Ms),
          'embedded engine',
        )
        for (const connections of [1, 16, 64]) {
          ctx.roundRatio(
            `http-c${connections}-vs-embedded-throughput`,
            of(`http-search-c${connections}`, (t) => t.qps),
            of(embedded, (t) => t.qps),
            'embedded engine (one query at a time)',
          )
        }
        // BENCH_CPU_PROF=<dir>: one more sequential pass each way, profiled (not timed figures):
        // this process (client and embedded engine) in-process, the node through its --cpu-prof
        // file, read over the window of its pass once it has stopped.
        await ctx.cpuProfile('embedded-sequential', () => sides[1]!.run())
        window.fromUs = profileClockUs()
        await ctx.cpuProfile('http-sequential-client', () => sides[0]!.run())
        window.toUs = profileClockUs()
      } finally {
        agent.destroy()
        await engine.close()
        await node.stop()
      }
      const profileDir = cpuProfileDir()
      if (profileDir !== undefined && window.toUs !== undefined) {
        const file = path.join(profileDir, 'server-node.cpuprofile')
        const summary = summarizeProfile(readProfile(file), window)
        ctx.log(
          formatSummary(
            `profile http-sequential-node (${file}, --from-us ${window.fromUs} --to-us ${window.toUs})`,
            summary,
          ),
        )
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  },
})
