/**
 * Shoal's benchmark harness. A suite is a module whose default export is made
 * with `defineSuite`; the runner (`pnpm bench [suite] [--smoke]`) finds suites
 * in `packages/*\/bench/*.bench.ts` and `bench/suites/*.bench.ts`, runs them and
 * writes `bench/results/<suite>.json` (smoke runs: `bench/results/smoke/`).
 *
 * Peers run in the same run as Shoal's own code, in interleaved rounds (at
 * least five, the order rotating each round): a ratio is the median of the
 * per-round ratios, recorded with its min and max. Each report carries the
 * peers' exact versions and the machine's load at the start and the end.
 */

export type { LoadSample, MachineInfo } from './machine.ts'
export { loadSample, machineInfo } from './machine.ts'
export type { PeerPackages } from './peers.ts'
export { peerVersions } from './peers.ts'
export type { CpuProfile, ProfileSummary } from './profile.ts'
export {
  cpuProfArgs,
  cpuProfileDir,
  formatSummary,
  profileClockUs,
  readProfile,
  summarizeProfile,
} from './profile.ts'
export { mulberry32 } from './rng.ts'
export type { Spread } from './rounds.ts'
export { MIN_ROUNDS, median, percentile, roundRatios, spreadOf } from './rounds.ts'
export type {
  BenchResult,
  Contender,
  Measurement,
  MeasureOptions,
  RoundFigures,
  Suite,
  SuiteContext,
  SuiteReport,
} from './suite.ts'
export { defineSuite, measure } from './suite.ts'
