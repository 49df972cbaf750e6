/**
 * The per-peer queue of `/shoal/raft/1` frames. Raft tolerates lost
 * messages (a lost append is retried from the leader's `nextIndex`, a lost
 * vote by the next election), so this queue never blocks its caller and
 * never grows past its bound: a frame that does not fit is dropped and
 * counted. Frames leave in the order they were queued, over one stream per
 * peer, and only when libp2p has drained what it already holds, so the
 * memory a stuck peer can pin is `peerQueueBytes` plus what libp2p holds
 * for one stream (at most one frame beyond its own buffer limit).
 */

import type { Stream } from '@libp2p/interface'
import type { RateLimitedLog } from './frame-stream.ts'
import type { DropReason, P2PMetrics } from './metrics.ts'

export const RAFT_PROTOCOL = '/shoal/raft/1'

export interface RaftOutboxOptions {
  peer: string
  maxQueueBytes: number
  maxQueueFrames: number
  redialBackoffMs: number
  metrics: P2PMetrics
  log: RateLimitedLog
  /** Opens a `/shoal/raft/1` stream to the peer; rejects when it cannot. */
  openStream: () => Promise<Stream>
}

type State = 'idle' | 'opening' | 'open' | 'stopped'

export class RaftOutbox {
  readonly #opts: RaftOutboxOptions
  #queue: Uint8Array[] = []
  #head = 0
  #queuedBytes = 0
  #state: State = 'idle'
  #stream: Stream | undefined
  #pumpQueued = false
  /** `performance.now()` before which frames are dropped as unreachable (after a failed dial). */
  #retryAtMs = 0

  constructor(options: RaftOutboxOptions) {
    this.#opts = options
  }

  get queuedBytes(): number {
    return this.#queuedBytes
  }

  get queuedFrames(): number {
    return this.#queue.length - this.#head
  }

  /** Bytes libp2p holds for the current stream, not yet written to the connection. */
  get bufferedBytes(): number {
    return this.#stream?.writeBufferLength ?? 0
  }

  /** Queues one encoded frame. Returns false when it was dropped (counted). */
  enqueue(frame: Uint8Array): boolean {
    if (this.#state === 'stopped') return this.#drop('stopped', 1)
    if (this.#state === 'idle' && performance.now() < this.#retryAtMs) return this.#drop('unreachable', 1)
    const { maxQueueBytes, maxQueueFrames } = this.#opts
    if (this.queuedFrames >= maxQueueFrames || this.#queuedBytes + frame.byteLength > maxQueueBytes) {
      return this.#drop('queue_full', 1)
    }
    this.#queue.push(frame)
    this.#queuedBytes += frame.byteLength
    if (this.#state === 'idle') void this.#open()
    else if (this.#state === 'open' && !this.#pumpQueued) {
      // A microtask later, so frames queued in one synchronous burst leave together.
      this.#pumpQueued = true
      queueMicrotask(() => {
        this.#pumpQueued = false
        this.#pump()
      })
    }
    return true
  }

  /** Drops what is queued and closes the stream. Later frames are dropped as `stopped`. */
  stop(): void {
    if (this.#state === 'stopped') return
    this.#state = 'stopped'
    this.#dropQueue('stopped')
    this.#stream?.abort(new Error('node stopping'))
    this.#stream = undefined
  }

  async #open(): Promise<void> {
    this.#state = 'opening'
    let stream: Stream
    try {
      stream = await this.#opts.openStream()
    } catch (error) {
      if (this.#stopped()) return
      this.#state = 'idle'
      this.#retryAtMs = performance.now() + this.#opts.redialBackoffMs
      this.#opts.log.warn(
        `raft-dial:${this.#opts.peer}`,
        { peer: this.#opts.peer, error: (error as Error).message },
        'p2p raft stream could not be opened; dropping queued frames',
      )
      this.#dropQueue('unreachable')
      return
    }
    if (this.#stopped()) {
      stream.abort(new Error('node stopping'))
      return
    }
    this.#stream = stream
    this.#state = 'open'
    stream.addEventListener('drain', () => this.#pump())
    stream.addEventListener(
      'close',
      (event) => {
        if (this.#stream !== stream) return
        this.#stream = undefined
        if (this.#state === 'stopped') return
        this.#state = 'idle'
        // libp2p closes idle streams; reopen at once if frames wait.
        if (event.error !== undefined && event.error.name !== 'InactivityTimeoutError') {
          this.#retryAtMs = performance.now() + this.#opts.redialBackoffMs
        }
        if (this.queuedFrames > 0) void this.#open()
      },
      { once: true },
    )
    this.#pump()
  }

  /**
   * Hands queued frames to libp2p until it asks for `drain` (whose event
   * calls this again). Frames queued together leave in one `send` of up to
   * `COALESCE_BYTES`, so a burst costs one Yamux frame, one Noise message
   * and one socket write instead of one per frame.
   */
  #pump(): void {
    while (this.#stream !== undefined && this.queuedFrames > 0 && !this.#stream.writableNeedsDrain) {
      const batch: Uint8Array[] = []
      let batchBytes = 0
      while (this.queuedFrames > 0) {
        const frame = this.#queue[this.#head]!
        if (batch.length > 0 && batchBytes + frame.byteLength > COALESCE_BYTES) break
        this.#queue[this.#head++] = EMPTY
        batch.push(frame)
        batchBytes += frame.byteLength
      }
      this.#queuedBytes -= batchBytes
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) this.#compact()
      try {
        this.#stream.send(batch.length === 1 ? batch[0]! : Buffer.concat(batch, batchBytes))
      } catch {
        // The stream closed under us; its 'close' handler reopens.
        this.#drop('unreachable', batch.length)
        return
      }
      for (const frame of batch) this.#opts.metrics.sent(this.#opts.peer, RAFT_PROTOCOL, frame.byteLength)
    }
  }

  /** A method, not a field read, so the compiler does not narrow `#state` across an await. */
  #stopped(): boolean {
    return this.#state === 'stopped'
  }

  #compact(): void {
    this.#queue = this.#queue.slice(this.#head)
    this.#head = 0
  }

  #dropQueue(reason: DropReason): void {
    const frames = this.queuedFrames
    this.#queue = []
    this.#head = 0
    this.#queuedBytes = 0
    if (frames > 0) this.#drop(reason, frames)
  }

  #drop(reason: DropReason, frames: number): false {
    this.#opts.metrics.framesDropped.inc({ peer: this.#opts.peer, reason }, frames)
    if (reason === 'queue_full') {
      this.#opts.log.warn(
        `raft-drop:${this.#opts.peer}`,
        { peer: this.#opts.peer, reason, queuedBytes: this.#queuedBytes, queuedFrames: this.queuedFrames },
        'p2p raft queue full; dropping frames',
      )
    }
    return false
  }
}

const EMPTY = new Uint8Array(0)

/** Most bytes of queued frames joined into one `send` (Yamux's largest message). */
const COALESCE_BYTES = 64 * 1024
