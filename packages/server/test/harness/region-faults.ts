import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { FaultNetwork } from '@shoal/testkit/chaos'
import { waitFor } from '@shoal/testkit/wait'
import { expect } from 'vitest'
import { sample } from './metrics-text.ts'
import { documents, metricsOf, type Region, startRegion, waitConverged } from './regions.ts'
import { tempDir } from './server-process.ts'
import { addDocuments, call, waitForTask } from './standby-pair.ts'

// Regions linked through the testkit's fault proxies (docs/multi-region.md, "Faults between
// regions"): every byte between two regions' libp2p ports passes a proxy that adds latency and
// loss. Every region writes at a steady rate; at the end all hold the same documents, every
// write that was concurrent by construction has its loser in every conflict log, and the lag
// read from the metrics stays within bounds.

export interface RegionFaultRun {
  names: string[]
  /** One-way latency added on every link, ms. */
  latencyMs: number
  /** Loss per TCP chunk (a stall, as TCP retransmits). */
  loss: number
  /** How long the steady load runs. */
  durationMs: number
  /** Writes per second in each region. */
  ratePerRegion: number
  seed: number
}

export interface RegionFaultResult {
  lagSamples: number[]
  delayP99Seconds: number
  writes: number
  conflicts: number
  proxiedBytes: number
}

/** A histogram's cumulative bucket counts, by upper bound, summed over its labels. */
function histogramBuckets(text: string, name: string): Map<number, number> {
  const buckets = new Map<number, number>()
  for (const line of text.split('\n')) {
    const match = new RegExp(`^${name}_bucket\\{.*le="([^"]+)".*\\} (\\S+)$`).exec(line)
    if (match === null) continue
    const le = match[1] === '+Inf' ? Infinity : Number(match[1])
    buckets.set(le, (buckets.get(le) ?? 0) + Number(match[2]))
  }
  return buckets
}

/** The smallest bucket bound under which 99 % of the observations since `before` fall. */
function p99Since(now: Map<number, number>, before: Map<number, number>): number {
  const bounds = [...now.keys()].sort((a, b) => a - b)
  const count = (le: number) => (now.get(le) ?? 0) - (before.get(le) ?? 0)
  const total = count(Infinity)
  return bounds.find((le) => count(le) >= 0.99 * total) ?? Infinity
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0
}

export async function runRegionFaults(run: RegionFaultRun): Promise<RegionFaultResult> {
  const dir = await tempDir('shoal-region-faults-')
  const keyFile = path.join(dir.dir, 'region.key')
  await writeFile(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 })
  const network = new FaultNetwork({ nodes: run.names, seed: run.seed })
  let regions: Region[] = []
  try {
    regions = await Promise.all(run.names.map((name) => startRegion(dir.dir, name, keyFile)))
    const port = (r: Region) => Number(/\/tcp\/(\d+)\//.exec(r.address)![1])
    await network.tcpMesh(Object.fromEntries(regions.map((r) => [r.name, { port: port(r) }])))
    network.table.setAll({ latencyMs: run.latencyMs, loss: run.loss })

    // Concurrent by construction: every region writes documents 1–10 before any link exists.
    const contested = Array.from({ length: 10 }, (_, i) => i + 1)
    for (const r of regions)
      expect(
        (
          await addDocuments(
            r.url,
            'docs',
            contested.map((id) => ({ id, v: `${r.name}-first` })),
          )
        ).status,
      ).toBe('succeeded')

    // Each region dials the others through their proxies only.
    for (const r of regions) {
      const seeds = regions
        .filter((o) => o !== r)
        .map((o) => {
          const [, proxyPort] = network.dial(r.name, o.name).split(':')
          return `/ip4/127.0.0.1/tcp/${proxyPort}/p2p/${o.address.split('/p2p/')[1]}`
        })
      expect((await call(r.url, 'PATCH', '/admin/regions', { seeds })).status).toBe(200)
    }

    await waitConverged(regions, contested.length)
    const DELAY = 'shoal_region_replication_delay_seconds'
    const delayBefore = await Promise.all(
      regions.map(async (r) => histogramBuckets(await metricsOf(r.url), DELAY)),
    )

    // Steady load: each region writes its own documents and, one write in five, a shared one.
    const tasks: Array<{ url: string; uid: number }> = []
    const lagSamples: number[] = []
    const until = Date.now() + run.durationMs
    let sampling = true
    const sampler = (async () => {
      while (sampling) {
        for (const r of regions) {
          const text = await metricsOf(r.url)
          for (const other of regions)
            if (other !== r) lagSamples.push(sample(text, 'shoal_region_lag_seconds', { region: other.name }))
        }
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    })()
    await Promise.all(
      regions.map(async (r, n) => {
        const base = (n + 1) * 100_000
        for (let i = 0; Date.now() < until; i++) {
          const started = Date.now()
          const id = i % 5 === 4 ? 1000 + (i % 40) : base + (i % 200)
          const reply = await call(r.url, 'POST', '/indexes/docs/documents?primaryKey=id', [
            { id, v: `${r.name}-${i}` },
          ])
          if (reply.status !== 202) throw new Error(`write answered ${reply.status}`)
          tasks.push({ url: r.url, uid: reply.body.taskUid as number })
          await new Promise((resolve) =>
            setTimeout(resolve, Math.max(0, 1000 / run.ratePerRegion - (Date.now() - started))),
          )
        }
      }),
    )
    for (const t of tasks) expect((await waitForTask(t.url, t.uid, 60_000)).status).toBe('succeeded')
    await waitConverged(regions, undefined, 60_000)
    sampling = false
    await sampler

    // Every contested document's first writes: each loser is in every region's conflict log.
    const final = new Map((await documents(regions[0]!.url)).map((d) => [d.id as number, d.v as string]))
    let conflicts = 0
    for (const r of regions) {
      const log = (await call(r.url, 'GET', '/admin/conflicts')).body.results as Array<{
        documentId: string
        winner: { region: string; document: { v: string } | null }
        loser: { region: string; document: { v: string } | null }
      }>
      conflicts += log.length
      for (const c of log) expect(c.winner.region).not.toBe(c.loser.region)
      for (const id of contested) {
        const losers = new Set(log.filter((c) => c.documentId === String(id)).map((c) => c.loser.document?.v))
        for (const writer of regions) {
          const first = `${writer.name}-first`
          // Every first write not served lost a conflict (all were concurrent): logged here.
          if (final.get(id) !== first)
            expect(losers.has(first), `${r.name}: loser ${first} of ${id}`).toBe(true)
        }
      }
    }
    // The delay of the load's entries only (the contested ones waited for the link).
    let delayP99Seconds = 0
    for (const [i, r] of regions.entries())
      delayP99Seconds = Math.max(
        delayP99Seconds,
        p99Since(histogramBuckets(await metricsOf(r.url), DELAY), delayBefore[i]!),
      )
    await waitFor('the lag to read 0 everywhere once converged', async () => {
      for (const r of regions) {
        const text = await metricsOf(r.url)
        if (sample(text, 'shoal_region_lag_entries') !== 0) return false
      }
      return true
    })
    return {
      lagSamples,
      delayP99Seconds,
      writes: tasks.length,
      conflicts,
      proxiedBytes: network.stats().tcp.bytes,
    }
  } finally {
    await Promise.allSettled(regions.map((r) => r.process.stop()))
    await network.stop()
    await dir.remove()
  }
}
