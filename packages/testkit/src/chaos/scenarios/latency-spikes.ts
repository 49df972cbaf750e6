import type { Scenario } from '../scenario.ts'
import { membersOf } from './leader.ts'

/** Latency with jitter on every link, and spikes of 2–3 s every few seconds on some of them. */
export const latencySpikes: Scenario = {
  name: 'latency-spikes',
  description:
    'Every link gets 5–20 ms latency with 10 ms jitter; a random half of the directed links add 2–3 s spikes every 4–6 s.',
  quietMs: [500, 1500],
  holdMs: [4000, 8000],
  async apply(context) {
    const { network, rng } = context
    const nodes = membersOf(context)
    const latencyMs = rng.range(5, 20)
    network.table.setAll({ latencyMs, jitterMs: 10 })
    const spiked: string[] = []
    for (const from of nodes)
      for (const to of nodes) {
        if (from === to || !rng.chance(0.5)) continue
        const spike = { everyMs: rng.range(4000, 6000), durationMs: rng.range(2000, 3000), extraMs: 0 }
        spike.extraMs = spike.durationMs
        network.set(from, to, { spike })
        spiked.push(`${from}>${to}`)
      }
    return {
      kind: 'latency',
      detail: `${latencyMs} ms ± 10 ms; spikes on ${spiked.join(' ') || 'none'}`,
      heal: () => network.heal(),
    }
  },
}
