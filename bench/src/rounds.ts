/**
 * Interleaved rounds. Every comparison runs ours and each peer in turn, round
 * after round (at least five), so that a change of load on a shared machine
 * weighs on every side alike; the figure is the median of the per-round ratios,
 * stated with their minimum and maximum.
 */

/** The fewest rounds a comparison may report. */
export const MIN_ROUNDS = 5

export interface Spread {
  median: number
  min: number
  max: number
  rounds: number
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** The `p`-th percentile (0–100) of `values` by nearest rank; NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

export function spreadOf(values: readonly number[]): Spread {
  return {
    median: median(values),
    min: Math.min(...values),
    max: Math.max(...values),
    rounds: values.length,
  }
}

/** Per-round ratios `ours[i] / peer[i]`; both series come from the same rounds. */
export function roundRatios(ours: readonly number[], peer: readonly number[]): number[] {
  if (ours.length !== peer.length) {
    throw new Error(`round ratios need as many rounds on both sides (${ours.length} vs ${peer.length})`)
  }
  return ours.map((value, i) => value / peer[i]!)
}

/**
 * The order of the sides in round `round`: rotated by one each round, so each
 * side goes first in turn (two sides: AB, BA, AB, …).
 */
export function roundOrder(sides: number, round: number): number[] {
  return Array.from({ length: sides }, (_, k) => (k + round) % sides)
}

/** Runs every side once per round, in rotating order; returns each side's per-round values. */
export async function alternate<T>(
  sides: ReadonlyArray<{ name: string; run: (round: number) => T | Promise<T> }>,
  rounds: number,
  between?: () => void | Promise<void>,
): Promise<Map<string, T[]>> {
  const names = new Set(sides.map((s) => s.name))
  if (names.size !== sides.length) throw new Error('alternate: every side needs its own name')
  const out = new Map<string, T[]>(sides.map((s) => [s.name, []]))
  for (let round = 0; round < rounds; round++) {
    for (const k of roundOrder(sides.length, round)) {
      const side = sides[k]!
      out.get(side.name)!.push(await side.run(round))
      await between?.()
    }
  }
  return out
}
