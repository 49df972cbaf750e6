import type { Link } from '../fault-table.ts'
import type { Scenario } from '../scenario.ts'
import { describeTarget, leaderOrAny } from './leader.ts'

/** One direction only: the leader cannot reach the others (or they cannot reach it), the other way works. */
export const partitionOneWay: Scenario = {
  name: 'partition-one-way',
  description:
    'Every link out of the leader, or every link into it (half the time each), is cut one way (blackhole) for 2–5 s.',
  quietMs: [1000, 3000],
  holdMs: [2000, 5000],
  async apply(context) {
    const target = await leaderOrAny(context)
    const outbound = context.rng.chance(0.5)
    const others = context.network.nodes.filter((n) => n !== target.node)
    const links: Link[] = others.map((other) =>
      outbound ? { from: target.node, to: other } : { from: other, to: target.node },
    )
    context.network.cut(links, 'blackhole')
    return {
      kind: 'one-way cut',
      detail: `${outbound ? 'out of' : 'into'} ${describeTarget(target)}`,
      heal: () => context.network.heal(),
    }
  },
}
