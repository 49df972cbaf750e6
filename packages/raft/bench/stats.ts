import os from 'node:os'
import type { SuiteContext } from '@shoal/bench'

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  if (sorted.length === 0) return Number.NaN
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

export interface Spread {
  median: number
  min: number
  max: number
}

export function spread(values: readonly number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) }
}

/** Records a per-round ratio as its median (`name`) with `name-min` and `name-max`. */
export function recordRatio(
  ctx: SuiteContext,
  name: string,
  perRound: readonly number[],
  peer: string,
): Spread {
  const s = spread(perRound)
  ctx.record({ name, metric: 'ratio', value: s.median, unit: 'x', peer, ratio: s.median })
  ctx.record({ name: `${name}-min`, metric: 'ratio', value: s.min, unit: 'x', peer, ratio: s.min })
  ctx.record({ name: `${name}-max`, metric: 'ratio', value: s.max, unit: 'x', peer, ratio: s.max })
  ctx.log(
    `${name}: ${s.median.toFixed(2)}x (${s.min.toFixed(2)}–${s.max.toFixed(2)} over ${perRound.length} rounds)`,
  )
  return s
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
