import type { Scenario } from '../scenario.ts'

/**
 * Clocks running at different rates. For a system whose only clock is its
 * tick timer (the Raft KV example) a rate is what skew means: a fast clock
 * times out elections early, a slow one late.
 */
export const clockSkew: Scenario = {
  name: 'clock-skew',
  description: 'Each node’s clock runs at a random rate in {0.25, 0.5, 1, 2, 4}× real time for 3–6 s.',
  requires: ['clock'],
  quietMs: [500, 1500],
  holdMs: [3000, 6000],
  async apply({ system, rng }) {
    const rates: string[] = []
    const changed: string[] = []
    for (const node of system.nodes) {
      if (!system.running(node)) continue
      const rate = rng.pick([0.25, 0.5, 1, 2, 4])
      await system.setClockRate?.(node, rate)
      changed.push(node)
      rates.push(`${node}×${rate}`)
    }
    return {
      kind: 'clock rate',
      detail: rates.join(' '),
      heal: async () => {
        for (const node of changed) if (system.running(node)) await system.setClockRate?.(node, 1)
      },
    }
  },
}
