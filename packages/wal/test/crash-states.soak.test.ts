import { testSeed } from '@shoal/testkit/rng'
import { describe, expect, it } from 'vitest'
import { exploreCrashStates } from './crash-exploration.ts'

// Soak: the same exploration as crash-states.test.ts, twenty times longer (pnpm test:soak).
describe('crash-state exploration on the simulated filesystem (soak)', () => {
  it('keeps every acknowledged record in at least 200,000 crash states', async () => {
    const { explored, torn, elapsedMs } = await exploreCrashStates(testSeed(7_000_001), 200_000, 900_000)
    console.log(
      `crash states explored: ${explored} (${torn} with a torn tail) in ${Math.round(elapsedMs)} ms`,
    )
    expect(explored).toBeGreaterThanOrEqual(200_000)
  }, 1_000_000)
})
