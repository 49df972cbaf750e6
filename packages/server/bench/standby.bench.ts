import { chmod, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { defineSuite, percentile, type SuiteContext } from '@shoal/bench'
import { waitFor } from '@shoal/testkit/wait'
import { type ServerProcess, startServerProcess, tempDir } from '../test/harness/server-process.ts'

/**
 * Hot standby (docs/standby.md): write throughput and task latency of a primary in `async` and
 * `semi_sync` against a standalone node, and the standby's lag while it runs, on real `shoal
 * start` processes with fsync on (the default `--sync always`).
 *
 * The three setups (a standalone node, an `async` pair and a `semi_sync` pair) are started once
 * and measured in interleaved rounds (each round runs every mode once, the first mode rotating),
 * so that machine load cannot favour one mode; each ratio is the median of the per-round ratios,
 * with its min–max. The load is `WRITERS` clients, each adding one small document at a time and
 * waiting for its task to succeed (polling every 5 ms) before the next; the task queue merges
 * concurrent additions into one engine write, as it does for any client. The primary's
 * `GET /admin/standby` is sampled every 100 ms for the lag (entries the standby had not
 * acknowledged, and how long the oldest of them had been durable on the primary). The peer is
 * Shoal itself (a standalone node), so there is no peer version to record.
 */

const MASTER_KEY = 'standby-bench-master-key-0123456789'
const WRITERS = 4
const MODES = ['standalone', 'async', 'semi_sync'] as const
type Mode = (typeof MODES)[number]

interface Setup {
  primary: ServerProcess
  nodes: ServerProcess[]
  /** Next document id: each round writes new documents. */
  next: number
}

interface RoundFigures {
  writesPerSecond: number
  latencies: number[]
  lagMs: number[]
  lagEntries: number[]
}

export default defineSuite({
  description:
    'Hot standby: write throughput, task latency and standby lag in async and semi_sync vs a standalone node, interleaved rounds',
  async run(ctx) {
    const seconds = ctx.smoke ? 0.5 : 6
    ctx.record({ name: 'writers', metric: 'load', value: WRITERS, unit: 'clients' })
    ctx.record({ name: 'seconds-per-mode-per-round', metric: 'load', value: seconds, unit: 's' })
    const temp = await tempDir('shoal-standby-bench-')
    const setups = new Map<Mode, Setup>()
    try {
      for (const mode of MODES) setups.set(mode, await startSetup(temp.dir, mode))
      const perRound = await ctx.alternate(
        MODES.map((mode) => ({
          name: mode,
          run: async (round: number) => {
            const figures = await measureMode(setups.get(mode)!, mode, seconds)
            ctx.log(`round ${round + 1}: ${describe(mode, figures)}`)
            return figures
          },
        })),
      )
      for (const mode of MODES) record(ctx, mode, perRound.get(mode)!)
      const standalone = perRound.get('standalone')!
      for (const mode of ['async', 'semi_sync'] as const) {
        const runs = perRound.get(mode)!
        ctx.roundRatio(
          `${mode}-vs-standalone-writes`,
          runs.map((r) => r.writesPerSecond),
          standalone.map((r) => r.writesPerSecond),
          'standalone',
        )
        ctx.roundRatio(
          `${mode}-vs-standalone-task-p99`,
          runs.map((r) => percentile(r.latencies, 99)),
          standalone.map((r) => percentile(r.latencies, 99)),
          'standalone',
        )
      }
    } finally {
      for (const setup of setups.values()) for (const node of [...setup.nodes].reverse()) await node.stop()
      await temp.remove()
    }
  },
})

async function startSetup(root: string, mode: Mode): Promise<Setup> {
  const dir = path.join(root, mode)
  const common = ['--master-key', MASTER_KEY]
  if (mode === 'standalone') {
    const primary = await startServerProcess(path.join(dir, 'primary'), common)
    const setup = { primary, nodes: [primary], next: 0 }
    await warmUp(setup)
    return setup
  }
  const keyFile = path.join(root, 'cluster.key')
  await writeFile(keyFile, 'standby-bench-cluster-key-0123456789abcdef')
  await chmod(keyFile, 0o600)
  const withKey = [...common, '--cluster-key-file', keyFile, '--p2p-addr', '127.0.0.1:0']
  const primary = await startServerProcess(path.join(dir, 'primary'), [...withKey, '--standby-mode', mode])
  const setup: Setup = { primary, nodes: [primary], next: 0 }
  let p2pAddr = ''
  await waitFor('the primary to print its p2p address', () => {
    p2pAddr = /p2p:\s+(\S+)/.exec(primary.output())?.[1] ?? ''
    return p2pAddr !== ''
  })
  setup.nodes.push(await startServerProcess(path.join(dir, 'standby'), [...withKey, '--standby-of', p2pAddr]))
  await waitFor(
    'the standby to connect',
    async () => (await get(primary.url, '/admin/standby')).standbyConnected === true,
  )
  await warmUp(setup)
  return setup
}

/** JIT, the first index creation and the first segment files; not measured. */
async function warmUp(setup: Setup): Promise<void> {
  for (let i = 0; i < 20; i++) await waitTask(setup.primary.url, await enqueue(setup.primary.url, -1 - i))
}

async function measureMode(setup: Setup, mode: Mode, seconds: number): Promise<RoundFigures> {
  const url = setup.primary.url
  const latencies: number[] = []
  const lagMs: number[] = []
  const lagEntries: number[] = []
  const until = performance.now() + seconds * 1000
  const writer = async () => {
    while (performance.now() < until) {
      const started = performance.now()
      await waitTask(url, await enqueue(url, setup.next++))
      latencies.push(performance.now() - started)
    }
  }
  const sampler = async () => {
    while (mode !== 'standalone' && performance.now() < until) {
      const status = await get(url, '/admin/standby')
      lagEntries.push(status.lagEntries as number)
      lagMs.push((status.lagSeconds as number) * 1000)
      await sleep(100)
    }
  }
  const began = performance.now()
  await Promise.all([...Array.from({ length: WRITERS }, writer), sampler()])
  return {
    writesPerSecond: latencies.length / ((performance.now() - began) / 1000),
    latencies,
    lagMs,
    lagEntries,
  }
}

function describe(mode: Mode, f: RoundFigures): string {
  let line = `${mode}: ${f.writesPerSecond.toFixed(0)} writes/s, task p50 ${percentile(f.latencies, 50).toFixed(1)} ms, p99 ${percentile(f.latencies, 99).toFixed(1)} ms`
  if (f.lagMs.length > 0) {
    line += `; standby lag p50 ${percentile(f.lagMs, 50).toFixed(1)} ms, p99 ${percentile(f.lagMs, 99).toFixed(1)} ms, at most ${Math.max(...f.lagEntries)} entries`
  }
  return line
}

/** Per mode: the median over rounds of each round's figure, with min–max. */
function record(ctx: SuiteContext, mode: Mode, runs: RoundFigures[]): void {
  const put = (name: string, metric: string, unit: string, values: number[]) => {
    ctx.recordSpread(`${mode}-${name}`, metric, unit, values)
  }
  put(
    'writes',
    'ops/s',
    'writes/s',
    runs.map((r) => r.writesPerSecond),
  )
  put(
    'task-p50',
    'p50-latency',
    'ms',
    runs.map((r) => percentile(r.latencies, 50)),
  )
  put(
    'task-p99',
    'p99-latency',
    'ms',
    runs.map((r) => percentile(r.latencies, 99)),
  )
  if (mode === 'standalone') return
  put(
    'lag-p50',
    'p50-lag',
    'ms',
    runs.map((r) => percentile(r.lagMs, 50)),
  )
  put(
    'lag-p99',
    'p99-lag',
    'ms',
    runs.map((r) => percentile(r.lagMs, 99)),
  )
  put(
    'lag-entries-max',
    'max',
    'entries',
    runs.map((r) => Math.max(0, ...r.lagEntries)),
  )
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
