import { randomHalves } from '../partitions.ts'
import type { Scenario } from '../scenario.ts'
import { membersOf } from './leader.ts'

/** Random majority/minority splits; every cut is both ways. */
export const partitionHalves: Scenario = {
  name: 'partition-halves',
  description:
    'The nodes split into a random majority and minority (both directions cut), healed after 2–5 s.',
  quietMs: [1000, 3000],
  holdMs: [2000, 5000],
  async apply(context) {
    const { network, rng } = context
    const nodes = membersOf(context)
    const groups = randomHalves(nodes, rng)
    network.partition(groups)
    return {
      kind: 'partition',
      detail: groups.map((g) => `{${g.join(',')}}`).join(' | '),
      heal: () => network.heal(),
    }
  },
}
