/**
 * The nemesis runner's command line:
 *
 *   pnpm chaos --scenario partition-halves --duration 10m --seed 7
 *   pnpm chaos --scenario all --duration 30s --seed 1
 *   pnpm chaos --scenario kill-leader,pause --duration 30s --time-scale 0.4 --seed 1
 *   pnpm chaos --list
 *
 * Starts the system under test (`--system raft-kv`, the default: the Raft KV
 * example as three processes; `shoal-meta`: the metadata group of three
 * `shoal` processes; `shoal-shards`: a sharded index on them; `shoal-standby`:
 * a semi_sync primary and its hot standby; `shoal-regions`: three regions),
 * runs the scenario's faults under a recorded workload, heals, checks, and
 * writes `<out>/<scenario>-<seed>.json` and `.md` (default out:
 * `chaos-results/`). `--time-scale F` (0 < F ≤ 1) multiplies every quiet and
 * hold time by F, and `--min-faults N` goes on past the duration until N faults
 * were applied, as the CI smokes do to apply every scenario of a round robin in a
 * short run. `--node-logs DIR` (shoal systems) keeps every node's whole output
 * at log level info in DIR/<node>.log. Exits 1 when a run fails its checks; the
 * same `--seed` replays the same fault schedule and workload choices.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { KvChaosSystem } from '../packages/raft/examples/kv/chaos-system.ts'
import { ShoalMetaSystem } from '../packages/server/test/harness/chaos-meta-system.ts'
import { RegionsChaosSystem } from '../packages/server/test/harness/chaos-regions-system.ts'
import { ShoalShardsSystem } from '../packages/server/test/harness/chaos-shards-system.ts'
import { StandbyChaosSystem } from '../packages/server/test/harness/chaos-standby-system.ts'
import {
  type ChaosReport,
  parseDuration,
  reportToMarkdown,
  runChaos,
  SCENARIOS,
  type Scenario,
  type SystemUnderTest,
  scenarioByName,
  timeScaled,
} from '../packages/testkit/src/chaos/index.ts'

// Ctrl-C and SIGTERM end the process through `exit`, whose handlers kill the
// member processes and unmount their tmpfs data directories.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130))

const { values } = parseArgs({
  options: {
    scenario: { type: 'string' },
    duration: { type: 'string', default: '30s' },
    seed: { type: 'string', default: '1' },
    'time-scale': { type: 'string', default: '1' },
    'min-faults': { type: 'string', default: '0' },
    system: { type: 'string', default: 'raft-kv' },
    clients: { type: 'string', default: '5' },
    keys: { type: 'string', default: '8' },
    out: { type: 'string', default: 'chaos-results' },
    'node-logs': { type: 'string' },
    list: { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
  },
  strict: true,
})

if (values.list) {
  for (const s of SCENARIOS) process.stdout.write(`${s.name.padEnd(18)} ${s.description}\n`)
  process.exit(0)
}
if (values.scenario === undefined) {
  process.stderr.write(
    'usage: pnpm chaos --scenario NAME|all [--duration 30s] [--seed N] [--time-scale F] [--min-faults N] [--out DIR] [--node-logs DIR] (--list)\n',
  )
  process.exit(2)
}
// `--node-logs DIR`: the shoal systems' nodes log at level info, each to DIR/<node>.log.
const nodeLogs = values['node-logs'] === undefined ? {} : { nodeLogDir: path.resolve(values['node-logs']) }
if (nodeLogs.nodeLogDir !== undefined) await mkdir(nodeLogs.nodeLogDir, { recursive: true })
// Clock, disk and fsync faults inside the shoal nodes, for the scenarios that need them: each data
// folder on its own 256 MiB tmpfs (where mounting works here), the fault preload in every process.
const nodeFaults = (scenario: Scenario) =>
  scenario.requires?.some((c) => c === 'clock' || c === 'diskFull' || c === 'fsyncFailure') === true
    ? { nodeFaultsTmpfsMiB: 256 }
    : {}
const SYSTEMS: Record<string, (scenario: Scenario) => Promise<SystemUnderTest>> = {
  'raft-kv': () => KvChaosSystem.create(),
  // Two spare nodes for a scenario that adds and removes members.
  'shoal-meta': (scenario) =>
    ShoalMetaSystem.create({
      spares: scenario.requires?.includes('membership') === true ? 2 : 0,
      ...nodeLogs,
      ...nodeFaults(scenario),
    }),
  // One index of 6 shards, 3 replicas each, on the three nodes; two spares and a 10 s grace
  // period before a lost node's replicas are re-created for a scenario that moves replicas.
  'shoal-shards': (scenario) =>
    ShoalShardsSystem.create({
      ...(scenario.requires?.includes('shardMoves') === true ? { spares: 2, replicaGraceMs: 10_000 } : {}),
      ...nodeLogs,
      ...nodeFaults(scenario),
    }),
  // A semi_sync primary and its hot standby (two processes, no cluster).
  'shoal-standby': () => StandbyChaosSystem.create(),
  // Three standalone regions, linked, one replicated index (last-writer-wins).
  'shoal-regions': () => RegionsChaosSystem.create({ keys: Number(values.keys) }),
}
const createSystem = SYSTEMS[values.system]
if (createSystem === undefined) {
  process.stderr.write(`unknown system '${values.system}' (known: ${Object.keys(SYSTEMS).join(', ')})\n`)
  process.exit(2)
}
const seed = Number(values.seed)
const clients = Number(values.clients)
const keys = Number(values.keys)
const minFaults = Number(values['min-faults'])
for (const [name, n] of [
  ['seed', seed],
  ['min-faults', minFaults],
  ['clients', clients],
  ['keys', keys],
] as const) {
  const least = name === 'seed' ? Number.NEGATIVE_INFINITY : name === 'min-faults' ? 0 : 1
  if (!Number.isInteger(n) || n < least) {
    const what =
      name === 'seed' ? 'an integer' : name === 'min-faults' ? 'a whole number' : 'a positive integer'
    process.stderr.write(`--${name} must be ${what}\n`)
    process.exit(2)
  }
}
const durationMs = parseDuration(values.duration)
const timeScale = Number(values['time-scale'])
if (!(timeScale > 0 && timeScale <= 1)) {
  process.stderr.write('--time-scale must be a number in (0, 1]\n')
  process.exit(2)
}
const scaling = timeScale === 1 ? '' : ` --time-scale ${values['time-scale']}`
const scenarios = values.scenario === 'all' ? [...SCENARIOS] : [scenarioByName(values.scenario)]

const reports: ChaosReport[] = []
for (const scenario of scenarios) {
  const system = await createSystem(scenario)
  const missing = (scenario.requires ?? []).filter((c) => !system.capabilities[c])
  if (missing.length > 0) {
    process.stdout.write(`skipping ${scenario.name}: ${system.name} lacks ${missing.join(', ')}\n`)
    await system.stop()
    continue
  }
  const report = await runChaos({
    system,
    scenario: timeScaled(scenario, timeScale),
    seed,
    durationMs,
    minFaults,
    clients,
    keys,
    command: `pnpm chaos${values.system === 'raft-kv' ? '' : ` --system ${values.system}`} --scenario ${scenario.name} --duration ${values.duration}${scaling}${minFaults === 0 ? '' : ` --min-faults ${minFaults}`} --seed ${seed}`,
    log: values.quiet ? () => {} : (line) => process.stdout.write(`[${scenario.name}] ${line}\n`),
  })
  await mkdir(values.out, { recursive: true })
  const base = path.join(values.out, `${scenario.name}-${seed}`)
  await writeFile(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`)
  await writeFile(`${base}.md`, reportToMarkdown(report))
  // The nodes' own output (their last lines each), to look into a failing run.
  const outputs = (system as { outputs?: () => string }).outputs
  if (!report.passed && outputs !== undefined) await writeFile(`${base}.log`, outputs.call(system))
  process.stdout.write(
    `${report.passed ? 'PASS' : 'FAIL'} ${scenario.name}: ${report.operations.total} operations, ` +
      `${report.faults.length} faults, ${report.lostWrites.count} lost, ${report.linearizability.verdict}, ` +
      `recovered in ${report.recovery.firstAcknowledgedWriteMs ?? '–'} ms` +
      report.checks
        .filter((c) => !c.passed)
        .map((c) => `, ${c.name} FAILED`)
        .join('') +
      ` → ${base}.md\n`,
  )
  reports.push(report)
}
process.exit(reports.every((r) => r.passed) ? 0 : 1)
