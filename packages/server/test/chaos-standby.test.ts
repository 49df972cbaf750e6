import { type ChaosReport, reportToMarkdown, runChaos, scenarioByName } from '@shoal/testkit/chaos'
import { testSeed } from '@shoal/testkit/rng'
import { describe, expect, it } from 'vitest'
import { StandbyChaosSystem } from './harness/chaos-standby-system.ts'

// The CI smoke of standby promotion (docs/standby.md): a semi_sync primary and its hot standby as
// real processes, the feed through a fault proxy, documents written to the primary and read back
// by id, while the primary is cut off or killed -9 and the standby promoted. Checked what semi_sync
// promises: no acknowledged write lost after the promotion, a linearizable history of writes and
// reads, the old primary fenced once it is back (409 primary_fenced; a write it took after losing
// its standby never succeeds), and, once the old primary is re-seeded as the new standby, identical
// documents on both. `pnpm chaos --system shoal-standby --scenario standby-promotion --duration 60s`
// runs the long version (docs/reliability.md).

const seed = testSeed(20261207)
const durationMs = 5_000
const minFaults = 1

function explain(report: ChaosReport, system: StandbyChaosSystem): string {
  return `seed ${report.seed}: ${report.command}\n${reportToMarkdown(report)}\n${system.outputs()}`
}

describe('chaos smoke: a primary and its hot standby', () => {
  it('the primary lost and the standby promoted: nothing acknowledged lost, the old primary fenced', async () => {
    const system = await StandbyChaosSystem.create()
    const report = await runChaos({
      system,
      scenario: scenarioByName('standby-promotion'),
      seed,
      durationMs,
      minFaults,
      settleTimeoutMs: 30_000,
      checkTimeoutMs: 30_000,
      command: `pnpm chaos --system shoal-standby --scenario standby-promotion --duration ${durationMs / 1000}s --min-faults ${minFaults} --seed ${seed}`,
    })
    expect(report.faults.length, explain(report, system)).toBeGreaterThanOrEqual(minFaults)
    expect(report.operations.write.ok, explain(report, system)).toBeGreaterThan(15)
    expect(report.linearizability.verdict, explain(report, system)).toBe('linearizable')
    expect(report.lostWrites.count, explain(report, system)).toBe(0)
    expect(report.replicas.identical, explain(report, system)).toBe(true)
    expect(report.problems, explain(report, system)).toEqual([])
    const fencing = report.checks.find((c) => c.name === 'promotion and fencing')
    expect(fencing?.passed, explain(report, system)).toBe(true)
    // Each promotion answered, and each old primary was found fenced.
    expect(fencing?.summary.match(/promoted: 200/g)?.length, explain(report, system)).toBe(
      report.faults.length,
    )
    expect(fencing?.summary.match(/409 primary_fenced/g)?.length, explain(report, system)).toBe(
      report.faults.length,
    )
    expect(report.crashes, explain(report, system)).toEqual([])
  }, 240_000)
})
