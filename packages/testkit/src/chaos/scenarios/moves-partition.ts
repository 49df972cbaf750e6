import { ChaosConfigError } from '../errors.ts'
import { randomHalves } from '../partitions.ts'
import type { Scenario } from '../scenario.ts'

/** Members kept between these bounds: joins below the upper, drains above the lower. */
const MIN_MEMBERS = 3
const MAX_MEMBERS = 5

type Change = 'join' | 'drain' | 'replace'

/**
 * A random split of the members, and while it holds a change that moves
 * data: a spare joins on one side (the system spreads data to it), a member
 * is drained through a member of the majority side (its data moves away, then
 * it goes), or a member of the minority side is killed for good and a spare
 * joining on the majority side replaces it. Members stay between 3 and 5; a
 * removal the system cannot spare now is refused and recorded.
 */
export const movesPartition: Scenario = {
  name: 'moves-partition',
  description:
    'The members split into a random majority and minority; meanwhile a new node joins (data moves to it), a member is drained, or a member of the minority is killed for good and replaced by a new node. Healed after 3–6 s.',
  requires: ['shardMoves'],
  quietMs: [1000, 3000],
  holdMs: [3000, 6000],
  async apply({ system, network, rng }) {
    const { members, join, drain, replace } = system
    if (members === undefined || join === undefined || drain === undefined || replace === undefined)
      throw new ChaosConfigError(`${system.name} declares shardMoves but lacks members/join/drain/replace`)
    const current = [...members.call(system)]
    // A spare is a node outside the system whose process has ended (a drained node may still be leaving).
    const spares = system.nodes.filter((n) => !current.includes(n) && !system.running(n))
    const possible: Change[] = []
    if (spares.length > 0 && current.length < MAX_MEMBERS) possible.push('join')
    if (current.length > MIN_MEMBERS) possible.push('drain')
    if (spares.length > 0) possible.push('replace')
    const groups = randomHalves(current, rng)
    const [majority, minority] = groups as [string[], string[]]
    let change: string
    if (possible.length === 0) {
      network.partition(groups)
      change = 'no change possible'
    } else {
      const kind = rng.pick(possible)
      if (kind === 'join') {
        const node = rng.pick(spares)
        const side = rng.pick(groups)
        const via = rng.pick(side)
        side.push(node)
        network.partition(groups)
        await join.call(system, node, via)
        change = `${node} joins through ${via}`
      } else if (kind === 'drain') {
        network.partition(groups)
        const node = rng.pick(current)
        const via = rng.pick(majority.filter((n) => n !== node))
        const outcome = await drain.call(system, node, via)
        change =
          outcome === false
            ? `${node} stays (the system cannot spare a member now)`
            : `${node} drained through ${via}: ${outcome}`
      } else {
        const old = rng.pick(minority)
        const spare = rng.pick(spares)
        const via = rng.pick(majority)
        majority.push(spare)
        network.partition(groups)
        const outcome = await replace.call(system, old, spare, via)
        change =
          outcome === false
            ? `${old} stays (the system cannot spare a member now)`
            : `${old} killed for good, replaced by ${spare} through ${via}: ${outcome}`
      }
    }
    return {
      kind: 'moves-partition',
      detail: `${groups.map((g) => `{${g.join(',')}}`).join(' | ')}; ${change}`,
      heal: () => network.heal(),
    }
  },
}
