/**
 * Where a search's time goes, per stage, on the coordinator and on the standalone node: with
 * SHARDED_SEARCH_TRACE=<dir>, every process runs with `SHOAL_SEARCH_TRACE=<dir>/<name>.json`
 * (packages/server/src/internal/search-trace.ts) and writes its searches' stages, its garbage
 * collections and its event loop's delay when it stops. This file keeps the timed passes'
 * windows and, after the processes stopped, reads the dumps back and logs one table per target:
 * the median and p99 of each stage over the searches of the timed passes (the tuning passes are
 * left out), the garbage collections that overlapped them, and the loop's delay in those seconds.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { percentile } from '@shoal/bench'

/** The folder the processes write their dumps to (SHARDED_SEARCH_TRACE), or undefined. */
export const TRACE_DIR = process.env.SHARDED_SEARCH_TRACE || undefined

/** The environment a traced process runs with (nothing when not tracing). */
export function traceEnv(name: string): Record<string, string> {
  return TRACE_DIR === undefined ? {} : { SHOAL_SEARCH_TRACE: path.join(TRACE_DIR, `${name}.json`) }
}

interface Dump {
  requests: { uid: string; atMs: number; stages: [string, number, number][]; cpuMs: number }[]
  gc: [number, number, number][]
  loop: [number, number, number, number, number][]
}

/** One timed pass: which process answered it, for which index, when. */
interface Window {
  label: string
  process: string
  uid: string
  fromMs: number
  toMs: number
}

const windows: Window[] = []

/** Runs a timed pass and notes its window (epoch ms, as the processes stamp their requests). */
export async function timedWindow<T>(
  label: string,
  process: string,
  uid: string,
  pass: () => Promise<T>,
): Promise<T> {
  const fromMs = performance.timeOrigin + performance.now()
  const result = await pass()
  windows.push({ label, process, uid, fromMs, toMs: performance.timeOrigin + performance.now() })
  return result
}

function readDump(name: string): Dump | undefined {
  if (TRACE_DIR === undefined) return undefined
  try {
    return JSON.parse(readFileSync(path.join(TRACE_DIR, `${name}.json`), 'utf8')) as Dump
  } catch {
    return undefined
  }
}

/** The stages of a side's searches as `name p50/p99` columns, plus totals, GC and loop delay. */
function describe(dump: Dump, parts: readonly Window[]): string[] {
  const inside = (atMs: number) => parts.some((w) => atMs >= w.fromMs && atMs <= w.toMs)
  const requests = dump.requests.filter(
    (r) => inside(r.atMs) && parts.some((w) => w.uid === r.uid && r.atMs >= w.fromMs && r.atMs <= w.toMs),
  )
  if (requests.length === 0) return ['  no traced searches in the timed passes']
  const byStage = new Map<string, { wall: number[]; cpu: number[] }>()
  const totals: number[] = []
  for (const request of requests) {
    let total = 0
    for (const [stage, ms, cpuMs] of request.stages) {
      const times = byStage.get(stage) ?? { wall: [], cpu: [] }
      times.wall.push(ms)
      times.cpu.push(cpuMs)
      byStage.set(stage, times)
      total += ms
    }
    totals.push(total)
  }
  const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length
  const lines = [...byStage].map(
    ([stage, { wall, cpu }]) =>
      `  ${stage.padEnd(10)} p50 ${percentile(wall, 50).toFixed(3)}  mean ${mean(wall).toFixed(3)}  p99 ${percentile(wall, 99).toFixed(3)} ms (${wall.length}); CPU p50 ${percentile(cpu, 50).toFixed(3)} mean ${mean(cpu).toFixed(3)} ms`,
  )
  const cpu = requests.map((r) => r.cpuMs)
  lines.push(
    `  ${'cpu'.padEnd(10)} p50 ${percentile(cpu, 50).toFixed(3)}  mean ${mean(cpu).toFixed(3)}  p99 ${percentile(cpu, 99).toFixed(3)} ms (main thread)`,
  )
  lines.push(
    `  ${'total'.padEnd(10)} p50 ${percentile(totals, 50).toFixed(3)}  mean ${mean(totals).toFixed(3)}  p99 ${percentile(totals, 99).toFixed(3)} ms (${totals.length} searches)`,
  )
  // Collections that began during a traced search (start within its span).
  let gcMs = 0
  let gcCount = 0
  for (const [startMs, durationMs] of dump.gc) {
    const during = requests.some((r) => {
      const end = r.atMs + r.stages.reduce((sum, [, ms]) => sum + ms, 0)
      return startMs >= r.atMs && startMs <= end
    })
    if (during) {
      gcMs += durationMs
      gcCount++
    }
  }
  const spanMs = parts.reduce((sum, w) => sum + (w.toMs - w.fromMs), 0)
  const gcAll = dump.gc.filter(([startMs]) => inside(startMs))
  lines.push(
    `  gc: ${gcCount} collections during searches, ${(gcMs / requests.length).toFixed(3)} ms per search; ` +
      `${gcAll.length} in the passes (${gcAll.reduce((s, [, d]) => s + d, 0).toFixed(1)} ms over ${(spanMs / 1000).toFixed(1)} s)`,
  )
  const seconds = dump.loop.filter(([endMs]) => inside(endMs - 500))
  if (seconds.length > 0) {
    const column = (i: number) => seconds.map((s) => s[i]!)
    lines.push(
      `  loop delay (per second, median of ${seconds.length}): p50 ${percentile(column(1), 50).toFixed(2)} ms, ` +
        `p99 ${percentile(column(2), 50).toFixed(2)} ms, max ${percentile(column(3), 50).toFixed(2)} ms ` +
        `(worst second ${Math.max(...column(3)).toFixed(1)} ms); utilisation ${percentile(column(4), 50).toFixed(2)}`,
    )
  }
  return lines
}

/** Logs the breakdown of every traced target, the cluster's coordinators beside the single node. */
export function logTraces(log: (line: string) => void): void {
  if (TRACE_DIR === undefined) return
  const labels = [...new Set(windows.map((w) => w.label))]
  for (const label of labels) {
    const ofLabel = windows.filter((w) => w.label === label)
    for (const name of [...new Set(ofLabel.map((w) => w.process))].sort()) {
      const dump = readDump(name)
      const parts = ofLabel.filter((w) => w.process === name)
      if (dump === undefined) {
        log(`trace ${label} on ${name}: no dump`)
        continue
      }
      log(`trace ${label} on ${name} (${parts.length} passes):\n${describe(dump, parts).join('\n')}`)
    }
  }
}
