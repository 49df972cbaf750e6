import {
  type ChaosReport,
  reportToMarkdown,
  runChaos,
  scenarioByName,
  timeScaled,
} from '@shoal/testkit/chaos'
import { testSeed } from '@shoal/testkit/rng'
import { describe, expect, it } from 'vitest'
import { ShoalMetaSystem } from './chaos-meta-system.ts'

// The chaos checks against the metadata group of a real 3-process cluster, at a fixed seed:
// cluster-settings writes and linearizable reads through every node while the nemesis cuts,
// slows, corrupts, kills and pauses. `chaos-meta.test.ts` runs one mixed group as the CI smoke;
// `chaos-meta.soak.test.ts` runs every group (`pnpm test:soak`); `pnpm chaos --system shoal-meta
// --scenario NAME --duration 10m` runs the long versions. Clock, disk and fsync faults need
// injection points the server does not have, so they are not run here (see docs/reliability.md).

export interface ChaosMetaGroup {
  readonly name: string
  readonly scenarios: readonly string[]
  readonly durationMs: number
  /** Members started as spares that join during the run. */
  readonly spares?: number
  /**
   * Quiet and hold times multiplied by this (`--time-scale`), for a smoke that applies many
   * scenarios; below 1, faults go on past the duration until each scenario was applied once
   * (`--min-faults`). @defaultValue 1
   */
  readonly timeScale?: number
  /** @defaultValue 120000 */
  readonly testTimeoutMs?: number
}

const seed = testSeed(20261207)

function explain(report: ChaosReport, system: ShoalMetaSystem): string {
  return `seed ${report.seed}: ${report.command}\n${reportToMarkdown(report)}\n${system.outputs()}`
}

/** One test per group, each on a fresh cluster. */
export function describeChaosMeta(title: string, groups: readonly ChaosMetaGroup[]): void {
  describe(title, () => {
    for (const group of groups) {
      it(
        `${group.name}: linearizable, no acknowledged write lost, replicas identical after healing`,
        async () => {
          const system = await ShoalMetaSystem.create({ spares: group.spares ?? 0 })
          const timeScale = group.timeScale ?? 1
          const report = await runChaos({
            system,
            scenario: timeScaled(scenarioByName(group.scenarios.join(',')), timeScale),
            seed,
            durationMs: group.durationMs,
            // A smoke applies each scenario at least once, however slow restarts are.
            ...(timeScale === 1 ? {} : { minFaults: group.scenarios.length }),
            settleTimeoutMs: 30_000,
            checkTimeoutMs: 30_000,
            command: `pnpm chaos --system shoal-meta --scenario ${group.scenarios.join(',')} --duration ${group.durationMs / 1000}s${timeScale === 1 ? '' : ` --time-scale ${timeScale} --min-faults ${group.scenarios.length}`} --seed ${seed}`,
          })
          const applied = new Set(report.faults.map((f) => f.kind.split(':')[0]))
          for (const name of group.scenarios)
            expect(applied, `${name} was never applied; ${explain(report, system)}`).toContain(name)
          if (group.spares !== undefined) {
            expect(
              report.faults.some((f) => f.detail.includes(' joins through ')),
              `no node joined; ${explain(report, system)}`,
            ).toBe(true)
            // A node that joined made it into the metadata group (it may have been stopped since).
            const view = system.metadataView()
            expect(
              view.some((line) => /^n[45] active( \(down\))? (voter|learner)$/.test(line)),
              `${view.join('; ')}\n${explain(report, system)}`,
            ).toBe(true)
          }
          expect(report.operations.write.ok, explain(report, system)).toBeGreaterThan(30)
          expect(report.operations.read.ok, explain(report, system)).toBeGreaterThan(30)
          expect(report.linearizability.verdict, explain(report, system)).toBe('linearizable')
          expect(report.lostWrites.count, explain(report, system)).toBe(0)
          expect(report.replicas.identical, explain(report, system)).toBe(true)
          expect(report.recovery.firstAcknowledgedWriteMs, explain(report, system)).not.toBeNull()
          expect(report.crashes, explain(report, system)).toEqual([])
        },
        group.testTimeoutMs ?? 120_000,
      )
    }
  })
}
