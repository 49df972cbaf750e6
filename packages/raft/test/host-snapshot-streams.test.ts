import { describe, expect, it } from 'vitest'
import { MAX_COALESCED_SNAPSHOT_BYTES, type SnapshotCounts, SnapshotStreams } from '../src/host-snapshots.ts'
import type { SnapshotMessage } from '../src/index.ts'

// The host's snapshot sender on its own: one transfer in flight per group
// and peer; what the core sends meanwhile waits in order (a FIFO), adjacent
// chunks of one image leaving together.

/** One image per snapshot index, so chunks of it are views of one buffer. */
const images = new Map<number, Uint8Array>()
function image(index: number, totalBytes: number): Uint8Array {
  let bytes = images.get(index)
  if (bytes === undefined || bytes.byteLength !== totalBytes) {
    bytes = new Uint8Array(totalBytes)
    for (let i = 0; i < Math.min(totalBytes, 64); i++) bytes[i] = (i * 7 + index) & 0xff
    images.set(index, bytes)
  }
  return bytes
}

function chunk(
  offset: number,
  index = 10,
  { chunkBytes = 4, totalBytes = 16, term = 2 } = {},
): SnapshotMessage {
  return {
    type: 'snapshot',
    from: 'h1',
    to: 'h2',
    term,
    meta: { index, term: 2, confState: { voters: ['h1', 'h2'], learners: [] } },
    offset,
    chunk: image(index, totalBytes).subarray(offset, offset + chunkBytes),
    totalBytes,
  }
}

/** A transport whose transfers the test settles by hand. */
function manual() {
  const transfers: Array<{
    to: string
    group: string
    message: SnapshotMessage
    resolve: () => void
    reject: (e: Error) => void
  }> = []
  const send = (to: string, group: string, message: SnapshotMessage) =>
    new Promise<void>((resolve, reject) => transfers.push({ to, group, message, resolve, reject }))
  const counts: SnapshotCounts = { snapshotsSent: 0, snapshotsFailed: 0, snapshotsSuperseded: 0 }
  return { transfers, counts, streams: new SnapshotStreams(send, counts) }
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

describe('SnapshotStreams', () => {
  it('keeps one transfer in flight per group and peer, others in parallel', () => {
    const { transfers, streams } = manual()
    streams.send('h2', 'g1', chunk(0))
    streams.send('h3', 'g1', chunk(0))
    streams.send('h2', 'g2', chunk(0))
    streams.send('h2', 'g1', chunk(4))
    expect(transfers.map((t) => `${t.group}>${t.to}@${t.message.offset}`)).toEqual([
      'g1>h2@0',
      'g1>h3@0',
      'g2>h2@0',
    ])
    expect(streams.inFlight).toBe(3)
  })

  it('sends what waits in order when the transfer ends, adjacent chunks of one image as one message', async () => {
    const { transfers, counts, streams } = manual()
    streams.send('h2', 'g', chunk(0))
    streams.send('h2', 'g', chunk(4))
    streams.send('h2', 'g', chunk(8))
    streams.send('h2', 'g', chunk(12))
    transfers[0]?.resolve()
    await settle()
    expect(transfers.map((t) => [t.message.offset, t.message.chunk.byteLength])).toEqual([
      [0, 4],
      [4, 12],
    ])
    // One view over the image, no copy, the same bytes.
    const joined = transfers[1]?.message.chunk as Uint8Array
    expect(joined.buffer).toBe(image(10, 16).buffer)
    expect([...joined]).toEqual([...image(10, 16).subarray(4, 16)])
    expect(counts).toEqual({ snapshotsSent: 2, snapshotsFailed: 0, snapshotsSuperseded: 0 })
  })

  it('joins no more than MAX_COALESCED_SNAPSHOT_BYTES into one message', async () => {
    const { transfers, streams } = manual()
    const chunkBytes = 3 * 1024 * 1024
    const sizes = { chunkBytes, totalBytes: 5 * chunkBytes }
    for (let i = 0; i < 5; i++) streams.send('h2', 'g', chunk(i * chunkBytes, 11, sizes))
    transfers[0]?.resolve()
    await settle()
    transfers[1]?.resolve()
    await settle()
    expect(transfers.map((t) => t.message.chunk.byteLength / chunkBytes)).toEqual([1, 2, 2])
    expect(2 * chunkBytes).toBeLessThanOrEqual(MAX_COALESCED_SNAPSHOT_BYTES)
  })

  it('drops a chunk already waiting, and what waits of an older transfer when a newer one starts', async () => {
    const { transfers, counts, streams } = manual()
    streams.send('h2', 'g', chunk(0))
    streams.send('h2', 'g', chunk(4))
    streams.send('h2', 'g', chunk(4))
    streams.send('h2', 'g', chunk(0, 20))
    transfers[0]?.resolve()
    await settle()
    expect(transfers.map((t) => `${t.message.meta.index}@${t.message.offset}`)).toEqual(['10@0', '20@0'])
    expect(counts).toEqual({ snapshotsSent: 2, snapshotsFailed: 0, snapshotsSuperseded: 2 })
  })

  it('drops a resend of the chunk that just arrived', async () => {
    const { transfers, counts, streams } = manual()
    streams.send('h2', 'g', chunk(0))
    streams.send('h2', 'g', chunk(0))
    transfers[0]?.resolve()
    await settle()
    expect(transfers).toHaveLength(1)
    expect(counts.snapshotsSuperseded).toBe(1)
    expect(streams.inFlight).toBe(0)
  })

  it('sends the resend of a chunk whose transfer failed, and counts the failure', async () => {
    const { transfers, counts, streams } = manual()
    streams.send('h2', 'g', chunk(0))
    streams.send('h2', 'g', chunk(0))
    transfers[0]?.reject(new Error('stream reset'))
    await settle()
    expect(transfers.map((t) => t.message.offset)).toEqual([0, 0])
    expect(counts).toEqual({ snapshotsSent: 2, snapshotsFailed: 1, snapshotsSuperseded: 0 })
  })

  it('frees the link after a failure with nothing waiting, so the core resend goes out', async () => {
    const { transfers, streams } = manual()
    streams.send('h2', 'g', chunk(0))
    transfers[0]?.reject(new Error('unreachable'))
    await settle()
    expect(streams.inFlight).toBe(0)
    streams.send('h2', 'g', chunk(0))
    expect(transfers).toHaveLength(2)
  })

  it('counts a transport that throws instead of rejecting as a failed transfer', async () => {
    const counts: SnapshotCounts = { snapshotsSent: 0, snapshotsFailed: 0, snapshotsSuperseded: 0 }
    const streams = new SnapshotStreams(() => {
      throw new Error('no route')
    }, counts)
    streams.send('h2', 'g', chunk(0))
    await settle()
    expect(counts).toEqual({ snapshotsSent: 1, snapshotsFailed: 1, snapshotsSuperseded: 0 })
    expect(streams.inFlight).toBe(0)
  })

  it('sends nothing after stop, and drops what was waiting', async () => {
    const { transfers, streams } = manual()
    streams.send('h2', 'g', chunk(0))
    streams.send('h2', 'g', chunk(4))
    streams.stop()
    streams.send('h3', 'g', chunk(0))
    transfers[0]?.resolve()
    await settle()
    expect(transfers).toHaveLength(1)
  })
})
