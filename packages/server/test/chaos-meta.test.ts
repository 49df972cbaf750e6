import { type ChaosReport, reportToMarkdown, runChaos, scenarioByName } from '@shoal/testkit/chaos'
import { testSeed } from '@shoal/testkit/rng'
import { describe, expect, it } from 'vitest'
import { ShoalMetaSystem } from './harness/chaos-meta-system.ts'

// A smoke of the chaos scenarios against the metadata group of a real
// 3-process cluster, at a fixed seed: cluster-settings writes and
// linearizable reads through every node while the nemesis cuts, slows,
// corrupts, kills and pauses. Each run applies its scenarios in turn;
// `pnpm chaos --system shoal-meta --scenario NAME --duration 10m` runs the
// long versions. Clock, disk and fsync faults need injection points the
// server does not have, so they are not run here (see docs/reliability.md).

const seed = testSeed(20261207)

const groups: Array<{ name: string; scenarios: string[]; durationMs: number; spares?: number }> = [
  {
    name: 'partitions',
    scenarios: ['partition-halves', 'partition-leader', 'partition-bridge', 'partition-one-way'],
    durationMs: 25_000,
  },
  { name: 'link faults', scenarios: ['latency-spikes', 'packet-loss', 'corruption'], durationMs: 25_000 },
  // A restarted node counts as back once it serves again, which takes seconds on a loaded machine:
  // the pause comes first and the power cut last, so every kind lands within the duration.
  { name: 'process faults', scenarios: ['pause', 'kill-leader', 'kill-all'], durationMs: 30_000 },
  // Starts with 3 members and 2 spares: a node joins during the first partition.
  {
    name: 'membership during partitions',
    scenarios: ['membership-partition'],
    durationMs: 35_000,
    spares: 2,
  },
]

function explain(report: ChaosReport, system: ShoalMetaSystem): string {
  return `seed ${report.seed}: ${report.command}\n${reportToMarkdown(report)}\n${system.outputs()}`
}

describe('chaos smoke: the metadata group of a 3-node cluster', () => {
  for (const group of groups) {
    it(`${group.name}: linearizable, no acknowledged write lost, replicas identical after healing`, async () => {
      const system = await ShoalMetaSystem.create({ spares: group.spares ?? 0 })
      const report = await runChaos({
        system,
        scenario: scenarioByName(group.scenarios.join(',')),
        seed,
        durationMs: group.durationMs,
        settleTimeoutMs: 30_000,
        checkTimeoutMs: 30_000,
        command: `pnpm chaos --system shoal-meta --scenario ${group.scenarios.join(',')} --duration ${group.durationMs / 1000}s --seed ${seed}`,
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
    }, 120_000)
  }
})
