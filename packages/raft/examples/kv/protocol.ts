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
  writeHeader(out, 0, payload)
  payload.copy(out, HEADER_BYTES)
  return out
}

function writeHeader(out: Buffer, at: number, payload: Uint8Array): void {
  out.writeUInt32BE(payload.length, at)
  out.writeUInt32BE(~payload.length >>> 0, at + 4)
  out.writeUInt32BE(crc32(payload), at + 8)
}

/** Where a `FrameWriter` writes: a socket, or anything that takes whole buffers in order. */
export interface FrameSink {
  write(bytes: Buffer): unknown
  readonly destroyed: boolean
}

/**
 * Frames for one connection, written together: every frame queued in one turn
 * of the event loop (the promise jobs it ran included) goes out in a single
 * write once the turn is done, so 64 responses released by one Raft commit
 * cost one system call, not 64. Frames keep their order; nothing waits for a
 * timer, so a lone frame leaves as soon as it would have.
 */
export class FrameWriter {
  readonly #sink: FrameSink
  #buffer: Buffer | null = null
  #used = 0

  constructor(sink: FrameSink) {
    this.#sink = sink
  }

  /** Queues `value` as one frame; it leaves with the others queued in this turn. */
  write(value: unknown): void {
    const payload = packr.pack(value)
    const need = this.#used + HEADER_BYTES + payload.length
    if (this.#buffer === null) {
      // Small first buffers come from Node's shared pool: a lone response costs no allocation of its own.
      this.#buffer = Buffer.allocUnsafe(Math.max(need, 256))
      // After the promise jobs of this turn: the frames they queue go out in the same write.
      process.nextTick(this.#flush)
    } else if (need > this.#buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, this.#buffer.length * 2))
      this.#buffer.copy(grown, 0, 0, this.#used)
      this.#buffer = grown
    }
    writeHeader(this.#buffer, this.#used, payload)
    this.#buffer.set(payload, this.#used + HEADER_BYTES)
    this.#used = need
  }

  readonly #flush = (): void => {
    const buffer = this.#buffer as Buffer
    const used = this.#used
    // The sink may keep the buffer until the kernel took it: the next turn starts a new one.
    this.#buffer = null
    this.#used = 0
    if (!this.#sink.destroyed) this.#sink.write(buffer.subarray(0, used))
  }
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
