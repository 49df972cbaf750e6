import { Bench } from 'tinybench'
import type { MachineInfo } from './machine.ts'

/**
 * One figure. `metric` says what was measured (e.g. `ops/s`, `p50-latency`,
 * `recall@10`), `unit` its unit. A peer's figure names the `peer`; a ratio
 * entry carries `ratio` (ours ÷ peer's, unless its name says otherwise).
 */
export interface BenchResult {
  name: string
  metric: string
  value: number
  unit: string
  peer?: string
  ratio?: number
}

export interface SuiteReport {
  suite: string
  description: string
  smoke: boolean
  machine: MachineInfo
  results: BenchResult[]
}

export interface MeasureOptions {
  /** Minimum measuring time per task in ms. @defaultValue 1000 (100 in smoke mode) */
  timeMs?: number
  /** Minimum iterations per task. @defaultValue 10 (2 in smoke mode) */
  iterations?: number
  /** How many operations one call of `fn` performs (for batched tasks). @defaultValue 1 */
  opsPerCall?: number
}

export interface Measurement {
  name: string
  /** Operations per second, from the median latency of one call. */
  opsPerSecond: number
  p50Ms: number
  p99Ms: number
  samples: number
}

export interface SuiteContext {
  /** True under `--smoke`: run each case briefly and on small data, to prove the suite works. */
  readonly smoke: boolean
  /** The dataset seed (`SEED=` env, default 42). */
  readonly seed: number
  /** Progress output for long work, to stderr. */
  log(message: string): void
  /** Records one figure. */
  record(result: BenchResult): void
  /** Runs `fn` under tinybench and records ops/s, p50 and p99 latency under `name`. */
  measure(name: string, fn: () => unknown, options?: MeasureOptions & { peer?: string }): Promise<Measurement>
  /** Records `ours / peer` under `name` and returns it. */
  ratio(name: string, ours: number, peer: number, peerName: string): number
}

export interface Suite {
  description: string
  run(ctx: SuiteContext): Promise<void>
}

export function defineSuite(suite: Suite): Suite {
  return suite
}

/** Runs one task under tinybench; the figure is the median, since these machines are noisy. */
export async function measure(
  name: string,
  fn: () => unknown,
  smoke: boolean,
  options: MeasureOptions = {},
): Promise<Measurement> {
  const bench = new Bench({
    time: options.timeMs ?? (smoke ? 100 : 1000),
    iterations: options.iterations ?? (smoke ? 2 : 10),
    warmupTime: smoke ? 10 : 100,
    warmupIterations: smoke ? 1 : 5,
  })
  bench.add(name, fn)
  await bench.run()
  const task = bench.tasks[0]
  const result = task?.result
  if (result === undefined || (result.state !== 'completed' && result.state !== 'aborted-with-statistics')) {
    const error = result !== undefined && result.state === 'errored' ? result.error : undefined
    throw new Error(`benchmark task ${name} did not complete`, { cause: error })
  }
  const opsPerCall = options.opsPerCall ?? 1
  return {
    name,
    opsPerSecond: (1000 / result.latency.p50) * opsPerCall,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    samples: result.latency.samplesCount,
  }
}
