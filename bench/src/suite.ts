import { Bench } from 'tinybench'
import type { LoadSample, MachineInfo } from './machine.ts'
import type { PeerPackages } from './peers.ts'
import type { Spread } from './rounds.ts'

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
  /** For a figure taken over interleaved rounds: how many, and the lowest and highest round. */
  rounds?: number
  min?: number
  max?: number
  /**
   * False for a ratio that is computed rather than timed (a simulation in logical time, a
   * count against a target): it is the same on every run, so rounds do not apply.
   */
  timed?: boolean
}

export interface SuiteReport {
  suite: string
  description: string
  smoke: boolean
  machine: MachineInfo
  /** Exact versions of the peers compared with (`npm:<name>`, `debian:<name>`, or a program's name). */
  peers: Record<string, string>
  /** Machine load when the suite started and when it ended. */
  load: { start: LoadSample; end: LoadSample }
  /** The most interleaved rounds any comparison of the suite ran (0 if it ran none). */
  rounds: number
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

/** One side of a timed comparison (see `SuiteContext.compare`). */
export interface Contender {
  name: string
  /** Unset for Shoal's own side; the peer's label otherwise. */
  peer?: string
  /** One call, timed under tinybench (or give `measured`). */
  fn?: () => unknown
  /** Takes one round's measurement itself (a side in another process). */
  measured?: () => Promise<Measurement>
  /** How many operations one call of `fn` performs; overrides the comparison's. */
  opsPerCall?: number
  /** Runs before each round's measurement of this side, untimed. */
  setup?: () => unknown
  /** False: measured in the rounds, but no ops/s ratio against ours (a different unit of work). */
  ratio?: false
}

/** One contender's figures over the rounds: each a median with its spread. */
export interface RoundFigures {
  opsPerSecond: Spread
  p50Ms: Spread
  p99Ms: Spread
  /** Per-round ops/s, in round order. */
  perRound: number[]
  perRoundP50: number[]
  perRoundP99: number[]
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
  /**
   * Records `ours / peer` under `name` and returns it. A ratio of one measurement each is
   * refused by the results check unless `spread` says over which rounds it was taken or it
   * is marked `{ timed: false }` (computed, not timed).
   */
  ratio(
    name: string,
    ours: number,
    peer: number,
    peerName: string,
    spread?: Omit<Spread, 'median'> | { timed: false },
  ): number
  /**
   * Records the median of `perRound` (one value per interleaved round) under `name`, with its
   * min, max and rounds, so that the results check sees the spread. `extra` adds `peer` and
   * `ratio` for a ratio taken round by round elsewhere (another process, a probe).
   */
  recordSpread(
    name: string,
    metric: string,
    unit: string,
    perRound: readonly number[],
    extra?: { peer?: string; ratio?: true },
  ): Spread
  /**
   * With `BENCH_CPU_PROF=<dir>` set: runs `fn` once under the CPU profiler, writes
   * `<dir>/<suite>-<label>.cpuprofile` and logs self time per stage and function. Without it:
   * does nothing (`fn` is not run), so a profile never changes a timed figure.
   */
  cpuProfile(label: string, fn: () => unknown): Promise<void>
  /** How many interleaved rounds a comparison runs (at least 5, smoke runs too). */
  readonly rounds: number
  /** Names a peer's exact version (a program that is not an npm or Debian package). */
  peerVersion(name: string, version: string): void
  /** Runs each side once per round in rotating order; returns each side's per-round values. */
  alternate<T>(
    sides: ReadonlyArray<{ name: string; run: (round: number) => T | Promise<T> }>,
    rounds?: number,
  ): Promise<Map<string, T[]>>
  /**
   * Records the median of the per-round ratios `ours[i] / peer[i]` with min, max and rounds.
   * `invert` records `peer[i] / ours[i]` (for times, where lower is better on our side).
   */
  roundRatio(
    name: string,
    ours: readonly number[],
    peer: readonly number[],
    peerName: string,
    options?: { invert?: boolean },
  ): Spread
  /**
   * Measures every contender under tinybench once per round, in rotating order, for
   * `ctx.rounds` rounds; records each one's median ops/s, p50 and p99 with their spread, and
   * the per-round ratio of the first contender (ours) to each other one:
   * `<ratioPrefix>-ratio-vs-<peer name>` for ops/s.
   */
  compare(
    ratioPrefix: string,
    contenders: readonly Contender[],
    options?: MeasureOptions,
  ): Promise<Map<string, RoundFigures>>
}

export interface Suite {
  description: string
  /** The packages that provide the peers; their exact versions go into the results. */
  peers?: PeerPackages
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
