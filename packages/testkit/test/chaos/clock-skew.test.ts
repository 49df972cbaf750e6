import { describe, expect, it } from 'vitest'
import { FaultNetwork, type SystemUnderTest, scenarioByName } from '../../src/chaos/index.ts'
import { Rng } from '../../src/rng/index.ts'

// clock-skew draws rates within the drift a system declares its leases assume, steps wall clocks
// where the system has one, and puts every clock back at real time when it heals.

const nodes = ['n1', 'n2', 'n3']

interface Calls {
  rates: Map<string, number>
  offsets: Map<string, number>
}

function system(calls: Calls, options: { clockDrift?: number; offsets: boolean }): SystemUnderTest {
  return {
    name: 'clocks',
    nodes,
    ...(options.clockDrift === undefined ? {} : { clockDrift: options.clockDrift }),
    running: () => true,
    async setClockRate(node: string, rate: number) {
      calls.rates.set(node, rate)
    },
    ...(options.offsets
      ? {
          async setClockOffset(node: string, offsetMs: number) {
            calls.offsets.set(node, offsetMs)
          },
        }
      : {}),
  } as unknown as SystemUnderTest
}

async function skewOnce(seed: number, options: { clockDrift?: number; offsets: boolean }) {
  const calls: Calls = { rates: new Map(), offsets: new Map() }
  const network = new FaultNetwork({ nodes, seed: 1 })
  const applied = await scenarioByName('clock-skew').apply({
    system: system(calls, options),
    network,
    rng: new Rng(seed),
  })
  const skewed = { rates: [...calls.rates.values()], offsets: [...calls.offsets.values()] }
  await applied.heal()
  return { applied, skewed, healed: calls }
}

describe('clock-skew', () => {
  it('keeps every rate within the drift the system declares, and steps its wall clocks too', async () => {
    const seen = new Set<number>()
    for (let seed = 0; seed < 20; seed++) {
      const { applied, skewed, healed } = await skewOnce(seed, { clockDrift: 0.1, offsets: true })
      expect(applied.kind).toBe('clock offset and rate')
      expect(skewed.rates).toHaveLength(3)
      expect(skewed.offsets).toHaveLength(3)
      for (const rate of skewed.rates) {
        expect(rate).toBeGreaterThanOrEqual(0.9)
        expect(rate).toBeLessThanOrEqual(1.1)
        seen.add(rate)
      }
      expect([...healed.rates.values()]).toEqual([1, 1, 1])
      expect([...healed.offsets.values()]).toEqual([0, 0, 0])
    }
    expect(seen.size).toBeGreaterThan(2)
  })

  it('draws rates from 0.25× to 4× for a system that declares no bound and has no wall clock', async () => {
    const seen = new Set<number>()
    for (let seed = 0; seed < 20; seed++) {
      const { applied, skewed } = await skewOnce(seed, { offsets: false })
      expect(applied.kind).toBe('clock rate')
      expect(skewed.offsets).toEqual([])
      for (const rate of skewed.rates) seen.add(rate)
    }
    expect([...seen].sort((a, b) => a - b)).toEqual([0.25, 0.5, 1, 2, 4])
  })
})
