import { describe, expect, it } from 'vitest'
import { FrameError, FrameReader, FrameWriter, frame, MAX_FRAME_BYTES } from '../examples/kv/protocol.ts'

// Regression: the chaos suite's corruption scenario changes bytes on Raft
// links. The example's frames used to be a bare length and payload, so a
// damaged frame either threw in the decoder inside a socket handler or decoded
// to a different message. Now every damaged frame is refused.

function read(bytes: Buffer): { frames: unknown[]; errors: FrameError[] } {
  const frames: unknown[] = []
  const errors: FrameError[] = []
  new FrameReader(
    (value) => frames.push(value),
    (error) => errors.push(error),
  ).push(bytes)
  return { frames, errors }
}

const message = [{ type: 'append', term: 7, index: 42, entries: [{ data: 'put k v' }] }]

describe('example KV frames', () => {
  it('round-trip, also when split into one-byte chunks', () => {
    const bytes = Buffer.concat([frame(message), frame(['second'])])
    expect(read(bytes).frames).toEqual([message, ['second']])
    const frames: unknown[] = []
    const reader = new FrameReader(
      (value) => frames.push(value),
      () => {},
    )
    for (const byte of bytes) reader.push(Buffer.from([byte]))
    expect(frames).toEqual([message, ['second']])
  })

  it('refuses a frame with any one byte changed, never delivering a different message', () => {
    const original = frame(message)
    for (let at = 0; at < original.length; at++) {
      for (const delta of [1, 0x80, 0xff]) {
        const damaged = Buffer.from(original)
        damaged[at] = ((damaged[at] as number) + delta) & 0xff
        // A damaged length may ask for more bytes than arrived: push a full
        // second frame so the reader has enough to decide.
        const { frames, errors } = read(Buffer.concat([damaged, frame(message)]))
        expect(errors.length, `byte ${at} + ${delta}`).toBe(1)
        expect(frames, `byte ${at} + ${delta}`).toEqual([])
      }
    }
  })

  it('refuses a length above the maximum before waiting for it', () => {
    const header = Buffer.alloc(12)
    header.writeUInt32BE(MAX_FRAME_BYTES + 1, 0)
    header.writeUInt32BE(~(MAX_FRAME_BYTES + 1) >>> 0, 4)
    const { errors } = read(header)
    expect(errors[0]).toBeInstanceOf(FrameError)
  })

  it('ignores the rest of a stream after a damaged frame', () => {
    const damaged = frame(message)
    damaged[20] = ((damaged[20] as number) + 1) & 0xff
    const { frames, errors } = read(Buffer.concat([damaged, frame(['after'])]))
    expect(errors).toHaveLength(1)
    expect(frames).toEqual([])
  })

  it('writes every frame queued in one turn, promise jobs included, in one write and in order', async () => {
    const writes: Buffer[] = []
    const writer = new FrameWriter({ write: (bytes) => writes.push(Buffer.from(bytes)), destroyed: false })
    writer.write(message)
    await Promise.resolve()
    // A frame larger than the first buffer makes it grow.
    writer.write(['large', 'x'.repeat(40_000)])
    await Promise.resolve().then(() => writer.write(['third']))
    expect(writes).toHaveLength(0)
    await new Promise((resolve) => setImmediate(resolve))
    expect(writes).toHaveLength(1)
    expect(read(writes[0] as Buffer).frames).toEqual([message, ['large', 'x'.repeat(40_000)], ['third']])
    writer.write(['next turn'])
    await new Promise((resolve) => setImmediate(resolve))
    expect(writes).toHaveLength(2)
    expect(read(writes[1] as Buffer)).toEqual({ frames: [['next turn']], errors: [] })
  })

  it('drops what was queued for a connection destroyed before the write', async () => {
    const sink = { write: (_bytes: Buffer) => expect.unreachable(), destroyed: false }
    const writer = new FrameWriter(sink)
    writer.write(message)
    sink.destroyed = true
    await new Promise((resolve) => setImmediate(resolve))
  })
})
