import { AsyncLocalStorage } from 'node:async_hooks'
import { writeFileSync } from 'node:fs'
import { monitorEventLoopDelay, PerformanceObserver, performance } from 'node:perf_hooks'

/**
 * Search tracing, a measuring aid for benchmarks (bench `sharded`, `SHARDED_SEARCH_TRACE`): with
 * `SHOAL_SEARCH_TRACE=<file>` in its environment, a node marks the stages of every search request
 * it answers — from the request's arrival (fastify's first `onRequest` hook) through auth, the
 * route, the cluster's read path, the merge and serialization to the last byte written — and, when
 * the process exits, writes to `<file>` every request's stages, every garbage collection and the
 * event loop's delay and utilisation second by second, as JSON (`SearchTraceDump`).
 *
 * Off (the variable unset, the default), `traceMark` is one test of a constant and nothing is
 * recorded, observed or written. On, each request costs a few `performance.now()` calls and the
 * run holds its records in memory until exit: meant for a benchmark's minutes, not for production.
 */
const TRACE_FILE = process.env.SHOAL_SEARCH_TRACE ?? ''

/** Whether this process traces searches (`SHOAL_SEARCH_TRACE` set). */
export const searchTraceOn = TRACE_FILE !== ''

/**
 * One traced request: its stages in order, each as [name, wall ms since the previous mark, CPU ms
 * of the main thread since the previous mark].
 */
export interface TracedRequest {
  /** The index searched (the route's `:indexUid`). */
  readonly uid: string
  /** When the request arrived, in ms since the epoch (`performance.timeOrigin` based). */
  readonly atMs: number
  readonly stages: [string, number, number][]
  /**
   * CPU time of the main thread over the request, in ms (user + system): against the stages'
   * sum, how much of the request's wall time this process's main thread was running.
   */
  readonly cpuMs: number
}

/** What a traced process writes when it exits. */
export interface SearchTraceDump {
  readonly pid: number
  readonly requests: TracedRequest[]
  /** Every garbage collection: [start ms since the epoch, duration ms, kind]. */
  readonly gc: [number, number, number][]
  /** Each second: [end ms since the epoch, loop delay p50 ms, p99 ms, max ms, utilisation 0–1]. */
  readonly loop: [number, number, number, number, number][]
}

/** A request being traced: its marks so far. */
export class SearchTrace {
  readonly uid: string
  readonly atMs: number
  readonly stages: [string, number, number][] = []
  readonly cpuAtStart = mainThreadCpuMs()
  #lastMs: number
  #lastCpuMs = this.cpuAtStart

  constructor(uid: string) {
    this.#lastMs = performance.now()
    this.atMs = performance.timeOrigin + this.#lastMs
    this.uid = uid
  }

  /** Ends the stage `name` now (its time runs from the previous mark). */
  mark(name: string): void {
    const now = performance.now()
    const cpu = mainThreadCpuMs()
    this.stages.push([name, now - this.#lastMs, cpu - this.#lastCpuMs])
    this.#lastMs = now
    this.#lastCpuMs = cpu
  }
}

const current = new AsyncLocalStorage<SearchTrace>()
const requests: TracedRequest[] = []
const gc: [number, number, number][] = []
const loop: [number, number, number, number, number][] = []

/** Runs `work` with `trace` as the request its marks go to. */
export function runTraced<T>(trace: SearchTrace, work: () => T): T {
  return current.run(trace, work)
}

/** Ends the stage `name` of the search being traced here, if any (nothing when tracing is off). */
export function traceMark(name: string): void {
  if (!searchTraceOn) return
  current.getStore()?.mark(name)
}

/** Keeps a finished request's stages for the dump. */
export function keepTrace(trace: SearchTrace): void {
  requests.push({
    uid: trace.uid,
    atMs: trace.atMs,
    stages: trace.stages,
    cpuMs: mainThreadCpuMs() - trace.cpuAtStart,
  })
}

/** The main thread's CPU time so far, in ms. */
function mainThreadCpuMs(): number {
  const { user, system } = process.threadCpuUsage()
  return (user + system) / 1000
}

function startObserving(): void {
  // A file that cannot be written is found now, at start, not lost at exit.
  try {
    writeFileSync(TRACE_FILE, '')
  } catch (error) {
    throw new Error(
      `SHOAL_SEARCH_TRACE=${TRACE_FILE}: cannot write the search trace there (${(error as Error).message})`,
    )
  }
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as { detail?: { kind?: number } }).detail?.kind ?? 0
      gc.push([performance.timeOrigin + entry.startTime, entry.duration, kind])
    }
  })
  observer.observe({ entryTypes: ['gc'] })
  const delay = monitorEventLoopDelay({ resolution: 1 })
  delay.enable()
  let utilisation = performance.eventLoopUtilization()
  const second = setInterval(() => {
    const now = performance.eventLoopUtilization()
    const used = performance.eventLoopUtilization(now, utilisation).utilization
    utilisation = now
    const ms = (ns: number) => ns / 1e6
    loop.push([
      performance.timeOrigin + performance.now(),
      ms(delay.percentile(50)),
      ms(delay.percentile(99)),
      ms(delay.max),
      used,
    ])
    delay.reset()
  }, 1_000)
  second.unref()
  process.once('exit', () => {
    const dump: SearchTraceDump = { pid: process.pid, requests, gc, loop }
    try {
      writeFileSync(TRACE_FILE, JSON.stringify(dump))
    } catch (error) {
      process.stderr.write(`search trace not written to ${TRACE_FILE}: ${(error as Error).message}\n`)
    }
  })
}

if (searchTraceOn) startObserving()
