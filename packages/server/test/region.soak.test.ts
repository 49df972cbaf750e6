import { describe, expect, it } from 'vitest'
import { percentile, runRegionFaults } from './harness/region-faults.ts'

// docs/multi-region.md, "Faults between regions", at length (`pnpm test:soak`; the smoke is in
// region.test.ts): three regions, 50 ms each way and 1 % loss on every link, a steady write load
// in each for a minute.

describe('regions under latency and loss (soak)', () => {
  it('three regions converge, every concurrent loser is logged, lag p99 ≤ 1 s', async () => {
    const result = await runRegionFaults({
      names: ['eu', 'us', 'ap'],
      latencyMs: 50,
      loss: 0.01,
      durationMs: 60_000,
      ratePerRegion: 20,
      seed: 18,
    })
    console.info(
      JSON.stringify({
        soak: {
          ...result,
          lagSamples: undefined,
          lagP50: percentile(result.lagSamples, 50),
          lagP99: percentile(result.lagSamples, 99),
        },
      }),
    )
    expect(result.writes).toBeGreaterThan(2000)
    expect(result.proxiedBytes).toBeGreaterThan(0)
    expect(percentile(result.lagSamples, 99)).toBeLessThanOrEqual(1)
    expect(result.delayP99Seconds).toBeLessThanOrEqual(1)
  }, 240_000)
})
