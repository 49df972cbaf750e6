/**
 * Shoal's benchmark harness. A suite is a module whose default export is made
 * with `defineSuite`; the runner (`pnpm bench [suite] [--smoke]`) finds suites
 * in `packages/*\/bench/*.bench.ts` and `bench/suites/*.bench.ts`, runs them and
 * writes `bench/results/<suite>.json` (smoke runs: `bench/results/smoke/`).
 *
 * Peers run in the same process run as Shoal's own code, so every ratio is
 * taken between figures measured minutes apart on the same machine.
 */

export type { MachineInfo } from './machine.ts'
export { machineInfo } from './machine.ts'
export { mulberry32 } from './rng.ts'
export type { BenchResult, Measurement, MeasureOptions, Suite, SuiteContext, SuiteReport } from './suite.ts'
export { defineSuite, measure } from './suite.ts'
