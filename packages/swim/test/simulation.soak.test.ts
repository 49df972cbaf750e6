import { describe, expect, it } from 'vitest'
import { Simulation } from '../src/sim/simulation.ts'

const SEED = Number(process.env.SEED ?? 20261129)

function converged(sim: Simulation): boolean {
  const ids = sim.memberIds
  return ids.every((observer) => ids.every((subject) => sim.stateOf(observer, subject) === 'alive'))
}

// Joining 1000 members one by one gossips O(n²) alive updates (as memberlist does): a minute of CPU.
describe(`SWIM simulation soak (seed ${SEED})`, () => {
  it('1000 members joining through three seeds converge on the same membership', () => {
    const sim = new Simulation({ seed: SEED })
    const seeds = ['m0000', 'm0001', 'm0002']
    for (const id of seeds) sim.addMember(id, { seeds })
    for (let i = 3; i < 1000; i++) {
      sim.at(i * 10, () => sim.addMember(`m${String(i).padStart(4, '0')}`, { seeds }))
    }
    sim.runFor(10_000)
    const at = sim.runUntilTrue(() => converged(sim), 90_000, 2_000)
    expect(at).toBeDefined()
  }, 600_000)
})
