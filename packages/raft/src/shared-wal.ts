import { type FileSystem, NodeFileSystem, Wal, type WalOptions } from '@shoal/wal'
import { Packr } from 'msgpackr'
import {
  type ConfState,
  type Entry,
  type HardState,
  NO_BYTES,
  type Snapshot,
  type SnapshotMeta,
  spliceTail,
} from './core/index.ts'
import { RaftStoppedError, RaftStorageCorruptionError } from './errors.ts'
import {
  corruption,
  DROP,
  EMPTY_META,
  ENTRY,
  type GroupLog,
  HARD_STATE,
  oldestLive,
  replay,
  SNAPSHOT,
} from './shared-wal-records.ts'
import { readSnapshotFile, writeSnapshotFile } from './snapshot-file.ts'
import { initialState, type PersistBatch, type RaftStorage, type StoredState } from './storage.ts'

/*
 * Every group of a host in one write-ahead log, so the Readys of all groups
 * that a flush touches share one write and one fdatasync (@shoal/wal's group
 * commit), instead of one fsync per group.
 *
 *   <dir>/wal/                      the shared @shoal/wal log
 *   <dir>/snapshots/<g>.<i>.<t>     snapshot files (g: the URI-encoded group name)
 *
 * WAL records are msgpack arrays naming their group:
 *   [1, group, index, term, 0, data]                       a normal entry
 *   [1, group, index, term, 1, type, node]                 a configuration entry
 *   [2, group, term, vote, commit]                         a hard state (the last one wins)
 *   [3, group, index, term, voters, learners, file, all]   a snapshot: entries up to index
 *                                                          (all = 1: every entry) are dropped
 *   [4, group]                                             a drop: the group's earlier records
 *                                                          are dead (its replica was removed)
 * An entry record for index i drops the group's entries after i (the leader
 * replaced a conflicting suffix): the log is never truncated, later records win.
 *
 * Recovery replays the log once and routes records by group. A crash between
 * two groups' records of one flush loses only appends whose save() had not
 * resolved (nothing was acknowledged for them); each group's recovered state
 * is a prefix of what it saved. A snapshot file is written and synced before
 * the record naming it; an orphan file left by a crash is ignored.
 *
 * Compaction: a group's live records are its entries after its snapshot, its
 * latest hard state and its latest snapshot record. Whole segments before the
 * oldest live record of any group are removed. A group whose oldest live record
 * lags the log's end by more than `rewriteLagRecords` (an idle group) has its
 * live records copied forward, so it never pins old segments. A dropped group
 * has no live records: its snapshot file is deleted with the drop, and the
 * segments holding its records go as soon as no other group needs them (the
 * drop runs a compaction). Until then replay skips them, so a restart never
 * brings a dropped group back.
 *
 * Records and replay: shared-wal-records.ts; snapshot files: snapshot-file.ts.
 */

/** The snapshot of a group that never took one, shared by all such groups (a member never modifies it). */
const EMPTY_SNAPSHOT: Snapshot = Object.freeze({ meta: EMPTY_META, data: NO_BYTES })

export interface SharedWalOptions {
  /** The file system (a fault-injecting one in tests). @defaultValue NodeFileSystem */
  fs?: FileSystem
  /** Options of the underlying WAL. @defaultValue sync 'always' */
  wal?: WalOptions
  /** Copy a group's live records forward once its oldest one is this many records behind. @defaultValue 65536 */
  rewriteLagRecords?: number
  /** Run `compact()` after this many local snapshots. @defaultValue 16 */
  compactEverySnapshots?: number
}

/** One write-ahead log for every group of a host; `storage(group)` is a group's `RaftStorage`. */
export class SharedWal {
  readonly dir: string
  readonly #fs: FileSystem
  readonly #wal: Wal
  readonly #packr = new Packr({ useRecords: false })
  readonly #groups: Map<string, GroupLog>
  readonly #rewriteLag: number
  readonly #compactEvery: number
  #nextIndex: number
  #snapshotsSinceCompact = 0
  #compacting: Promise<void> | null = null
  #closed = false

  private constructor(
    dir: string,
    fs: FileSystem,
    wal: Wal,
    groups: Map<string, GroupLog>,
    options: SharedWalOptions,
  ) {
    this.dir = dir
    this.#fs = fs
    this.#wal = wal
    this.#groups = groups
    this.#nextIndex = wal.lastIndex + 1
    this.#rewriteLag = options.rewriteLagRecords ?? 65_536
    this.#compactEvery = options.compactEverySnapshots ?? 16
  }

  /** Opens (or creates) the log in `dir` and recovers every group's state. */
  static async open(dir: string, options: SharedWalOptions = {}): Promise<SharedWal> {
    const fs = options.fs ?? new NodeFileSystem()
    await fs.mkdirp(dir)
    const foreign = (await fs.list(dir)).filter((name) => name !== 'wal' && name !== 'snapshots')
    if (foreign.length > 0)
      throw new RaftStorageCorruptionError(
        `${dir} holds ${foreign.slice(0, 3).join(', ')}: not a shared WAL directory (a store per group, or another program's files); refusing to use it`,
      )
    await fs.mkdirp(`${dir}/snapshots`)
    let wal: Wal
    try {
      wal = await Wal.open(`${dir}/wal`, { sync: 'always', ...options.wal, fs })
    } catch (error) {
      throw corruption(dir, error)
    }
    const groups = await replay(wal, new Packr({ useRecords: false }), dir)
    return new SharedWal(dir, fs, wal, groups, options)
  }

  /** Names of the groups with state in the log. */
  get groups(): string[] {
    return [...this.#groups.keys()]
  }

  /** The `RaftStorage` of `group`; `bootstrap` founds it when the log has no state for it. */
  storage(group: string, bootstrap?: ConfState): RaftStorage {
    return new SharedWalGroup(this, group, bootstrap)
  }

  /** Removes segments no group needs, after copying idle groups' live records forward. */
  compact(): Promise<void> {
    this.#compacting ??= this.#compact().finally(() => {
      this.#compacting = null
    })
    return this.#compacting
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#compacting?.catch(() => undefined)
    await this.#wal.close()
  }

  // ---- used by SharedWalGroup ------------------------------------------

  async load(group: string, bootstrap: ConfState | undefined): Promise<StoredState> {
    this.#open()
    let log = this.#groups.get(group)
    if (log === undefined) {
      const state = initialState(bootstrap ?? { voters: [], learners: [] })
      log = {
        hardState: state.hardState,
        hardWal: 0,
        meta: EMPTY_META,
        file: null,
        snapWal: 0,
        entries: [],
        entryWal: [],
      }
      this.#groups.set(group, log)
      await this.save(group, { hardState: state.hardState, entries: state.entries, snapshot: null })
    }
    const data =
      log.file === null
        ? NO_BYTES
        : await readSnapshotFile(this.#fs, this.#packr, `${this.dir}/snapshots/${log.file}`, log.meta)
    const snapshot = log.meta === EMPTY_META && log.file === null ? EMPTY_SNAPSHOT : { meta: log.meta, data }
    return { hardState: log.hardState, snapshot, entries: [...log.entries] }
  }

  /** The group's state changes at call time, in call order, as its records enter the log. */
  async save(group: string, batch: PersistBatch): Promise<void> {
    this.#open()
    const log = this.#log(group)
    const payloads: Uint8Array[] = []
    const stale: string[] = []
    if (batch.snapshot !== null) {
      const file = await this.#writeSnapshot(group, batch.snapshot)
      if (log.file !== null && log.file !== file) stale.push(log.file)
      log.meta = batch.snapshot.meta
      log.file = file
      log.entries = []
      log.entryWal = []
      payloads.push(this.#encodeSnapshot(group, batch.snapshot.meta, file, true))
    }
    const first = batch.entries[0]
    if (first !== undefined) {
      const position = first.index - log.meta.index - 1
      if (position < 0 || position > log.entries.length)
        throw new RangeError(`entry ${first.index} does not follow the stored log of ${group}`)
      for (const entry of batch.entries) payloads.push(this.#encodeEntry(group, entry))
    }
    if (batch.hardState !== null) {
      log.hardState = batch.hardState
      payloads.push(this.#encodeHardState(group, batch.hardState))
    }
    if (payloads.length === 0) return
    let at = this.#reserve(payloads.length)
    const done = this.#wal.appendBatch(payloads)
    if (batch.snapshot !== null) log.snapWal = at++
    if (first !== undefined) {
      const position = first.index - log.meta.index - 1
      const walIndexes = batch.entries.map(() => at++)
      log.entries = spliceTail(log.entries, position, batch.entries)
      log.entryWal = spliceTail(log.entryWal, position, walIndexes)
    }
    if (batch.hardState !== null) log.hardWal = at++
    await done
    for (const file of stale) await this.#removeSnapshot(file)
  }

  async saveSnapshot(group: string, snapshot: Snapshot): Promise<void> {
    this.#open()
    const log = this.#log(group)
    const drop = snapshot.meta.index - log.meta.index
    if (drop <= 0) return
    const file = await this.#writeSnapshot(group, snapshot)
    const previous = log.file
    const at = this.#reserve(1)
    const done = this.#wal.appendBatch([this.#encodeSnapshot(group, snapshot.meta, file, false)])
    log.meta = snapshot.meta
    log.file = file
    log.snapWal = at
    log.entries = log.entries.slice(drop)
    log.entryWal = log.entryWal.slice(drop)
    await done
    if (previous !== null && previous !== file) await this.#removeSnapshot(previous)
    if (++this.#snapshotsSinceCompact >= this.#compactEvery) {
      this.#snapshotsSinceCompact = 0
      await this.compact()
    }
  }

  /**
   * Forgets `group` durably: a drop record is synced, its snapshot file deleted, and a compaction
   * started (segments only it still needed go). A later `storage(group)` starts empty.
   */
  async drop(group: string): Promise<void> {
    this.#open()
    const log = this.#groups.get(group)
    if (log === undefined) return
    this.#groups.delete(group)
    this.#reserve(1)
    await this.#wal.appendBatch([this.#packr.pack([DROP, group])])
    if (log.file !== null) await this.#removeSnapshot(log.file)
    // Compaction runs beside the other groups' saves; `close()` waits for it.
    void this.compact().catch(() => undefined)
  }

  // ---- internals --------------------------------------------------------

  #open(): void {
    if (this.#closed) throw new RaftStoppedError(`shared WAL in ${this.dir} is closed`)
  }

  #log(group: string): GroupLog {
    const log = this.#groups.get(group)
    if (log === undefined) throw new Error(`group ${group} used before load()`)
    return log
  }

  /** WAL indexes follow call order, so the next appends' indexes are known when they are made. */
  #reserve(count: number): number {
    const first = this.#nextIndex
    this.#nextIndex += count
    return first
  }

  async #compact(): Promise<void> {
    const end = this.#nextIndex - 1
    const rewrites: Promise<void>[] = []
    for (const [group, log] of this.#groups)
      if (end - oldestLive(log) > this.#rewriteLag) rewrites.push(this.#rewrite(group, log))
    await Promise.all(rewrites)
    let floor = this.#nextIndex
    for (const log of this.#groups.values()) floor = Math.min(floor, oldestLive(log))
    await this.#wal.compactBefore(Math.min(floor, this.#wal.lastIndex + 1))
  }

  /** Copies a group's live records to the end of the log. */
  async #rewrite(group: string, log: GroupLog): Promise<void> {
    const payloads: Uint8Array[] = []
    if (log.file !== null) payloads.push(this.#encodeSnapshot(group, log.meta, log.file, true))
    for (const entry of log.entries) payloads.push(this.#encodeEntry(group, entry))
    payloads.push(this.#encodeHardState(group, log.hardState))
    let at = this.#reserve(payloads.length)
    const done = this.#wal.appendBatch(payloads)
    if (log.file !== null) log.snapWal = at++
    for (let i = 0; i < log.entryWal.length; i++) log.entryWal[i] = at++
    log.hardWal = at
    await done
  }

  #encodeEntry(group: string, entry: Entry): Uint8Array {
    if (entry.kind === 'normal')
      return this.#packr.pack([ENTRY, group, entry.index, entry.term, 0, entry.data])
    return this.#packr.pack([ENTRY, group, entry.index, entry.term, 1, entry.change.type, entry.change.node])
  }

  #encodeHardState(group: string, hs: HardState): Uint8Array {
    return this.#packr.pack([HARD_STATE, group, hs.term, hs.vote, hs.commit])
  }

  #encodeSnapshot(group: string, meta: SnapshotMeta, file: string, all: boolean): Uint8Array {
    const { voters, learners } = meta.confState
    return this.#packr.pack([SNAPSHOT, group, meta.index, meta.term, voters, learners, file, all ? 1 : 0])
  }

  async #writeSnapshot(group: string, snapshot: Snapshot): Promise<string> {
    const name = `${encodeURIComponent(group)}.${snapshot.meta.index}.${snapshot.meta.term}`
    await writeSnapshotFile(this.#fs, this.#packr, `${this.dir}/snapshots`, name, snapshot)
    return name
  }

  async #removeSnapshot(name: string): Promise<void> {
    await this.#fs.remove(`${this.dir}/snapshots/${name}`).catch(() => undefined)
  }
}

/** A group's view of the shared log. `close()` leaves the log open: its owner closes it. */
class SharedWalGroup implements RaftStorage {
  readonly #shared: SharedWal
  readonly #group: string
  /** Needed until the first `load()` founds the group; dropped then (a host keeps thousands of these). */
  #bootstrap: ConfState | undefined

  constructor(shared: SharedWal, group: string, bootstrap: ConfState | undefined) {
    this.#shared = shared
    this.#group = group
    this.#bootstrap = bootstrap
  }

  async load(): Promise<StoredState> {
    const state = await this.#shared.load(this.#group, this.#bootstrap)
    // The group now has state in the log: a later load() finds it and does not found it again.
    this.#bootstrap = undefined
    return state
  }

  save(batch: PersistBatch): Promise<void> {
    return this.#shared.save(this.#group, batch)
  }

  saveSnapshot(snapshot: Snapshot): Promise<void> {
    return this.#shared.saveSnapshot(this.#group, snapshot)
  }

  async close(): Promise<void> {}

  destroy(): Promise<void> {
    return this.#shared.drop(this.#group)
  }
}
