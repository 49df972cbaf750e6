import { YamuxStream } from '@libp2p/yamux/stream'
import { afterEach, describe, expect, it } from 'vitest'
import { eventually, P2PCluster } from './p2p-harness.ts'

/**
 * Yamux flow control (patches/@libp2p__yamux@8.0.3.patch). Unpatched, a
 * Yamux stream answered every data frame it received with a window update:
 * on a Raft stream that is one more frame back per frame, each encrypted,
 * written and woken for on both ends. Patched, like go-yamux, it grants the
 * window back once half of it was consumed.
 */

// Counts the window updates streams send: an update resets the receive capacity to the window.
let updatesSent = 0
const original = YamuxStream.prototype.sendWindowUpdate
YamuxStream.prototype.sendWindowUpdate = function (this: YamuxStream) {
  const self = this as unknown as { recvWindowCapacity: number }
  const before = self.recvWindowCapacity
  original.call(this)
  if (self.recvWindowCapacity !== before) updatesSent++
}

let cluster: P2PCluster
afterEach(async () => {
  await cluster.close()
})

describe('yamux window updates', () => {
  it('sends one per half window consumed, not one per frame, and 20 MiB still flow through a stream in order', async () => {
    cluster = new P2PCluster()
    const [a, b] = [await cluster.node(), await cluster.node()]
    const received: number[] = []
    b.onRaft((_from, frame) => received.push((frame as [number, Uint8Array])[0]))
    const body = new Uint8Array(10 * 1024).fill(7)
    const frames = 2048
    // Well past the largest window (4 MiB): the sender runs out of window unless updates come back.
    updatesSent = 0
    for (let sent = 0; sent < frames; ) {
      for (let i = 0; i < 64; i++, sent++) expect(a.sendRaft(b.address(), [sent, body])).toBe(true)
      await eventually(() => received.length === sent)
    }
    expect(received).toEqual(Array.from({ length: frames }, (_, i) => i))
    // Unpatched: one per Yamux data frame received (several hundred here).
    expect(updatesSent).toBeGreaterThan(0)
    expect(updatesSent).toBeLessThan(frames / 10)
  })
})
