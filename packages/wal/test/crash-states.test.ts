import { testSeed } from '@shoal/testkit/rng'
import { describe, expect, it } from 'vitest'
import { exploreCrashStates } from './crash-exploration.ts'

describe('crash-state exploration on the simulated filesystem', () => {
  it('keeps every acknowledged record in at least 10,000 crash states', async () => {
    const { explored, torn, elapsedMs } = await exploreCrashStates(testSeed(20261129), 10_000, 50_000)
    console.log(
      `crash states explored: ${explored} (${torn} with a torn tail) in ${Math.round(elapsedMs)} ms`,
    )
    expect(explored).toBeGreaterThanOrEqual(10_000)
    expect(torn).toBeGreaterThan(0)
  }, 60_000)
})
