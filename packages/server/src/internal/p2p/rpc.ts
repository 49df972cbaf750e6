/**
 * `/shoal/rpc/1`: one request and one answer per stream.
 *
 * ```
 *  caller                                   callee
 *    | -- rpcRequest(body) ------------------> |   then the caller closes its side
 *    | <-- rpcResponse(result)                 |
 *    |     or rpcError([code, message]) ------ |   then the callee closes its side
 * ```
 *
 * Anything else (a second request, a response kind from the caller, a
 * stream that ends before the answer) closes the stream with a counted
 * reason. A stream per request keeps a slow answer from holding up others
 * (Yamux streams cost a few hundred bytes and one round trip).
 */

import type { Stream } from '@libp2p/interface'
import { P2PAbortedError, P2PProtocolError, P2PRemoteError, P2PTimeoutError } from './errors.ts'
import { decodeBody, encodeFrame, FrameKind } from './frame.ts'
import { readFrames, type StreamContext, writeFrame } from './frame-stream.ts'

export const RPC_PROTOCOL = '/shoal/rpc/1'

/** Serves one request. The thrown error's string `code` (if any) travels to the caller. */
export type RequestHandler = (from: string, body: unknown) => Promise<unknown>

export interface RequestOptions {
  /** @defaultValue the node's `requestTimeoutMs` */
  timeoutMs?: number
  signal?: AbortSignal
}

/**
 * The caller's half: sends `body` on an open stream and waits for the answer.
 * The caller owns opening the stream; this owns closing it.
 */
export function callOverStream(
  stream: Stream,
  body: unknown,
  ctx: StreamContext,
  limits: { timeoutMs: number; remainingMs: number; signal: AbortSignal | undefined },
): Promise<unknown> {
  const { timeoutMs, remainingMs, signal } = limits
  const request = encodeFrame(FrameKind.rpcRequest, body, ctx.maxFrameBytes)
  return new Promise<unknown>((resolve, reject) => {
    let settled = false
    const settle = (error: Error | (() => Error) | undefined, value?: unknown) => {
      if (settled) return
      if (typeof error === 'function') error = error()
      settled = true
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      if (error !== undefined) {
        if (stream.status === 'open') stream.abort(error)
        reject(error)
      } else {
        resolve(value)
        void stream.close().catch(() => {})
      }
    }
    const timer = setTimeout(() => settle(new P2PTimeoutError(ctx.peer, timeoutMs)), remainingMs)
    const onAbort = () => settle(new P2PAbortedError('request aborted by the caller'))
    if (signal?.aborted) return onAbort()
    signal?.addEventListener('abort', onAbort, { once: true })
    readFrames(stream, [FrameKind.rpcResponse, FrameKind.rpcError], ctx, {
      onFrame(frame) {
        const value = decodeBody(frame.body)
        if (frame.kind === FrameKind.rpcResponse) return settle(undefined, value)
        const [code, message] = remoteError(value)
        settle(new P2PRemoteError(code, message))
      },
      onEnd() {
        settle(
          () => new P2PProtocolError('truncated', `peer ${ctx.peer} closed the rpc stream without answering`),
        )
      },
      onClose(reason, error) {
        settle(() => error ?? new P2PProtocolError(reason, `rpc stream to ${ctx.peer} closed (${reason})`))
      },
    })
    ctx.metrics.sent(ctx.peer, RPC_PROTOCOL, request.byteLength)
    writeFrame(stream, request, signal)
      .then(() => stream.close())
      .catch((error: Error) => settle(error))
  })
}

/** The callee's half, for one inbound stream. */
export function serveStream(stream: Stream, ctx: StreamContext, handler: RequestHandler | undefined): void {
  let requested = false
  const fail = readFrames(stream, [FrameKind.rpcRequest], ctx, {
    onFrame(frame) {
      if (requested) throw new P2PProtocolError('unexpected_kind', 'a second request on one rpc stream')
      requested = true
      const body = decodeBody(frame.body)
      void answer(stream, ctx, handler, body).catch((error: Error) =>
        fail(new P2PProtocolError('reset', `could not answer: ${error.message}`)),
      )
    },
    onEnd() {
      if (!requested) fail(new P2PProtocolError('truncated', 'rpc stream ended before the request'))
    },
  })
}

async function answer(
  stream: Stream,
  ctx: StreamContext,
  handler: RequestHandler | undefined,
  body: unknown,
): Promise<void> {
  let reply: Uint8Array
  try {
    if (handler === undefined) throw Object.assign(new Error('no request handler'), { code: 'no_handler' })
    reply = encodeFrame(FrameKind.rpcResponse, await handler(ctx.peer, body), ctx.maxFrameBytes)
  } catch (error) {
    const code =
      typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : 'internal'
    reply = encodeFrame(
      FrameKind.rpcError,
      [code, (error as Error).message ?? String(error)],
      ctx.maxFrameBytes,
    )
  }
  if (stream.writeStatus !== 'writable') return
  ctx.metrics.sent(ctx.peer, RPC_PROTOCOL, reply.byteLength)
  await writeFrame(stream, reply)
  await stream.close()
}

function remoteError(value: unknown): [string, string] {
  if (Array.isArray(value) && typeof value[0] === 'string' && typeof value[1] === 'string') {
    return [value[0], value[1]]
  }
  throw new P2PProtocolError('undecodable', 'rpc error frame is not [code, message]')
}
