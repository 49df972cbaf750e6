import { ChaosConfigError } from '../errors.ts'
import { randomHalves } from '../partitions.ts'
import type { Scenario } from '../scenario.ts'

/** Members kept between these bounds: joins below the upper, leaves above the lower. */
const MIN_MEMBERS = 3
const MAX_MEMBERS = 5

/**
 * A random majority/minority split of the members, and while it holds a
 * membership change: a spare joins through a member of the side it is put on,
 * or a member (the leader as likely as any) stops for good, when the system
 * can spare it (see `SystemUnderTest.leave`). Members stay between 3 and 5.
 */
export const membershipPartition: Scenario = {
  name: 'membership-partition',
  description:
    'The members split into a random majority and minority; meanwhile a new node joins on one side or a member stops for good. Healed after 3–6 s.',
  requires: ['membership'],
  quietMs: [1000, 3000],
  holdMs: [3000, 6000],
  async apply({ system, network, rng }) {
    const { members, join, leave } = system
    if (members === undefined || join === undefined || leave === undefined)
      throw new ChaosConfigError(`${system.name} declares membership but lacks members/join/leave`)
    const current = [...members.call(system)]
    const spares = system.nodes.filter((n) => !current.includes(n))
    const canJoin = spares.length > 0 && current.length < MAX_MEMBERS
    const canLeave = current.length > MIN_MEMBERS
    const joining = canJoin && (!canLeave || rng.chance(0.5))
    const groups = randomHalves(current, rng)
    let change: string
    if (joining) {
      const node = rng.pick(spares)
      const side = rng.int(groups.length)
      const via = rng.pick(groups[side] as string[])
      ;(groups[side] as string[]).push(node)
      network.partition(groups)
      await join.call(system, node, via)
      change = `${node} joins through ${via}`
    } else if (canLeave) {
      network.partition(groups)
      const node = rng.pick(current)
      change = (await leave.call(system, node))
        ? `${node} stops for good`
        : `${node} stays (the system cannot spare a member now)`
    } else {
      network.partition(groups)
      change = 'no change possible'
    }
    return {
      kind: 'membership-partition',
      detail: `${groups.map((g) => `{${g.join(',')}}`).join(' | ')}; ${change}`,
      heal: () => network.heal(),
    }
  },
}
