import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises'
import path from 'node:path'
import { crc32 } from 'node:zlib'
import { Wal, WalCorruptionError, type WalOptions } from '@shoal/wal'
import { Packr } from 'msgpackr'
import type { ConfChange, ConfState, Entry, HardState, Snapshot } from './core/index.ts'
import { RaftStorageCorruptionError } from './errors.ts'
import { initialState, type PersistBatch, type RaftStorage, type StoredState } from './storage.ts'

/*
 * Layout of a member's directory:
 *
 *   META                 JSON {"version":1,"generation":G,"snapshot":"snap-<index>-<term>.bin"|null},
 *                        replaced atomically (write temp, fsync, rename, fsync directory)
 *   wal-<G>/             the @shoal/wal log of generation G
 *   snap-<i>-<t>.bin     the snapshot META names
 *
 * WAL records are msgpack arrays:
 *   [1, index, term, 0, data]            a normal entry
 *   [1, index, term, 1, type, node]      a configuration entry
 *   [2, term, vote, commit]              a hard state (the last one wins)
 * Replay keeps, for each Raft index, the last entry written for it, so a
 * conflicting suffix the leader replaced never survives a restart: the WAL is
 * truncated before the replacement is appended, and the current hard state is
 * appended after every truncation (it may have followed the dropped records).
 *
 * A snapshot received from the leader starts a new generation: the snapshot
 * file, then a fresh wal-<G+1> holding the hard state, then META; a crash
 * before META leaves the previous generation intact. A local snapshot keeps
 * the generation: snapshot file, META, then whole WAL segments before it are
 * removed (after re-appending the hard state so it is never compacted away).
 *
 * Snapshot file: "RSNP" | u32 version=1 | u32 crc32(payload) | u32 payload
 * length | payload = msgpack [index, term, voters, learners, data] (little endian).
 */

const META = 'META'
const SNAPSHOT_MAGIC = 0x504e5352 // "RSNP" read as little-endian u32
const ENTRY = 1
const HARD_STATE = 2

export interface WalRaftStorageOptions {
  /** Membership of a founding member; omit for a member that joins an existing group. */
  bootstrap?: ConfState
  /** Options for the underlying WAL (sync mode, segment size). @defaultValue sync 'always' */
  wal?: WalOptions
}

interface Meta {
  version: 1
  generation: number
  snapshot: string | null
}

/**
 * `RaftStorage` on `@shoal/wal`: one WAL append (one fsync) per Ready holds
 * its entries and hard state; snapshots are checksummed files. Survives kill -9
 * at any point: what `save` resolved is recovered by `load`.
 */
export class WalRaftStorage implements RaftStorage {
  readonly dir: string
  readonly #options: WalRaftStorageOptions
  readonly #packr = new Packr({ useRecords: false })
  #wal: Wal | null = null
  #meta: Meta = { version: 1, generation: 1, snapshot: null }
  #hardState: HardState = { term: 0, vote: null, commit: 0 }
  #snapshotIndex = 0
  /** WAL index of each stored entry after the snapshot, in Raft index order. */
  #walIndexes: number[] = []

  constructor(dir: string, options: WalRaftStorageOptions = {}) {
    this.dir = dir
    this.#options = options
  }

  async load(): Promise<StoredState> {
    await mkdir(this.dir, { recursive: true })
    const meta = await this.#readMeta()
    if (meta === null) return this.#initialise()
    this.#meta = meta
    const snapshot =
      meta.snapshot === null
        ? initialState({ voters: [], learners: [] }).snapshot
        : await this.#readSnapshot(meta.snapshot)
    this.#snapshotIndex = snapshot.meta.index
    const wal = await this.#openWal(meta.generation)
    const entries: Entry[] = []
    this.#walIndexes = []
    try {
      for await (const batch of wal.readBatches(wal.firstIndex)) {
        for (const record of batch) this.#replay(record.index, record.payload, entries)
      }
    } catch (error) {
      throw this.#corruption(error)
    }
    return { hardState: this.#hardState, snapshot, entries }
  }

  async save(batch: PersistBatch): Promise<void> {
    this.#requireWal()
    if (batch.snapshot !== null)
      await this.#installSnapshot(batch.snapshot, batch.hardState ?? this.#hardState)
    const payloads: Uint8Array[] = []
    let truncated = false
    const first = batch.entries[0]
    if (first !== undefined) {
      const position = first.index - this.#snapshotIndex - 1
      if (position < 0 || position > this.#walIndexes.length)
        throw new RangeError(`entry ${first.index} does not follow the stored log`)
      if (position < this.#walIndexes.length) {
        await this.#requireWal().truncateAfter((this.#walIndexes[position] as number) - 1)
        this.#walIndexes.length = position
        truncated = true
      }
      for (const entry of batch.entries) payloads.push(this.#encodeEntry(entry))
    }
    if (batch.hardState !== null) this.#hardState = batch.hardState
    if (batch.hardState !== null || truncated) payloads.push(this.#encodeHardState(this.#hardState))
    if (payloads.length === 0) return
    const last = await this.#requireWal().appendBatch(payloads)
    const firstWal = last - payloads.length + 1
    for (let i = 0; i < batch.entries.length; i++) this.#walIndexes.push(firstWal + i)
  }

  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    const wal = this.#requireWal()
    const drop = snapshot.meta.index - this.#snapshotIndex
    if (drop <= 0) return
    const name = await this.#writeSnapshot(snapshot)
    const previous = this.#meta.snapshot
    await this.#writeMeta({ ...this.#meta, snapshot: name })
    // Keep the latest hard state out of the segments compaction may remove.
    const hardAt = await wal.append(this.#encodeHardState(this.#hardState))
    const next = this.#walIndexes[drop]
    this.#walIndexes = this.#walIndexes.slice(drop)
    this.#snapshotIndex = snapshot.meta.index
    await wal.compactBefore(next ?? hardAt)
    if (previous !== null && previous !== name) await rm(path.join(this.dir, previous), { force: true })
  }

  async close(): Promise<void> {
    const wal = this.#wal
    this.#wal = null
    await wal?.close()
  }

  /** Removes the member's directory (after `close()`): its log, hard state and snapshots. */
  async destroy(): Promise<void> {
    await this.close()
    await rm(this.dir, { recursive: true, force: true })
  }

  // ---- internals --------------------------------------------------------

  async #initialise(): Promise<StoredState> {
    for (const name of await readdir(this.dir)) {
      if (name.startsWith('wal-')) await rm(path.join(this.dir, name), { recursive: true, force: true })
    }
    const state = initialState(this.#options.bootstrap ?? { voters: [], learners: [] })
    this.#meta = { version: 1, generation: 1, snapshot: null }
    const wal = await this.#openWal(1)
    const payloads = [
      ...state.entries.map((e) => this.#encodeEntry(e)),
      this.#encodeHardState(state.hardState),
    ]
    const last = await wal.appendBatch(payloads)
    this.#walIndexes = state.entries.map((_, i) => last - payloads.length + 1 + i)
    this.#hardState = state.hardState
    this.#snapshotIndex = 0
    await this.#writeMeta(this.#meta)
    return state
  }

  #replay(walIndex: number, payload: Uint8Array, entries: Entry[]): void {
    let record: unknown[]
    try {
      record = this.#packr.unpack(payload) as unknown[]
    } catch (error) {
      throw new RaftStorageCorruptionError(`WAL record ${walIndex} does not decode`, { cause: error })
    }
    if (record[0] === HARD_STATE) {
      this.#hardState = {
        term: record[1] as number,
        vote: (record[2] as string | null) ?? null,
        commit: record[3] as number,
      }
      return
    }
    if (record[0] !== ENTRY)
      throw new RaftStorageCorruptionError(`WAL record ${walIndex} has unknown type ${String(record[0])}`)
    const entry = decodeEntry(record)
    if (entry.index <= this.#snapshotIndex) return
    const position = entry.index - this.#snapshotIndex - 1
    if (position > entries.length)
      throw new RaftStorageCorruptionError(`WAL record ${walIndex}: entry ${entry.index} leaves a gap`)
    entries.length = position
    this.#walIndexes.length = position
    entries.push(entry)
    this.#walIndexes.push(walIndex)
  }

  async #installSnapshot(snapshot: Snapshot, hardState: HardState): Promise<void> {
    const name = await this.#writeSnapshot(snapshot)
    const previous = this.#meta.snapshot
    const oldGeneration = this.#meta.generation
    const generation = oldGeneration + 1
    await rm(path.join(this.dir, `wal-${generation}`), { recursive: true, force: true })
    const fresh = await Wal.open(path.join(this.dir, `wal-${generation}`), {
      sync: 'always',
      ...this.#options.wal,
    })
    await fresh.append(this.#encodeHardState(hardState))
    await this.#writeMeta({ version: 1, generation, snapshot: name })
    await this.#wal?.close()
    this.#wal = fresh
    this.#hardState = hardState
    this.#snapshotIndex = snapshot.meta.index
    this.#walIndexes = []
    await rm(path.join(this.dir, `wal-${oldGeneration}`), { recursive: true, force: true })
    if (previous !== null && previous !== name) await rm(path.join(this.dir, previous), { force: true })
  }

  async #openWal(generation: number): Promise<Wal> {
    try {
      this.#wal = await Wal.open(path.join(this.dir, `wal-${generation}`), {
        sync: 'always',
        ...this.#options.wal,
      })
      return this.#wal
    } catch (error) {
      throw this.#corruption(error)
    }
  }

  #corruption(error: unknown): Error {
    if (error instanceof WalCorruptionError)
      return new RaftStorageCorruptionError(`WAL in ${this.dir} is corrupt: ${error.message}`, {
        cause: error,
      })
    return error as Error
  }

  #requireWal(): Wal {
    if (this.#wal === null) throw new Error('WalRaftStorage used before load() or after close()')
    return this.#wal
  }

  #encodeEntry(entry: Entry): Uint8Array {
    if (entry.kind === 'normal') return this.#packr.pack([ENTRY, entry.index, entry.term, 0, entry.data])
    return this.#packr.pack([ENTRY, entry.index, entry.term, 1, entry.change.type, entry.change.node])
  }

  #encodeHardState(hs: HardState): Uint8Array {
    return this.#packr.pack([HARD_STATE, hs.term, hs.vote, hs.commit])
  }

  async #readMeta(): Promise<Meta | null> {
    let text: string
    try {
      text = await readFile(path.join(this.dir, META), 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw error
    }
    try {
      const meta = JSON.parse(text) as Meta
      if (meta.version !== 1 || !Number.isInteger(meta.generation)) throw new Error('unknown META version')
      return meta
    } catch (error) {
      throw new RaftStorageCorruptionError(`META in ${this.dir} is unreadable`, { cause: error })
    }
  }

  async #writeMeta(meta: Meta): Promise<void> {
    await writeDurably(this.dir, META, new TextEncoder().encode(JSON.stringify(meta)))
    this.#meta = meta
  }

  async #writeSnapshot(snapshot: Snapshot): Promise<string> {
    const meta = snapshot.meta
    const payload = this.#packr.pack([
      meta.index,
      meta.term,
      meta.confState.voters,
      meta.confState.learners,
      snapshot.data,
    ])
    const file = new Uint8Array(16 + payload.byteLength)
    const view = new DataView(file.buffer)
    view.setUint32(0, SNAPSHOT_MAGIC, true)
    view.setUint32(4, 1, true)
    view.setUint32(8, crc32(payload), true)
    view.setUint32(12, payload.byteLength, true)
    file.set(payload, 16)
    const name = `snap-${meta.index}-${meta.term}.bin`
    await writeDurably(this.dir, name, file)
    return name
  }

  async #readSnapshot(name: string): Promise<Snapshot> {
    const file = await readFile(path.join(this.dir, name)).catch((error: unknown) => {
      throw new RaftStorageCorruptionError(`snapshot ${name} named by META is missing`, { cause: error })
    })
    const view = new DataView(file.buffer, file.byteOffset, file.byteLength)
    if (file.byteLength < 16 || view.getUint32(0, true) !== SNAPSHOT_MAGIC || view.getUint32(4, true) !== 1)
      throw new RaftStorageCorruptionError(`snapshot ${name}: bad header`)
    const length = view.getUint32(12, true)
    const payload = file.subarray(16, 16 + length)
    if (payload.byteLength !== length || crc32(payload) !== view.getUint32(8, true))
      throw new RaftStorageCorruptionError(`snapshot ${name}: checksum mismatch`)
    const [index, term, voters, learners, data] = this.#packr.unpack(payload) as [
      number,
      number,
      string[],
      string[],
      Uint8Array,
    ]
    return { meta: { index, term, confState: { voters, learners } }, data: new Uint8Array(data) }
  }
}

function decodeEntry(record: unknown[]): Entry {
  const index = record[1] as number
  const term = record[2] as number
  if (record[3] === 0) {
    const data = record[4] as Uint8Array
    return { kind: 'normal', index, term, data }
  }
  const change: ConfChange = { type: record[4] as ConfChange['type'], node: record[5] as string }
  return { kind: 'conf', index, term, change }
}

/** Writes `name` in `dir` so that after a crash it is either the old or the whole new content. */
async function writeDurably(dir: string, name: string, bytes: Uint8Array): Promise<void> {
  const temporary = path.join(dir, `${name}.tmp`)
  const handle = await open(temporary, 'w')
  try {
    await handle.writeFile(bytes)
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(temporary, path.join(dir, name))
  const directory = await open(dir, 'r')
  try {
    await directory.sync()
  } finally {
    await directory.close()
  }
}
