import type { Scenario } from '../scenario.ts'
import { describeTarget, leaderOrAny } from './leader.ts'

/** kill -9 of the leader, restarted with the same data after a while. */
export const killLeader: Scenario = {
  name: 'kill-leader',
  description: 'kill -9 of the leader (any node when none is found), restarted with its data after 1–4 s.',
  quietMs: [1000, 3000],
  holdMs: [1000, 4000],
  async apply(context) {
    const target = await leaderOrAny(context)
    await context.system.kill(target.node)
    return {
      kind: 'kill -9',
      detail: describeTarget(target),
      heal: async () => {
        if (!context.system.running(target.node)) await context.system.restart(target.node)
      },
    }
  },
}
