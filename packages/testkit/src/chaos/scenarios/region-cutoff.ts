import { isolate } from '../partitions.ts'
import type { Scenario } from '../scenario.ts'

/**
 * One region cut off from every other (both ways) while every region keeps
 * taking writes, then healed: the regions must converge by last-writer-wins,
 * with every losing write in the conflict logs (docs/multi-region.md).
 */
export const regionCutoff: Scenario = {
  name: 'region-cutoff',
  description:
    'A random region is cut off from every other (both ways), a blackhole half the time, for 3–8 s while every region keeps writing; then healed.',
  requires: ['regions'],
  quietMs: [2000, 4000],
  holdMs: [3000, 8000],
  async apply({ system, network, rng }) {
    const regions = system.members?.() ?? system.nodes
    const region = rng.pick(regions)
    const mode = rng.chance(0.5) ? 'blackhole' : 'reset'
    network.partition(isolate(regions, region), mode)
    return {
      kind: 'cutoff',
      // The region's name comes first: a system's checks read it from here.
      detail: `${region} cut off, ${mode}`,
      heal: () => network.heal(),
    }
  },
}
