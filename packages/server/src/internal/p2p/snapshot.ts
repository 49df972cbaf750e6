/**
 * `/shoal/snapshot/1`: one snapshot per stream, in checksummed chunks.
 *
 * ```
 *  sender                                          receiver
 *    | -- snapshotBegin(meta) ----------------------> |  handler(from, meta, chunks) starts
 *    | -- snapshotChunk([0, crc32, bytes]) ---------> |  each chunk's CRC32 checked, then yielded
 *    | -- snapshotChunk([1, crc32, bytes]) ---------> |
 *    | -- snapshotEnd([count, totalBytes, crc32]) --> |  count, length and running CRC32 checked
 *    | <-- snapshotResult([code, message]) ---------- |  `ok` once the handler returned
 * ```
 *
 * CRC32 is zlib's (IEEE 802.3); the total is the running CRC32 of every
 * chunk's bytes in order, so it equals the CRC32 of the whole snapshot.
 * Backpressure: the receiver pauses the stream when more than
 * `snapshotWindowBytes` of checked chunks wait for the handler, which stops
 * Yamux window updates, so the sender's `send()` asks it to wait for drain.
 * A checksum mismatch, a chunk out of order or a stream that ends early
 * makes the handler's iteration throw `P2PProtocolError`; on a checksum
 * mismatch the sender is told (`checksum` result) before the stream closes.
 */

import { crc32 } from 'node:zlib'
import type { Stream } from '@libp2p/interface'
import { P2PAbortedError, P2PProtocolError, P2PRemoteError } from './errors.ts'
import { decodeBody, encodeFrame, FrameKind } from './frame.ts'
import { readFrames, type StreamContext, writeFrame } from './frame-stream.ts'

export const SNAPSHOT_PROTOCOL = '/shoal/snapshot/1'

/** Receives one snapshot; it must read `chunks` to the end, or throw. */
export type SnapshotHandler = (
  from: string,
  meta: unknown,
  chunks: AsyncIterable<Uint8Array>,
) => Promise<void>

/** The sender's half. The caller owns opening the stream; this owns closing it. */
export async function sendOverStream(
  stream: Stream,
  meta: unknown,
  chunks: AsyncIterable<Uint8Array>,
  ctx: StreamContext,
  chunkBytes: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  let result: { code: string; message: string } | undefined
  let closed: Error | undefined
  const answered = new Promise<void>((resolve) => {
    readFrames(stream, [FrameKind.snapshotResult], ctx, {
      onFrame(frame) {
        const value = decodeBody(frame.body)
        if (!Array.isArray(value) || typeof value[0] !== 'string' || typeof value[1] !== 'string') {
          throw new P2PProtocolError('undecodable', 'snapshot result is not [code, message]')
        }
        result = { code: value[0], message: value[1] }
        resolve()
      },
      onClose(reason, error) {
        closed = error ?? new P2PProtocolError(reason, `snapshot stream to ${ctx.peer} closed (${reason})`)
        resolve()
      },
    })
  })
  // The caller's signal ends the exchange at any point, the wait for the
  // receiver's answer included: aborting the stream settles `answered`.
  const onAbort = () => stream.abort(new P2PAbortedError('snapshot aborted by the caller'))
  signal?.addEventListener('abort', onAbort, { once: true })
  const send = async (kind: FrameKind, value: unknown) => {
    if (signal?.aborted) throw new P2PAbortedError('snapshot aborted by the caller')
    const bytes = encodeFrame(kind, value, ctx.maxFrameBytes)
    await writeFrame(stream, bytes, signal)
    ctx.metrics.sent(ctx.peer, SNAPSHOT_PROTOCOL, bytes.byteLength)
  }
  try {
    await send(FrameKind.snapshotBegin, meta)
    let index = 0
    let totalBytes = 0
    let totalCrc = 0
    for await (const chunk of chunks) {
      for (let at = 0; at < chunk.byteLength; at += chunkBytes) {
        const piece = chunk.subarray(at, Math.min(at + chunkBytes, chunk.byteLength))
        totalCrc = crc32(piece, totalCrc)
        totalBytes += piece.byteLength
        await send(FrameKind.snapshotChunk, [index++, crc32(piece), piece])
      }
      if (result !== undefined || closed !== undefined) break
    }
    await send(FrameKind.snapshotEnd, [index, totalBytes, totalCrc])
    await stream.close(signal === undefined ? {} : { signal })
  } catch (error) {
    // The receiver may have said why before closing; prefer its word.
    if (result === undefined) {
      signal?.removeEventListener('abort', onAbort)
      if (stream.status === 'open') stream.abort(error as Error)
      throw signal?.aborted ? new P2PAbortedError('snapshot aborted by the caller') : error
    }
  }
  await answered
  signal?.removeEventListener('abort', onAbort)
  if (result === undefined) throw closed
  if (result.code !== 'ok') throw new P2PRemoteError(result.code, result.message)
}

/** The receiver's half, for one inbound stream. */
export function receiveOverStream(
  stream: Stream,
  ctx: StreamContext,
  handler: SnapshotHandler | undefined,
  windowBytes: number,
): void {
  const channel = new ChunkChannel(windowBytes, stream)
  let began = false
  let ended = false
  let nextIndex = 0
  let totalBytes = 0
  let totalCrc = 0
  const result = (code: string, message: string) =>
    encodeFrame(FrameKind.snapshotResult, [code, message], ctx.maxFrameBytes)
  const fail = readFrames(
    stream,
    [FrameKind.snapshotBegin, FrameKind.snapshotChunk, FrameKind.snapshotEnd],
    ctx,
    {
      onFrame(frame) {
        const value = decodeBody(frame.body)
        if (frame.kind === FrameKind.snapshotBegin) {
          if (began) throw new P2PProtocolError('unexpected_kind', 'a second snapshot begin on one stream')
          began = true
          return void run(value)
        }
        if (!began || ended) throw new P2PProtocolError('unexpected_kind', 'snapshot frame out of order')
        if (frame.kind === FrameKind.snapshotChunk) {
          const [index, crc, bytes] = chunkFields(value)
          if (index !== nextIndex)
            throw new P2PProtocolError('unexpected_kind', `chunk ${index}, expected ${nextIndex}`)
          if (crc32(bytes) !== crc) return checksumFailure(`chunk ${index} fails its CRC32`)
          nextIndex++
          totalBytes += bytes.byteLength
          totalCrc = crc32(bytes, totalCrc)
          return channel.push(bytes)
        }
        const [count, bytes, crc] = endFields(value)
        if (count !== nextIndex || bytes !== totalBytes || crc !== totalCrc) {
          return checksumFailure(`snapshot totals differ: ${count} chunks, ${bytes} bytes, crc ${crc}`)
        }
        ended = true
        channel.end()
      },
      onEnd() {
        if (!ended) fail(new P2PProtocolError('truncated', 'snapshot stream ended before its end frame'))
      },
      onClose(reason, error) {
        channel.fail(error ?? new P2PProtocolError(reason, `snapshot stream closed (${reason})`))
      },
    },
  )
  const checksumFailure = (message: string) => {
    const error = new P2PProtocolError('checksum', message)
    channel.fail(error)
    fail(error, result('checksum', message))
  }
  const run = async (meta: unknown) => {
    let reply: Uint8Array
    try {
      if (handler === undefined) throw Object.assign(new Error('no snapshot handler'), { code: 'no_handler' })
      await handler(ctx.peer, meta, channel)
      reply = ended
        ? result('ok', '')
        : result('incomplete', 'the handler returned before the end of the snapshot')
    } catch (error) {
      const code = (error as { code?: unknown }).code
      reply = result(typeof code === 'string' ? code : 'internal', (error as Error).message ?? String(error))
    }
    if (stream.writeStatus !== 'writable') return
    if (!ended) return fail(new P2PProtocolError('aborted', 'snapshot handler stopped early'), reply)
    await writeFrame(stream, reply).catch(() => {})
    ctx.metrics.sent(ctx.peer, SNAPSHOT_PROTOCOL, reply.byteLength)
    await stream.close().catch(() => {})
  }
}

function chunkFields(value: unknown): [number, number, Uint8Array] {
  if (Array.isArray(value) && Number.isInteger(value[0]) && Number.isInteger(value[1])) {
    if (value[2] instanceof Uint8Array) return [value[0], value[1], value[2]]
  }
  throw new P2PProtocolError('undecodable', 'snapshot chunk is not [index, crc32, bytes]')
}

function endFields(value: unknown): [number, number, number] {
  if (Array.isArray(value) && value.length === 3 && value.every((v) => Number.isInteger(v))) {
    return [value[0], value[1], value[2]]
  }
  throw new P2PProtocolError('undecodable', 'snapshot end is not [count, totalBytes, crc32]')
}

/**
 * Checked chunks waiting for the handler. Pauses the stream above
 * `windowBytes` buffered and resumes it below half of that.
 */
class ChunkChannel implements AsyncIterable<Uint8Array> {
  readonly #chunks: Uint8Array[] = []
  #bufferedBytes = 0
  #done = false
  #pauseQueued = false
  #error: Error | undefined
  #wake: (() => void) | undefined
  readonly #windowBytes: number
  readonly #stream: Stream

  constructor(windowBytes: number, stream: Stream) {
    this.#windowBytes = windowBytes
    this.#stream = stream
  }

  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk)
    this.#bufferedBytes += chunk.byteLength
    if (this.#bufferedBytes > this.#windowBytes && !this.#pauseQueued) {
      // Pause in a microtask: this may run inside libp2p's resume(), which
      // dispatches buffered data before telling Yamux to resume; a pause
      // from inside it would be undone by that.
      this.#pauseQueued = true
      queueMicrotask(() => {
        this.#pauseQueued = false
        if (this.#bufferedBytes > this.#windowBytes && this.#stream.readStatus === 'readable')
          this.#stream.pause()
      })
    }
    this.#notify()
  }

  end(): void {
    this.#done = true
    this.#notify()
  }

  fail(error: Error): void {
    if (this.#done) return
    this.#error ??= error
    this.#notify()
  }

  #notify(): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      const chunk = this.#chunks.shift()
      if (chunk !== undefined) {
        this.#bufferedBytes -= chunk.byteLength
        if (this.#bufferedBytes <= this.#windowBytes / 2 && this.#stream.readStatus === 'paused') {
          this.#stream.resume()
        }
        yield chunk
        continue
      }
      if (this.#error !== undefined) throw this.#error
      if (this.#done) return
      await new Promise<void>((resolve) => {
        this.#wake = resolve
      })
    }
  }
}
