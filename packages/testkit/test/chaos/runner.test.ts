import { describe, expect, it } from 'vitest'
import {
  type ChaosClient,
  type FaultNetwork,
  type OpOutcome,
  type ReplicaState,
  reportToMarkdown,
  runChaos,
  type Scenario,
  type SystemCheck,
  type SystemUnderTest,
} from '../../src/chaos/index.ts'
import { Rng } from '../../src/rng/index.ts'

const delays = new Rng(11)

// The runner itself, driven against a small in-process register store (the
// real systems run in packages/raft/test/kv-chaos.test.ts). The store is one
// map behind a short random delay; `forgetOnKill` makes a kill wipe it, as a
// store without durable writes would, and `neverSettles` stands for replicas
// that never catch up.

class MemoryStore implements SystemUnderTest {
  readonly name = 'memory-store'
  readonly nodes = ['a', 'b', 'c']
  readonly capabilities = {
    pause: true,
    clock: false,
    diskFull: false,
    fsyncFailure: false,
    membership: false,
  }
  values = new Map<string, string>()
  #down = new Set<string>()
  readonly #options: { forgetOnKill?: boolean; neverSettles?: boolean }

  constructor(options: { forgetOnKill?: boolean; neverSettles?: boolean } = {}) {
    this.#options = options
  }

  async start(_network: FaultNetwork): Promise<void> {}
  client(): ChaosClient {
    const delay = () => new Promise((r) => setTimeout(r, 1 + delays.int(3)))
    return {
      write: async (key, value): Promise<OpOutcome<void>> => {
        await delay()
        this.values.set(key, value)
        await delay()
        return { status: 'ok', value: undefined }
      },
      read: async (key): Promise<OpOutcome<string | null>> => {
        await delay()
        const value = this.values.get(key) ?? null
        await delay()
        return { status: 'ok', value }
      },
      close: () => {},
    }
  }
  async leader(): Promise<string | null> {
    return 'a'
  }
  running(node: string): boolean {
    return !this.#down.has(node)
  }
  async kill(node: string): Promise<void> {
    this.#down.add(node)
    if (this.#options.forgetOnKill) this.values.clear()
  }
  async restart(node: string): Promise<void> {
    this.#down.delete(node)
  }
  pause(): void {}
  resume(): void {}
  async settled(): Promise<boolean> {
    return !this.#options.neverSettles
  }
  async replicaStates(keys: readonly string[]): Promise<ReplicaState[]> {
    return this.nodes.map((node) => ({
      node,
      appliedIndex: 0,
      values: new Map(keys.map((k) => [k, this.values.get(k) ?? null])),
    }))
  }
  crashes(): string[] {
    return []
  }
  async stop(): Promise<void> {}
}

const killOne: Scenario = {
  name: 'kill-one',
  description: 'kill a, restart it',
  quietMs: [100, 200],
  holdMs: [50, 100],
  async apply({ system }) {
    await system.kill('a')
    return { kind: 'kill', detail: 'a', heal: () => system.restart('a') }
  },
}

const run = (system: SystemUnderTest) =>
  runChaos({
    system,
    scenario: killOne,
    seed: 5,
    durationMs: 1200,
    settleTimeoutMs: 500,
    keys: 3,
    clients: 3,
  })

describe('nemesis runner', () => {
  it('passes a store that keeps every write: linearizable, nothing lost, replicas identical', async () => {
    const report = await run(new MemoryStore())
    expect(report.faults.length).toBeGreaterThan(2)
    expect(report.faults.every((f) => f.healedAt !== null)).toBe(true)
    expect(report.operations.total).toBeGreaterThan(100)
    expect(report.linearizability.verdict).toBe('linearizable')
    expect(report.lostWrites).toMatchObject({ checked: true, count: 0 })
    expect(report.replicas.identical).toBe(true)
    expect(report.recovery.firstAcknowledgedWriteMs).not.toBeNull()
    expect(report.passed).toBe(true)
  })

  it('with minFaults, goes on past the duration until that many faults were applied, each held in full', async () => {
    const slow: Scenario = { ...killOne, name: 'slow', quietMs: [300, 300], holdMs: [200, 200] }
    const report = await runChaos({
      system: new MemoryStore(),
      scenario: slow,
      seed: 5,
      durationMs: 400,
      minFaults: 4,
      settleTimeoutMs: 500,
      keys: 3,
      clients: 3,
    })
    expect(report.faults).toHaveLength(4)
    for (const fault of report.faults)
      expect((fault.healedAt as number) - fault.at).toBeGreaterThanOrEqual(190)
    expect(report.passed).toBe(true)
  })

  it('catches a store that forgets acknowledged writes when killed', async () => {
    const report = await run(new MemoryStore({ forgetOnKill: true }))
    expect(report.linearizability.verdict).toBe('not-linearizable')
    expect(report.passed).toBe(false)
  })

  it('reports replicas that never settle as a problem instead of giving up without a report', async () => {
    const report = await run(new MemoryStore({ neverSettles: true }))
    expect(report.problems).toEqual(['replicas did not settle within 500 ms of healing'])
    expect(report.recovery.settledMs).toBeNull()
    expect(report.passed).toBe(false)
  })

  it("runs the system's own probes beside the workload and fails the run when its own check fails", async () => {
    const probed: Array<{ at: number; keys: number }> = []
    let probing: ReturnType<typeof setInterval> | undefined
    let stops = 0
    const system = Object.assign(new MemoryStore(), {
      startProbes(now: () => number) {
        probing = setInterval(() => probed.push({ at: now(), keys: system.values.size }), 20)
      },
      async stopProbes() {
        clearInterval(probing)
        stops++
      },
      // Stands for a search that must see every key: it never saw more than 2 of the 3.
      async checks(final: { values: ReadonlyMap<string, string | null> }): Promise<SystemCheck[]> {
        const written = [...final.values.values()].filter((v) => v !== null).length
        const seen = Math.max(...probed.map((p) => p.keys))
        return [
          {
            name: 'probe saw every key',
            passed: seen === written,
            summary: `${seen} of ${written}`,
            violations: [],
          },
          {
            name: 'probe ran',
            passed: probed.length > 10,
            summary: `${probed.length} probes`,
            violations: [],
          },
        ]
      },
    })
    const report = await run(system)
    expect(stops).toBeGreaterThanOrEqual(1)
    expect(report.checks.map((c) => [c.name, c.passed])).toEqual([
      ['probe saw every key', true],
      ['probe ran', true],
    ])
    expect(report.passed).toBe(true)

    const failing = Object.assign(new MemoryStore(), {
      async checks(): Promise<SystemCheck[]> {
        return [
          { name: 'searches', passed: false, summary: '1 incomplete answer', violations: ['n1 at 5 ms'] },
        ]
      },
    })
    const failed = await run(failing)
    expect(failed.linearizability.verdict).toBe('linearizable')
    expect(failed.passed).toBe(false)
    expect(reportToMarkdown(failed)).toContain('searches: **FAILED** (1 incomplete answer)')
  })

  it('refuses a scenario that needs a capability the system lacks', async () => {
    const needsClock: Scenario = { ...killOne, requires: ['clock'] }
    await expect(
      runChaos({ system: new MemoryStore(), scenario: needsClock, seed: 1, durationMs: 100 }),
    ).rejects.toThrow(/needs 'clock'/)
  })
})
