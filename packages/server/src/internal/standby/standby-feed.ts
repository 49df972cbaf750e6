import type { FetchRequest, FetchResponse } from './standby-protocol.ts'

/** What the primary's feed reads of its engine. */
export interface FeedEngine {
  readonly appliedIndex: number
  logRange(): { firstIndex: number; lastIndex: number }
  readLog(
    fromIndex: number,
    maxBytes: number,
  ): Promise<{ ok: true; entries: Uint8Array[] } | { ok: false; reason: 'compacted' }>
}

export interface StandbyFeedOptions {
  engine: FeedEngine
  /** Milliseconds on a monotonic clock. */
  now: () => number
  /** The epoch answers carry. */
  epoch: () => number
  nextTaskUid: () => number
  /** Longest long poll, whatever the standby asks. @defaultValue 1000 */
  maxWaitMs?: number
}

/** A standby that asks for entries the primary never had: its log is not this primary's. */
export class StandbyDivergedError extends Error {
  override readonly name = 'StandbyDivergedError'
  readonly code = 'standby_diverged'
}

interface AckWaiter {
  index: number
  resolve: () => void
  reject: (error: unknown) => void
}

const NEVER = Number.NEGATIVE_INFINITY
const MAX_TIMED_APPENDS = 100_000

/**
 * The primary's side of the hot standby link: answers the standby's fetches from the engine's
 * command log (long-polling when it is caught up), and tracks what the standby holds durably —
 * a fetch `from` N acknowledges every entry before N — for semi_sync writes and lag reports.
 */
export class StandbyFeed {
  readonly #options: Required<StandbyFeedOptions>
  #ackedIndex = 0
  #lastFetchAt = NEVER
  #pollers = new Set<() => void>()
  #ackWaiters: AckWaiter[] = []
  /** When each not-yet-acknowledged log index (the last of its append) became durable here. */
  #appended: Array<[index: number, atMs: number]> = []

  constructor(options: StandbyFeedOptions) {
    this.#options = { maxWaitMs: 1000, ...options }
  }

  /** The engine made `lastIndex` durable (its `log-synced` event). */
  logAppended(lastIndex: number): void {
    // Bounded: past the cap (a standby away for long in async mode) later appends are not timed,
    // which can only make the reported lag shorter once the standby is back past the timed ones.
    if (lastIndex > this.#ackedIndex && this.#appended.length < MAX_TIMED_APPENDS)
      this.#appended.push([lastIndex, this.#options.now()])
    for (const wake of [...this.#pollers]) wake()
  }

  /** Answers one fetch (see standby-protocol.ts). */
  async fetch(request: FetchRequest, signal?: AbortSignal): Promise<FetchResponse> {
    const { engine } = this.#options
    this.#lastFetchAt = this.#options.now()
    if (request.from - 1 > engine.logRange().lastIndex) {
      throw new StandbyDivergedError(
        `the standby holds entries up to ${request.from - 1} but this primary's log ends at ${engine.logRange().lastIndex}: it follows another log; re-seed it from an empty data folder`,
      )
    }
    this.#acknowledge(request.from - 1)
    let read = await engine.readLog(request.from, request.maxBytes)
    const waitMs = Math.min(request.waitMs, this.#options.maxWaitMs)
    if (read.ok && read.entries.length === 0 && waitMs > 0) {
      await this.#waitForAppend(waitMs, signal)
      this.#lastFetchAt = this.#options.now()
      read = await engine.readLog(request.from, request.maxBytes)
    }
    const base = {
      epoch: this.#options.epoch(),
      lastIndex: engine.logRange().lastIndex,
      nextTaskUid: this.#options.nextTaskUid(),
    }
    if (!read.ok) return { ...base, snapshotNeeded: true }
    return { ...base, entries: read.entries }
  }

  /** Resolves once the standby holds `index` durably; rejects through `failWaiters`. */
  awaitAcknowledged(index: number): Promise<void> {
    if (index <= this.#ackedIndex) return Promise.resolve()
    return new Promise((resolve, reject) => this.#ackWaiters.push({ index, resolve, reject }))
  }

  /** Rejects every write waiting for the standby (the primary was fenced, or is stopping). */
  failWaiters(error: unknown): void {
    for (const waiter of this.#ackWaiters.splice(0)) waiter.reject(error)
  }

  get ackedIndex(): number {
    return this.#ackedIndex
  }

  get waitingWrites(): number {
    return this.#ackWaiters.length
  }

  /** Milliseconds since the standby last fetched (Infinity: never since start). */
  sinceLastFetchMs(): number {
    return this.#options.now() - this.#lastFetchAt
  }

  /** Entries durable here and not yet on the standby. */
  lagEntries(): number {
    return Math.max(0, this.#options.engine.logRange().lastIndex - this.#ackedIndex)
  }

  /** How long the oldest entry the standby lacks has been durable here; 0 when it lacks none. */
  lagSeconds(): number {
    const oldest = this.#appended[0]
    if (oldest === undefined || this.lagEntries() === 0) return 0
    return Math.max(0, (this.#options.now() - oldest[1]) / 1000)
  }

  #acknowledge(index: number): void {
    this.#ackedIndex = index
    while (this.#appended.length > 0 && this.#appended[0]![0] <= index) this.#appended.shift()
    if (this.#ackWaiters.length === 0) return
    const still: AckWaiter[] = []
    for (const waiter of this.#ackWaiters) {
      if (waiter.index <= index) waiter.resolve()
      else still.push(waiter)
    }
    this.#ackWaiters = still
  }

  #waitForAppend(waitMs: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.#pollers.delete(done)
        signal?.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, waitMs)
      this.#pollers.add(done)
      signal?.addEventListener('abort', done, { once: true })
    })
  }

  /** Ends every long poll at once (stopping). */
  wakeAll(): void {
    for (const wake of [...this.#pollers]) wake()
  }
}
