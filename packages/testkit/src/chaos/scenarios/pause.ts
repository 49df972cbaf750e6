import type { Scenario } from '../scenario.ts'
import { describeTarget, leaderOrAny } from './leader.ts'

/** SIGSTOP/SIGCONT: a process frozen mid-flight (a long GC pause), its sockets open. */
export const pause: Scenario = {
  name: 'pause',
  description: 'SIGSTOP of the leader or of a random node (half the time each), SIGCONT after 1–4 s.',
  requires: ['pause'],
  quietMs: [1000, 3000],
  holdMs: [1000, 4000],
  async apply(context) {
    const target = context.rng.chance(0.5)
      ? await leaderOrAny(context)
      : { node: context.rng.pick(context.system.nodes), isLeader: false }
    context.system.pause(target.node)
    return {
      kind: 'pause',
      detail: describeTarget(target),
      heal: () => context.system.resume(target.node),
    }
  },
}
