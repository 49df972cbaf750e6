import { afterEach, describe, expect, it } from 'vitest'
import { p2pTransport } from '../src/internal/cluster/runtime.ts'
import { eventually, P2PCluster } from './p2p-harness.ts'

// Regression: a newly added shard replica never caught up (the failover benchmark's shard move
// stalled at applied index 5 of ~550) because the Raft host gathers every message for one node
// into one frame per flush, and a catch-up burst of appends carrying multi-MB document batches
// exceeded maxFrameBytes as a whole; the transport dropped the whole frame every time.

let cluster: P2PCluster | undefined
afterEach(async () => {
  await cluster?.close()
  cluster = undefined
})

const MAX_FRAME_BYTES = 32 * 1024

/** A frame of `count` items of `bytes` each, numbered so their order can be checked. */
function frame(from: string, count: number, bytes: number) {
  return {
    clusterId: 'c1',
    frame: {
      from,
      items: Array.from({ length: count }, (_, seq) => ({ kind: 'raft', seq, pad: new Uint8Array(bytes) })),
    },
  }
}

describe('Raft frames over libp2p', () => {
  it('cuts a frame over maxFrameBytes into frames that fit, delivering every item in order', async () => {
    cluster = new P2PCluster()
    const a = await cluster.node({ maxFrameBytes: MAX_FRAME_BYTES })
    const b = await cluster.node({ maxFrameBytes: MAX_FRAME_BYTES })
    const seqs: number[] = []
    let frames = 0
    b.onRaft((_from, received) => {
      frames++
      for (const item of (received as { frame: { items: Array<{ seq: number }> } }).frame.items)
        seqs.push(item.seq)
    })
    let oversized = 0
    const transport = p2pTransport(a, { oversizedFrame: () => oversized++ })
    // 12 items of 10 KiB: 120 KiB in all, four times the frame limit, each item well under it.
    transport.sendRaft({ nodeId: b.peerId, addrs: b.multiaddrs() }, frame(a.peerId, 12, 10 * 1024) as never)
    await eventually(() => seqs.length === 12)
    expect(seqs).toEqual(Array.from({ length: 12 }, (_, i) => i))
    expect(frames).toBeGreaterThan(1)
    expect(oversized).toBe(0)
  })

  it('drops and counts only an item that alone exceeds the limit', async () => {
    cluster = new P2PCluster()
    const a = await cluster.node({ maxFrameBytes: MAX_FRAME_BYTES })
    const b = await cluster.node({ maxFrameBytes: MAX_FRAME_BYTES })
    const seqs: number[] = []
    b.onRaft((_from, received) => {
      for (const item of (received as { frame: { items: Array<{ seq: number }> } }).frame.items)
        seqs.push(item.seq)
    })
    let oversized = 0
    const transport = p2pTransport(a, { oversizedFrame: () => oversized++ })
    const mixed = frame(a.peerId, 3, 1024)
    ;(mixed.frame.items[1] as { pad: Uint8Array }).pad = new Uint8Array(40 * 1024)
    transport.sendRaft({ nodeId: b.peerId, addrs: b.multiaddrs() }, mixed as never)
    await eventually(() => seqs.length === 2)
    expect(seqs).toEqual([0, 2])
    expect(oversized).toBe(1)
  })
})
