import { Packr } from 'msgpackr'

/**
 * Wire format of the example key-value service, on both its ports:
 * frames of `u32 big-endian length | msgpack payload`.
 *
 * Client requests:  [id, op, key?, value?, expected?]   op: put | get | cas | status | local
 * Client responses: [id, status, result]                 status: 0 ok, 1 not leader (result: leader's
 *                                                        client address or null), 2 error (message)
 * Raft frames:      an array of Raft messages for one destination.
 */
export const packr = new Packr({ useRecords: false })

export type KvOp = 'put' | 'get' | 'cas' | 'status' | 'local'
export type KvRequest = [id: number, op: KvOp, key?: string, value?: string, expected?: string | null]
export type KvResponse = [id: number, status: 0 | 1 | 2, result: unknown]

export const OK = 0
export const NOT_LEADER = 1
export const FAILED = 2

export function frame(value: unknown): Buffer {
  const payload = packr.pack(value)
  const out = Buffer.allocUnsafe(4 + payload.length)
  out.writeUInt32BE(payload.length, 0)
  payload.copy(out, 4)
  return out
}

/** Reassembles frames from a byte stream; hands each decoded payload to `onFrame`. */
export class FrameReader {
  #buffer: Buffer = Buffer.alloc(0)
  readonly #onFrame: (value: unknown) => void

  constructor(onFrame: (value: unknown) => void) {
    this.#onFrame = onFrame
  }

  push(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk])
    while (this.#buffer.length >= 4) {
      const length = this.#buffer.readUInt32BE(0)
      if (this.#buffer.length < 4 + length) break
      const payload = this.#buffer.subarray(4, 4 + length)
      this.#buffer = this.#buffer.subarray(4 + length)
      this.#onFrame(packr.unpack(payload))
    }
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
