import { type ChildProcess, spawn } from 'node:child_process'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { defineSuite, type SuiteContext } from '@shoal/bench'

/**
 * Hot standby (docs/standby.md): write throughput and task latency of a primary in `async` and
 * `semi_sync` against a standalone node, and the standby's lag while it runs, on real `shoal
 * start` processes with fsync on (`--sync always`). The load is `WRITERS` clients, each adding one
 * small document at a time and waiting for its task to succeed (polling every 5 ms) before the
 * next; the task queue merges concurrent additions into one engine write, as it does for any
 * client. The primary's `GET /admin/standby` is sampled every 100 ms for the lag (entries the
 * standby had not acknowledged, and how long the oldest of them had been durable on the primary).
 */

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const MASTER_KEY = 'standby-bench-master-key-0123456789'
const WRITERS = 4

type Mode = 'standalone' | 'async' | 'semi_sync'

export default defineSuite({
  description:
    'Hot standby: write throughput, task latency and standby lag in async and semi_sync vs a standalone node',
  async run(ctx) {
    const seconds = ctx.smoke ? 1.5 : 8
    ctx.record({ name: 'writers', metric: 'load', value: WRITERS, unit: 'clients' })
    ctx.record({ name: 'seconds-per-mode', metric: 'load', value: seconds, unit: 's' })
    ctx.record({ name: 'load-average-start', metric: 'load', value: loadavg()[0]!, unit: 'runnable' })
    const throughput: Partial<Record<Mode, number>> = {}
    for (const mode of ['standalone', 'async', 'semi_sync'] as const) {
      throughput[mode] = await runMode(ctx, mode, seconds)
    }
    for (const mode of ['async', 'semi_sync'] as const) {
      ctx.record({
        name: `${mode}-vs-standalone-writes`,
        metric: 'throughput-ratio',
        value: throughput[mode]! / throughput.standalone!,
        unit: 'x',
        peer: 'standalone',
        ratio: throughput[mode]! / throughput.standalone!,
      })
    }
    ctx.record({ name: 'load-average-end', metric: 'load', value: loadavg()[0]!, unit: 'runnable' })
  },
})

async function runMode(ctx: SuiteContext, mode: Mode, seconds: number): Promise<number> {
  const dir = await mkdtemp(path.join(tmpdir(), `shoal-standby-bench-${mode}-`))
  const nodes: Node[] = []
  try {
    const keyFile = path.join(dir, 'cluster.key')
    await writeFile(keyFile, 'standby-bench-cluster-key-0123456789abcdef')
    await chmod(keyFile, 0o600)
    const common = ['--master-key', MASTER_KEY, '--log-level', 'warn']
    const withKey = [...common, '--cluster-key-file', keyFile, '--p2p-addr', '127.0.0.1:0']
    const primary = await startNode(
      path.join(dir, 'primary'),
      mode === 'standalone' ? common : [...withKey, '--standby-mode', mode],
    )
    nodes.push(primary)
    if (mode !== 'standalone') {
      nodes.push(await startNode(path.join(dir, 'standby'), [...withKey, '--standby-of', primary.p2pAddr]))
      await waitUntil(async () => (await get(primary.url, '/admin/standby')).standbyConnected === true)
    }
    // Warm-up (JIT, first index creation, first segment files), not measured.
    for (let i = 0; i < 20; i++) await waitTask(primary.url, await enqueue(primary.url, -1 - i))
    const latencies: number[] = []
    const lags: { entries: number; seconds: number }[] = []
    const until = performance.now() + seconds * 1000
    let next = 0
    const writer = async () => {
      while (performance.now() < until) {
        const started = performance.now()
        const uid = await enqueue(primary.url, next++)
        await waitTask(primary.url, uid)
        latencies.push(performance.now() - started)
      }
    }
    const sampler = async () => {
      while (mode !== 'standalone' && performance.now() < until) {
        const status = await get(primary.url, '/admin/standby')
        lags.push({ entries: status.lagEntries as number, seconds: status.lagSeconds as number })
        await sleep(100)
      }
    }
    const began = performance.now()
    await Promise.all([...Array.from({ length: WRITERS }, writer), sampler()])
    const writesPerSecond = latencies.length / ((performance.now() - began) / 1000)
    record(ctx, mode, writesPerSecond, latencies, lags)
    return writesPerSecond
  } finally {
    for (const node of nodes.reverse()) await node.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

function record(
  ctx: SuiteContext,
  mode: Mode,
  writesPerSecond: number,
  latencies: number[],
  lags: { entries: number; seconds: number }[],
): void {
  const at = (values: number[], p: number) =>
    values.sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(p * values.length))] ?? 0
  ctx.record({ name: `${mode}-writes`, metric: 'ops/s', value: writesPerSecond, unit: 'writes/s' })
  ctx.record({ name: `${mode}-task-p50`, metric: 'p50-latency', value: at(latencies, 0.5), unit: 'ms' })
  ctx.record({ name: `${mode}-task-p99`, metric: 'p99-latency', value: at(latencies, 0.99), unit: 'ms' })
  let line = `${mode}: ${writesPerSecond.toFixed(0)} writes/s, task p50 ${at(latencies, 0.5).toFixed(1)} ms, p99 ${at(latencies, 0.99).toFixed(1)} ms`
  if (lags.length > 0) {
    const entries = lags.map((l) => l.entries)
    const secondsLag = lags.map((l) => l.seconds * 1000)
    ctx.record({ name: `${mode}-lag-entries-p50`, metric: 'p50', value: at(entries, 0.5), unit: 'entries' })
    ctx.record({ name: `${mode}-lag-entries-max`, metric: 'max', value: at(entries, 1), unit: 'entries' })
    ctx.record({ name: `${mode}-lag-p50`, metric: 'p50-lag', value: at(secondsLag, 0.5), unit: 'ms' })
    ctx.record({ name: `${mode}-lag-p99`, metric: 'p99-lag', value: at(secondsLag, 0.99), unit: 'ms' })
    line += `; standby lag p50 ${at(secondsLag, 0.5).toFixed(1)} ms, p99 ${at(secondsLag, 0.99).toFixed(1)} ms, at most ${at(entries, 1)} entries`
  }
  ctx.log(line)
}

interface Node {
  url: string
  p2pAddr: string
  stop(): Promise<void>
}

async function startNode(dataDir: string, args: string[]): Promise<Node> {
  const child: ChildProcess = spawn(
    process.execPath,
    [CLI, 'start', '--data-dir', dataDir, '--http-addr', '127.0.0.1:0', ...args],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const { url, p2pAddr } = await new Promise<{ url: string; p2pAddr: string }>((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const match = /listening on (http:\/\/\S+)/.exec(out)
      if (match?.[1] !== undefined && out.includes('Try it'))
        resolve({ url: match[1], p2pAddr: /p2p:\s+(\S+)/.exec(out)?.[1] ?? '' })
    })
    child.once('exit', (code) => reject(new Error(`shoal exited with ${code}`)))
  })
  return {
    url,
    p2pAddr,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM')
      await exited
    },
  }
}

const headers = { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json' }

async function get(url: string, route: string): Promise<Record<string, unknown>> {
  return (await (await fetch(`${url}${route}`, { headers })).json()) as Record<string, unknown>
}

async function enqueue(url: string, id: number): Promise<number> {
  const response = await fetch(`${url}/indexes/bench/documents?primaryKey=id`, {
    method: 'POST',
    headers,
    body: JSON.stringify([{ id, title: `document number ${id}`, rank: id % 97 }]),
  })
  const body = (await response.json()) as { taskUid: number }
  if (response.status !== 202) throw new Error(`enqueue answered ${response.status}: ${JSON.stringify(body)}`)
  return body.taskUid
}

async function waitTask(url: string, uid: number): Promise<void> {
  for (;;) {
    const task = await get(url, `/tasks/${uid}`)
    if (task.status === 'succeeded') return
    if (task.status === 'failed') throw new Error(`task ${uid} failed: ${JSON.stringify(task.error)}`)
    await sleep(5)
  }
}

async function waitUntil(condition: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + 20_000
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error('the standby did not connect')
    await sleep(50)
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
