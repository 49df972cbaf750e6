import { describe, expect, it } from 'vitest'
import {
  ChaosConfigError,
  FaultNetwork,
  type SystemUnderTest,
  scenarioByName,
  timeScaled,
} from '../../src/chaos/index.ts'
import { Rng } from '../../src/rng/index.ts'

// Short cycles for the CI smokes: the same faults, quiet and hold times scaled.

const system = { name: 'none', nodes: ['a', 'b', 'c'] } as unknown as SystemUnderTest

describe('timeScaled', () => {
  it('scales a scenario’s quiet and hold times, never below 100 ms, and leaves its faults alone', async () => {
    const halves = scenarioByName('partition-halves')
    const quick = timeScaled(halves, 0.4)
    expect(quick.name).toBe('partition-halves')
    expect(quick.quietMs).toEqual([400, 1200])
    expect(quick.holdMs).toEqual([800, 2000])
    expect(timeScaled(halves, 0.01).quietMs).toEqual([100, 100])
    expect(timeScaled(halves, 1)).toBe(halves)
    // The same draws as the unscaled scenario: the same cuts for the same seed.
    const plain = await halves.apply({
      system,
      network: new FaultNetwork({ nodes: system.nodes, seed: 1 }),
      rng: new Rng(5),
    })
    const scaled = await quick.apply({
      system,
      network: new FaultNetwork({ nodes: system.nodes, seed: 1 }),
      rng: new Rng(5),
    })
    expect(scaled.detail).toBe(plain.detail)
  })

  it('scales the hold time a round robin draws for each of its scenarios, and follows its quiet times', async () => {
    const names = ['partition-halves', 'latency-spikes']
    const plain = scenarioByName(names.join(','))
    const quick = timeScaled(scenarioByName(names.join(',')), 0.5)
    const network = new FaultNetwork({ nodes: system.nodes, seed: 1 })
    expect(quick.quietMs).toEqual([500, 1500])
    for (let i = 0; i < 4; i++) {
      const a = await plain.apply({ system, network, rng: new Rng(i) })
      const b = await quick.apply({ system, network, rng: new Rng(i) })
      expect(b.kind).toBe(a.kind)
      expect(b.holdMs).toBe(Math.round((a.holdMs as number) * 0.5))
      await a.heal()
      await b.heal()
      // After a partition comes latency-spikes' quiet time (0.5–1.5 s), and the other way round.
      expect(quick.quietMs).toEqual(i % 2 === 0 ? [250, 750] : [500, 1500])
    }
  })

  it('refuses a factor outside (0, 1]', () => {
    for (const factor of [0, -1, 1.5, Number.NaN])
      expect(() => timeScaled(scenarioByName('pause'), factor)).toThrow(ChaosConfigError)
  })
})
