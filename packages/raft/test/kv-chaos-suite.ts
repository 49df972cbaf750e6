import {
  type ChaosReport,
  reportToMarkdown,
  runChaos,
  scenarioByName,
  timeScaled,
} from '@shoal/testkit/chaos'
import { testSeed } from '@shoal/testkit/rng'
import { describe, expect, it } from 'vitest'
import { KvChaosSystem } from '../examples/kv/chaos-system.ts'

// The chaos checks against the KV example as three real processes, at a fixed seed. Scenarios
// share runs (each applied in turn). `kv-chaos.test.ts` runs one mixed group as the CI smoke;
// `kv-chaos.soak.test.ts` runs every scenario (`pnpm test:soak`); `pnpm chaos --scenario NAME
// --duration 10m` runs the long versions. A failure prints the report; the command in it replays
// the fault schedule.

export interface KvChaosGroup {
  readonly name: string
  readonly scenarios: readonly string[]
  readonly durationMs: number
  /**
   * Quiet and hold times multiplied by this (`--time-scale`), for a smoke that applies many
   * scenarios; below 1, faults go on past the duration until each scenario was applied once
   * (`--min-faults`). @defaultValue 1
   */
  readonly timeScale?: number
}

const seed = testSeed(20261206)

function explain(report: ChaosReport): string {
  return `seed ${report.seed}: ${report.command}\n${reportToMarkdown(report)}`
}

/** One test per group, each on fresh processes. */
export function describeKvChaos(title: string, groups: readonly KvChaosGroup[]): void {
  describe(title, () => {
    for (const group of groups) {
      it(`${group.name}: linearizable, no acknowledged write lost, replicas identical after healing`, async () => {
        const system = await KvChaosSystem.create()
        const names = group.scenarios.filter((name) => {
          const needs = scenarioByName(name).requires ?? []
          return needs.every((capability) => system.capabilities[capability])
        })
        const timeScale = group.timeScale ?? 1
        const scenario = timeScaled(scenarioByName(names.join(',')), timeScale)
        const report = await runChaos({
          system,
          scenario,
          seed,
          durationMs: group.durationMs,
          // A smoke applies each scenario at least once, however slow restarts are.
          ...(timeScale === 1 ? {} : { minFaults: names.length }),
          settleTimeoutMs: 30_000,
          checkTimeoutMs: 30_000,
          command: `pnpm chaos --scenario ${names.join(',')} --duration ${group.durationMs / 1000}s${timeScale === 1 ? '' : ` --time-scale ${timeScale} --min-faults ${names.length}`} --seed ${seed}`,
        })
        const applied = new Set(report.faults.map((f) => f.kind.split(':')[0]))
        for (const name of names)
          expect(applied, `${name} was never applied; ${explain(report)}`).toContain(name)
        expect(report.operations.write.ok, explain(report)).toBeGreaterThan(50)
        expect(report.linearizability.verdict, explain(report)).toBe('linearizable')
        expect(report.lostWrites.count, explain(report)).toBe(0)
        expect(report.replicas.identical, explain(report)).toBe(true)
        expect(report.recovery.firstAcknowledgedWriteMs, explain(report)).not.toBeNull()
      }, 150_000)
    }
  })
}
