import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { defineSuite, type SuiteContext } from '@shoal/bench'

/**
 * How long `GET /health` takes to answer, against a real `shoal start` process, while the server
 * does something heavy (issue 24: "a health check answers within 50 ms"). A probe sends one
 * health check after another (5 ms apart) during each phase and records p50, p99 and the worst:
 * - idle: nothing else;
 * - parsing: a 100 MB documents body (1.3M small documents, malformed at its very end, so the
 *   whole body is parsed and refused and no task runs): the parse itself;
 * - indexing: the task of a 4 MB body (36k documents) being applied by the engine;
 * - heavy search: searches without `q` that sort and facet every document, one after another.
 * Snapshots are not reachable over HTTP (the engine writes them every `snapshotEvery` commands);
 * the engine suites time them. The load average is recorded at the start and the end: on a shared
 * machine the waits for a core show in every phase, idle included.
 */

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

export default defineSuite({
  description: 'GET /health latency while the server parses a 100 MB body, indexes, and runs heavy searches',
  async run(ctx) {
    const dir = await mkdtemp(path.join(tmpdir(), 'shoal-health-'))
    const node = await startNode(dir)
    try {
      await phases(ctx, node.url)
    } finally {
      await node.stop()
      await rm(dir, { recursive: true, force: true })
    }
  },
})

async function phases(ctx: SuiteContext, url: string): Promise<void> {
  const scale = ctx.smoke ? 0.1 : 1
  ctx.record({ name: 'load-average-start', metric: 'load', value: loadavg()[0]!, unit: 'runnable' })
  record(ctx, 'idle', await probe(url, sleep(ctx.smoke ? 500 : 2000)))

  const broken = documentsJson(Math.round(1_300_000 * scale), true)
  ctx.record({ name: 'parsed-body-bytes', metric: 'size', value: broken.byteLength, unit: 'B' })
  ctx.log(`parsing body: ${(broken.byteLength / 1e6).toFixed(0)} MB`)
  const parsing = post(url, '/indexes/health/documents', broken)
  record(ctx, 'parsing-large-body', await probe(url, parsing))
  const refused = await parsing
  if (refused.status !== 400) throw new Error(`the malformed body got ${refused.status}`)

  const body = documentsJson(Math.round(36_000 * scale), false)
  const accepted = await post(url, '/indexes/health/documents', body)
  if (accepted.status !== 202) throw new Error(`the documents got ${accepted.status}`)
  const uid = (accepted.body as { taskUid: number }).taskUid
  record(ctx, 'indexing-task', await probe(url, waitTask(url, uid)))

  await post(
    url,
    '/indexes/health/settings',
    Buffer.from('{"filterableAttributes":["rank","tags"],"sortableAttributes":["rank"]}'),
    'PATCH',
  ).then((answer) => waitTask(url, (answer.body as { taskUid: number }).taskUid))
  const searches = (async () => {
    const until = performance.now() + (ctx.smoke ? 1000 : 5000)
    while (performance.now() < until) {
      const answer = await post(
        url,
        '/indexes/health/search',
        Buffer.from('{"sort":["rank:desc"],"facets":["tags","rank"],"limit":20}'),
      )
      if (answer.status !== 200) throw new Error(`search got ${answer.status}`)
    }
  })()
  record(ctx, 'heavy-search', await probe(url, searches))
  ctx.record({ name: 'load-average-end', metric: 'load', value: loadavg()[0]!, unit: 'runnable' })
}

function record(ctx: SuiteContext, phase: string, latencies: number[]): void {
  latencies.sort((a, b) => a - b)
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0
  ctx.record({ name: `health-${phase}-p50`, metric: 'p50-latency', value: at(0.5), unit: 'ms' })
  ctx.record({ name: `health-${phase}-p99`, metric: 'p99-latency', value: at(0.99), unit: 'ms' })
  ctx.record({ name: `health-${phase}-max`, metric: 'max-latency', value: at(1), unit: 'ms' })
  ctx.record({ name: `health-${phase}-count`, metric: 'count', value: latencies.length, unit: 'requests' })
  ctx.log(
    `health while ${phase}: p50 ${at(0.5).toFixed(1)} ms, p99 ${at(0.99).toFixed(1)} ms, max ${at(1).toFixed(1)} ms (${latencies.length} checks; target 50 ms)`,
  )
}

/** Health checks one after another (5 ms apart) until `work` settles; each one's latency. */
async function probe(url: string, work: Promise<unknown>): Promise<number[]> {
  const latencies: number[] = []
  let done = false
  const settled = work.finally(() => {
    done = true
  })
  while (!done) {
    const sent = performance.now()
    const response = await fetch(`${url}/health`)
    await response.text()
    if (response.status !== 200) throw new Error(`health answered ${response.status}`)
    latencies.push(performance.now() - sent)
    await sleep(5)
  }
  await settled
  return latencies
}

/** Written straight into one buffer: the probe's own process keeps no million small strings. */
function documentsJson(count: number, broken: boolean): Buffer {
  const out = Buffer.allocUnsafe(count * 100 + 16)
  let at = out.write('[', 0)
  for (let i = 0; i < count; i++) {
    const doc = `{"id":${i},"title":"document number ${i}","tags":["t${i % 7}","t${i % 11}"],"rank":${i % 997},"ok":true}`
    at += out.write(i > 0 ? `,${doc}` : doc, at)
  }
  at += out.write(broken ? ',' : ']', at)
  return out.subarray(0, at)
}

async function post(url: string, route: string, body: Buffer, method = 'POST') {
  const response = await fetch(`${url}${route}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body,
  })
  return { status: response.status, body: (await response.json()) as unknown }
}

async function waitTask(url: string, uid: number): Promise<void> {
  for (;;) {
    const task = (await (await fetch(`${url}/tasks/${uid}`)).json()) as { status: string; error: unknown }
    if (task.status === 'succeeded') return
    if (task.status === 'failed') throw new Error(`task ${uid} failed: ${JSON.stringify(task.error)}`)
    await sleep(20)
  }
}

async function startNode(dataDir: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(
    process.execPath,
    [
      CLI,
      'start',
      '--data-dir',
      dataDir,
      '--http-addr',
      '127.0.0.1:0',
      '--log-level',
      'warn',
      '--payload-limit-bytes',
      String(200 * 1024 * 1024),
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
