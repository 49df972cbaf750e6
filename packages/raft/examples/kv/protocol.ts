import { crc32 } from 'node:zlib'
import { Packr } from 'msgpackr'

/**
 * Wire format of the example key-value service, on both its ports: frames of
 *
 *   u32 length | u32 ~length | u32 crc32(payload) | msgpack payload     (big-endian)
 *
 * The complemented length catches a damaged length before the reader waits for
 * a frame that never ends; the CRC catches a damaged payload. A frame that
 * fails either check, is longer than MAX_FRAME_BYTES or does not decode closes
 * the connection: the peer reconnects, and Raft resends what was lost.
 *
 * Client requests:  [id, op, key?, value?, expected?]   op: put | get | cas | status | local | clock
 * Client responses: [id, status, result]                 status: 0 ok, 1 not leader (result: leader's
 *                                                        client address or null), 2 error (message)
 * Raft frames:      an array of Raft messages for one destination.
 */
export const packr = new Packr({ useRecords: false })

export type KvOp = 'put' | 'get' | 'cas' | 'status' | 'local' | 'clock'
export type KvRequest = [id: number, op: KvOp, key?: string, value?: string, expected?: string | null]
export type KvResponse = [id: number, status: 0 | 1 | 2, result: unknown]

export const OK = 0
export const NOT_LEADER = 1
export const FAILED = 2

/** Frames longer than this are refused as damaged. */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024
const HEADER_BYTES = 12

export function frame(value: unknown): Buffer {
  const payload = packr.pack(value)
  const out = Buffer.allocUnsafe(HEADER_BYTES + payload.length)
  out.writeUInt32BE(payload.length, 0)
  out.writeUInt32BE(~payload.length >>> 0, 4)
  out.writeUInt32BE(crc32(payload), 8)
  payload.copy(out, HEADER_BYTES)
  return out
}

/** A frame that failed its checks: the stream cannot be trusted past it. */
export class FrameError extends Error {
  override readonly name = 'FrameError'
  readonly code = 'ERR_FRAME'
}

/**
 * Reassembles frames from a byte stream; hands each decoded payload to
 * `onFrame`. After a damaged frame it calls `onError` once and ignores the
 * rest of the stream (the caller closes the connection).
 */
export class FrameReader {
  #buffer: Buffer = Buffer.alloc(0)
  #failed = false
  readonly #onFrame: (value: unknown) => void
  readonly #onError: (error: FrameError) => void

  constructor(onFrame: (value: unknown) => void, onError: (error: FrameError) => void) {
    this.#onFrame = onFrame
    this.#onError = onError
  }

  push(chunk: Buffer): void {
    if (this.#failed) return
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk])
    while (this.#buffer.length >= HEADER_BYTES) {
      const length = this.#buffer.readUInt32BE(0)
      if (~length >>> 0 !== this.#buffer.readUInt32BE(4) || length > MAX_FRAME_BYTES) {
        this.#fail(new FrameError(`damaged frame header (length ${length})`))
        return
      }
      if (this.#buffer.length < HEADER_BYTES + length) break
      const payload = this.#buffer.subarray(HEADER_BYTES, HEADER_BYTES + length)
      if (crc32(payload) !== this.#buffer.readUInt32BE(8)) {
        this.#fail(new FrameError('frame checksum mismatch'))
        return
      }
      this.#buffer = this.#buffer.subarray(HEADER_BYTES + length)
      let value: unknown
      try {
        value = packr.unpack(payload)
      } catch (error) {
        this.#fail(new FrameError(`undecodable frame: ${String(error)}`))
        return
      }
      this.#onFrame(value)
    }
  }

  #fail(error: FrameError): void {
    this.#failed = true
    this.#buffer = Buffer.alloc(0)
    this.#onError(error)
  }
}

/** `id=host:raftPort:clientPort` entries, comma separated. */
export interface PeerAddress {
  id: string
  host: string
  raftPort: number
  clientPort: number
}

export function parsePeers(text: string): PeerAddress[] {
  return text.split(',').map((part) => {
    const [id, address] = part.split('=') as [string, string]
    const [host, raftPort, clientPort] = address.split(':') as [string, string, string]
    return { id, host, raftPort: Number(raftPort), clientPort: Number(clientPort) }
  })
}
