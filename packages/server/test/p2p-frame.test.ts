import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeBody, encodeFrame, FrameDecoder, frameBytes } from '../src/internal/p2p/frame.ts'
import {
  FRAME_HEADER_BYTES,
  FrameKind,
  P2PFrameTooLargeError,
  P2PProtocolError,
} from '../src/internal/p2p/index.ts'

// The frame format of frame.ts: u32 body length, u8 version, u8 kind, msgpack body.

function fcParams(numRuns: number): fc.Parameters<unknown> {
  const seed = process.env.SEED
  return seed === undefined || seed === '' ? { numRuns } : { numRuns, seed: Number(seed) }
}

const value = fc.oneof(
  fc.integer(),
  fc.string(),
  fc.uint8Array({ maxLength: 300 }),
  fc.array(fc.oneof(fc.integer(), fc.string(), fc.boolean()), { maxLength: 20 }),
  fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.integer(), { maxKeys: 8 }),
)

function reasonOf(thunk: () => unknown): string | undefined {
  try {
    thunk()
    return undefined
  } catch (error) {
    return error instanceof P2PProtocolError ? error.reason : `other:${(error as Error).name}`
  }
}

describe('frame codec', () => {
  it('lays out the header as length, version, kind', () => {
    const bytes = encodeFrame(FrameKind.rpcRequest, 'hi', 1024)
    expect([...bytes.subarray(0, FRAME_HEADER_BYTES)]).toEqual([0, 0, 0, 3, 1, FrameKind.rpcRequest])
    expect(decodeBody(bytes.subarray(FRAME_HEADER_BYTES))).toBe('hi')
  })

  it('decodes the same frames however the bytes are cut', () => {
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 10 }), fc.array(fc.nat(50)), (values, cuts) => {
        const wire = Buffer.concat(values.map((v) => encodeFrame(FrameKind.raft, v, 1 << 20)))
        const decoder = new FrameDecoder(1 << 20, [FrameKind.raft])
        const decoded: unknown[] = []
        let at = 0
        for (const cut of [...cuts, wire.byteLength]) {
          const end = Math.min(wire.byteLength, at + cut)
          for (const frame of decoder.push(wire.subarray(at, end))) decoded.push(decodeBody(frame.body))
          at = end
        }
        expect(decoder.pendingBytes).toBe(0)
        const bytesAsBuffer = (v: unknown) => (v instanceof Uint8Array ? Buffer.from(v) : v)
        expect(decoded.map(bytesAsBuffer)).toEqual(values.map(bytesAsBuffer))
      }),
      fcParams(200),
    )
  })

  it('refuses an oversized frame from its header alone', () => {
    const decoder = new FrameDecoder(1024, [FrameKind.raft])
    const header = frameBytes(FrameKind.raft, new Uint8Array(0))
    new DataView(header.buffer).setUint32(0, 1025)
    expect(reasonOf(() => decoder.push(header))).toBe('oversized')
  })

  it('refuses a version other than 1 and a kind of another protocol', () => {
    expect(
      reasonOf(() => new FrameDecoder(1024, [FrameKind.raft]).push(frameBytes(1, new Uint8Array(1), 0))),
    ).toBe('bad_version')
    expect(
      reasonOf(() =>
        new FrameDecoder(1024, [FrameKind.raft]).push(frameBytes(FrameKind.rpcRequest, new Uint8Array(1))),
      ),
    ).toBe('unexpected_kind')
  })

  it('refuses a body with trailing bytes or invalid MessagePack', () => {
    expect(reasonOf(() => decodeBody(new Uint8Array([0x01, 0x02])))).toBe('undecodable')
    expect(reasonOf(() => decodeBody(new Uint8Array([0x92, 0x01])))).toBe('undecodable')
    expect(reasonOf(() => decodeBody(new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff])))).toBe('undecodable')
  })

  it('refuses to encode a body over maxFrameBytes', () => {
    expect(() => encodeFrame(FrameKind.raft, new Uint8Array(2000), 1024)).toThrow(P2PFrameTooLargeError)
  })

  it('frames encoded after a large one (the encoder then lets its grown buffer go) are intact, and so is the large one', () => {
    const items = Array.from({ length: 4000 }, (_, i) => ({
      group: `shard-${i}`,
      term: i,
      data: 'x'.repeat(40),
    }))
    const large = encodeFrame(FrameKind.raft, { items }, 16 * 1024 * 1024)
    expect(large.byteLength).toBeGreaterThan(128 * 1024)
    const copy = large.slice()
    const small = [1, 'two', { three: [3] }].map((v) => encodeFrame(FrameKind.raft, v, 1024))
    expect(small.map((frame) => decodeBody(frame.subarray(FRAME_HEADER_BYTES)))).toEqual([
      1,
      'two',
      { three: [3] },
    ])
    expect(large).toEqual(copy)
    expect(decodeBody(large.subarray(FRAME_HEADER_BYTES))).toEqual({ items })
    // Over the limit, the grown buffer is let go too, and the encoder keeps working.
    expect(() => encodeFrame(FrameKind.raft, { items }, 1024)).toThrow(P2PFrameTooLargeError)
    expect(decodeBody(encodeFrame(FrameKind.raft, 'after', 1024).subarray(FRAME_HEADER_BYTES))).toBe('after')
  })

  it('turns any byte string into frames or a protocol error, never another exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const decoder = new FrameDecoder(256, [FrameKind.raft, FrameKind.rpcRequest])
        const reason = reasonOf(() => {
          for (const frame of decoder.push(bytes)) decodeBody(frame.body)
        })
        expect(reason === undefined || !reason.startsWith('other:')).toBe(true)
      }),
      fcParams(1000),
    )
  })
})
