import type { Scenario } from '../scenario.ts'

/** Wall-clock steps drawn for systems with `setClockOffset`: within and beyond a minute either way. */
const OFFSETS_MS = [-120_000, -30_000, -2_000, 0, 2_000, 30_000, 120_000]

/**
 * Clocks that disagree. For a system whose only clock is its tick timer (the
 * Raft KV example) a rate is what skew means: a fast clock times out
 * elections early, a slow one late. For a system that reads the wall clock
 * (`setClockOffset`: task dates, gossip packet ages, grace periods) each
 * node's wall clock is stepped by up to two minutes either way instead.
 */
export const clockSkew: Scenario = {
  name: 'clock-skew',
  description:
    'Each node’s clock runs at a random rate in {0.25, 0.5, 1, 2, 4}× real time for 3–6 s (or, where the system reads a wall clock, is stepped by 0, ±2 s, ±30 s or ±2 min).',
  requires: ['clock'],
  quietMs: [500, 1500],
  holdMs: [3000, 6000],
  async apply({ system, rng }) {
    const skews: string[] = []
    const changed: string[] = []
    const offsets = system.setClockOffset !== undefined
    for (const node of system.nodes) {
      if (!system.running(node)) continue
      if (offsets) {
        const offsetMs = rng.pick(OFFSETS_MS)
        await system.setClockOffset?.(node, offsetMs)
        skews.push(`${node}${offsetMs < 0 ? '' : '+'}${offsetMs / 1000}s`)
      } else {
        const rate = rng.pick([0.25, 0.5, 1, 2, 4])
        await system.setClockRate?.(node, rate)
        skews.push(`${node}×${rate}`)
      }
      changed.push(node)
    }
    return {
      kind: offsets ? 'clock offset' : 'clock rate',
      detail: skews.join(' '),
      heal: async () => {
        for (const node of changed)
          if (offsets) await system.setClockOffset?.(node, 0)
          else if (system.running(node)) await system.setClockRate?.(node, 1)
      },
    }
  },
}
