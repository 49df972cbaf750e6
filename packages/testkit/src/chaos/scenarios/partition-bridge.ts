import { bridge } from '../partitions.ts'
import type { Scenario } from '../scenario.ts'
import { membersOf } from './leader.ts'

/** Two halves that cannot talk, and one node that talks to both (Jepsen's bridge). */
export const partitionBridge: Scenario = {
  name: 'partition-bridge',
  description: 'Two halves cut from each other with one bridge node reaching both, for 2–5 s.',
  quietMs: [1000, 3000],
  holdMs: [2000, 5000],
  async apply(context) {
    const { network, rng } = context
    const nodes = membersOf(context)
    const shape = bridge(nodes, rng)
    network.cut(shape.cut)
    const cutText = shape.cut.map((l) => `${l.from}>${l.to}`).join(' ')
    return { kind: 'bridge', detail: `bridge ${shape.bridge}; cut ${cutText}`, heal: () => network.heal() }
  },
}
