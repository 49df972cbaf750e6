import { rm } from 'node:fs/promises'
import path from 'node:path'
import type { ShardGroupRef, ShardMachineFactory } from '@shoal/cluster'
import { type Command, type Engine, openReplica, ShoalError } from '@shoal/engine'
import type { NormalEntry, StateMachine } from '@shoal/raft'
import { Packr } from 'msgpackr'

/**
 * One entry of a shard's Raft log: an engine command tagged with the task it belongs to. The
 * shard applies each task's command once: a re-sent copy (after a lost answer, or a task run
 * again by a new scheduler) returns the first outcome and changes nothing.
 */
export interface ShardEntry {
  /** The task, or the tasks of a batch of document additions merged into one command. */
  readonly taskUids: readonly number[]
  readonly command: Command
}

/** What applying a shard entry produced; plain data, so it travels back to a forwarding node. */
export type ShardOutcome =
  | { readonly ok: true; readonly value: unknown }
  | {
      readonly ok: false
      readonly code: string
      readonly type: string
      readonly httpStatus: number
      readonly message: string
    }

/** How many task outcomes a shard remembers for deduplication (the oldest are forgotten). */
export const REMEMBERED_TASKS = 10_000

const packr = new Packr({ useRecords: false, moreTypes: false })

export function encodeShardEntry(entry: ShardEntry): Uint8Array {
  return packr.pack(entry)
}

/**
 * The state machine of one shard replica: an engine partition that keeps no log of its own (the
 * shard's Raft log is its command log). Snapshots are the engine's image plus the remembered task
 * outcomes.
 */
export class EngineShardMachine implements StateMachine {
  readonly engine: Engine
  #outcomes = new Map<number, ShardOutcome>()
  /** The log index of the last entry applied (0: the initial state; null: unknown, see `stateVersion`). */
  #appliedIndex: number | null = 0
  /** Applies or restores under way: the engine may be between two states. */
  #changing = 0

  constructor(engine: Engine) {
    this.engine = engine
  }

  /**
   * Names the replica's state the same on every replica of the shard: the Raft index of the last
   * entry applied. Replicas apply the same entries in the same order, so two replicas (or one at
   * two moments) with the same version hold the same documents and settings. Null while an entry
   * or a snapshot is being applied, and after restoring an image that did not record its index,
   * until the next entry; a null version matches nothing.
   */
  get stateVersion(): string | null {
    return this.#changing > 0 || this.#appliedIndex === null ? null : `r${this.#appliedIndex}`
  }

  async apply(entry: NormalEntry): Promise<ShardOutcome> {
    this.#changing++
    try {
      return await this.#apply(entry)
    } finally {
      this.#appliedIndex = entry.index
      this.#changing--
    }
  }

  async #apply(entry: NormalEntry): Promise<ShardOutcome> {
    let decoded: ShardEntry
    try {
      decoded = packr.unpack(entry.data) as ShardEntry
      if (
        !Array.isArray(decoded?.taskUids) ||
        decoded.taskUids.length === 0 ||
        !decoded.taskUids.every((uid) => typeof uid === 'number') ||
        typeof decoded.command?.type !== 'string'
      )
        throw new TypeError('not a shard entry')
    } catch {
      return {
        ok: false,
        code: 'internal',
        type: 'internal',
        httpStatus: 500,
        message: 'malformed shard entry',
      }
    }
    // Applied already when every task it carries was (a batch may be re-run task by task).
    const seen = decoded.taskUids.map((uid) => this.#outcomes.get(uid))
    if (seen.every((outcome) => outcome !== undefined)) return seen[0] as ShardOutcome
    let outcome: ShardOutcome
    try {
      const result = await this.engine.apply(decoded.command)
      outcome = result.ok ? { ok: true, value: result.value } : failure(result.error)
    } catch (error) {
      outcome = failure(error)
    }
    for (const uid of decoded.taskUids) this.#outcomes.set(uid, outcome)
    while (this.#outcomes.size > REMEMBERED_TASKS) {
      // Insertion order is apply order: forget the oldest.
      const oldest = this.#outcomes.keys().next().value as number
      this.#outcomes.delete(oldest)
    }
    return outcome
  }

  snapshot(): Uint8Array {
    return packr.pack({
      engine: this.engine.image(),
      outcomes: [...this.#outcomes],
      appliedIndex: this.#appliedIndex,
    })
  }

  async restore(data: Uint8Array): Promise<void> {
    this.#changing++
    try {
      if (data.byteLength === 0) {
        await this.engine.restoreImage(new Uint8Array(0))
        this.#outcomes = new Map()
        this.#appliedIndex = 0
        return
      }
      const image = packr.unpack(data) as {
        engine: Uint8Array
        outcomes: [number, ShardOutcome][]
        appliedIndex?: number | null
      }
      // Unknown until the next entry if the restore fails half way.
      this.#appliedIndex = null
      await this.engine.restoreImage(image.engine)
      this.#outcomes = new Map(image.outcomes)
      // Images written before the index was recorded leave the version unknown.
      this.#appliedIndex = typeof image.appliedIndex === 'number' ? image.appliedIndex : null
    } finally {
      this.#changing--
    }
  }
}

function failure(error: unknown): ShardOutcome {
  if (error instanceof ShoalError)
    return {
      ok: false,
      code: error.code,
      type: error.type,
      httpStatus: error.httpStatus,
      message: error.message,
    }
  return {
    ok: false,
    code: 'internal',
    type: 'internal',
    httpStatus: 500,
    message: error instanceof Error ? error.message : String(error),
  }
}

/** Shard replicas as engine partitions under `<dataDir>/shards/`, one folder per replica. */
export function engineShardFactory(root: string): ShardMachineFactory {
  const folder = (ref: ShardGroupRef) => path.join(root, `${ref.indexUid}-${ref.createdAtMs}-${ref.shard}`)
  return {
    async open(ref) {
      return new EngineShardMachine(await openReplica(folder(ref)))
    },
    async close(ref, machine, deleted) {
      await (machine as EngineShardMachine).engine.close()
      if (deleted) await rm(folder(ref), { recursive: true, force: true })
    },
  }
}
