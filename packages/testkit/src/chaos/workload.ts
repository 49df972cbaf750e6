import type { KvInput, KvOutput } from '../lin/kv-model.ts'
import { HistoryRecorder } from '../lin/recorder.ts'
import type { Operation } from '../lin/types.ts'
import type { Rng } from '../rng/index.ts'
import type { ChaosClient, OpOutcome, SystemUnderTest } from './system.ts'

export interface WorkloadOptions {
  /** Concurrent clients. */
  clients: number
  /** Keys the clients write and read (`k0` … `k{keys-1}`). */
  keys: number
  /** Share of reads among operations. */
  readRatio: number
  /** Pause between a client's operations, drawn from [0, maxPauseMs]. */
  maxPauseMs: number
  rng: Rng
  /** The clock stamped on calls and returns (ms since the run started). */
  now: () => number
}

/** Counts per operation kind and outcome. */
export interface OperationCounts {
  total: number
  write: { ok: number; fail: number; info: number }
  read: { ok: number; fail: number; info: number }
}

type KvOperation = Operation<KvInput, KvOutput>

/**
 * Clients writing unique values (`<client>:<n>`) and reading keys at random,
 * recorded with invocation and completion times. A client whose operation
 * ended `info` (unknown) goes on under a new history name, as a Jepsen
 * process would: its pending operation may still take effect later.
 */
export class Workload {
  readonly recorder: HistoryRecorder<KvInput, KvOutput>
  readonly counts: OperationCounts = {
    total: 0,
    write: { ok: 0, fail: 0, info: 0 },
    read: { ok: 0, fail: 0, info: 0 },
  }
  /** Failure and unknown outcomes by reason. */
  readonly reasons = new Map<string, number>()
  /** Completion times of acknowledged writes. */
  readonly acknowledgedAt: number[] = []
  readonly #options: WorkloadOptions
  #running = false
  #loops: Promise<void>[] = []
  #clients: ChaosClient[] = []

  constructor(options: WorkloadOptions) {
    this.#options = options
    this.recorder = new HistoryRecorder({ now: options.now })
  }

  get keys(): string[] {
    return Array.from({ length: this.#options.keys }, (_, i) => `k${i}`)
  }

  start(system: SystemUnderTest): void {
    this.#running = true
    for (let i = 0; i < this.#options.clients; i++) {
      const client = system.client(`c${i}`)
      this.#clients.push(client)
      this.#loops.push(this.#loop(client, i, this.#options.rng.fork()))
    }
  }

  async stop(): Promise<void> {
    this.#running = false
    await Promise.all(this.#loops)
    for (const client of this.#clients) client.close()
    this.#loops = []
    this.#clients = []
  }

  /** Reads every key once through `client`, recorded in the history (retrying reads that fail). */
  async finalReads(client: ChaosClient, deadline: number): Promise<Map<string, string | null>> {
    const values = new Map<string, string | null>()
    for (const key of this.keys) {
      while (!values.has(key)) {
        const outcome = await this.#run('final', { kind: 'read', key }, () => client.read(key))
        if (outcome.status === 'ok') values.set(key, outcome.value)
        else if (this.#options.now() > deadline)
          throw new Error(`final read of ${key} failed: ${outcome.reason}`)
        else await sleep(100)
      }
    }
    return values
  }

  history(): KvOperation[] {
    return this.recorder.history()
  }

  async #loop(client: ChaosClient, index: number, rng: Rng): Promise<void> {
    let generation = 0
    for (let n = 0; this.#running; n++) {
      const name = generation === 0 ? `c${index}` : `c${index}.${generation}`
      const key = `k${rng.int(this.#options.keys)}`
      let outcome: OpOutcome<unknown>
      if (rng.chance(this.#options.readRatio)) {
        outcome = await this.#run(name, { kind: 'read', key }, () => client.read(key))
      } else {
        const value = `${name}:${n}`
        outcome = await this.#run(name, { kind: 'write', key, value }, () => client.write(key, value))
      }
      if (outcome.status === 'info') generation++
      const pause = rng.int(this.#options.maxPauseMs + 1)
      if (pause > 0) await sleep(pause)
    }
  }

  async #run<T>(
    clientId: string,
    input: KvInput,
    operation: () => Promise<OpOutcome<T>>,
  ): Promise<OpOutcome<T>> {
    this.recorder.invoke(clientId, input)
    let outcome: OpOutcome<T>
    try {
      outcome = await operation()
    } catch (error) {
      outcome = { status: 'info', reason: `client error: ${String(error)}` }
    }
    const kind = input.kind === 'read' ? 'read' : 'write'
    this.counts.total++
    this.counts[kind][outcome.status]++
    if (outcome.status === 'ok') {
      this.recorder.ok(clientId, kind === 'read' ? { value: outcome.value as string | null } : {})
      if (kind === 'write') this.acknowledgedAt.push(this.#options.now())
    } else {
      // Numbers (log indexes, ports) would make every reason unique; the kinds are what matter.
      const reason = `${kind} ${outcome.status}: ${outcome.reason.replace(/\d+/g, 'N')}`
      this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + 1)
      // A read has no effect, so a read whose outcome is unknown is as good as failed.
      if (outcome.status === 'fail' || kind === 'read') this.recorder.fail(clientId)
      else this.recorder.info(clientId)
    }
    return outcome
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
