import os from 'node:os'
import { median, type Spread, type SuiteContext, spreadOf } from '@shoal/bench'

export type { Spread }
export { median }

/** The median, min and max of `values` (one per round). */
export function spread(values: readonly number[]): Spread {
  return spreadOf(values)
}

/**
 * Records a per-round ratio as its median with min, max and rounds (the shape the results check
 * reads).
 */
export function recordRatio(
  ctx: SuiteContext,
  name: string,
  perRound: readonly number[],
  peer: string,
): Spread {
  return ctx.recordSpread(name, 'ratio', 'x', perRound, { peer, ratio: true })
}

/** Records the machine's load averages (the machines are shared; a busy run reads lower). */
export function recordMachineLoad(ctx: SuiteContext, when: 'start' | 'end'): void {
  const [one, five, fifteen] = os.loadavg() as [number, number, number]
  for (const [metric, value] of [
    ['loadavg-1m', one],
    ['loadavg-5m', five],
    ['loadavg-15m', fifteen],
  ] as const) {
    ctx.record({ name: `machine-load-${when}`, metric, value, unit: 'load' })
  }
  ctx.log(
    `load average at ${when}: ${one.toFixed(2)} ${five.toFixed(2)} ${fifteen.toFixed(2)} (${os.cpus().length} cores)`,
  )
}
