import type { ClusterTransport, RaftSnapshot } from '@shoal/cluster'
import { describe, expect, it } from 'vitest'
import { timeSnapshotSends } from '../src/internal/cluster/snapshot-timing.ts'

// Raft snapshot sends are timed per whole transfer: from the chunk at offset 0 to the chunk that
// reaches the snapshot's last byte (shoal_raft_snapshot_send_duration_seconds).

const to = { nodeId: 'n2', addrs: ['/ip4/127.0.0.1/tcp/1'] }

function chunk(index: number, offset: number, bytes: number, totalBytes: number, group = 'g'): RaftSnapshot {
  return {
    clusterId: 'c',
    group,
    message: {
      type: 'snapshot',
      from: 'n1',
      to: 'n2',
      term: 3,
      meta: { index, term: 3, confState: { voters: ['n1', 'n2'], learners: [] } },
      offset,
      chunk: new Uint8Array(bytes),
      totalBytes,
    },
  }
}

function setup(fail: (snapshot: RaftSnapshot) => boolean = () => false) {
  let clock = 0
  const observed: number[] = []
  const sent: RaftSnapshot[] = []
  const inner: ClusterTransport = {
    sendRaft: () => {},
    request: async () => ({ ok: true, value: null }),
    sendSnapshot: async (_to, snapshot) => {
      if (fail(snapshot)) throw new Error('link down')
      sent.push(snapshot)
    },
  }
  const timed = timeSnapshotSends(
    inner,
    (seconds) => observed.push(seconds),
    () => clock,
  )
  return { timed, observed, sent, advance: (ms: number) => (clock += ms) }
}

describe('timed snapshot sends', () => {
  it('observes one duration per whole transfer, from its first chunk to its last, and forwards every chunk', async () => {
    const { timed, observed, sent, advance } = setup()
    await timed.sendSnapshot?.(to, chunk(10, 0, 4, 10))
    advance(1500)
    await timed.sendSnapshot?.(to, chunk(10, 4, 4, 10))
    expect(observed).toEqual([])
    advance(500)
    await timed.sendSnapshot?.(to, chunk(10, 8, 2, 10))
    expect(observed).toEqual([2])
    expect(sent.map((s) => s.message.offset)).toEqual([0, 4, 8])
  })

  it('restarts the clock when a newer snapshot replaces the transfer, and not for a resent first chunk', async () => {
    const { timed, observed, advance } = setup()
    await timed.sendSnapshot?.(to, chunk(10, 0, 4, 10))
    advance(1000)
    await timed.sendSnapshot?.(to, chunk(10, 0, 4, 10)) // the core resent the first chunk
    advance(1000)
    await timed.sendSnapshot?.(to, chunk(20, 0, 4, 8)) // a newer snapshot to the same replica
    advance(250)
    await timed.sendSnapshot?.(to, chunk(20, 4, 4, 8))
    expect(observed).toEqual([0.25])
  })

  it('does not observe a last chunk that failed to send; its resend ends the transfer', async () => {
    let down = true
    const { timed, observed, advance } = setup((s) => down && s.message.offset === 4)
    await timed.sendSnapshot?.(to, chunk(10, 0, 4, 8))
    advance(100)
    await expect(timed.sendSnapshot?.(to, chunk(10, 4, 4, 8))).rejects.toThrow('link down')
    expect(observed).toEqual([])
    down = false
    advance(100)
    await timed.sendSnapshot?.(to, chunk(10, 4, 4, 8))
    expect(observed).toEqual([0.2])
  })
})
