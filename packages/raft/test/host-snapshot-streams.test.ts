import { describe, expect, it } from 'vitest'
import { type SnapshotCounts, SnapshotStreams } from '../src/host-snapshots.ts'
import type { SnapshotMessage } from '../src/index.ts'

// The host's snapshot sender on its own: one transfer in flight per group
// and peer; what the core sends meanwhile waits, the newest winning.

function chunk(offset: number, index = 10): SnapshotMessage {
  return {
    type: 'snapshot',
    from: 'h1',
    to: 'h2',
    term: 2,
    meta: { index, term: 2, confState: { voters: ['h1', 'h2'], learners: [] } },
    offset,
    chunk: new Uint8Array(4),
    totalBytes: 16,
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

  it('sends the newest waiting message when the transfer ends, counting the ones it replaced', async () => {
    const { transfers, counts, streams } = manual()
    streams.send('h2', 'g', chunk(0))
    streams.send('h2', 'g', chunk(4))
    streams.send('h2', 'g', chunk(8))
    transfers[0]?.resolve()
    await settle()
    expect(transfers.map((t) => t.message.offset)).toEqual([0, 8])
    expect(counts).toEqual({ snapshotsSent: 2, snapshotsFailed: 0, snapshotsSuperseded: 1 })
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
