import { isolate } from '../partitions.ts'
import type { Scenario } from '../scenario.ts'
import { describeTarget, leaderOrAny } from './leader.ts'

/** The leader alone on one side: it must stop serving, the others elect a successor. */
export const partitionLeader: Scenario = {
  name: 'partition-leader',
  description:
    'The leader is cut off from every other node (both directions), a blackhole half the time, for 2–5 s.',
  quietMs: [1000, 3000],
  holdMs: [2000, 5000],
  async apply(context) {
    const target = await leaderOrAny(context)
    const mode = context.rng.chance(0.5) ? 'blackhole' : 'reset'
    context.network.partition(isolate(context.network.nodes, target.node), mode)
    return {
      kind: 'isolate',
      detail: `${describeTarget(target)}, ${mode}`,
      heal: () => context.network.heal(),
    }
  },
}
