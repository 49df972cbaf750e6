import type { Parameters } from 'fast-check'

/** fast-check settings; a failure prints its seed, and `SEED=<seed>` replays it. */
export function fcParams<T>(numRuns: number): Parameters<T> {
  const seed = process.env.SEED
  return seed === undefined || seed === '' ? { numRuns } : { numRuns, seed: Number(seed) }
}
