import type { Scenario } from '../scenario.ts'
import { describeTarget, leaderOrAny } from './leader.ts'

/** An fsync fails with EIO; the node must stop rather than carry on with a page cache it cannot trust. */
export const fsyncFailure: Scenario = {
  name: 'fsync-failure',
  description:
    'The next fsync of the leader (or of a random node, half the time) fails with EIO; the node is restarted after 1–3 s.',
  requires: ['fsyncFailure'],
  quietMs: [1000, 3000],
  holdMs: [1000, 3000],
  async apply(context) {
    const target = context.rng.chance(0.5)
      ? await leaderOrAny(context)
      : {
          node: context.rng.pick(context.system.members?.call(context.system) ?? context.system.nodes),
          isLeader: false,
        }
    context.system.failFsync?.(target.node)
    return {
      kind: 'fsync EIO',
      detail: describeTarget(target),
      heal: async () => {
        if (!context.system.running(target.node)) await context.system.restart(target.node)
      },
    }
  },
}
