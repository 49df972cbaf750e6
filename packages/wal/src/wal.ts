import { type ResolvedWalOptions, resolveOptions, type WalOptions } from './config.ts'
import {
  WalArgumentError,
  WalClosedError,
  WalError,
  WalFailedError,
  WalIndexError,
  WalPayloadTooLargeError,
} from './errors.ts'
import { joinPath, type WalFile } from './file-system.ts'
import {
  encodeFrame,
  FRAME_HEADER_BYTES,
  MAX_PAYLOAD_LIMIT,
  markOverlapped,
  SEGMENT_HEADER_BYTES,
} from './internal/format.ts'
import { locate, readRange } from './internal/reader.ts'
import { type RecoverySummary, recover } from './internal/recovery.ts'
import { SAMPLE_EVERY, type WalRecord } from './internal/scan.ts'
import { createSegment, prepareSpare, recycledName, type Segment } from './internal/segment.ts'

interface EncodeBuffer {
  bytes: Uint8Array
  view: DataView
}

/**
 * Write buffers grow to the largest batch and are reused; once the log is idle (nothing
 * pending, nothing in flight) those above this size are let go, so a burst (a host founding
 * thousands of groups) does not leave its buffers held for good.
 */
const IDLE_BUFFER_BYTES = 64 * 1024

function encodeBuffer(bytes: number): EncodeBuffer {
  const buffer = new Uint8Array(bytes)
  return { bytes: buffer, view: new DataView(buffer.buffer) }
}

async function* flatten(batches: AsyncGenerator<WalRecord[]>): AsyncGenerator<WalRecord> {
  for await (const batch of batches) yield* batch
}

/** Options of `readBatches`. */
export interface ReadOptions {
  /** Recycle read memory; each batch's payload views are then valid only until the next batch is requested. @defaultValue false */
  reuseBuffers?: boolean
}

/** Whether the active segment is opened with O_DSYNC: each write is then durable on return. */
function writeThrough(options: ResolvedWalOptions): boolean {
  return options.sync === 'always' && options.syncMethod === 'dsync'
}

/** Opens the two write handles of the active segment. */
async function openActive(options: ResolvedWalOptions, path: string): Promise<[WalFile, WalFile]> {
  const flags = { create: false, dsync: writeThrough(options) }
  const first = await options.fs.openWrite(path, flags)
  try {
    return [first, await options.fs.openWrite(path, flags)]
  } catch (error) {
    await first.close()
    throw error
  }
}

type Resolve = (index: number) => void
interface Callers {
  resolves: Resolve[]
  rejects: Reject[]
  results: number[]
}
type Reject = (error: unknown) => void

/**
 * A segmented, checksummed write-ahead log. Records get consecutive indexes
 * starting at 1; an append resolves only once its record is durable.
 *
 * Group commit: appends made while a write+fdatasync is in flight are
 * encoded into one buffer and go out together in the next single
 * write+fdatasync; each caller resolves after the sync that covers its
 * record and every earlier one. Index order is call order. Large bursts are
 * pipelined (`pipelineBytes`): a second write may start while the first
 * one's fdatasync runs, never more than two.
 */
export class Wal {
  readonly #dir: string
  readonly #options: ResolvedWalOptions
  readonly #segments: Segment[]
  /**
   * Two handles on the active segment, used in turn by successive writes: a
   * write error is reported to every handle's next fdatasync, so each of two
   * overlapping syncs learns of a failure that hit the other's data too.
   */
  #active: WalFile
  #activeAlt: WalFile
  /** Durable end of the active segment: every write before it has completed. */
  #writeOffset: number
  /** Where the next write goes (ahead of `#writeOffset` while writes are in flight). */
  #issueOffset: number
  #nextIndex: number
  #lastIndex: number
  #pending: EncodeBuffer = encodeBuffer(4096)
  readonly #freeBuffers: EncodeBuffer[] = []
  #pendingBytes = 0
  #pendingFirstIndex = 0
  #resolves: Resolve[] = []
  #rejects: Reject[] = []
  #results: number[] = []
  /** Emptied caller lists of completed writes, kept so that they do not grow anew each write. */
  readonly #freeCallers: Callers[] = []
  /** Writes issued whose completion (sync included) has not been handled yet: 0, 1 or 2. */
  #inFlight = 0
  #flushSerial = 0
  /** Settles once the last issued write has returned (writes go out one after another). */
  #writeTail: Promise<void> = Promise.resolve()
  /** Settles once the last issued write's completion was handled (completions go in issue order). */
  #doneTail: Promise<void> = Promise.resolve()
  #scheduled = false
  #drainWaiters: Array<() => void> = []
  /**
   * While a truncateAfter is queued or running (or a compactBefore waits
   * behind one): the tail of one FIFO queue that holds it and every call made
   * after it (appends included), so that each runs in call order.
   */
  #queue: Promise<void> | undefined
  /** Settles once the segment removals of the compactions called so far are done (one at a time). */
  #compaction: Promise<void> = Promise.resolve()
  #failed: WalFailedError | undefined
  #closed = false
  /** Compacted segment files kept for the next rollovers (see `recycleSegments`). */
  readonly #recycled: string[] = []
  #recycleSerial = 0
  /** The next segment's file, being zero-filled ahead of the rollover (with `preallocate`). */
  #spareSegment: Promise<string | undefined> | undefined
  /** What open found and repaired. */
  readonly recovery: RecoverySummary

  private constructor(
    dir: string,
    options: ResolvedWalOptions,
    segments: Segment[],
    active: [WalFile, WalFile],
    lastIndex: number,
    writeOffset: number,
    recovery: RecoverySummary,
  ) {
    this.#dir = dir
    this.#options = options
    this.#segments = segments
    ;[this.#active, this.#activeAlt] = active
    this.#lastIndex = lastIndex
    this.#nextIndex = lastIndex + 1
    this.#writeOffset = writeOffset
    this.#issueOffset = writeOffset
    this.recovery = recovery
    if (options.preallocate) this.#spareSegment = prepareSpare(dir, options)
  }

  /**
   * Opens (creating when missing) the WAL in `dir` and recovers it: a torn
   * tail is cut and reported in `recovery`; corruption elsewhere throws
   * `WalCorruptionError` unless `repair` is set.
   */
  static async open(dir: string, options: WalOptions = {}): Promise<Wal> {
    const resolved = resolveOptions(options)
    const recovered = await recover(dir, resolved)
    const last = recovered.segments[recovered.segments.length - 1]!
    const active = await openActive(resolved, last.path)
    return new Wal(
      dir,
      resolved,
      recovered.segments,
      active,
      recovered.lastIndex,
      recovered.writeOffset,
      recovered.summary,
    )
  }

  /** Index of the first record still stored (after compaction). */
  get firstIndex(): number {
    return this.#segments[0]!.firstIndex
  }

  /** Index of the last durable record; `firstIndex - 1` when the log is empty. */
  get lastIndex(): number {
    return this.#lastIndex
  }

  /** File names of the segments, oldest first. */
  get segmentNames(): string[] {
    return this.#segments.map((s) => s.name)
  }

  /** Appends one record; resolves with its index once it is durable. */
  append(payload: Uint8Array): Promise<number> {
    const error = this.#refusal() ?? this.#checkPayload(payload)
    if (error !== undefined) return Promise.reject(error)
    if (this.#queue !== undefined) return this.#deferAppend(() => this.#appendNow(payload))
    return this.#appendNow(payload)
  }

  /**
   * Appends records as one durable unit (one write, one sync); resolves with
   * the last one's index. An empty batch resolves with `lastIndex` at once.
   */
  appendBatch(payloads: readonly Uint8Array[]): Promise<number> {
    let error = this.#refusal()
    if (error === undefined && !Array.isArray(payloads))
      error = new WalArgumentError('payloads must be an array')
    for (let i = 0; error === undefined && i < payloads.length; i++) error = this.#checkPayload(payloads[i])
    if (error !== undefined) return Promise.reject(error)
    if (this.#queue !== undefined) return this.#deferAppend(() => this.#appendBatchNow(payloads))
    return this.#appendBatchNow(payloads)
  }

  /**
   * Streams records `from..to` (inclusive; `to` defaults to the current
   * `lastIndex` and is capped by it) in order.
   */
  read(from: number, to?: number): AsyncGenerator<WalRecord> {
    return flatten(this.readBatches(from, to))
  }

  /**
   * Like `read`, but yields arrays of records, one per read chunk: the fast
   * way to replay a log. Payloads are views into read buffers that nothing
   * else writes to, unless `reuseBuffers` is set: then the views are valid
   * only until the next batch is requested (the read memory is recycled,
   * which saves allocating and faulting in fresh memory for every chunk).
   */
  readBatches(from: number, to?: number, options: ReadOptions = {}): AsyncGenerator<WalRecord[]> {
    const refusal = this.#refusal()
    if (refusal !== undefined) throw refusal
    if (!Number.isSafeInteger(from)) throw new WalArgumentError(`from must be an integer, got ${from}`)
    if (to !== undefined && !Number.isSafeInteger(to))
      throw new WalArgumentError(`to must be an integer, got ${to}`)
    if (from < this.firstIndex) {
      throw new WalIndexError(`index ${from} is before firstIndex ${this.firstIndex} (compacted)`)
    }
    const last = Math.min(to ?? this.#lastIndex, this.#lastIndex)
    return readRange(this.#options, this.#segments.slice(), from, last, options.reuseBuffers ?? false)
  }

  /** Drops every record after `index` (Raft log conflicts). `index` must be in [firstIndex - 1, lastIndex]. */
  truncateAfter(index: number): Promise<void> {
    return this.#exclusively(async () => {
      if (!Number.isSafeInteger(index) || index < this.firstIndex - 1 || index > this.#lastIndex) {
        throw new WalIndexError(
          `truncateAfter(${index}) is outside [firstIndex - 1, lastIndex] = [${this.firstIndex - 1}, ${this.#lastIndex}]`,
        )
      }
      if (index === this.#lastIndex) return
      await this.#guardIo(() => this.#truncate(index))
    })
  }

  /**
   * Removes whole segments whose records all come before `index` (after a
   * snapshot). The segment holding `index` stays, so `firstIndex` may stay
   * below `index`. `index` may be at most the index the next append takes.
   * It runs after the truncations called before it, but appends do not wait
   * for it: it removes only segments before the one being written, so they
   * go on (and sync) while it renames files and syncs the directory.
   */
  compactBefore(index: number): Promise<void> {
    const refusal = this.#refusal()
    if (refusal !== undefined) return Promise.reject(refusal)
    return new Promise<void>((resolve, reject) => {
      const start = (): void => {
        const refused =
          this.#refusal() ??
          (!Number.isSafeInteger(index) || index > this.#nextIndex
            ? new WalIndexError(
                `compactBefore(${index}) is beyond the next index to append, ${this.#nextIndex}`,
              )
            : undefined)
        if (refused !== undefined) {
          reject(refused)
          return
        }
        const run = this.#compaction.then(() => this.#guardIo(() => this.#removeBefore(index)))
        this.#compaction = run.catch(() => undefined)
        run.then(resolve, reject)
      }
      // Behind a queued truncation: its turn comes after it, and the calls after it wait only
      // until it has started.
      if (this.#queue !== undefined) void this.#enqueue(start)
      else start()
    })
  }

  /** Waits for appends in flight, then closes. Later calls throw `WalClosedError`. */
  async close(): Promise<void> {
    if (this.#closed) return
    while (this.#queue !== undefined) await this.#queue
    await this.#compaction
    await this.#drain()
    this.#closed = true
    // A reused file: cut the old records after the end, so the next open finds a clean end.
    if (this.#activeSegment().recycled === true) {
      await this.#active.truncate(this.#writeOffset + FRAME_HEADER_BYTES)
      await this.#active.sync()
    }
    await this.#active.close()
    await this.#activeAlt.close()
    for (const spare of this.#recycled.splice(0)) await this.#options.fs.remove(spare).catch(() => undefined)
    const spare = this.#spareSegment === undefined ? undefined : await this.#spareSegment
    this.#spareSegment = undefined
    // An unused spare is only a temporary file; the next open would remove it too.
    if (spare !== undefined) await this.#options.fs.remove(spare).catch(() => undefined)
  }

  /** Takes the next index for a checked payload and encodes it; resolves once it is durable. */
  #appendNow(payload: Uint8Array): Promise<number> {
    const index = this.#nextIndex++
    this.#encode(index, payload)
    const promise = new Promise<number>(this.#capture)
    this.#results.push(index)
    this.#kick()
    return promise
  }

  #appendBatchNow(payloads: readonly Uint8Array[]): Promise<number> {
    if (payloads.length === 0) return Promise.resolve(this.#nextIndex - 1)
    let index = 0
    for (const payload of payloads) {
      index = this.#nextIndex++
      this.#encode(index, payload)
    }
    const promise = new Promise<number>(this.#capture)
    this.#results.push(index)
    this.#kick()
    return promise
  }

  readonly #capture = (resolve: Resolve, reject: Reject): void => {
    this.#resolves.push(resolve)
    this.#rejects.push(reject)
  }

  #refusal(): WalError | undefined {
    if (this.#closed) return new WalClosedError()
    if (this.#failed !== undefined) return this.#failed
    return undefined
  }

  #checkPayload(payload: unknown): WalError | undefined {
    if (!(payload instanceof Uint8Array)) return new WalArgumentError('a payload must be a Uint8Array')
    if (payload.length > this.#options.maxPayloadBytes) {
      return new WalPayloadTooLargeError(payload.length, this.#options.maxPayloadBytes)
    }
    return undefined
  }

  #encode(index: number, payload: Uint8Array): void {
    // Room for the frame and for the end marker that follows each write.
    const need = this.#pendingBytes + 2 * FRAME_HEADER_BYTES + payload.length
    if (need > this.#pending.bytes.length) {
      const grown = encodeBuffer(Math.max(need, this.#pending.bytes.length * 2))
      grown.bytes.set(this.#pending.bytes.subarray(0, this.#pendingBytes))
      this.#pending = grown
    }
    const first = this.#pendingBytes === 0
    if (first) this.#pendingFirstIndex = index
    this.#pendingBytes = encodeFrame(
      this.#pending.bytes,
      this.#pending.view,
      this.#pendingBytes,
      index,
      payload,
      first,
    )
  }

  /**
   * Starts a write if one may start now: at once when a large amount is
   * pending (so the disk works on the first part of a burst of appends while
   * the rest are being encoded), else at the end of this turn when no write
   * is in flight (so appends made in the same turn share it).
   */
  #kick(): void {
    if (this.#pendingBytes >= this.#options.pipelineBytes && this.#canStart()) this.#startFlush()
    else if (this.#inFlight === 0 && this.#pendingBytes > 0) this.#schedule()
    else this.#wakeDrainWaiters()
  }

  /**
   * A write may start with at most one other in flight; one that opens a new
   * segment waits until nothing is in flight.
   */
  #canStart(): boolean {
    if (this.#pendingBytes === 0 || this.#failed !== undefined || this.#inFlight >= 2) return false
    return this.#inFlight === 0 || !this.#needsRollover(this.#pendingBytes)
  }

  #needsRollover(bytes: number): boolean {
    return (
      this.#issueOffset > SEGMENT_HEADER_BYTES &&
      this.#issueOffset + bytes + FRAME_HEADER_BYTES > this.#options.segmentBytes
    )
  }

  #schedule(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    queueMicrotask(this.#runFlush)
  }

  readonly #runFlush = (): void => {
    this.#scheduled = false
    if (this.#inFlight === 0 && this.#canStart()) this.#startFlush()
    else this.#wakeDrainWaiters()
  }

  #wakeDrainWaiters(): void {
    if (this.#inFlight > 0 || this.#scheduled) return
    if (this.#pendingBytes !== 0 && this.#failed === undefined) return
    const waiters = this.#drainWaiters
    this.#drainWaiters = []
    for (const wake of waiters) wake()
  }

  /**
   * Issues one write (+ fdatasync) of everything pending. Writes go out in
   * order, each after the previous one returned; a second write may start
   * while the first one's fdatasync runs. Completions are handled in issue
   * order: a caller resolves only once its own sync and every earlier one
   * succeeded.
   */
  #startFlush(): void {
    const batch = this.#pending
    const bytes = this.#pendingBytes
    const firstIndex = this.#pendingFirstIndex
    const resolves = this.#resolves
    const rejects = this.#rejects
    const results = this.#results
    this.#pending = this.#freeBuffers.pop() ?? encodeBuffer(4096)
    this.#pendingBytes = 0
    const free = this.#freeCallers.pop()
    this.#resolves = free?.resolves ?? []
    this.#rejects = free?.rejects ?? []
    this.#results = free?.results ?? []
    const rollover = this.#needsRollover(bytes)
    const offset = rollover ? SEGMENT_HEADER_BYTES : this.#issueOffset
    this.#issueOffset = offset + bytes
    const alternate = (this.#flushSerial++ & 1) === 1
    // Recovery must know that this write may land while the previous one does not.
    if (this.#inFlight > 0) markOverlapped(batch.bytes, batch.view)
    this.#inFlight++
    const previousWrite = this.#writeTail
    let wrote!: () => void
    this.#writeTail = new Promise<void>((resolve) => {
      wrote = resolve
    })
    const io = (async () => {
      let file: WalFile
      try {
        await previousWrite
        // An earlier write or sync failed: this one must not land after the gap.
        if (this.#failed !== undefined) throw this.#failed
        if (rollover) await this.#rollover(firstIndex)
        file = alternate ? this.#activeAlt : this.#active
        // Every write ends with an end marker (a zeroed frame header), which the
        // next write overwrites: recovery stops there even where the file holds
        // older bytes beyond (a reused segment file).
        batch.bytes.fill(0, bytes, bytes + FRAME_HEADER_BYTES)
        await file.write(batch.bytes, 0, bytes + FRAME_HEADER_BYTES, offset)
      } catch (error) {
        // Failed before the next write may go: it finds the WAL failed and does not write.
        this.#fail(error)
        throw error
      } finally {
        wrote()
      }
      try {
        // With O_DSYNC the write itself returned only once durable.
        if (this.#options.sync === 'always' && !writeThrough(this.#options)) await file.sync()
      } catch (error) {
        this.#fail(error)
        throw error
      }
    })()
    const previousDone = this.#doneTail
    const callers: Callers = { resolves, rejects, results }
    const complete = (error: unknown) => {
      try {
        this.#complete(batch, bytes, firstIndex, offset, callers, error)
      } catch (unexpected) {
        // Keep the chain going: later completions must still run (and reject).
        this.#fail(unexpected)
      }
    }
    // previousDone never rejects: each link catches what its completion throws.
    this.#doneTail = io.then(
      () => previousDone.then(() => complete(undefined)),
      (error: unknown) => previousDone.then(() => complete(error ?? new Error('write failed'))),
    )
  }

  /** Handles a write's completion, in issue order. */
  #complete(
    batch: EncodeBuffer,
    bytes: number,
    firstIndex: number,
    offset: number,
    callers: Callers,
    error: unknown,
  ): void {
    const { resolves, rejects, results } = callers
    this.#inFlight--
    if (this.#freeBuffers.length < 2) this.#freeBuffers.push(batch)
    if (error !== undefined || this.#failed !== undefined) {
      if (error !== undefined) this.#fail(error)
      // Rejected even when this write's own sync succeeded: an earlier one failed.
      for (const reject of rejects) reject(this.#failed)
    } else {
      this.#sample(batch, bytes, firstIndex, offset)
      this.#writeOffset = offset + bytes
      this.#activeSegment().dataEnd = this.#writeOffset
      this.#lastIndex = results[results.length - 1]!
      for (let i = 0; i < resolves.length; i++) resolves[i]!(results[i]!)
    }
    resolves.length = 0
    rejects.length = 0
    results.length = 0
    if (this.#freeCallers.length < 2) this.#freeCallers.push(callers)
    if (this.#inFlight === 0 && this.#pendingBytes === 0) this.#releaseLargeBuffers()
    this.#kick()
  }

  #releaseLargeBuffers(): void {
    if (this.#pending.bytes.length > IDLE_BUFFER_BYTES) this.#pending = encodeBuffer(4096)
    for (let i = this.#freeBuffers.length - 1; i >= 0; i--)
      if ((this.#freeBuffers[i] as EncodeBuffer).bytes.length > IDLE_BUFFER_BYTES)
        this.#freeBuffers.splice(i, 1)
  }

  /** Records the offsets of sampled frames in a just-written batch that went to `start`. */
  #sample(batch: EncodeBuffer, bytes: number, firstIndex: number, start: number): void {
    const segment = this.#activeSegment()
    const samples = segment.samples
    if (samples === undefined) return
    let offset = 0
    let index = firstIndex
    while (offset < bytes) {
      if ((index - segment.firstIndex) % SAMPLE_EVERY === 0) samples.push(start + offset)
      offset += FRAME_HEADER_BYTES + ((batch.view.getUint32(offset + 4, true) & MAX_PAYLOAD_LIMIT) >>> 0)
      index++
    }
  }

  async #rollover(firstIndex: number): Promise<void> {
    // The full segment is synced before its successor exists, even with sync 'none'.
    if (this.#options.sync !== 'always') await this.#active.sync()
    const recycled = this.#recycled.shift()
    let segment: Segment
    if (recycled !== undefined) {
      segment = await createSegment(this.#dir, firstIndex, this.#options, recycled)
      segment.recycled = true
    } else {
      const spare = this.#spareSegment === undefined ? undefined : await this.#spareSegment
      this.#spareSegment = undefined
      segment = await createSegment(this.#dir, firstIndex, this.#options, spare)
      // The next spare fills while appends go into this segment.
      if (this.#options.preallocate) this.#spareSegment = prepareSpare(this.#dir, this.#options)
    }
    const next = await openActive(this.#options, segment.path)
    const previous = [this.#active, this.#activeAlt]
    this.#segments.push(segment)
    ;[this.#active, this.#activeAlt] = next
    this.#writeOffset = SEGMENT_HEADER_BYTES
    for (const file of previous) await file.close()
  }

  #fail(error: unknown): void {
    if (this.#failed === undefined) {
      const message = error instanceof Error ? error.message : String(error)
      this.#failed = new WalFailedError(
        `WAL write or sync failed; the WAL refuses further writes: ${message}`,
        {
          cause: error,
        },
      )
    }
    for (const reject of this.#rejects) reject(this.#failed)
    this.#resolves.length = 0
    this.#rejects.length = 0
    this.#results.length = 0
    this.#pendingBytes = 0
  }

  #drain(): Promise<void> {
    if (this.#inFlight === 0 && !this.#scheduled && this.#pendingBytes === 0) return Promise.resolve()
    return new Promise((resolve) => this.#drainWaiters.push(resolve))
  }

  /**
   * Puts `work` at the tail of the queue; the queue exists while anything in
   * it is waiting or running. Work runs once everything queued before it has.
   */
  #enqueue(work: () => Promise<void> | void): Promise<void> {
    const run = (this.#queue ?? Promise.resolve()).then(work)
    const settled = run.then(
      () => undefined,
      () => undefined,
    )
    this.#queue = settled
    void settled.then(() => {
      if (this.#queue === settled) this.#queue = undefined
    })
    return run
  }

  /**
   * An append made while the queue exists: it takes its index when its turn
   * comes, then leaves the queue at once (the next item does not wait for its
   * sync). The WAL may have closed or failed while it waited.
   */
  #deferAppend(appendNow: () => Promise<number>): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      void this.#enqueue(() => {
        const refusal = this.#refusal()
        if (refusal !== undefined) reject(refusal)
        else appendNow().then(resolve, reject)
      })
    })
  }

  /**
   * Runs `operation` alone: after every earlier call, with no write in flight and no compaction
   * removing segments, before any later call.
   */
  #exclusively(operation: () => Promise<void>): Promise<void> {
    const refusal = this.#refusal()
    if (refusal !== undefined) return Promise.reject(refusal)
    return this.#enqueue(async () => {
      await this.#drain()
      await this.#compaction
      const again = this.#refusal()
      if (again !== undefined) throw again
      await operation()
    })
  }

  async #guardIo(operation: () => Promise<void>): Promise<void> {
    try {
      await operation()
    } catch (error) {
      if (!(error instanceof WalError)) this.#fail(error)
      throw error instanceof WalError ? error : this.#failed
    }
  }

  #activeSegment(): Segment {
    return this.#segments[this.#segments.length - 1]!
  }

  /**
   * Removes the oldest segments while the next one starts at or before `index`; never the one
   * being written (the last), so it needs no pause of the appends. Oldest first, each removal
   * made durable before the next: unsynced directory changes may persist in any order, and a
   * crash must leave a contiguous log. A removed segment's file is kept for reuse while the pool
   * has room: writing over blocks the file already has is much cheaper than allocating new ones.
   * Its records all precede firstIndex, so none of them can ever pass for a later record.
   */
  async #removeBefore(index: number): Promise<void> {
    const { fs } = this.#options
    while (this.#segments.length > 1 && this.#segments[1]!.firstIndex <= index) {
      const oldest = this.#segments[0]!
      let spare: string | undefined
      if (this.#recycled.length < this.#options.recycleSegments) {
        spare = joinPath(this.#dir, recycledName(this.#recycleSerial++))
        await fs.rename(oldest.path, spare)
      } else {
        await fs.remove(oldest.path)
      }
      this.#segments.shift()
      await fs.syncDir(this.#dir)
      // A rollover running beside may reuse the file only once its rename is durable: a crash
      // must never find the old segment's name on a file that a newer segment writes.
      if (spare !== undefined) this.#recycled.push(spare)
    }
  }

  async #truncate(index: number): Promise<void> {
    const { fs } = this.#options
    // The segment that keeps `index` as its last record: when index + 1 starts
    // a segment, that segment goes and its predecessor stays whole.
    let keep = this.#segments.length - 1
    while (keep > 0 && this.#segments[keep]!.firstIndex > index) keep--
    const target = this.#segments[keep]!
    const cut = await locate(this.#options, target, index + 1)
    // Later segments go first, newest first, each removal synced: a crash in between leaves a prefix of the log.
    const removed = this.#segments.splice(keep + 1)
    if (removed.length > 0) {
      await this.#active.close()
      await this.#activeAlt.close()
      for (const segment of removed.reverse()) {
        await fs.remove(segment.path)
        await fs.syncDir(this.#dir)
      }
      ;[this.#active, this.#activeAlt] = await openActive(this.#options, target.path)
    }
    await this.#active.truncate(cut)
    if (this.#options.preallocate) await this.#active.truncate(Math.max(this.#options.segmentBytes, cut))
    await this.#active.sync()
    target.dataEnd = cut
    if (target.samples !== undefined) {
      const keepSamples = Math.ceil((index + 1 - target.firstIndex) / SAMPLE_EVERY)
      target.samples.length = Math.min(target.samples.length, keepSamples)
    }
    this.#writeOffset = cut
    this.#issueOffset = cut
    this.#lastIndex = index
    this.#nextIndex = index + 1
  }
}
