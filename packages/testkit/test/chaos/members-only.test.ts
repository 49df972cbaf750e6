import { describe, expect, it } from 'vitest'
import { FaultNetwork, type SystemUnderTest, scenarioByName } from '../../src/chaos/index.ts'
import { Rng } from '../../src/rng/index.ts'

// With spares (nodes outside the system until they join), network faults and power cuts act on
// the members: a split of all five nodes could put every member on one side and cut nothing.

const nodes = ['n1', 'n2', 'n3', 'n4', 'n5']
const members = ['n1', 'n2', 'n3']

function system(killed: string[]): SystemUnderTest {
  return {
    name: 'spares',
    nodes,
    members: () => members,
    running: (n: string) => members.includes(n) || n === 'n4',
    async kill(n: string) {
      killed.push(n)
    },
    async restart() {},
  } as unknown as SystemUnderTest
}

describe('faults with spares', () => {
  it('partition-halves, partition-bridge, corruption and latency-spikes touch only links between members', async () => {
    for (const name of ['partition-halves', 'partition-bridge', 'corruption', 'latency-spikes']) {
      for (let seed = 0; seed < 10; seed++) {
        const network = new FaultNetwork({ nodes, seed: 1 })
        const applied = await scenarioByName(name).apply({ system: system([]), network, rng: new Rng(seed) })
        const touched = network.table.active().flatMap((l) => [l.from, l.to])
        // latency-spikes sets a base latency on every link; its spikes are on members' links only.
        const faulty =
          name === 'latency-spikes'
            ? network.table
                .active()
                .filter((l) => network.table.faults(l.from, l.to).spike !== null)
                .flatMap((l) => [l.from, l.to])
            : touched
        for (const node of faulty) expect(members, `${name} seed ${seed}: ${applied.detail}`).toContain(node)
        if (name.startsWith('partition')) expect(faulty.length).toBeGreaterThan(0)
        await applied.heal()
      }
    }
  })

  it('kill-all kills the running members, not a running node outside the system', async () => {
    const killed: string[] = []
    const network = new FaultNetwork({ nodes, seed: 1 })
    const applied = await scenarioByName('kill-all').apply({
      system: system(killed),
      network,
      rng: new Rng(1),
    })
    expect(killed).toEqual(members)
    expect(applied.detail).toBe('n1 n2 n3')
  })
})
