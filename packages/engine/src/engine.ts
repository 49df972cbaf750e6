import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import {
  CommandLogCorruptionError,
  EngineClosedError,
  InvalidDocumentError,
  ShoalError,
  SnapshotCorruptionError,
} from './errors.ts'
import { Index, type IndexHost } from './index-handle.ts'
import {
  decodeCommandInSlices,
  type EncodedCommand,
  encodeCommandInSlices,
  encodeValueInSlices,
} from './internal/command-slices.ts'
import {
  type ApplyResult,
  type Command,
  decodeCommand,
  decodeValue,
  encodeValue,
} from './internal/commands.ts'
import { type DatabaseImage, DatabaseState } from './internal/database-state.ts'
import { FolderSize } from './internal/folder-size.ts'
import type { Components } from './internal/index-state.ts'
import type { CommandLog } from './internal/ports.ts'
import {
  frameSnapshot,
  frameSnapshotInSlices,
  type SnapshotFrame,
  SnapshotStore,
  unframeSnapshot,
  unframeSnapshotInSlices,
} from './internal/snapshot-file.ts'
import type { EngineEvent, IndexInfo, IndexStats, OpenOptions, SettingsUpdate } from './types.ts'

/** What `Engine.start` is built from: the log (already open) and the search cores. */
export interface EngineDependencies {
  log: CommandLog
  components: Components
}

interface Pending {
  command: Command
  /** Settles in call order's time; undefined when the command could not be encoded (rejected). */
  encoded: Promise<EncodedCommand | undefined>
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
}

const EXPORT_CHUNK_BYTES = 1 << 20

/**
 * How long one slice of background vector indexing may run before it yields to the event loop
 * (it stops at the first chunk of up to four graph operations that ends past it).
 */
export const INDEXING_SLICE_MS = 4

/** How soon vector indexing looks again while every graph with a backlog is held for an image. */
const HELD_RETRY_MS = 5

/**
 * While a write is being checked, encoded or applied, background vector indexing gives way to it
 * (it takes no slice in that write's pauses, only while the write waits on the disk and once no
 * write is busy), until the queue holds this many floats (queued vectors times their dimensions;
 * 16 MiB): past it, each search's exact scan of the queue would cost more than it saves, and the
 * graph takes its slices between write chunks again, so a steady stream of writes cannot grow the
 * queue without bound.
 */
export const INDEXING_GIVES_WAY_FLOATS = 1 << 22

/**
 * The embedded database. Every mutation is a command: validated against the
 * current state (a bad one is rejected with a typed error and never logged),
 * encoded once, appended to the command log — writes that arrive while an
 * append is in flight go together into the next `appendBatch`, one fsync for
 * all — and applied in log order once durable. Reads see every write that has
 * resolved.
 */
export class Engine {
  readonly dir: string
  readonly #options: Required<Omit<OpenOptions, 'onEvent'>> & Pick<OpenOptions, 'onEvent'>
  readonly #log: CommandLog
  readonly #snapshots: SnapshotStore
  readonly #components: Components
  #state: DatabaseState
  #appliedIndex: number
  #queue: Pending[] = []
  #chain: Promise<unknown> = Promise.resolve()
  #flushing: Promise<void> | undefined
  #snapshotting: Promise<{ index: number; bytes: number }> | undefined
  #sinceSnapshot = 0
  #failure: Error | undefined
  #closed = false
  readonly #handles = new Map<string, Index>()
  readonly #host: IndexHost
  /** The next slice of vector indexing, when one is scheduled: cancels it. */
  #indexing: (() => void) | undefined
  /** Writes whose CPU work (check, encoding, apply) is under way; vector indexing gives way to them. */
  #busyWrites = 0
  #indexedWaiters: { resolve: () => void; reject: (error: unknown) => void }[] = []
  readonly #folderSize: FolderSize

  private constructor(
    dir: string,
    options: OpenOptions,
    deps: EngineDependencies,
    snapshots: SnapshotStore,
    state: DatabaseState,
    appliedIndex: number,
  ) {
    this.dir = dir
    this.#folderSize = new FolderSize(dir)
    this.#options = {
      sync: options.sync ?? 'always',
      snapshotEvery: options.snapshotEvery ?? 10_000,
      walSegmentBytes: options.walSegmentBytes ?? 64 * 1024 * 1024,
      onEvent: options.onEvent,
    }
    this.#log = deps.log
    this.#components = deps.components
    this.#snapshots = snapshots
    this.#state = state
    this.#appliedIndex = appliedIndex
    this.#host = {
      state: () => this.#state,
      submit: (command) => this.#submit(command),
      now: () => new Date().toISOString(),
    }
  }

  /**
   * Recovery: load the newest valid snapshot (a corrupt one is reported and
   * the one before it is tried), then replay the log after it. Throws
   * SnapshotCorruptionError when no valid snapshot is left and the log no
   * longer reaches back far enough to rebuild the state.
   */
  static async start(dir: string, options: OpenOptions, deps: EngineDependencies): Promise<Engine> {
    const started = performance.now()
    await mkdir(dir, { recursive: true })
    const snapshots = new SnapshotStore(path.join(dir, 'snapshots'))
    await snapshots.init()
    let state: DatabaseState | undefined
    let snapshotIndex = 0
    for (const candidate of await snapshots.list()) {
      try {
        const frame = await snapshots.read(candidate.file)
        state = await DatabaseState.fromImage(
          deps.components,
          decodeValue(frame.body) as DatabaseImage,
          frame.version,
        )
        snapshotIndex = frame.index
        break
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error)
        options.onEvent?.({ type: 'snapshot-rejected', file: candidate.file, reason })
      }
    }
    const log = deps.log
    if (snapshotIndex + 1 < log.firstIndex) {
      await log.close()
      throw new SnapshotCorruptionError(
        dir,
        `no valid snapshot reaches the log: the newest valid snapshot covers commands up to ${snapshotIndex}, the log starts at ${log.firstIndex}`,
      )
    }
    if (log.lastIndex < snapshotIndex) {
      // New commands would get indexes the snapshot already covers and be skipped on replay.
      await log.close()
      throw new CommandLogCorruptionError(
        log.lastIndex + 1,
        `the log ends at ${log.lastIndex}, before the snapshot's index ${snapshotIndex}`,
      )
    }
    state ??= new DatabaseState(deps.components)
    let replayed = 0
    let failed = 0
    let applied = snapshotIndex
    for await (const { index, payload } of log.read(snapshotIndex + 1)) {
      let command: Command
      try {
        command = decodeCommand(payload)
      } catch (error) {
        await log.close()
        throw new CommandLogCorruptionError(index, error instanceof Error ? error.message : String(error))
      }
      const result = await state.apply(command)
      if (!result.ok) failed++
      replayed++
      applied = index
    }
    const engine = new Engine(dir, options, deps, snapshots, state, applied)
    engine.#sinceSnapshot = replayed
    engine.#scheduleIndexing()
    options.onEvent?.({
      type: 'recovered',
      snapshotIndex,
      replayedCommands: replayed,
      failedCommands: failed,
      durationMs: performance.now() - started,
    })
    return engine
  }

  // Indexes.

  async createIndex(
    uid: string,
    opts: { primaryKey?: string; settings?: SettingsUpdate } = {},
  ): Promise<IndexInfo> {
    if (opts.primaryKey !== undefined && (typeof opts.primaryKey !== 'string' || opts.primaryKey === '')) {
      throw new InvalidDocumentError('`primaryKey` must be a non-empty string.', 'invalid_index_primary_key')
    }
    return (await this.#submit({
      type: 'createIndex',
      uid,
      primaryKey: opts.primaryKey ?? null,
      settings: opts.settings ?? null,
      at: this.#host.now(),
    })) as IndexInfo
  }

  listIndexes(): IndexInfo[] {
    return this.#state.uids().map((uid) => this.#state.index(uid).info)
  }

  getIndex(uid: string): IndexInfo {
    return this.#state.index(uid).info
  }

  hasIndex(uid: string): boolean {
    return this.#state.has(uid)
  }

  async updateIndex(uid: string, opts: { primaryKey: string }): Promise<IndexInfo> {
    return (await this.#submit({
      type: 'updateIndex',
      uid,
      primaryKey: opts.primaryKey,
      at: this.#host.now(),
    })) as IndexInfo
  }

  async deleteIndex(uid: string): Promise<void> {
    await this.#submit({ type: 'deleteIndex', uid, at: this.#host.now() })
    this.#handles.delete(uid)
  }

  /**
   * Swaps pairs of indexes (documents, settings and all) in one atomic step,
   * or renames the first of a pair to the second when `rename` is set. Fails
   * whole (nothing changes) when a uid is repeated, an index is missing, or a
   * rename's target exists.
   */
  async swapIndexes(swaps: { indexes: [string, string]; rename?: boolean }[]): Promise<void> {
    await this.#submit({
      type: 'swapIndexes',
      swaps: swaps.map((s) => ({ indexes: s.indexes, rename: s.rename ?? false })),
      at: this.#host.now(),
    })
    // Handles name their index by uid; both uids of every pair now point elsewhere.
    for (const { indexes } of swaps) for (const uid of indexes) this.#handles.delete(uid)
  }

  /** A handle on an existing index; throws IndexNotFoundError. */
  index(uid: string): Index {
    this.#state.index(uid)
    let handle = this.#handles.get(uid)
    if (handle === undefined) {
      handle = new Index(this.#host, uid)
      this.#handles.set(uid, handle)
    }
    return handle
  }

  /**
   * Counts kept up to date by every write; no walk over documents or files. `databaseSize` is the
   * data folder's size as last measured: at open, then again in the background after each logged
   * batch and snapshot, so it may lag the newest write by one measurement.
   */
  stats(): { databaseSize: number; indexes: Record<string, IndexStats> } {
    const indexes: Record<string, IndexStats> = {}
    for (const uid of this.#state.uids()) indexes[uid] = this.#state.index(uid).stats()
    return { databaseSize: this.#folderSize.bytes ?? 0, indexes }
  }

  /**
   * Applies one command to the state without logging it: the deterministic
   * state-machine step for a caller that owns a replicated log (Raft). A
   * command that fails validation leaves the state unchanged and returns its
   * error.
   */
  async apply(command: Command): Promise<ApplyResult> {
    this.#beginWriteWork()
    try {
      return await this.#serially(() => this.#state.apply(command))
    } finally {
      this.#endWriteWork()
    }
  }

  /**
   * Validates a command against the current state without applying or logging it: what `apply`
   * would refuse, this throws as the same typed error. A replicated caller checks a write on the
   * replica that will apply it before the write is replicated.
   */
  check(command: Command): void {
    this.#state.check(command)
  }

  // Background vector indexing.

  /**
   * Vector additions and removals accepted but not yet in the HNSW graphs. Searches already see
   * them (the not-yet-indexed vectors are scanned exactly and merged in); the graphs take them
   * in slices of a few milliseconds between other work.
   */
  vectorBacklog(): number {
    return this.#state.vectorBacklog()
  }

  /** Resolves once the vector backlog is empty (rejects with EngineClosedError on close). */
  whenVectorsIndexed(): Promise<void> {
    if (this.#closed) return Promise.reject(new EngineClosedError())
    if (this.#state.vectorBacklog() === 0) return Promise.resolve()
    return new Promise((resolve, reject) => {
      this.#indexedWaiters.push({ resolve, reject })
      this.#scheduleIndexing()
    })
  }

  #scheduleIndexing(): void {
    if (this.#indexing !== undefined || this.#closed) return
    if (this.#state.vectorBacklog() === 0) {
      for (const waiter of this.#indexedWaiters.splice(0)) waiter.resolve()
      return
    }
    if (!this.#state.vectorsDrainable()) {
      // Every graph with a backlog is held while an image is built in slices: look again later
      // rather than spin through empty slices.
      const retry = setTimeout(() => {
        this.#indexing = undefined
        this.#scheduleIndexing()
      }, HELD_RETRY_MS)
      this.#indexing = () => clearTimeout(retry)
      return
    }
    const slice = setImmediate(() => {
      this.#indexing = undefined
      // Given way to a busy write: the last one to finish its CPU work schedules indexing again.
      if (this.#busyWrites > 0 && this.#state.vectorBacklogFloats() < INDEXING_GIVES_WAY_FLOATS) return
      const end = performance.now() + INDEXING_SLICE_MS
      try {
        this.#state.drainVectors(() => performance.now() < end)
      } catch (error) {
        // A graph that refuses an operation the engine validated is a broken invariant: stop
        // accepting writes, as after a log failure, rather than serve a graph that disagrees.
        this.#failure = error instanceof Error ? error : new Error(String(error))
        for (const waiter of this.#indexedWaiters.splice(0)) waiter.reject(this.#failure)
        return
      }
      this.#scheduleIndexing()
    })
    this.#indexing = () => clearImmediate(slice)
  }

  /** Runs state changes one at a time, in call order. */
  #serially<T>(change: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(change)
    this.#chain = run.catch(() => {})
    return run
  }

  #beginWriteWork(): void {
    this.#busyWrites++
  }

  #endWriteWork(): void {
    if (--this.#busyWrites === 0) this.#scheduleIndexing()
  }

  // Writes.

  async #submit(command: Command): Promise<unknown> {
    this.#checkWritable()
    // A large document write is checked and encoded in slices (see command-slices.ts); the entry
    // joins the queue now, so log order stays call order whatever their durations. A command the
    // check refuses is rejected with its error and never logged.
    this.#beginWriteWork()
    const checked = this.#state.checkInSlices(command)
    return new Promise((resolve, reject) => {
      const encoded = checked
        .then(() => encodeCommandInSlices(command, this.#components.pause))
        .catch((error: unknown) => {
          reject(error)
          return undefined
        })
        .finally(() => this.#endWriteWork())
      this.#queue.push({ command, encoded, resolve, reject })
      this.#flushing ??= this.#flush()
    })
  }

  #checkWritable(): void {
    if (this.#closed) throw new EngineClosedError()
    if (this.#failure !== undefined) {
      throw new EngineClosedError(`The database refuses writes after a failure: ${this.#failure.message}`)
    }
  }

  async #flush(): Promise<void> {
    while (this.#queue.length > 0) {
      const queued = this.#queue
      this.#queue = []
      const encodings = await Promise.all(queued.map((item) => item.encoded))
      // A command that failed to encode was rejected by its encoding and is not logged.
      const batch = queued.flatMap((item, i) => {
        const encoded = encodings[i]
        return encoded === undefined ? [] : [{ ...item, encoded }]
      })
      if (batch.length === 0) continue
      let last: number
      const started = performance.now()
      try {
        last = await this.#log.appendBatch(batch.map((item) => item.encoded.payload))
      } catch (error) {
        // A failed append is never retried: what reached the disk is unknown.
        this.#failure = error instanceof Error ? error : new Error(String(error))
        const failure = new EngineClosedError(`The command log failed: ${this.#failure.message}`)
        for (const item of [...batch, ...this.#queue]) item.reject(failure)
        this.#queue = []
        break
      }
      this.#emit({
        type: 'log-synced',
        commands: batch.length,
        seconds: (performance.now() - started) / 1000,
        lastIndex: last,
      })
      const first = last - batch.length + 1
      this.#beginWriteWork()
      await this.#serially(async () => {
        let index = first
        for (const item of batch) {
          // `check` should have refused anything `apply` cannot take; if a core
          // throws anyway, that write fails alone instead of stalling the queue.
          let result: ApplyResult
          try {
            // The logged bytes decoded (not the caller's objects): what replay will apply.
            const command = await decodeCommandInSlices(item.encoded, item.command, this.#components.pause)
            result = await this.#state.apply(command)
          } catch (error) {
            this.#appliedIndex = index++
            item.reject(error)
            continue
          }
          this.#appliedIndex = index++
          if (result.ok) item.resolve(result.value)
          else item.reject(result.error)
        }
      }).finally(() => this.#endWriteWork())
      this.#afterAppend(batch.length)
    }
    this.#flushing = undefined
  }

  #afterAppend(commands: number): void {
    this.#scheduleIndexing()
    this.#folderSize.changed()
    this.#sinceSnapshot += commands
    const every = this.#options.snapshotEvery
    if (every > 0 && this.#sinceSnapshot >= every && this.#snapshotting === undefined) {
      this.#startSnapshot().catch(() => {})
    }
  }

  // Following another database's log (a hot standby).

  /** Log index of the last command applied; 0 before the first. */
  get appliedIndex(): number {
    return this.#appliedIndex
  }

  /** The command log's stored range (`lastIndex` is `firstIndex - 1` when it holds nothing). */
  logRange(): { firstIndex: number; lastIndex: number } {
    return { firstIndex: this.#log.firstIndex, lastIndex: this.#log.lastIndex }
  }

  /**
   * The logged commands from `fromIndex` on, as the bytes that were appended, up to about `maxBytes`
   * (at least one when there is one). A range compaction removed is `{ ok: false }`: the reader
   * needs a snapshot.
   */
  async readLog(
    fromIndex: number,
    maxBytes: number,
  ): Promise<{ ok: true; entries: Uint8Array[] } | { ok: false; reason: 'compacted' }> {
    this.#checkWritable()
    if (fromIndex < this.#log.firstIndex) return { ok: false, reason: 'compacted' }
    const entries: Uint8Array[] = []
    if (fromIndex > this.#log.lastIndex) return { ok: true, entries }
    let bytes = 0
    try {
      for await (const { payload } of this.#log.read(fromIndex)) {
        entries.push(payload)
        bytes += payload.byteLength
        if (bytes >= maxBytes) break
      }
    } catch (error) {
      // A compaction that ran while reading removed the segment being read.
      if (fromIndex < this.#log.firstIndex) return { ok: false, reason: 'compacted' }
      throw error
    }
    return { ok: true, entries }
  }

  /**
   * Appends commands another database logged (`readLog`'s bytes, in its order) to this
   * database's log — one durable append — then applies them in order. Resolves with the local
   * index of the last once durable and applied. A command the source failed to apply fails here
   * the same way (apply is deterministic) and is skipped as it was there. Bytes that do not decode
   * are refused before anything is logged.
   */
  async appendFollowed(payloads: Uint8Array[]): Promise<number> {
    this.#checkWritable()
    const commands = payloads.map((payload, i) => {
      try {
        return decodeCommand(payload)
      } catch (error) {
        throw new CommandLogCorruptionError(
          this.#log.lastIndex + 1 + i,
          error instanceof Error ? error.message : String(error),
        )
      }
    })
    if (commands.length === 0) return this.#log.lastIndex
    while (this.#flushing !== undefined) await this.#flushing
    const last = await this.#serially(async () => {
      let appended: number
      try {
        appended = await this.#log.appendBatch(payloads)
      } catch (error) {
        this.#failure = error instanceof Error ? error : new Error(String(error))
        throw new EngineClosedError(`The command log failed: ${this.#failure.message}`)
      }
      let index = appended - commands.length + 1
      for (const command of commands) {
        try {
          await this.#state.apply(command)
        } catch {
          // As in #flush: a core that throws fails that command alone.
        }
        this.#appliedIndex = index++
      }
      return appended
    })
    this.#afterAppend(commands.length)
    return last
  }

  // Snapshots.

  /** Writes a snapshot of the current state now. */
  async snapshot(): Promise<{ index: number; bytes: number }> {
    this.#checkWritable()
    await this.#flushing
    while (this.#snapshotting !== undefined) await this.#snapshotting.catch(() => {})
    return this.#startSnapshot()
  }

  #startSnapshot(): Promise<{ index: number; bytes: number }> {
    // The image is taken synchronously, so it is exactly the state at #appliedIndex; it holds
    // copies and values no later command mutates, so it is then encoded in slices.
    const started = performance.now()
    const index = this.#appliedIndex
    const image = this.#takeImage()
    this.#sinceSnapshot = 0
    const run = image
      .then((taken) => this.#encodeImage(taken))
      .then(async (body) => this.#writeSnapshot(index, await this.#frame(index, body), started))
      .finally(() => {
        this.#snapshotting = undefined
      })
    this.#snapshotting = run
    return run
  }

  /** The framed bytes of `body`, copied and checksummed in slices between other work. */
  #frame(index: number, body: Uint8Array, version?: number): Promise<Uint8Array> {
    const pause = this.#components.pause
    return pause === undefined
      ? Promise.resolve(frameSnapshot(index, body, version))
      : frameSnapshotInSlices(index, body, pause, version)
  }

  /** The verified frame of snapshot bytes, checksummed in slices between other work. */
  async #unframe(bytes: Uint8Array, source: string): Promise<SnapshotFrame> {
    const pause = this.#components.pause
    return pause === undefined
      ? unframeSnapshot(bytes, source)
      : unframeSnapshotInSlices(bytes, source, pause)
  }

  /**
   * The state's image as of this call: taken whole in this turn, or (with a `pause`) its contents
   * taken in this turn and its long parts built in slices between other work.
   */
  #takeImage(): Promise<DatabaseImage> {
    const pause = this.#components.pause
    return pause === undefined ? Promise.resolve(this.#state.image()) : this.#state.imageInSlices(pause)
  }

  /** The snapshot body of `image`, its long columns encoded in slices between other work. */
  async #encodeImage(image: DatabaseImage): Promise<Uint8Array> {
    const pause = this.#components.pause
    return pause === undefined ? encodeValue(image) : encodeValueInSlices(image, pause)
  }

  async #writeSnapshot(
    index: number,
    framed: Uint8Array,
    startedMs: number,
  ): Promise<{ index: number; bytes: number }> {
    const file = await this.#snapshots.write(index, framed)
    // Keep two snapshots, and the log from the older one on, so that a
    // corrupt newest snapshot falls back to the previous one plus replay.
    const oldestKept = await this.#snapshots.prune(2)
    if (oldestKept !== undefined && oldestKept > 0) await this.#log.compactBefore(oldestKept + 1)
    this.#folderSize.changed()
    this.#emit({
      type: 'snapshot-written',
      index,
      bytes: framed.byteLength,
      file,
      seconds: (performance.now() - startedMs) / 1000,
    })
    return { index, bytes: framed.byteLength }
  }

  /**
   * The current state as one framed, checksummed image, taken synchronously (so it is exactly the
   * state after the last applied command). For a caller that owns a replicated log: its snapshots
   * are these images, and `restoreImage` reads them back.
   */
  image(): Uint8Array {
    return frameSnapshot(this.#appliedIndex, encodeValue(this.#state.image()))
  }

  /**
   * `image()`'s bytes, with the image's long columns encoded in slices between other work, so a
   * large database does not hold the event loop for the whole encoding. The state is still taken
   * synchronously, when this is called: the image is exactly the state after the last applied
   * command, whatever is applied while it is encoded.
   */
  async imageInSlices(): Promise<Uint8Array> {
    const index = this.#appliedIndex
    return this.#frame(index, await this.#encodeImage(await this.#takeImage()))
  }

  /**
   * Replaces the whole state with an image from `image()` (of this or another database); empty
   * bytes stand for the empty state. Verified before anything changes; writes no file.
   */
  async restoreImage(bytes: Uint8Array): Promise<void> {
    this.#checkWritable()
    let next: DatabaseState
    if (bytes.byteLength === 0) next = new DatabaseState(this.#components)
    else {
      const frame = await this.#unframe(bytes, 'restored image')
      try {
        next = await DatabaseState.fromImage(
          this.#components,
          decodeValue(frame.body) as DatabaseImage,
          frame.version,
        )
      } catch (error) {
        if (error instanceof ShoalError) throw error
        throw new SnapshotCorruptionError(
          'restored image',
          error instanceof Error ? error.message : String(error),
        )
      }
    }
    await this.#serially(async () => {
      this.#state = next
      this.#handles.clear()
    })
    this.#scheduleIndexing()
  }

  /** Streams a snapshot of the current state (framed and checksummed) in chunks. */
  async *exportSnapshot(): AsyncIterable<Uint8Array> {
    const index = this.#appliedIndex
    const framed = await this.#frame(index, await this.#encodeImage(await this.#takeImage()))
    for (let at = 0; at < framed.byteLength; at += EXPORT_CHUNK_BYTES) {
      yield framed.subarray(at, Math.min(framed.byteLength, at + EXPORT_CHUNK_BYTES))
    }
  }

  /**
   * Replaces the whole state with a streamed snapshot (from `exportSnapshot`
   * of this or another database). The snapshot is verified before anything
   * changes, then made durable locally as covering the whole local log.
   */
  async installSnapshot(
    chunks: AsyncIterable<Uint8Array>,
  ): Promise<{ sourceIndex: number; localIndex: number }> {
    this.#checkWritable()
    const parts: Uint8Array[] = []
    for await (const chunk of chunks) parts.push(chunk)
    const frame = await this.#unframe(Buffer.concat(parts), 'installed snapshot')
    let next: DatabaseState
    try {
      next = await DatabaseState.fromImage(
        this.#components,
        decodeValue(frame.body) as DatabaseImage,
        frame.version,
      )
    } catch (error) {
      if (error instanceof ShoalError) throw error
      throw new SnapshotCorruptionError(
        'installed snapshot',
        error instanceof Error ? error.message : String(error),
      )
    }
    await this.#flushing
    while (this.#snapshotting !== undefined) await this.#snapshotting.catch(() => {})
    const localIndex = await this.#serially(async () => {
      const index = this.#log.lastIndex
      const framed = await this.#frame(index, frame.body, frame.version)
      await this.#snapshots.write(index, framed)
      this.#state = next
      this.#appliedIndex = index
      this.#handles.clear()
      this.#sinceSnapshot = 0
      this.#folderSize.changed()
      this.#emit({ type: 'snapshot-installed', index, bytes: framed.byteLength })
      return index
    })
    this.#scheduleIndexing()
    return { sourceIndex: frame.index, localIndex }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    await this.#flushing
    while (this.#snapshotting !== undefined) await this.#snapshotting.catch(() => {})
    this.#closed = true
    await this.#folderSize.stop()
    this.#indexing?.()
    this.#indexing = undefined
    for (const waiter of this.#indexedWaiters.splice(0)) waiter.reject(new EngineClosedError())
    await this.#log.close()
  }

  #emit(event: EngineEvent): void {
    this.#options.onEvent?.(event)
  }
}
