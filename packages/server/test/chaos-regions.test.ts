import { type ChaosReport, reportToMarkdown, runChaos, scenarioByName } from '@shoal/testkit/chaos'
import { testSeed } from '@shoal/testkit/rng'
import { describe, expect, it } from 'vitest'
import { RegionsChaosSystem } from './harness/chaos-regions-system.ts'

// The CI smoke of the region cut-off (docs/multi-region.md, docs/reliability.md): three standalone
// regions as real processes, every inter-region link through a fault proxy, each region writing
// contested keys and keys of its own and reading them back locally, while one region at a time is
// cut off from the others (both ways) and healed. Checked what regions promise (not
// linearizability): identical documents everywhere once settled, last-writer-wins by stamp, every
// acknowledged write that lost unseen is a loser in every conflict log, nothing lost on keys of one
// region, read-your-writes in each region, and nothing crossing a cut. `pnpm chaos --system
// shoal-regions --scenario region-cutoff --duration 60s` runs the long version.

const seed = testSeed(20261207)
const durationMs = 20_000
const minFaults = 2

function explain(report: ChaosReport, system: RegionsChaosSystem): string {
  return `seed ${report.seed}: ${report.command}\n${reportToMarkdown(report)}\n${system.outputs()}`
}

describe('chaos smoke: three regions, one cut off at a time', () => {
  it('regions cut off and healed converge by last-writer-wins, with every loser logged and nothing lost', async () => {
    const system = await RegionsChaosSystem.create()
    const report = await runChaos({
      system,
      scenario: scenarioByName('region-cutoff'),
      seed,
      durationMs,
      minFaults,
      settleTimeoutMs: 30_000,
      command: `pnpm chaos --system shoal-regions --scenario region-cutoff --duration ${durationMs / 1000}s --min-faults ${minFaults} --seed ${seed}`,
    })
    const why = explain(report, system)
    expect(report.faults.length, why).toBeGreaterThanOrEqual(minFaults)
    expect(report.operations.write.ok, why).toBeGreaterThan(30)
    expect(report.linearizability.verdict, why).toBe('not-checked')
    expect(report.lostWrites.count, why).toBe(0)
    expect(report.replicas.identical, why).toBe(true)
    expect(report.problems, why).toEqual([])
    for (const name of [
      'identical documents',
      'last-writer-wins',
      'losers in every conflict log',
      'keys of one region',
      'read-your-writes',
      'cut-offs held',
    ])
      expect(report.checks.find((c) => c.name === name)?.passed, `${name}\n${why}`).toBe(true)
    expect(report.crashes, why).toEqual([])
    expect(report.passed, why).toBe(true)
  }, 240_000)
})
