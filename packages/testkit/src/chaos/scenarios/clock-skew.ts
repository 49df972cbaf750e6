import type { Scenario } from '../scenario.ts'

/** Wall-clock steps drawn for systems with `setClockOffset`: within and beyond a minute either way. */
const OFFSETS_MS = [-120_000, -30_000, -2_000, 0, 2_000, 30_000, 120_000]

/** Rates drawn for a system that assumes no bound on drift. */
const UNBOUNDED_RATES = [0.25, 0.5, 1, 2, 4]

/** Rates within a drift bound: its two ends, half of it either way, and real time. */
function boundedRates(drift: number): number[] {
  return [1 - drift, 1 - drift / 2, 1, 1 + drift / 2, 1 + drift]
}

/**
 * Clocks that disagree. For a system whose only clock is its tick timer (the
 * Raft KV example) a rate is what skew means: a fast clock times out
 * elections early, a slow one late. A system that reads the wall clock
 * (`setClockOffset`: task dates, gossip packet ages, grace periods) has each
 * node's wall clock stepped by up to two minutes either way, and, when it also
 * takes a rate, its clock run fast or slow as well. A system that declares the
 * drift its leases assume (`clockDrift`) gets rates within it: beyond it a
 * stale lease read is the assumption broken, not a bug.
 */
export const clockSkew: Scenario = {
  name: 'clock-skew',
  description:
    'Each node’s clock runs at a random rate in {0.25, 0.5, 1, 2, 4}× real time (within the drift the system assumes, when it declares one) for 3–6 s; where the system reads a wall clock, that clock is also stepped by 0, ±2 s, ±30 s or ±2 min.',
  requires: ['clock'],
  quietMs: [500, 1500],
  holdMs: [3000, 6000],
  async apply({ system, rng }) {
    const skews: string[] = []
    const changed: string[] = []
    const offsets = system.setClockOffset !== undefined
    const rates = system.setClockRate !== undefined
    const choices = system.clockDrift === undefined ? UNBOUNDED_RATES : boundedRates(system.clockDrift)
    for (const node of system.nodes) {
      if (!system.running(node)) continue
      let skew = node
      if (offsets) {
        const offsetMs = rng.pick(OFFSETS_MS)
        await system.setClockOffset?.(node, offsetMs)
        skew += `${offsetMs < 0 ? '' : '+'}${offsetMs / 1000}s`
      }
      if (rates) {
        const rate = rng.pick(choices)
        await system.setClockRate?.(node, rate)
        skew += `×${rate}`
      }
      skews.push(skew)
      changed.push(node)
    }
    return {
      kind: offsets && rates ? 'clock offset and rate' : offsets ? 'clock offset' : 'clock rate',
      detail: skews.join(' '),
      heal: async () => {
        for (const node of changed) {
          if (offsets) await system.setClockOffset?.(node, 0)
          if (rates && system.running(node)) await system.setClockRate?.(node, 1)
        }
      },
    }
  },
}
