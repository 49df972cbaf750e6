import type { NemesisContext } from '../scenario.ts'

/** The current leader, or a random running node when none can be found quickly (the fault still lands somewhere). */
export async function leaderOrAny(context: NemesisContext): Promise<{ node: string; isLeader: boolean }> {
  const leader = await context.system.leader(2000)
  if (leader !== null) return { node: leader, isLeader: true }
  const running = context.system.nodes.filter((n) => context.system.running(n))
  return { node: context.rng.pick(running.length > 0 ? running : context.system.nodes), isLeader: false }
}

export const describeTarget = (target: { node: string; isLeader: boolean }): string =>
  `${target.node}${target.isLeader ? ' (leader)' : ''}`

/** The nodes in the system now: spares that have not joined (or nodes gone for good) take no part in a fault. */
export const membersOf = (context: NemesisContext): readonly string[] =>
  context.system.members?.() ?? context.system.nodes
