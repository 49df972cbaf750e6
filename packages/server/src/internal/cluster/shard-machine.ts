import { randomUUID } from 'node:crypto'
import { rm } from 'node:fs/promises'
import path from 'node:path'
import type { ShardGroupRef, ShardMachineFactory } from '@shoal/cluster'
import { type Command, type Engine, openReplica, ShoalError } from '@shoal/engine'
import type { NormalEntry, StateMachine } from '@shoal/raft'
import { Packr } from 'msgpackr'
import { ReplicaReadGate } from './replica-read-gate.ts'
import { applyRepair, type ReplicaRepair, readRepairJournal, writeRepairJournal } from './replica-repairs.ts'
import {
  isRegionTag,
  type LedgerImage,
  ShardRegionLedger,
  type ShardRegionTag,
} from './shard-region-ledger.ts'

/**
 * One entry of a shard's Raft log: an engine command tagged with the task it belongs to. The
 * shard applies each task's command once: a re-sent copy (after a lost answer, or a task run
 * again by a new scheduler) returns the first outcome and changes nothing.
 */
export interface ShardEntry {
  /** The task, or the tasks of a batch of document additions merged into one command. */
  readonly taskUids: readonly number[]
  readonly command: Command
  /**
   * The step of the task this command is (absent: 0). A task that writes one shard twice (a
   * `field`-sharded index moving documents out of a shard that also receives some: the additions
   * first, the deletions of the moved copies after) sends the second command as step 1, so it is
   * not taken for a re-sent copy of the first. At most `MAX_TASK_STEPS` - 1.
   */
  readonly step?: number
  /**
   * The index creation a task makes on its shards before its own write (a document addition or a
   * settings change to an index that does not exist yet creates it, as in Meilisearch). It is
   * remembered apart from the task's steps: under the task's step 0 it would pass for the task's
   * write already applied, and the write would be dropped.
   */
  readonly creation?: true
  /**
   * The write's region tag when its index is replicated to other regions (docs/multi-region.md,
   * "Regions made of clusters"): it is settled in the replica's region ledger before it applies.
   */
  readonly region?: ShardRegionTag
}

/** Own feed entries a shard replica's region ledger keeps for gap fills, by default. */
export const DEFAULT_LEDGER_RETAIN_ENTRIES = 10_000
/** …and at most this many bytes of their shard entries (64 MiB). */
export const DEFAULT_LEDGER_RETAIN_BYTES = 64 * 1024 * 1024

/** Steps a task may take in one shard (0 and 1). */
export const MAX_TASK_STEPS = 2

/**
 * The key a command's outcome is remembered under: the task uid for step 0 (as before steps
 * existed, so images written then read the same), the uid plus a fraction for a later step.
 */
function outcomeKey(taskUid: number, step: number, creation: boolean): number {
  if (creation) return -taskUid - 1
  return step === 0 ? taskUid : taskUid + step / MAX_TASK_STEPS
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
  /** Versions, conflicts and feed of this replica's replicated indexes (shard-region-ledger.ts). */
  readonly regionLedger: ShardRegionLedger
  /** Whether this replica may serve eventual reads yet (it opens closed: see replica-read-gate.ts). */
  readonly readGate = new ReplicaReadGate()
  #outcomes = new Map<number, ShardOutcome>()
  /** The highest task uid applied here (kept when its outcome is forgotten). */
  #highestTask = -1
  /**
   * The log index of the last entry given to `apply` (0: none; null: unknown, after restoring a
   * snapshot written before it was recorded). Replicas that applied the same committed entries
   * hold the same state, so equal positions are what anti-entropy compares at.
   */
  #position: number | null = 0
  /** An apply, restore or repair is running: the state and #position may disagree meanwhile. */
  #busy = false
  /** Applies, restores and repairs called and not finished (queued ones included). */
  #pending = 0
  /** Repairs and applies run one at a time, in call order. */
  #turn: Promise<unknown> = Promise.resolve()
  /** Anti-entropy repairs made to this replica, journaled durably (replica-repairs.ts). */
  #repairs: ReplicaRepair[]
  /** Ids of the repairs the state holds at the current position (kept in snapshots). */
  #repairedHere: string[] = []
  /**
   * Names the replica's state the same on every replica of the shard: the Raft index of the last
   * entry applied (and the anti-entropy repairs made there). Replicas apply the same entries in the
   * same order, so two replicas with the same version hold the same documents and settings. Null
   * while an entry, a snapshot or a repair is being applied, and after restoring an image that did
   * not record its index, until the next entry; a null version matches nothing.
   */
  get stateVersion(): string | null {
    return this.#pending > 0 || this.#position === null
      ? null
      : `r${this.#position}.${this.#repairedHere.length}`
  }

  readonly #onRestored: ((seconds: number) => void) | undefined

  /** `onRestored`: told how long each snapshot install (`restore`) took, in seconds. */
  constructor(
    engine: Engine,
    repairs: readonly ReplicaRepair[] = [],
    onRestored?: (seconds: number) => void,
    ledgerRetainEntries = DEFAULT_LEDGER_RETAIN_ENTRIES,
    ledgerRetainBytes = DEFAULT_LEDGER_RETAIN_BYTES,
  ) {
    this.engine = engine
    this.regionLedger = new ShardRegionLedger(ledgerRetainEntries, ledgerRetainBytes)
    this.#repairs = [...repairs]
    this.#onRestored = onRestored
  }

  /** The entry position the state is at, or null while a change is running (or after an old snapshot). */
  position(): number | null {
    return this.#busy ? null : this.#position
  }

  /**
   * Repairs the state outside the Raft log when it is still at `position` (anti-entropy's repair
   * of a replica that diverged: it brings the replica back to what the majority holds at that
   * position). The repair is journaled durably first, and applied again whenever a restart
   * replays the log to that position. Returns false, changing nothing, when the replica moved.
   */
  repair(position: number, change: Omit<ReplicaRepair, 'id' | 'position'>): Promise<boolean> {
    return this.#exclusively(async () => {
      if (this.#position !== position) return false
      const repair: ReplicaRepair = { id: randomUUID(), position, ...change }
      await writeRepairJournal(this.engine.dir, [...this.#repairs, repair])
      this.#repairs.push(repair)
      await applyRepair(this.engine, repair)
      this.#repairedHere.push(repair.id)
      return true
    })
  }

  /** Applies the journaled repairs made at the current position that the state does not hold yet. */
  async #reapplyRepairs(): Promise<void> {
    for (const repair of this.#repairs) {
      if (repair.position !== this.#position || this.#repairedHere.includes(repair.id)) continue
      // It failed (or not) the same way when it was made; a refusal changed nothing then either.
      await applyRepair(this.engine, repair).catch(() => {})
      this.#repairedHere.push(repair.id)
    }
  }

  #exclusively<T>(run: () => Promise<T>): Promise<T> {
    // Counted from the call (not from when its turn comes): the state is about to change.
    this.#pending++
    const next = this.#turn.then(async () => {
      this.#busy = true
      try {
        return await run()
      } finally {
        this.#busy = false
        this.#pending--
      }
    })
    this.#turn = next.catch(() => {})
    return next
  }

  apply(entry: NormalEntry): Promise<ShardOutcome> {
    return this.#exclusively(async () => {
      const outcome = await this.#apply(entry)
      this.#position = entry.index
      this.#repairedHere = []
      await this.#reapplyRepairs()
      return outcome
    })
  }

  async #apply(entry: NormalEntry): Promise<ShardOutcome> {
    let decoded: ShardEntry
    try {
      decoded = packr.unpack(entry.data) as ShardEntry
      if (
        !Array.isArray(decoded?.taskUids) ||
        // A remote region's write is no task here: it may carry none, the ledger deduplicates it.
        (decoded.taskUids.length === 0 && decoded.region?.kind !== 'remote') ||
        !decoded.taskUids.every((uid) => typeof uid === 'number') ||
        typeof decoded.command?.type !== 'string' ||
        !(
          decoded.step === undefined ||
          (Number.isInteger(decoded.step) && decoded.step >= 0 && decoded.step < MAX_TASK_STEPS)
        ) ||
        !(decoded.creation === undefined || decoded.creation === true) ||
        !(decoded.region === undefined || isRegionTag(decoded.region))
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
    if (decoded.taskUids.length === 0) {
      try {
        return await this.#applyCommand(entry.index, decoded, entry.data.byteLength)
      } catch (error) {
        return failure(error)
      }
    }
    // Applied already when every task it carries was (a batch may be re-run task by task).
    const step = decoded.step ?? 0
    const creation = decoded.creation === true
    const seen = decoded.taskUids.map((uid) => this.#outcomes.get(outcomeKey(uid, step, creation)))
    if (seen.every((outcome) => outcome !== undefined)) return seen[0] as ShardOutcome
    // A batch re-sent after this shard moved past it (a deposed scheduler's late entry): one of its
    // tasks was applied, and so was a later task, which the scheduler runs only once every earlier
    // task has ended. Applying the batch again would undo that later task's writes.
    const firstSeen = seen.find((outcome) => outcome !== undefined)
    if (firstSeen !== undefined && Math.max(...decoded.taskUids) < this.#highestTask) return firstSeen
    let outcome: ShardOutcome
    try {
      outcome = await this.#applyCommand(entry.index, decoded, entry.data.byteLength)
    } catch (error) {
      outcome = failure(error)
    }
    for (const uid of decoded.taskUids) this.#outcomes.set(outcomeKey(uid, step, creation), outcome)
    this.#highestTask = Math.max(this.#highestTask, ...decoded.taskUids)
    while (this.#outcomes.size > REMEMBERED_TASKS) {
      // Insertion order is apply order: forget the oldest.
      const oldest = this.#outcomes.keys().next().value as number
      this.#outcomes.delete(oldest)
    }
    return outcome
  }

  /** Applies an entry's command, settled in the region ledger first when it carries a region tag. */
  async #applyCommand(index: number, decoded: ShardEntry, bytes: number): Promise<ShardOutcome> {
    if (decoded.region === undefined) {
      const result = await this.engine.apply(decoded.command)
      return result.ok ? { ok: true, value: result.value } : failure(result.error)
    }
    const engine = this.engine
    const settled = this.regionLedger.settle(
      index,
      decoded.region,
      decoded.command,
      {
        primaryKeyOf: (uid) => (engine.hasIndex(uid) ? engine.getIndex(uid).primaryKey : null),
        hasIndex: (uid) => engine.hasIndex(uid),
        documentOf: (uid, id) => {
          try {
            return engine.index(uid).getDocument(id)
          } catch {
            return null
          }
        },
      },
      bytes,
    )
    if (settled.command === null) {
      settled.commit()
      return { ok: true, value: null }
    }
    const result = await this.engine.apply(settled.command)
    // A refused command changed nothing: it has no version and is not fed to other regions.
    if (result.ok) settled.commit()
    else settled.refused()
    return result.ok ? { ok: true, value: result.value } : failure(result.error)
  }

  /**
   * The replica's image: what is remembered beside the engine is copied, and the engine's state
   * taken, before the first pause, so all of it is the state at one position; the engine image is
   * then encoded in slices, letting searches and other groups' work run in between.
   */
  async snapshot(): Promise<Uint8Array> {
    const outcomes = [...this.#outcomes]
    const position = this.#position
    const repairedHere = [...this.#repairedHere]
    const ledger = this.regionLedger.toImage()
    const engine = await this.engine.imageInSlices()
    return packr.pack({ engine, outcomes, position, repairedHere, ledger })
  }

  restore(data: Uint8Array): Promise<void> {
    return this.#exclusively(async () => {
      const started = performance.now()
      await this.#restore(data)
      this.#onRestored?.((performance.now() - started) / 1000)
    })
  }

  async #restore(data: Uint8Array): Promise<void> {
    if (data.byteLength === 0) {
      await this.engine.restoreImage(new Uint8Array(0))
      this.#outcomes = new Map()
      this.#highestTask = -1
      this.#position = 0
      this.#repairedHere = []
      this.regionLedger.restore(undefined)
      return
    }
    const image = packr.unpack(data) as {
      engine: Uint8Array
      outcomes: [number, ShardOutcome][]
      position?: number | null
      repairedHere?: string[]
      ledger?: LedgerImage
    }
    await this.engine.restoreImage(image.engine)
    this.regionLedger.restore(image.ledger)
    this.#outcomes = new Map(image.outcomes)
    this.#highestTask = Math.max(-1, ...this.#outcomes.keys())
    this.#position = typeof image.position === 'number' ? image.position : null
    this.#repairedHere = Array.isArray(image.repairedHere) ? [...image.repairedHere] : []
    const position = this.#position
    if (position === null) return
    // Repairs before the snapshot's position are in its state (or superseded by it): forgotten.
    this.#repairs = this.#repairs.filter((repair) => repair.position >= position)
    await this.#reapplyRepairs()
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
/** `onRestored`: told how long each replica's snapshot install took, in seconds. */
export function engineShardFactory(
  root: string,
  onRestored?: (seconds: number) => void,
): ShardMachineFactory {
  const folder = (ref: ShardGroupRef) => path.join(root, `${ref.name}-${ref.createdAtMs}-${ref.shard}`)
  return {
    async open(ref) {
      const engine = await openReplica(folder(ref))
      return new EngineShardMachine(engine, await readRepairJournal(folder(ref)), onRestored)
    },
    async close(ref, machine, deleted) {
      await (machine as EngineShardMachine).engine.close()
      if (deleted) await rm(folder(ref), { recursive: true, force: true })
    },
  }
}
