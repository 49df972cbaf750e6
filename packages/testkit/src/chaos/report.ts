import type { Verdict } from '../lin/types.ts'
import type { LostWrite } from './checks.ts'
import { ChaosConfigError } from './errors.ts'
import type { FaultRecord } from './scenario.ts'
import type { SystemCheck } from './system.ts'
import type { TcpProxyStats } from './tcp-link-proxy.ts'
import type { UdpProxyStats } from './udp-link-proxy.ts'
import type { OperationCounts } from './workload.ts'

/** Everything one chaos run found; written as JSON and rendered as Markdown. */
export interface ChaosReport {
  system: string
  scenario: string
  description: string
  seed: number
  command: string
  /** How long faults were applied. */
  durationMs: number
  /** The whole run: start, faults, healing, settling, checks. */
  elapsedMs: number
  date: string
  faults: FaultRecord[]
  operations: OperationCounts
  /** Failed and unknown outcomes by reason. */
  failures: Record<string, number>
  linearizability: {
    /** `not-checked` for a system that does not claim it (`consistency: 'last-writer-wins'`). */
    verdict: Verdict | 'not-checked'
    operations: number
    partitions: number
    steps: number
    elapsedMs: number
    counterexample: { key: string; longestPrefix: string[]; stuck: string[] } | null
  }
  /** What kept the run from checking everything (replicas that never settled, final reads that failed). */
  problems: string[]
  /** `checked: false` when the final state could not be read. */
  lostWrites: { checked: boolean; count: number; examples: LostWrite[] }
  replicas: {
    identical: boolean
    appliedIndexes: Record<string, number>
    divergentKeys: Array<{ key: string; values: Record<string, string | null> }>
  }
  recovery: {
    /** From healing to the first write acknowledged after it (null: none within the settle time-out). */
    firstAcknowledgedWriteMs: number | null
    /** From healing until every replica had applied everything committed (null: never, within the time-out). */
    settledMs: number | null
  }
  /** The system's own checks (searches, HTTP statuses); empty when it has none. */
  checks: SystemCheck[]
  /** Node exits nobody asked for. */
  crashes: string[]
  network: { tcp: TcpProxyStats; udp: UdpProxyStats }
  /** Linearizable (or not claimed), no acknowledged write lost, replicas identical, every system check passed. */
  passed: boolean
}

/** A human-readable page for one run. */
export function reportToMarkdown(report: ChaosReport): string {
  const ops = report.operations
  const lines = [
    `# Chaos run: ${report.scenario} on ${report.system}`,
    '',
    report.description,
    '',
    `- Result: **${report.passed ? 'passed' : 'FAILED'}**`,
    `- Seed ${report.seed}, faults for ${formatMs(report.durationMs)}, whole run ${formatMs(report.elapsedMs)}, ${report.date}`,
    `- Re-run: \`${report.command}\``,
    `- Operations: ${ops.total} (writes ${ops.write.ok} ok / ${ops.write.fail} failed / ${ops.write.info} unknown; reads ${ops.read.ok} ok / ${ops.read.fail + ops.read.info} without an answer)`,
    `- Linearizability: **${report.linearizability.verdict}** (${report.linearizability.operations} operations in ${report.linearizability.partitions} keys, ${report.linearizability.steps} steps, ${report.linearizability.elapsedMs} ms)`,
    `- Acknowledged writes lost: **${report.lostWrites.checked ? report.lostWrites.count : 'not checked'}**`,
    `- Replicas identical: **${report.replicas.identical ? 'yes' : 'no'}** (applied indexes ${JSON.stringify(report.replicas.appliedIndexes)})`,
    `- Recovery after healing: first acknowledged write ${report.recovery.firstAcknowledgedWriteMs ?? 'none'} ms, replicas settled ${report.recovery.settledMs ?? 'never'} ms`,
    ...report.checks.map((c) => `- ${c.name}: **${c.passed ? 'passed' : 'FAILED'}** (${c.summary})`),
    `- Unrequested node exits: ${report.crashes.length === 0 ? 'none' : report.crashes.length}`,
    ...report.problems.map((problem) => `- Problem: **${problem}**`),
    '',
    '## Faults',
    '',
    '| at (ms) | healed (ms) | fault | detail |',
    '| ---: | ---: | --- | --- |',
    ...report.faults.map(
      (f) => `| ${f.at} | ${f.healedAt ?? ''} | ${f.kind} | ${f.detail.replaceAll('|', '\\|')} |`,
    ),
    '',
    '## Failures by kind',
    '',
    ...(Object.keys(report.failures).length === 0
      ? ['none']
      : Object.entries(report.failures).map(([reason, count]) => `- ${count} × ${reason}`)),
    '',
    '## Network',
    '',
    `TCP: ${JSON.stringify(report.network.tcp)}`,
    '',
  ]
  if (report.crashes.length > 0) lines.push('## Node exits', '', ...report.crashes.map((c) => `- ${c}`), '')
  for (const check of report.checks.filter((c) => c.violations.length > 0)) {
    lines.push(`## ${check.name}: violations`, '', ...check.violations.map((v) => `- ${v}`), '')
  }
  const cx = report.linearizability.counterexample
  if (cx !== null) {
    lines.push('## Counterexample', '', `Key ${cx.key}; longest linearizable prefix (last 10):`, '')
    lines.push(...cx.longestPrefix.slice(-10).map((op) => `- ${op}`), '', 'Stuck:', '')
    lines.push(...cx.stuck.map((op) => `- ${op}`), '')
  }
  if (report.lostWrites.count > 0) {
    lines.push('## Lost writes', '', ...report.lostWrites.examples.map((w) => `- ${JSON.stringify(w)}`), '')
  }
  return lines.join('\n')
}

export function formatMs(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`
  if (ms >= 1000) return `${Math.round(ms / 100) / 10} s`
  return `${ms} ms`
}

/** `500ms`, `20s`, `10m`, `1h` or a bare number of milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim())
  if (match === null) throw new ChaosConfigError(`not a duration: '${text}' (use 500ms, 20s, 10m or 1h)`)
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(match[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h']
  return Math.round(Number(match[1]) * unit)
}
