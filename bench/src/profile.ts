/**
 * CPU profiles of a suite's workload, on demand. With `BENCH_CPU_PROF=<dir>` set, a suite's
 * `ctx.cpuProfile(label, fn)` runs `fn` under V8's sampling profiler (in this process, through
 * the inspector) and writes `<dir>/<suite>-<label>.cpuprofile`; a suite that starts other
 * processes passes `--cpu-prof` to them (`cpuProfArgs`) and summarises their profiles over the
 * window it timed. Without the variable nothing is profiled and no timing changes.
 *
 * The summary is self time per function and per stage (the package or runtime part a
 * function's script belongs to), which is what "where the time goes" needs; open the
 * `.cpuprofile` file in a profile viewer for the call tree.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import path from 'node:path'

/** The directory `BENCH_CPU_PROF` names, or undefined when profiles are off. */
export function cpuProfileDir(): string | undefined {
  const dir = process.env.BENCH_CPU_PROF
  return dir === undefined || dir === '' ? undefined : path.resolve(dir)
}

/** The subset of V8's `Profiler.Profile` the summary reads. */
export interface CpuProfile {
  nodes: Array<{
    id: number
    callFrame: { functionName: string; url: string; lineNumber: number }
    children?: number[]
  }>
  /** Microseconds on the monotonic clock (the clock of `process.hrtime`). */
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

export interface ProfileLine {
  name: string
  selfMs: number
  share: number
}

export interface ProfileSummary {
  /** Sampled time in the window, idle excluded. */
  busyMs: number
  /** Time the thread was idle (waiting for I/O or timers) in the window. */
  idleMs: number
  functions: ProfileLine[]
  stages: ProfileLine[]
}

/** Microseconds on the clock a V8 profile uses: `process.hrtime`'s monotonic clock. */
export function profileClockUs(): number {
  return Number(process.hrtime.bigint() / 1000n)
}

/**
 * Self time per function and per stage over `[fromUs, toUs]` (the whole profile by default),
 * the `top` largest of each.
 */
export function summarizeProfile(
  profile: CpuProfile,
  window: { fromUs?: number; toUs?: number } = {},
  top = 15,
): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const perFunction = new Map<string, number>()
  const perStage = new Map<string, number>()
  let idleUs = 0
  let busyUs = 0
  let at = profile.startTime
  const from = window.fromUs ?? Number.NEGATIVE_INFINITY
  const to = window.toUs ?? Number.POSITIVE_INFINITY
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0
    at += delta
    if (at < from || at > to) continue
    // A sample's weight is the time until the next one (the last sample weighs like this one).
    const weight = profile.timeDeltas[i + 1] ?? delta
    const frame = byId.get(profile.samples[i]!)!.callFrame
    if (frame.functionName === '(idle)') {
      idleUs += weight
      continue
    }
    busyUs += weight
    const fn = `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}${frame.url ? `:${frame.lineNumber + 1}` : ''}`
    perFunction.set(fn, (perFunction.get(fn) ?? 0) + weight)
    const stage = stageOf(frame.url, frame.functionName)
    perStage.set(stage, (perStage.get(stage) ?? 0) + weight)
  }
  const lines = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, selfMs: us / 1000, share: busyUs === 0 ? 0 : us / busyUs }))
  return {
    busyMs: busyUs / 1000,
    idleMs: idleUs / 1000,
    functions: lines(perFunction),
    stages: lines(perStage),
  }
}

/** The stage a script belongs to: a workspace package, a dependency, Node's own code, or V8. */
export function stageOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)'
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`
  const dependency = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (dependency?.[1] !== undefined) return dependency[1]
  const workspace = /\/packages\/([^/]+)\/(?:src|dist|bench)\/(?:internal\/)?([^/.]+)/.exec(url)
  if (workspace !== null) return `@shoal/${workspace[1]} ${workspace[2]}`
  return shortUrl(url)
}

function shortUrl(url: string): string {
  const packages = url.indexOf('/packages/')
  if (packages >= 0) return url.slice(packages + 1)
  const modules = url.lastIndexOf('node_modules/')
  if (modules >= 0) return url.slice(modules + 'node_modules/'.length)
  return url.replace(/^file:\/\//, '')
}

/** The summary as lines of text, for a suite's log and for `profile-top`. */
export function formatSummary(title: string, summary: ProfileSummary): string {
  const row = (l: ProfileLine) =>
    `  ${(l.share * 100).toFixed(1).padStart(5)}%  ${l.selfMs.toFixed(1).padStart(9)} ms  ${l.name}`
  return [
    `${title}: ${summary.busyMs.toFixed(0)} ms on CPU, ${summary.idleMs.toFixed(0)} ms idle`,
    ' self time by stage:',
    ...summary.stages.map(row),
    ' self time by function:',
    ...summary.functions.map(row),
  ].join('\n')
}

/**
 * Runs `fn` under the sampling profiler of this process (100 µs interval), writes the profile
 * to `file` and returns its summary.
 */
export async function profileInProcess(file: string, fn: () => unknown): Promise<ProfileSummary> {
  const session = new Session()
  session.connect()
  let profile: CpuProfile
  try {
    await session.post('Profiler.enable')
    await session.post('Profiler.setSamplingInterval', { interval: 100 })
    await session.post('Profiler.start')
    try {
      await fn()
    } finally {
      profile = ((await session.post('Profiler.stop')) as { profile: CpuProfile }).profile
    }
  } finally {
    session.disconnect()
  }
  mkdirSync(path.dirname(file), { recursive: true })
  writeFileSync(file, JSON.stringify(profile))
  return summarizeProfile(profile)
}

/** Node flags that make a child process write its CPU profile to `dir` as `<name>.cpuprofile`. */
export function cpuProfArgs(dir: string | undefined, name: string): string[] {
  return dir === undefined
    ? []
    : [
        '--cpu-prof',
        '--cpu-prof-dir',
        dir,
        '--cpu-prof-name',
        `${name}.cpuprofile`,
        '--cpu-prof-interval',
        '100',
      ]
}

export function readProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
}
