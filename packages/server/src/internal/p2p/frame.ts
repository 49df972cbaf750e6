/**
 * The frame: the unit of every Shoal protocol over libp2p (`/shoal/raft/1`,
 * `/shoal/rpc/1`, `/shoal/snapshot/1`). A libp2p stream carries a sequence of
 * frames; each is a fixed 6-byte header followed by a msgpack body.
 *
 * ```
 *  byte 0               4          5          6
 *       +---------------+----------+----------+==========================+
 *       | bodyBytes     | version  | kind     | body                     |
 *       | u32 big-end.  | u8 = 1   | u8       | bodyBytes bytes, msgpack |
 *       +---------------+----------+----------+==========================+
 * ```
 *
 * - `bodyBytes` counts the body only (not the header). A reader refuses a
 *   header whose `bodyBytes` exceeds its `maxFrameBytes` as soon as the
 *   header arrives, before buffering any of the body, so an oversized frame
 *   costs the reader 6 bytes.
 * - `version` is the frame format version, 1 here. Any other value closes
 *   the stream (`bad_version`). The protocol id's `/1` names the exchange
 *   (which kinds, in what order); `version` names these bytes.
 * - `kind` says what the body is (`FrameKind`). Each protocol accepts only
 *   its own kinds; any other closes the stream (`unexpected_kind`).
 * - The body is exactly one MessagePack value (msgpackr, plain: no records,
 *   no extensions). Trailing bytes or invalid MessagePack close the stream
 *   (`undecodable`).
 *
 * Recovery rule: there is none inside a stream. A frame error closes that
 * stream (abort, which resets it for the remote); the connection and every
 * other stream go on, and the sender may open a new stream.
 */

import { Packr } from 'msgpackr'
import { Uint8ArrayList } from 'uint8arraylist'
import { P2PFrameTooLargeError, P2PProtocolError } from './errors.ts'

export const FRAME_VERSION = 1
export const FRAME_HEADER_BYTES = 6

/** What a frame's body is. The numbers are on the wire: never reuse one. */
export const FrameKind = {
  /** `/shoal/raft/1`: one batched Raft frame, opaque to the transport. */
  raft: 1,
  /** `/shoal/rpc/1`: `[id, body]`, one request. */
  rpcRequest: 2,
  /** `/shoal/rpc/1`: `[id, result]`, the handler's result. */
  rpcResponse: 3,
  /** `/shoal/rpc/1`: `[id, code, message]`, the handler failed. */
  rpcError: 4,
  /** `/shoal/snapshot/1`: the snapshot's metadata, first frame. */
  snapshotBegin: 5,
  /** `/shoal/snapshot/1`: `[index, crc32, bytes]`, one chunk. */
  snapshotChunk: 6,
  /** `/shoal/snapshot/1`: `[chunkCount, totalBytes, totalCrc32]`, last frame from the sender. */
  snapshotEnd: 7,
  /** `/shoal/snapshot/1`: `[code, message]` from the receiver; code `ok` on success. */
  snapshotResult: 8,
} as const
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind]

/** One frame as read: kind and the still-encoded body. */
export interface Frame {
  kind: FrameKind
  body: Uint8Array
}

const packr = new Packr({ useRecords: false, moreTypes: false })

/**
 * msgpackr encodes into one buffer shared by every `Packr` of the process and
 * grows it to four times the largest value it met, for good. After a body
 * larger than this (a frame carrying thousands of groups' messages), it is
 * handed a fresh small buffer, so one burst does not pin megabytes.
 */
const RETAINED_ENCODE_BYTES = 64 * 1024

/** Encodes `value` into one frame. Throws `P2PFrameTooLargeError` past `maxFrameBytes`. */
export function encodeFrame(kind: FrameKind, value: unknown, maxFrameBytes: number): Uint8Array {
  const body = packr.pack(value)
  try {
    if (body.byteLength > maxFrameBytes) throw new P2PFrameTooLargeError(body.byteLength, maxFrameBytes)
    // A copy: `body` is a view of msgpackr's buffer.
    return frameBytes(kind, body)
  } finally {
    if (body.byteLength > RETAINED_ENCODE_BYTES) packr.useBuffer(Buffer.allocUnsafeSlow(8192))
  }
}

/** Header plus an already-encoded body. Also used by tests to build hostile frames. */
export function frameBytes(kind: number, body: Uint8Array, version = FRAME_VERSION): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + body.byteLength)
  const view = new DataView(out.buffer)
  view.setUint32(0, body.byteLength)
  out[4] = version
  out[5] = kind
  out.set(body, FRAME_HEADER_BYTES)
  return out
}

/** Decodes a body. Throws `P2PProtocolError('undecodable')`. */
export function decodeBody(body: Uint8Array): unknown {
  try {
    return packr.unpack(body)
  } catch (cause) {
    throw new P2PProtocolError('undecodable', 'frame body is not one MessagePack value', { cause })
  }
}

/**
 * Splits a byte stream into frames. Pure: bytes in, frames out; it holds at
 * most one partial frame (at most `maxFrameBytes` + 6 bytes).
 */
export class FrameDecoder {
  readonly #buffer = new Uint8ArrayList()
  readonly #maxFrameBytes: number
  readonly #kinds: ReadonlySet<number>

  constructor(maxFrameBytes: number, kinds: readonly FrameKind[]) {
    this.#maxFrameBytes = maxFrameBytes
    this.#kinds = new Set(kinds)
  }

  /** Bytes held for a frame not yet complete. Non-zero at end of stream means `truncated`. */
  get pendingBytes(): number {
    return this.#buffer.byteLength
  }

  /**
   * Appends `chunk` and returns every frame it completes, in order. Throws
   * `P2PProtocolError` with reason `bad_version`, `unexpected_kind` or
   * `oversized`; the decoder is then unusable (the stream is to be closed).
   */
  push(chunk: Uint8Array | Uint8ArrayList): Frame[] {
    this.#buffer.append(chunk)
    const frames: Frame[] = []
    while (this.#buffer.byteLength >= FRAME_HEADER_BYTES) {
      const bodyBytes = this.#buffer.getUint32(0)
      const version = this.#buffer.get(4)
      const kind = this.#buffer.get(5)
      if (version !== FRAME_VERSION) {
        throw new P2PProtocolError('bad_version', `frame version ${version}, expected ${FRAME_VERSION}`)
      }
      if (!this.#kinds.has(kind)) {
        throw new P2PProtocolError('unexpected_kind', `frame kind ${kind} is not expected on this protocol`)
      }
      if (bodyBytes > this.#maxFrameBytes) {
        throw new P2PProtocolError(
          'oversized',
          `frame body of ${bodyBytes} bytes exceeds maxFrameBytes ${this.#maxFrameBytes}`,
        )
      }
      const frameEnd = FRAME_HEADER_BYTES + bodyBytes
      if (this.#buffer.byteLength < frameEnd) break
      const body = this.#buffer.subarray(FRAME_HEADER_BYTES, frameEnd)
      this.#buffer.consume(frameEnd)
      frames.push({ kind: kind as FrameKind, body })
    }
    return frames
  }
}
