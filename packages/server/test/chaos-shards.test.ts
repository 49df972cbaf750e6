import {
  type ChaosReport,
  reportToMarkdown,
  runChaos,
  scenarioByName,
  timeScaled,
} from '@shoal/testkit/chaos'
import { testSeed } from '@shoal/testkit/rng'
import { describe, expect, it } from 'vitest'
import { ShoalShardsSystem } from './harness/chaos-shards-system.ts'

// A smoke of the chaos scenarios against a sharded index (6 shards, 3 replicas each) on a real
// 3-process cluster, at a fixed seed: document writes (acknowledged when their task succeeds),
// reads by id and searches through every node while the nemesis applies every scenario the cluster
// supports in turn (membership-partition's kills for good run against shoal-meta), with quiet and
// hold times at 0.3×: the clock (steps and rates), disk and fsync faults inside the nodes (the
// harness's fault preload; each data folder a 256 MiB tmpfs, disk-full only where one can be
// mounted), and last moves-partition: two spare nodes, one of which joins, or a member drained or
// replaced, during a partition (replica grace period 10 s). Checked: per-key linearizability of
// writes and reads, no acknowledged write lost, replicas identical, searches complete or refused
// with 503, every key and every marker's documents through every member at the end, the drains and
// replacements succeeded with every replica on a member, no 5xx but 503 (and 507 for a full disk),
// and no node exit but the fail-stops (exit 70) of a failed fsync or a full disk.
// `pnpm chaos --system shoal-shards --scenario NAME --duration 60s` runs the long versions
// (docs/reliability.md).

const seed = testSeed(20261207)
const allScenarios = [
  'partition-leader',
  'partition-halves',
  'partition-bridge',
  'partition-one-way',
  'pause',
  'kill-leader',
  'kill-all',
  'latency-spikes',
  'packet-loss',
  'corruption',
  'clock-skew',
  'disk-full',
  'fsync-failure',
  'moves-partition',
]
const durationMs = 30_000
const timeScale = 0.3

function explain(report: ChaosReport, system: ShoalShardsSystem): string {
  return `seed ${report.seed}: ${report.command}\n${reportToMarkdown(report)}\n${system.outputs()}`
}

describe('chaos smoke: a sharded index on a 3-node cluster', () => {
  it('every scenario in turn, shard moves last: every check holds after healing', async () => {
    const system = await ShoalShardsSystem.create({
      spares: 2,
      replicaGraceMs: 10_000,
      nodeFaultsTmpfsMiB: 256,
    })
    const scenarios = allScenarios.filter((s) => s !== 'disk-full' || system.capabilities.diskFull)
    const report = await runChaos({
      system,
      scenario: timeScaled(scenarioByName(scenarios.join(',')), timeScale),
      seed,
      durationMs,
      // Each scenario at least once, however slow restarts and joins are.
      minFaults: scenarios.length,
      settleTimeoutMs: 30_000,
      checkTimeoutMs: 30_000,
      command: `pnpm chaos --system shoal-shards --scenario ${scenarios.join(',')} --duration ${durationMs / 1000}s --time-scale ${timeScale} --min-faults ${scenarios.length} --seed ${seed}`,
    })
    const applied = new Set(report.faults.map((f) => f.kind.split(':')[0]))
    for (const name of scenarios)
      expect(applied, `${name} was never applied; ${explain(report, system)}`).toContain(name)
    expect(report.operations.write.ok, explain(report, system)).toBeGreaterThan(15)
    expect(report.operations.read.ok, explain(report, system)).toBeGreaterThan(15)
    expect(report.linearizability.verdict, explain(report, system)).toBe('linearizable')
    expect(report.lostWrites.count, explain(report, system)).toBe(0)
    expect(report.replicas.identical, explain(report, system)).toBe(true)
    expect(report.problems, explain(report, system)).toEqual([])
    for (const check of report.checks)
      expect(check.passed, `${check.name}: ${explain(report, system)}`).toBe(true)
    expect(report.checks.map((c) => c.name)).toEqual([
      'searches during the run',
      'final reads through every node',
      'final searches through every node',
      'replica lag after settling',
      'shard moves',
      'no server error',
    ])
    expect(report.recovery.firstAcknowledgedWriteMs, explain(report, system)).not.toBeNull()
    // A node stops by itself (exit 70) on a failed fsync or a full disk, and is restarted.
    expect(
      report.crashes.filter((c) => !/ exited 70$/.test(c)),
      explain(report, system),
    ).toEqual([])
  }, 420_000)
})
