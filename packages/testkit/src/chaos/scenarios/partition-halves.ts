import { randomHalves } from '../partitions.ts'
import type { Scenario } from '../scenario.ts'

/** Random majority/minority splits; every cut is both ways. */
export const partitionHalves: Scenario = {
  name: 'partition-halves',
  description:
    'The nodes split into a random majority and minority (both directions cut), healed after 2–5 s.',
  quietMs: [1000, 3000],
  holdMs: [2000, 5000],
  async apply({ network, rng }) {
    const groups = randomHalves(network.nodes, rng)
    network.partition(groups)
    return {
      kind: 'partition',
      detail: groups.map((g) => `{${g.join(',')}}`).join(' | '),
      heal: () => network.heal(),
    }
  },
}
