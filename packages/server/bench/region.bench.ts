import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import path from 'node:path'
import { defineSuite } from '@shoal/bench'
import { FaultNetwork } from '@shoal/testkit/chaos'
import { waitFor } from '@shoal/testkit/wait'
import { type Region, startRegion } from '../test/harness/regions.ts'
import { MASTER_KEY } from '../test/harness/standby-pair.ts'

/**
 * Multi-region replication (docs/multi-region.md): two real `shoal start` regions, eu and us,
 * linked through the testkit's TCP fault proxy with 50 ms each way (100 ms RTT). eu takes a steady
 * write load — every 10 ms one request of `rate / 100` small documents, so one feed entry per
 * request — and us's metrics give the replication delay (written in eu to applied in us, from
 * `shoal_region_replication_delay_seconds`: bucket bounds, so coarse), the lag it reports
 * (`shoal_region_lag_seconds`, sampled every 100 ms), and eu's bytes sent per replicated command.
 */

const headers = { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json' }

export default defineSuite({
  description:
    'Multi-region: replication delay and lag at 100 ms RTT under a steady write rate, bytes per command',
  async run(ctx) {
    const seconds = ctx.smoke ? 1.5 : 10
    const rate = ctx.smoke ? 200 : 1000
    ctx.record({ name: 'documents-per-second', metric: 'load', value: rate, unit: 'documents/s' })
    ctx.record({ name: 'rtt', metric: 'load', value: 100, unit: 'ms' })
    ctx.record({ name: 'load-average-start', metric: 'load', value: loadavg()[0]!, unit: 'runnable' })
    const dir = await mkdtemp(path.join(tmpdir(), 'shoal-region-bench-'))
    const network = new FaultNetwork({ nodes: ['eu', 'us'], seed: 18 })
    const regions: Region[] = []
    try {
      const keyFile = path.join(dir, 'region.key')
      await writeFile(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 })
      for (const name of ['eu', 'us'])
        regions.push(await startRegion(dir, name, keyFile, [], { durable: true }))
      const [eu, us] = regions as [Region, Region]
      const port = (r: Region) => Number(/\/tcp\/(\d+)\//.exec(r.address)![1])
      await network.tcpMesh({ eu: { port: port(eu) }, us: { port: port(us) } })
      network.table.setAll({ latencyMs: 50 })
      for (const [from, to] of [
        [eu, us],
        [us, eu],
      ] as const) {
        const proxyPort = network.dial(from.name, to.name).split(':')[1]
        const seed = `/ip4/127.0.0.1/tcp/${proxyPort}/p2p/${to.address.split('/p2p/')[1]}`
        await request(from.url, 'PATCH', '/admin/regions', { seeds: [seed] })
      }
      // Warm-up, not measured: the index exists in both regions.
      await waitTask(
        eu.url,
        (await request(eu.url, 'POST', '/indexes/docs/documents?primaryKey=id', [{ id: 0 }])).taskUid,
      )
      await waitUntil(
        async () => sampleOf(await metrics(us.url), 'shoal_region_entries_applied_total{region="eu"}') >= 1,
      )
      const before = parseHistogram(await metrics(us.url))
      const lags: number[] = []
      const perRequest = Math.max(1, Math.round(rate / 100))
      const until = performance.now() + seconds * 1000
      let next = 1
      let requests = 0
      const sampler = (async () => {
        while (performance.now() < until) {
          lags.push(sampleOf(await metrics(us.url), 'shoal_region_lag_seconds{region="eu"}') * 1000)
          await sleep(100)
        }
      })()
      const uids: number[] = []
      while (performance.now() < until) {
        const started = performance.now()
        const docs = Array.from({ length: perRequest }, () => ({ id: next, title: `document ${next++}` }))
        uids.push((await request(eu.url, 'POST', '/indexes/docs/documents?primaryKey=id', docs)).taskUid)
        requests++
        await sleep(Math.max(0, 10 - (performance.now() - started)))
      }
      await sampler
      for (const uid of uids) await waitTask(eu.url, uid)
      await waitUntil(
        async () => sampleOf(await metrics(us.url), 'shoal_region_lag_entries{region="eu"}') === 0,
      )
      const after = parseHistogram(await metrics(us.url))
      const euText = await metrics(eu.url)
      const bytesSent = sampleOf(euText, 'shoal_region_feed_bytes_total{direction="sent"}')
      const published = sampleOf(euText, 'shoal_region_entries_published_total')
      const at = (values: number[], p: number) =>
        [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(p * values.length))] ?? 0
      const delayP50 = quantile(after, before, 0.5) * 1000
      const delayP99 = quantile(after, before, 0.99) * 1000
      ctx.record({
        name: 'achieved-documents',
        metric: 'ops/s',
        value: (next - 1) / seconds,
        unit: 'documents/s',
      })
      ctx.record({
        name: 'achieved-commands',
        metric: 'ops/s',
        value: requests / seconds,
        unit: 'commands/s',
      })
      ctx.record({
        name: 'replication-delay-p50',
        metric: 'p50-lag',
        value: delayP50,
        unit: 'ms (bucket bound)',
      })
      ctx.record({
        name: 'replication-delay-p99',
        metric: 'p99-lag',
        value: delayP99,
        unit: 'ms (bucket bound)',
      })
      ctx.record({ name: 'reported-lag-p50', metric: 'p50-lag', value: at(lags, 0.5), unit: 'ms' })
      ctx.record({ name: 'reported-lag-p99', metric: 'p99-lag', value: at(lags, 0.99), unit: 'ms' })
      ctx.record({ name: 'bytes-per-command', metric: 'size', value: bytesSent / published, unit: 'bytes' })
      ctx.record({ name: 'load-average-end', metric: 'load', value: loadavg()[0]!, unit: 'runnable' })
      ctx.log(
        `${(next - 1) / seconds} documents/s in ${requests} commands: delay p50 ≤ ${delayP50} ms, p99 ≤ ${delayP99} ms; reported lag p50 ${at(lags, 0.5)} ms, p99 ${at(lags, 0.99)} ms; ${(bytesSent / published).toFixed(0)} bytes per command`,
      )
    } finally {
      for (const region of regions) await region.process.stop()
      await network.stop()
      await rm(dir, { recursive: true, force: true })
    }
  },
})

async function request(url: string, method: string, route: string, body?: unknown) {
  const response = await fetch(`${url}${route}`, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  const parsed = (await response.json()) as Record<string, unknown> & { taskUid: number }
  if (response.status >= 300)
    throw new Error(`${method} ${route} answered ${response.status}: ${JSON.stringify(parsed)}`)
  return parsed
}

async function metrics(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`, { headers })).text()
}

function sampleOf(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? 0 : Number(line.slice(series.length + 1))
}

/** `shoal_region_replication_delay_seconds` cumulative bucket counts by upper bound. */
function parseHistogram(text: string): Map<number, number> {
  const buckets = new Map<number, number>()
  for (const line of text.split('\n')) {
    const match = /^shoal_region_replication_delay_seconds_bucket\{.*le="([^"]+)".*\} (\S+)$/.exec(line)
    if (match !== null) buckets.set(match[1] === '+Inf' ? Infinity : Number(match[1]), Number(match[2]))
  }
  return buckets
}

/** The smallest bucket bound holding fraction `q` of the observations made between two reads. */
function quantile(after: Map<number, number>, before: Map<number, number>, q: number): number {
  const bounds = [...after.keys()].sort((a, b) => a - b)
  const count = (le: number) => (after.get(le) ?? 0) - (before.get(le) ?? 0)
  return bounds.find((le) => count(le) >= q * count(Infinity)) ?? Infinity
}

async function waitTask(url: string, uid: number): Promise<void> {
  const deadline = performance.now() + 60_000
  for (;;) {
    const task = (await (await fetch(`${url}/tasks/${uid}`, { headers })).json()) as {
      status: string
      error: unknown
    }
    if (task.status === 'succeeded') return
    if (task.status === 'failed') throw new Error(`task ${uid} failed: ${JSON.stringify(task.error)}`)
    if (performance.now() > deadline) throw new Error(`task ${uid} did not finish`)
    await sleep(5)
  }
}

function waitUntil(condition: () => Promise<boolean>): Promise<void> {
  return waitFor('the regions to catch up', condition, { timeoutMs: 30_000, intervalMs: 50 })
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
