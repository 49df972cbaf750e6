/**
 * Frames over one libp2p stream (the v3 stream API: `send()` returns false
 * when the caller must wait for `drain`; incoming bytes arrive as `message`
 * events; `end` says the remote closed its side and everything was read;
 * `close` fires once, whatever ended the stream).
 */

import type { Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'
import { P2PProtocolError } from './errors.ts'
import { FRAME_HEADER_BYTES, type Frame, FrameDecoder, type FrameKind } from './frame.ts'
import type { CloseReason, P2PMetrics } from './metrics.ts'
import type { P2PLogger } from './options.ts'

/** Logs a repeated warning at most once per interval per key, with the count it stood for. */
export class RateLimitedLog {
  readonly #logger: P2PLogger
  readonly #intervalMs: number
  readonly #last = new Map<string, { atMs: number; suppressed: number }>()

  constructor(logger: P2PLogger, intervalMs: number) {
    this.#logger = logger
    this.#intervalMs = intervalMs
  }

  warn(key: string, fields: object, message: string): void {
    const nowMs = performance.now()
    const last = this.#last.get(key)
    if (last !== undefined && nowMs - last.atMs < this.#intervalMs) {
      last.suppressed++
      return
    }
    this.#last.set(key, { atMs: nowMs, suppressed: 0 })
    this.#logger.warn({ ...fields, suppressedSinceLast: last?.suppressed ?? 0 }, message)
  }
}

/** What a stream's reader needs from the node. */
export interface StreamContext {
  protocol: string
  peer: string
  maxFrameBytes: number
  metrics: P2PMetrics
  log: RateLimitedLog
}

export interface FrameReaderHooks {
  /** One whole frame. Throwing `P2PProtocolError` closes the stream with its reason. */
  onFrame(frame: Frame): void
  /** The remote closed its side and every frame was delivered. */
  onEnd?(): void
  /** The stream is gone; `reason` is what was counted. Called once. */
  onClose?(reason: CloseReason, error: Error | undefined): void
}

/**
 * Reads frames of the given kinds from `stream` and counts how it closes in
 * `shoal_p2p_streams_closed_total`. A frame error aborts the stream (the
 * remote sees a reset) with a logged, counted reason; nothing else is
 * affected. Returns `fail`, which closes the stream the same way for an
 * error found by the caller (a checksum mismatch, a frame out of order);
 * with `farewell` it first sends those bytes (a frame telling the remote
 * why) and aborts once they left.
 */
export function readFrames(
  stream: Stream,
  kinds: readonly FrameKind[],
  ctx: StreamContext,
  hooks: FrameReaderHooks,
): (error: P2PProtocolError, farewell?: Uint8Array) => void {
  const decoder = new FrameDecoder(ctx.maxFrameBytes, kinds)
  let failure: P2PProtocolError | undefined
  const fail = (error: P2PProtocolError, farewell?: Uint8Array) => {
    if (failure !== undefined || stream.status !== 'open') return
    failure = error
    ctx.log.warn(
      `${ctx.protocol}:${error.reason}`,
      { peer: ctx.peer, protocol: ctx.protocol, reason: error.reason, error: error.message },
      'p2p stream closed on a protocol error',
    )
    if (farewell === undefined || stream.writeStatus !== 'writable') {
      stream.abort(error)
      return
    }
    try {
      stream.send(farewell)
      ctx.metrics.sent(ctx.peer, ctx.protocol, farewell.byteLength)
    } catch {}
    const abort = () => {
      if (stream.status === 'open' || stream.status === 'closing') stream.abort(error)
    }
    stream.close({ signal: AbortSignal.timeout(1000) }).then(abort, abort)
  }
  stream.addEventListener('message', (event) => {
    if (failure !== undefined) return
    try {
      for (const frame of decoder.push(event.data as Uint8Array | Uint8ArrayList)) {
        ctx.metrics.received(ctx.peer, ctx.protocol, frame.body.byteLength + FRAME_HEADER_BYTES)
        hooks.onFrame(frame)
        if (failure !== undefined) return
      }
    } catch (error) {
      if (error instanceof P2PProtocolError) fail(error)
      else throw error
    }
  })
  stream.addEventListener('end', () => {
    if (failure !== undefined) return
    if (decoder.pendingBytes > 0) {
      fail(new P2PProtocolError('truncated', `stream ended inside a frame (${decoder.pendingBytes} bytes)`))
      return
    }
    hooks.onEnd?.()
  })
  stream.addEventListener(
    'close',
    (event) => {
      const reason = failure?.reason ?? classifyClose(event.error)
      ctx.metrics.streamsClosed.inc({ protocol: ctx.protocol, reason })
      hooks.onClose?.(reason, failure ?? event.error)
    },
    { once: true },
  )
  return fail
}

/** The counted reason for a stream that closed without a frame error of ours. */
export function classifyClose(error: Error | undefined): CloseReason {
  if (error === undefined) return 'end'
  if (error instanceof P2PProtocolError) return error.reason
  switch (error.name) {
    case 'InactivityTimeoutError':
      return 'idle_timeout'
    case 'StreamBufferError':
      return 'buffer_full'
    case 'P2PTimeoutError':
    case 'TimeoutError':
      return 'timeout'
    case 'P2PAbortedError':
    case 'AbortError':
      return 'aborted'
    case 'P2PStoppedError':
      return 'stopped'
    default:
      return 'reset'
  }
}

/**
 * Sends one frame; when libp2p asks the writer to wait (`send()` returned
 * false), resolves once the stream drained.
 */
export async function writeFrame(stream: Stream, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
  if (stream.send(bytes) || !stream.writableNeedsDrain) return
  await drained(stream, signal)
}

/**
 * Resolves on the stream's next `drain` event (at once if it needs none),
 * rejects if it closes or `signal` fires first. It listens for the event
 * itself rather than calling `stream.onDrain()`: in @libp2p/utils 7.4 that
 * promise is created once and never renewed, so after the first drain it
 * resolves at once and gives no backpressure at all.
 */
export async function drained(stream: Stream, signal?: AbortSignal): Promise<void> {
  if (!stream.writableNeedsDrain) return
  signal?.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const done = (error?: Error) => {
      stream.removeEventListener('drain', onDrain)
      stream.removeEventListener('close', onClose)
      signal?.removeEventListener('abort', onAbort)
      if (error === undefined) resolve()
      else reject(error)
    }
    const onDrain = () => done()
    const onClose = (event: Event) =>
      done((event as { error?: Error }).error ?? new Error('stream closed while writing'))
    const onAbort = () => done(signal?.reason instanceof Error ? signal.reason : new Error('aborted'))
    stream.addEventListener('drain', onDrain)
    stream.addEventListener('close', onClose)
    signal?.addEventListener('abort', onAbort)
  })
}
