import type { Scenario } from '../scenario.ts'
import { membersOf } from './leader.ts'

/** Bytes changed in flight on some links: the system must detect it, never apply it. */
export const corruption: Scenario = {
  name: 'corruption',
  description: 'One byte changed in 5% of chunks on a random half of the directed links, for 3–6 s.',
  quietMs: [500, 1500],
  holdMs: [3000, 6000],
  async apply(context) {
    const { network, rng } = context
    const nodes = membersOf(context)
    const links: string[] = []
    for (const from of nodes)
      for (const to of nodes) {
        if (from === to || !rng.chance(0.5)) continue
        network.set(from, to, { corrupt: 0.05 })
        links.push(`${from}>${to}`)
      }
    return {
      kind: 'corrupt',
      detail: `5% of chunks on ${links.join(' ') || 'no link'}`,
      heal: () => network.heal(),
    }
  },
}
