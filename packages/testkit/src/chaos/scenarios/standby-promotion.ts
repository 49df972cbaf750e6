import { ChaosConfigError } from '../errors.ts'
import { isolate } from '../partitions.ts'
import type { Scenario } from '../scenario.ts'
import { sleep } from '../workload.ts'

/**
 * The primary is lost — cut off from every other node (both ways), or
 * killed -9 — and the standby is promoted while it stays lost. At the heal
 * the links come back and the old primary is brought back (`restart`): a
 * system with `promotion` checks there that it refuses writes (fenced) and
 * re-seeds it as the new primary's standby.
 */
export const standbyPromotion: Scenario = {
  name: 'standby-promotion',
  description:
    'The primary is cut off (both ways) or killed -9, and after 0.3–1 s its standby is promoted; healed after 1–3 s, the old primary fenced and brought back as the standby.',
  requires: ['promotion'],
  quietMs: [2000, 5000],
  holdMs: [1000, 3000],
  async apply({ system, network, rng }) {
    if (system.promote === undefined)
      throw new ChaosConfigError(`${system.name} declares promotion but lacks promote`)
    const primary = await system.leader(5000)
    if (primary === null) throw new ChaosConfigError(`${system.name} has no primary to lose`)
    const killed = rng.chance(0.5)
    if (killed) await system.kill(primary)
    else network.partition(isolate(system.members?.() ?? system.nodes, primary))
    await sleep(300 + rng.int(701))
    const promoted = await system.promote()
    return {
      kind: 'promotion',
      detail: `${primary} ${killed ? 'killed -9' : 'cut off'}; ${promoted}`,
      heal: async () => {
        network.heal()
        await system.restart(primary)
      },
    }
  },
}
