import { crc32 } from 'node:zlib'
import { type FileSystem, NodeFileSystem, Wal, WalCorruptionError, type WalOptions } from '@shoal/wal'
import { Packr } from 'msgpackr'
import type { ConfChange, ConfState, Entry, HardState, Snapshot, SnapshotMeta } from './core/index.ts'
import { RaftStoppedError, RaftStorageCorruptionError } from './errors.ts'
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
 * live records copied forward, so it never pins old segments.
 *
 * Snapshot file: "RSNP" | u32 version=1 | u32 crc32(payload) | u32 length | payload (little endian).
 */

const ENTRY = 1
const HARD_STATE = 2
const SNAPSHOT = 3
const SNAPSHOT_MAGIC = 0x504e5352

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

interface GroupLog {
  hardState: HardState
  hardWal: number
  meta: SnapshotMeta
  file: string | null
  snapWal: number
  /** Entries after the snapshot, contiguous, with the WAL index of each. */
  entries: Entry[]
  entryWal: number[]
}

const EMPTY_META: SnapshotMeta = { index: 0, term: 0, confState: { voters: [], learners: [] } }

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
    const data = log.file === null ? new Uint8Array(0) : await this.#readSnapshot(log.file, log.meta)
    return { hardState: log.hardState, snapshot: { meta: log.meta, data }, entries: [...log.entries] }
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
      log.entries.length = position
      log.entryWal.length = position
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
    for (const entry of batch.entries) {
      log.entries.push(entry)
      log.entryWal.push(at++)
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
    const payload = this.#packr.pack([snapshot.meta.index, snapshot.meta.term, snapshot.data])
    const bytes = new Uint8Array(16 + payload.byteLength)
    const view = new DataView(bytes.buffer)
    view.setUint32(0, SNAPSHOT_MAGIC, true)
    view.setUint32(4, 1, true)
    view.setUint32(8, crc32(payload), true)
    view.setUint32(12, payload.byteLength, true)
    bytes.set(payload, 16)
    const name = `${encodeURIComponent(group)}.${snapshot.meta.index}.${snapshot.meta.term}`
    const dir = `${this.dir}/snapshots`
    const temporary = `${dir}/${name}.tmp`
    await this.#fs.remove(temporary).catch(() => undefined)
    const handle = await this.#fs.openWrite(temporary, { create: true })
    try {
      await handle.write(bytes, 0, bytes.byteLength, 0)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await this.#fs.rename(temporary, `${dir}/${name}`)
    await this.#fs.syncDir(dir)
    return name
  }

  async #readSnapshot(name: string, meta: SnapshotMeta): Promise<Uint8Array> {
    const path = `${this.dir}/snapshots/${name}`
    let bytes: Uint8Array
    try {
      const handle = await this.#fs.openRead(path)
      try {
        bytes = new Uint8Array(await handle.size())
        let read = 0
        while (read < bytes.byteLength) {
          const n = await handle.read(bytes, read, bytes.byteLength - read, read)
          if (n === 0) break
          read += n
        }
      } finally {
        await handle.close()
      }
    } catch (error) {
      throw new RaftStorageCorruptionError(`snapshot ${path} named by the log is unreadable`, {
        cause: error,
      })
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    if (bytes.byteLength < 16 || view.getUint32(0, true) !== SNAPSHOT_MAGIC || view.getUint32(4, true) !== 1)
      throw new RaftStorageCorruptionError(`snapshot ${path}: bad header`)
    const payload = bytes.subarray(16, 16 + view.getUint32(12, true))
    if (payload.byteLength !== view.getUint32(12, true) || crc32(payload) !== view.getUint32(8, true))
      throw new RaftStorageCorruptionError(`snapshot ${path}: checksum mismatch`)
    const [index, term, data] = this.#packr.unpack(payload) as [number, number, Uint8Array]
    if (index !== meta.index || term !== meta.term)
      throw new RaftStorageCorruptionError(
        `snapshot ${path} holds ${index}/${term}, the log names ${meta.index}/${meta.term}`,
      )
    return new Uint8Array(data)
  }

  async #removeSnapshot(name: string): Promise<void> {
    await this.#fs.remove(`${this.dir}/snapshots/${name}`).catch(() => undefined)
  }
}

/** A group's view of the shared log. `close()` leaves the log open: its owner closes it. */
class SharedWalGroup implements RaftStorage {
  readonly #shared: SharedWal
  readonly #group: string
  readonly #bootstrap: ConfState | undefined

  constructor(shared: SharedWal, group: string, bootstrap: ConfState | undefined) {
    this.#shared = shared
    this.#group = group
    this.#bootstrap = bootstrap
  }

  load(): Promise<StoredState> {
    return this.#shared.load(this.#group, this.#bootstrap)
  }

  save(batch: PersistBatch): Promise<void> {
    return this.#shared.save(this.#group, batch)
  }

  saveSnapshot(snapshot: Snapshot): Promise<void> {
    return this.#shared.saveSnapshot(this.#group, snapshot)
  }

  async close(): Promise<void> {}
}

function oldestLive(log: GroupLog): number {
  let oldest = Number.POSITIVE_INFINITY
  if (log.hardWal > 0) oldest = log.hardWal
  if (log.snapWal > 0) oldest = Math.min(oldest, log.snapWal)
  const first = log.entryWal[0]
  if (first !== undefined) oldest = Math.min(oldest, first)
  return oldest
}

function corruption(dir: string, error: unknown): unknown {
  if (error instanceof WalCorruptionError)
    return new RaftStorageCorruptionError(`shared WAL in ${dir} is corrupt: ${error.message}`, {
      cause: error,
    })
  return error
}

interface Replayed {
  log: GroupLog
  /** Index of entries[0] while replaying (records before a compaction point may leave gaps). */
  base: number
}

/** One pass over the log, routing records to groups (see the format comment above). */
async function replay(wal: Wal, packr: Packr, dir: string): Promise<Map<string, GroupLog>> {
  const replayed = new Map<string, Replayed>()
  const get = (group: string): Replayed => {
    let r = replayed.get(group)
    if (r === undefined) {
      const log: GroupLog = {
        hardState: { term: 0, vote: null, commit: 0 },
        hardWal: 0,
        meta: EMPTY_META,
        file: null,
        snapWal: 0,
        entries: [],
        entryWal: [],
      }
      r = { log, base: 1 }
      replayed.set(group, r)
    }
    return r
  }
  try {
    for await (const batch of wal.readBatches(wal.firstIndex)) {
      for (const record of batch) {
        let fields: unknown[]
        try {
          fields = packr.unpack(record.payload) as unknown[]
        } catch (error) {
          throw new RaftStorageCorruptionError(`shared WAL record ${record.index} does not decode`, {
            cause: error,
          })
        }
        replayRecord(get(fields[1] as string), fields, record.index)
      }
    }
  } catch (error) {
    throw corruption(dir, error)
  }
  const groups = new Map<string, GroupLog>()
  for (const [group, r] of replayed) groups.set(group, finish(group, r))
  return groups
}

function replayRecord(r: Replayed, fields: unknown[], walIndex: number): void {
  const log = r.log
  switch (fields[0]) {
    case HARD_STATE:
      log.hardState = {
        term: fields[2] as number,
        vote: (fields[3] as string | null) ?? null,
        commit: fields[4] as number,
      }
      log.hardWal = walIndex
      return
    case SNAPSHOT: {
      const index = fields[2] as number
      log.meta = {
        index,
        term: fields[3] as number,
        confState: { voters: fields[4] as string[], learners: fields[5] as string[] },
      }
      log.file = fields[6] as string
      log.snapWal = walIndex
      const length = log.entries.length
      const keep = fields[7] === 1 ? 0 : Math.min(length, Math.max(0, r.base + length - 1 - index))
      log.entries = log.entries.slice(length - keep)
      log.entryWal = log.entryWal.slice(length - keep)
      r.base = keep === 0 ? index + 1 : r.base + length - keep
      return
    }
    case ENTRY: {
      const entry = decodeEntry(fields)
      const position = entry.index - r.base
      if (log.entries.length === 0 || position < 0 || position > log.entries.length) {
        // Whatever preceded this record was compacted away: it starts the log here.
        r.base = entry.index
        log.entries = [entry]
        log.entryWal = [walIndex]
        return
      }
      log.entries.length = position
      log.entryWal.length = position
      log.entries.push(entry)
      log.entryWal.push(walIndex)
      return
    }
    default:
      throw new RaftStorageCorruptionError(
        `shared WAL record ${walIndex} has unknown type ${String(fields[0])}`,
      )
  }
}

/** Keeps the entries after the snapshot; they must start right after it. */
function finish(group: string, r: Replayed): GroupLog {
  const log = r.log
  const skip = log.meta.index + 1 - r.base
  if (skip > 0) {
    log.entries = log.entries.slice(skip)
    log.entryWal = log.entryWal.slice(skip)
  } else if (skip < 0 && log.entries.length > 0) {
    throw new RaftStorageCorruptionError(
      `group ${group}: entries resume at ${r.base}, after its snapshot at ${log.meta.index}`,
    )
  }
  return log
}

function decodeEntry(fields: unknown[]): Entry {
  const index = fields[2] as number
  const term = fields[3] as number
  if (fields[4] === 0) return { kind: 'normal', index, term, data: fields[5] as Uint8Array }
  const change: ConfChange = { type: fields[5] as ConfChange['type'], node: fields[6] as string }
  return { kind: 'conf', index, term, change }
}
