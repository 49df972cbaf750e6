import { checkLinearizability } from '../lin/check.ts'
import { describeKv, kvModel } from '../lin/kv-model.ts'
import { Rng } from '../rng/index.ts'
import { divergentKeys, lostWrites } from './checks.ts'
import { ChaosConfigError, ChaosRunError } from './errors.ts'
import { FaultNetwork } from './fault-network.ts'
import type { ChaosReport } from './report.ts'
import type { FaultRecord, Scenario } from './scenario.ts'
import type { ReplicaState, SystemCheck, SystemUnderTest } from './system.ts'
import { sleep, Workload } from './workload.ts'

export interface ChaosRunOptions {
  /** A system not yet started; the runner starts and stops it. */
  system: SystemUnderTest
  scenario: Scenario
  seed: number
  /** How long faults are applied (the workload runs throughout). */
  durationMs: number
  /**
   * Faults go on past the duration until this many were applied (with their
   * full quiet and hold times), so a short smoke of a round robin applies every
   * scenario even where restarts are slow. @defaultValue 0
   */
  minFaults?: number
  /** @defaultValue 5 */
  clients?: number
  /** @defaultValue 8 */
  keys?: number
  /** @defaultValue 0.5 */
  readRatio?: number
  /** @defaultValue 20 */
  maxPauseMs?: number
  /** Longest wait for a leader at the start, for recovery and for the replicas to settle after healing. @defaultValue 60000 */
  settleTimeoutMs?: number
  /** Budget of the linearizability check. @defaultValue 120000 */
  checkTimeoutMs?: number
  /** The command that re-runs this run, for the report. */
  command?: string
  /** Progress lines. @defaultValue none */
  log?: (line: string) => void
}

/**
 * Runs one scenario against one system: start it with every inter-node link
 * through a fault proxy, run the workload, apply the scenario's faults until
 * the duration ends, heal everything, measure the recovery, let the replicas
 * settle, then check the history (linearizability per key), the acknowledged
 * writes (none lost) and the replicas (identical).
 */
export async function runChaos(options: ChaosRunOptions): Promise<ChaosReport> {
  const { system, scenario, seed, durationMs } = options
  const settleTimeoutMs = options.settleTimeoutMs ?? 60_000
  const log = options.log ?? (() => {})
  for (const capability of scenario.requires ?? []) {
    if (!system.capabilities[capability])
      throw new ChaosConfigError(
        `scenario ${scenario.name} needs '${capability}', which ${system.name} lacks`,
      )
  }
  const origin = performance.now()
  const now = () => Math.round((performance.now() - origin) * 1000) / 1000
  const rng = new Rng(seed)
  const network = new FaultNetwork({ nodes: system.nodes, seed })
  const workload = new Workload({
    clients: options.clients ?? 5,
    keys: options.keys ?? 8,
    readRatio: options.readRatio ?? 0.5,
    maxPauseMs: options.maxPauseMs ?? 20,
    rng: rng.fork(),
    now,
  })
  const faults: FaultRecord[] = []
  try {
    await system.start(network)
    if ((await system.leader(settleTimeoutMs)) === null) throw new ChaosRunError('no leader after start')
    log(`started ${system.name}; running ${scenario.name} for ${durationMs} ms (seed ${seed})`)
    const startedAt = now()
    workload.start(system)
    // Forked only for a system with probes, so the other systems' fault schedules stay as they were.
    if (system.startProbes !== undefined) system.startProbes(now, rng.fork())
    await nemesis(
      scenario,
      { system, network, rng: rng.fork() },
      { endAt: startedAt + durationMs, minFaults: options.minFaults ?? 0 },
      now,
      faults,
      log,
    )

    const healAt = now()
    await healEverything(system, network)
    log(`healed at ${Math.round(healAt)} ms`)
    const acknowledgedBefore = workload.acknowledgedAt.length
    const recoveredAt = await waitFor(
      () => workload.acknowledgedAt.slice(acknowledgedBefore).find((t) => t >= healAt),
      healAt + settleTimeoutMs,
      now,
    )
    await workload.stop()
    await system.stopProbes?.()
    const settledAt = await waitFor(
      async () => ((await system.settled()) ? now() : undefined),
      now() + settleTimeoutMs,
      now,
    )
    // A run that cannot settle or read back still gets a report: the problem is the finding.
    const problems: string[] = []
    if (settledAt === undefined) {
      const waiting = system.waitingFor?.() ?? null
      problems.push(
        `replicas did not settle within ${settleTimeoutMs} ms of healing${waiting === null ? '' : `; last seen: ${waiting}`}`,
      )
    } else log(`settled ${Math.round(settledAt - healAt)} ms after healing`)

    let finalValues: Map<string, string | null> | null = null
    const finalClient = system.client('final')
    try {
      finalValues = await workload.finalReads(finalClient, now() + settleTimeoutMs)
    } catch (error) {
      problems.push(`final reads failed: ${String(error)}`)
    } finally {
      finalClient.close()
    }
    let replicas: ReplicaState[] = []
    try {
      replicas = await system.replicaStates(workload.keys)
    } catch (error) {
      problems.push(`replica states unreadable: ${String(error)}`)
    }
    const history = workload.history()
    const lost = finalValues === null ? [] : lostWrites(history, finalValues)
    let checks: SystemCheck[] = []
    if (finalValues !== null && system.checks !== undefined) {
      try {
        checks = await system.checks({ values: finalValues, history, faults })
      } catch (error) {
        problems.push(`${system.name}'s own checks failed to run: ${String(error)}`)
      }
    }
    const divergent = divergentKeys(replicas)
    // A last-writer-wins system is not linearizable by design: its own checks say what it guarantees.
    const claimsLinearizability = (system.consistency ?? 'linearizable') === 'linearizable'
    const check = claimsLinearizability
      ? checkLinearizability(kvModel({ initialValue: null }), history, {
          timeoutMs: options.checkTimeoutMs ?? 120_000,
        })
      : NOT_CHECKED
    log(`linearizability: ${check.verdict} (${history.length} operations, ${Math.round(check.elapsedMs)} ms)`)
    const report: ChaosReport = {
      system: system.name,
      scenario: scenario.name,
      description: scenario.description,
      seed,
      command: options.command ?? '',
      durationMs,
      elapsedMs: Math.round(now()),
      date: new Date().toISOString(),
      faults,
      operations: workload.counts,
      failures: Object.fromEntries([...workload.reasons].sort((a, b) => b[1] - a[1])),
      linearizability: {
        verdict: check.verdict,
        operations: history.length,
        partitions: check.partitions.length,
        steps: check.steps,
        elapsedMs: Math.round(check.elapsedMs),
        counterexample:
          check.counterexample === undefined
            ? null
            : {
                key: check.counterexample.partition,
                longestPrefix: check.counterexample.longestPrefix.map((op) => describeOp(op)),
                stuck: check.counterexample.stuck.map((op) => describeOp(op)),
              },
      },
      problems,
      lostWrites: { checked: finalValues !== null, count: lost.length, examples: lost.slice(0, 20) },
      replicas: {
        identical: replicas.length === members(system).length && divergent.length === 0,
        appliedIndexes: Object.fromEntries(replicas.map((r) => [r.node, r.appliedIndex])),
        divergentKeys: divergent.slice(0, 20),
      },
      recovery: {
        firstAcknowledgedWriteMs: recoveredAt === undefined ? null : Math.round(recoveredAt - healAt),
        settledMs: settledAt === undefined ? null : Math.round(settledAt - healAt),
      },
      checks,
      crashes: system.crashes(),
      network: network.stats(),
      passed:
        problems.length === 0 &&
        checks.every((c) => c.passed) &&
        (claimsLinearizability ? check.verdict === 'linearizable' : true) &&
        lost.length === 0 &&
        replicas.length === members(system).length &&
        divergent.length === 0,
    }
    return report
  } finally {
    await workload.stop()
    await system.stopProbes?.()
    await system.stop()
    await network.stop()
  }
}

const NOT_CHECKED = {
  verdict: 'not-checked' as const,
  partitions: [],
  steps: 0,
  elapsedMs: 0,
  counterexample: undefined,
}

/**
 * Quiet, apply, hold, heal, until `endAt` and until `minFaults` were applied;
 * every fault is healed before it returns.
 */
async function nemesis(
  scenario: Scenario,
  context: Parameters<Scenario['apply']>[0],
  { endAt, minFaults }: { endAt: number; minFaults: number },
  now: () => number,
  faults: FaultRecord[],
  log: (line: string) => void,
): Promise<void> {
  const draw = ([min, max]: [number, number]) => min + context.rng.int(Math.max(1, max - min + 1))
  const more = () => faults.length < minFaults
  // Times are cut at the end of the duration, unless more faults are still due.
  const within = (ms: number) => (more() ? ms : Math.min(ms, Math.max(0, endAt - now())))
  while (now() < endAt || more()) {
    await sleep(within(draw(scenario.quietMs)))
    if (now() >= endAt && !more()) break
    const applied = await scenario.apply(context)
    const record: FaultRecord = {
      kind: applied.kind,
      detail: applied.detail,
      at: Math.round(now()),
      healedAt: null,
    }
    faults.push(record)
    log(`${record.at} ms: ${applied.kind} ${applied.detail}`)
    const hold = applied.holdMs ?? draw(scenario.holdMs)
    // One of the first `minFaults` is held in full; the others are cut at the end.
    await sleep(faults.length <= minFaults ? hold : Math.min(hold, Math.max(0, endAt - now())))
    await applied.heal()
    record.healedAt = Math.round(now())
  }
}

/** Network healed, processes resumed and restarted, clocks at real time, disks freed. */
async function healEverything(system: SystemUnderTest, network: FaultNetwork): Promise<void> {
  network.heal()
  for (const node of members(system)) {
    if (system.running(node)) system.resume(node)
    if (system.capabilities.clock && system.running(node)) await system.setClockRate?.(node, 1)
    if (system.capabilities.diskFull) await system.freeDisk?.(node)
  }
  await Promise.all(
    members(system)
      .filter((node) => !system.running(node))
      .map((node) => system.restart(node)),
  )
}

/** The nodes in the system now (spares of a membership scenario left out). */
function members(system: SystemUnderTest): readonly string[] {
  return system.members?.() ?? system.nodes
}

/** Polls `probe` until it gives a value or `deadline` (on `now`) passes. */
async function waitFor<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  deadline: number,
  now: () => number,
): Promise<T | undefined> {
  while (true) {
    const value = await probe()
    if (value !== undefined) return value
    if (now() > deadline) return undefined
    await sleep(50)
  }
}

function describeOp(op: {
  clientId: number | string
  input: Parameters<typeof describeKv>[0]
  output?: Parameters<typeof describeKv>[1]
  call: number
  return?: number | undefined
}): string {
  return `${op.clientId} [${op.call}, ${op.return ?? '…'}] ${describeKv(op.input, op.output)}`
}
