/**
 * `/shoal/rpc/1`: requests and answers, many at once on one long-lived
 * stream per peer and direction, matched by a request id.
 *
 * ```
 *  caller                                          callee
 *    | -- rpcRequest([id, body]) ---------------------> |  handler(from, body), concurrently
 *    | -- rpcRequest([id', body']) -------------------> |
 *    | <-- rpcResponse([id', result]) ----------------- |  answers in completion order
 *    | <-- rpcError([id, code, message]) -------------- |
 * ```
 *
 * Ids are unsigned integers chosen by the caller, unique among its requests
 * in flight on that stream. One stream instead of one per request saves the
 * protocol negotiation round trip and libp2p's per-stream bookkeeping, which
 * cost milliseconds of CPU per request. A slow handler holds up nobody (answers
 * leave in completion order); a large answer delays the ones queued behind it
 * on that stream by its transfer time. A timed-out or aborted request is
 * forgotten by the caller; the callee's handler still runs to its end and its
 * late answer is ignored.
 */

import type { Stream } from '@libp2p/interface'
import {
  P2PAbortedError,
  P2PError,
  P2PProtocolError,
  P2PRemoteError,
  P2PTimeoutError,
  P2PUnreachableError,
} from './errors.ts'
import { decodeBody, encodeFrame, FrameKind } from './frame.ts'
import { drained, readFrames, type StreamContext, writeFrame } from './frame-stream.ts'

export const RPC_PROTOCOL = '/shoal/rpc/1'

/** Serves one request. The thrown error's string `code` (if any) travels to the caller. */
export type RequestHandler = (from: string, body: unknown) => Promise<unknown>

export interface RequestOptions {
  /** @defaultValue the node's `requestTimeoutMs` */
  timeoutMs?: number
  signal?: AbortSignal
}

interface Pending {
  resolve(value: unknown): void
  reject(error: Error): void
}

/**
 * The caller's side towards one peer: one stream, opened on first use and
 * again after it closes, and the requests waiting on it.
 */
export class RpcClient {
  readonly #ctx: StreamContext
  readonly #openStream: () => Promise<Stream>
  readonly #pending = new Map<number, Pending>()
  #nextId = 0
  #stream: Stream | undefined
  #opening: Promise<Stream> | undefined
  #closed = false

  /** `openStream` opens a `/shoal/rpc/1` stream to the peer within the dial timeout, or rejects with a typed error. */
  constructor(ctx: StreamContext, openStream: () => Promise<Stream>) {
    this.#ctx = ctx
    this.#openStream = openStream
  }

  /**
   * Sends one request and waits for its answer, at most `timeoutMs` from
   * the call (opening the stream included). Rejects with the typed errors
   * of `P2PNode.request`.
   */
  async call(body: unknown, timeoutMs: number, signal: AbortSignal | undefined): Promise<unknown> {
    const id = this.#nextId
    this.#nextId = (this.#nextId + 1) % 2 ** 32
    const request = encodeFrame(FrameKind.rpcRequest, [id, body], this.#ctx.maxFrameBytes)
    const deadline = AbortSignal.timeout(timeoutMs)
    const limit = signal === undefined ? deadline : AbortSignal.any([deadline, signal])
    const failure = () =>
      signal?.aborted
        ? new P2PAbortedError('request aborted by the caller')
        : new P2PTimeoutError(this.#ctx.peer, timeoutMs)
    if (limit.aborted) throw failure()
    return new Promise<unknown>((resolve, reject) => {
      const finish = () => {
        this.#pending.delete(id)
        limit.removeEventListener('abort', onLimit)
      }
      const onLimit = () => {
        finish()
        this.#count(signal?.aborted ? 'aborted' : 'timeout')
        reject(failure())
      }
      limit.addEventListener('abort', onLimit, { once: true })
      this.#pending.set(id, {
        resolve: (value) => {
          finish()
          this.#count('ok')
          resolve(value)
        },
        reject: (error) => {
          finish()
          this.#count(error instanceof P2PRemoteError ? 'remote_error' : 'failed')
          reject(error)
        },
      })
      this.#send(request, limit).catch((error: Error) => this.#pending.get(id)?.reject(error))
    })
  }

  /** Bytes libp2p holds for this peer's rpc stream, not yet on the connection. */
  get bufferedBytes(): number {
    return this.#stream?.writeBufferLength ?? 0
  }

  /** Requests waiting for an answer. */
  get pendingRequests(): number {
    return this.#pending.size
  }

  /** Rejects every waiting request with `error` and closes the stream; later calls reopen it. */
  close(error: P2PError, forever = false): void {
    this.#closed ||= forever
    this.#stream?.abort(error)
    this.#stream = undefined
    this.#failAll(error)
  }

  async #send(request: Uint8Array, signal: AbortSignal): Promise<void> {
    if (this.#closed) throw new P2PUnreachableError(this.#ctx.peer, 'the node stopped', { maybeSent: false })
    // Callers share one opening; each still gives up at its own deadline.
    if (this.#stream === undefined && this.#opening === undefined) this.#opening = this.#open()
    const stream = this.#stream ?? (await this.#opening!)
    // Wait for room before adding the request to libp2p's write buffer, so
    // a request that times out while the peer is not reading leaves nothing
    // behind: the buffer holds at most the requests of callers still waiting.
    while (stream.writableNeedsDrain) await drained(stream, signal)
    if (signal.aborted) return
    this.#ctx.metrics.sent(this.#ctx.peer, RPC_PROTOCOL, request.byteLength)
    stream.send(request)
  }

  async #open(): Promise<Stream> {
    try {
      const stream = await this.#openStream()
      this.#stream = stream
      readFrames(stream, [FrameKind.rpcResponse, FrameKind.rpcError], this.#ctx, {
        onFrame: (frame) => this.#answer(frame.kind, decodeBody(frame.body)),
        onEnd: () => stream.abort(new P2PProtocolError('truncated', 'the callee closed the rpc stream')),
        onClose: (reason, error) => {
          if (this.#stream === stream) this.#stream = undefined
          this.#failAll(
            error instanceof P2PError
              ? error
              : new P2PUnreachableError(this.#ctx.peer, `rpc stream closed (${reason})`, { cause: error }),
          )
        },
      })
      return stream
    } finally {
      this.#opening = undefined
    }
  }

  #answer(kind: FrameKind, value: unknown): void {
    if (!Array.isArray(value) || !Number.isInteger(value[0])) {
      throw new P2PProtocolError('undecodable', 'rpc answer is not [id, …]')
    }
    const pending = this.#pending.get(value[0])
    if (kind === FrameKind.rpcResponse) {
      pending?.resolve(value[1])
      return
    }
    if (typeof value[1] !== 'string' || typeof value[2] !== 'string') {
      throw new P2PProtocolError('undecodable', 'rpc error is not [id, code, message]')
    }
    pending?.reject(new P2PRemoteError(value[1], value[2]))
  }

  #failAll(error: Error): void {
    for (const pending of [...this.#pending.values()]) pending.reject(error)
  }

  #count(outcome: 'ok' | 'remote_error' | 'timeout' | 'aborted' | 'failed'): void {
    this.#ctx.metrics.requests.inc({ peer: this.#ctx.peer, outcome })
  }
}

/**
 * The callee's side of one inbound stream: at most `maxInFlight` handlers
 * run at once per stream; requests beyond wait in arrival order, and while
 * any wait the stream is paused, so the caller's sends wait for drain and
 * the waiting list holds at most what arrived before the pause took hold
 * (one Yamux window).
 */
export function serveStream(
  stream: Stream,
  ctx: StreamContext,
  handler: () => RequestHandler | undefined,
  maxInFlight: number,
): void {
  const waiting: [number, unknown][] = []
  let inFlight = 0
  let pauseQueued = false
  let ended = false
  const startWaiting = () => {
    while (inFlight < maxInFlight && waiting.length > 0) {
      const [id, body] = waiting.shift()!
      inFlight++
      void answer(stream, ctx, handler(), id, body)
        .catch((error: Error) => fail(new P2PProtocolError('reset', `could not answer: ${error.message}`)))
        .finally(() => {
          inFlight--
          startWaiting()
          if (ended && inFlight === 0 && waiting.length === 0) void stream.close().catch(() => {})
        })
    }
    if (waiting.length === 0 && stream.readStatus === 'paused') stream.resume()
    else if (waiting.length > 0 && !pauseQueued) {
      // In a microtask: this may run inside libp2p's resume(), which would
      // undo a pause made during its dispatch.
      pauseQueued = true
      queueMicrotask(() => {
        pauseQueued = false
        if (waiting.length > 0 && stream.readStatus === 'readable') stream.pause()
      })
    }
  }
  const fail = readFrames(stream, [FrameKind.rpcRequest], ctx, {
    onFrame(frame) {
      const value = decodeBody(frame.body)
      if (!Array.isArray(value) || value.length !== 2 || !Number.isInteger(value[0])) {
        throw new P2PProtocolError('undecodable', 'rpc request is not [id, body]')
      }
      waiting.push([value[0] as number, value[1]])
      startWaiting()
    },
    // The caller closed its side: answer what is in flight, then close ours.
    onEnd() {
      ended = true
      if (inFlight === 0 && waiting.length === 0) void stream.close().catch(() => {})
    },
  })
}

async function answer(
  stream: Stream,
  ctx: StreamContext,
  handler: RequestHandler | undefined,
  id: number,
  body: unknown,
): Promise<void> {
  let reply: Uint8Array
  try {
    if (handler === undefined) throw Object.assign(new Error('no request handler'), { code: 'no_handler' })
    reply = encodeFrame(FrameKind.rpcResponse, [id, await handler(ctx.peer, body)], ctx.maxFrameBytes)
  } catch (error) {
    const code = (error as { code?: unknown }).code
    const message = (error as Error).message ?? String(error)
    reply = encodeFrame(
      FrameKind.rpcError,
      [id, typeof code === 'string' ? code : 'internal', message],
      ctx.maxFrameBytes,
    )
  }
  if (stream.writeStatus !== 'writable') return
  ctx.metrics.sent(ctx.peer, RPC_PROTOCOL, reply.byteLength)
  await writeFrame(stream, reply)
}
