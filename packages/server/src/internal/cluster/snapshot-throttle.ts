/**
 * The node's budget for outgoing Raft snapshot bytes over `/shoal/snapshot/1`:
 * one token bucket shared by every transfer from this node, so moving shard
 * replicas away does not starve the node's own writes, searches and Raft
 * traffic of bandwidth.
 *
 * The bucket is kept as a theoretical arrival time (GCRA): `#freeAtMs` is the
 * moment the budget would be back to full if nothing more were sent. A
 * transfer reserves all its pieces when it starts, in order, so transfers are
 * served one after another (first come, first served) and a transfer knows
 * when its last byte may leave — which its deadline must allow for
 * (`snapshotDeadlineMs`). Over any interval of `t` ms, at most
 * `burstBytes + bytesPerSecond * t / 1000` bytes are released.
 */
export interface SnapshotThrottleOptions {
  /** Outgoing snapshot bytes per second for the whole node; 0 = unlimited. */
  readonly bytesPerSecond: number
  /** Bytes that may leave at once after an idle spell. @defaultValue one piece (`pieceBytes`) */
  readonly burstBytes?: number
  /** Bytes released at a time. @defaultValue 262144 (256 KiB) */
  readonly pieceBytes?: number
  /** Milliseconds on a monotonic clock. @defaultValue `performance.now()` */
  readonly nowMs?: () => number
  /** Waits `ms`, rejecting when `signal` aborts. @defaultValue a timer */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
}

/** The pieces of one transfer and when each may leave, from `SnapshotThrottle.reserve`. */
export interface SnapshotReservation {
  /** Milliseconds from the reservation until the last piece may leave (0 when unlimited). */
  readonly waitMs: number
  /** The chunk cut into pieces, each released at its reserved time. */
  pieces(signal?: AbortSignal): AsyncIterable<Uint8Array>
}

const DEFAULT_PIECE_BYTES = 256 * 1024

export class SnapshotThrottle {
  readonly bytesPerSecond: number
  readonly #burstMs: number
  readonly #pieceBytes: number
  readonly #nowMs: () => number
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>
  #freeAtMs = Number.NEGATIVE_INFINITY

  constructor(options: SnapshotThrottleOptions) {
    const { bytesPerSecond } = options
    if (!Number.isInteger(bytesPerSecond) || bytesPerSecond < 0)
      throw new RangeError(`snapshot bandwidth must be a non-negative integer, got ${bytesPerSecond}`)
    this.bytesPerSecond = bytesPerSecond
    this.#pieceBytes = options.pieceBytes ?? DEFAULT_PIECE_BYTES
    if (!Number.isInteger(this.#pieceBytes) || this.#pieceBytes < 1)
      throw new RangeError(`snapshot piece size must be a positive integer, got ${this.#pieceBytes}`)
    const burstBytes = options.burstBytes ?? this.#pieceBytes
    this.#burstMs = bytesPerSecond === 0 ? 0 : (burstBytes * 1000) / bytesPerSecond
    this.#nowMs = options.nowMs ?? (() => performance.now())
    this.#sleep = options.sleep ?? sleepMs
  }

  /**
   * Reserves the budget for `chunk` now, piece by piece; the caller sends the
   * pieces in order. Pieces not sent (the transfer failed) are given back when
   * no later reservation was made behind them.
   */
  reserve(chunk: Uint8Array): SnapshotReservation {
    if (this.bytesPerSecond === 0) return { waitMs: 0, pieces: () => unpaced(chunk) }
    const startMs = this.#nowMs()
    const releases: number[] = []
    for (let at = 0; at < chunk.byteLength; at += this.#pieceBytes) {
      const bytes = Math.min(this.#pieceBytes, chunk.byteLength - at)
      this.#freeAtMs = Math.max(this.#freeAtMs, startMs) + (bytes * 1000) / this.bytesPerSecond
      releases.push(Math.max(startMs, this.#freeAtMs - this.#burstMs))
    }
    const endMs = this.#freeAtMs
    const waitMs = (releases.at(-1) ?? startMs) - startMs
    return { waitMs, pieces: (signal) => this.#paced(chunk, releases, endMs, signal) }
  }

  async *#paced(
    chunk: Uint8Array,
    releases: readonly number[],
    endMs: number,
    signal: AbortSignal | undefined,
  ): AsyncIterable<Uint8Array> {
    let sent = 0
    try {
      for (const [i, releaseMs] of releases.entries()) {
        const waitMs = releaseMs - this.#nowMs()
        if (waitMs > 0) await this.#sleep(waitMs, signal)
        const at = i * this.#pieceBytes
        const piece = chunk.subarray(at, Math.min(at + this.#pieceBytes, chunk.byteLength))
        // Counted once handed over: a consumer that stops here has still taken the piece.
        sent += piece.byteLength
        yield piece
      }
    } finally {
      const unsent = chunk.byteLength - sent
      // Only the newest reservation can hand its tail back without moving anyone else's times.
      if (unsent > 0 && this.#freeAtMs === endMs)
        this.#freeAtMs = Math.max(this.#nowMs(), endMs - (unsent * 1000) / this.bytesPerSecond)
    }
  }
}

async function* unpaced(chunk: Uint8Array): AsyncIterable<Uint8Array> {
  yield chunk
}

function sleepMs(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
