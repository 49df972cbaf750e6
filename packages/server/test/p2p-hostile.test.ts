import type { Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { frameBytes } from '../src/internal/p2p/frame.ts'
import { FrameKind, type P2PNode, RAFT_PROTOCOL, RPC_PROTOCOL } from '../src/internal/p2p/index.ts'
import { closed, eventually, metricValue, P2PCluster, rawAddress } from './p2p-harness.ts'

// A peer inside the private network that does not follow the protocol: it
// speaks the frames by hand on a raw libp2p stream.

let cluster: P2PCluster
afterEach(async () => {
  await cluster.close()
})

async function rawStream(host: Libp2p, node: P2PNode, protocol: string): Promise<Stream> {
  return host.dialProtocol(
    node.multiaddrs().map((a) => multiaddr(a)),
    protocol,
  )
}

async function stillServes(node: P2PNode): Promise<void> {
  const client = await cluster.node()
  expect(await node.request(client.address(), 'ping').catch((e: Error) => e.name)).toBe('P2PRemoteError')
  client.onRequest(async () => 'pong')
  expect(await node.request(client.address(), 'ping')).toBe('pong')
}

const closeCases: { name: string; reason: string; protocol: string; bytes: () => Uint8Array }[] = [
  {
    name: 'a header announcing a body over maxFrameBytes',
    reason: 'oversized',
    protocol: RAFT_PROTOCOL,
    bytes: () => {
      const header = frameBytes(FrameKind.raft, new Uint8Array(0))
      new DataView(header.buffer).setUint32(0, 64 * 1024 * 1024)
      return header
    },
  },
  {
    name: 'an unknown frame version',
    reason: 'bad_version',
    protocol: RAFT_PROTOCOL,
    bytes: () => frameBytes(FrameKind.raft, new Uint8Array([0x01]), 2),
  },
  {
    name: 'a body that is not MessagePack',
    reason: 'undecodable',
    protocol: RAFT_PROTOCOL,
    bytes: () => frameBytes(FrameKind.raft, new Uint8Array([0xc1, 0xc1])),
  },
  {
    name: 'a frame kind of another protocol',
    reason: 'unexpected_kind',
    protocol: RAFT_PROTOCOL,
    bytes: () => frameBytes(FrameKind.rpcResponse, new Uint8Array([0x01])),
  },
  {
    name: 'a stream that ends inside a frame',
    reason: 'truncated',
    protocol: RPC_PROTOCOL,
    bytes: () => frameBytes(FrameKind.rpcRequest, new Uint8Array([0x01, 0x02, 0x03])).subarray(0, 8),
  },
]

describe('hostile frames on a raw stream', () => {
  for (const testCase of closeCases) {
    it(`closes the stream on ${testCase.name}, counts '${testCase.reason}', and keeps serving`, async () => {
      cluster = new P2PCluster()
      const node = await cluster.node({ maxFrameBytes: 1024 * 1024 })
      let delivered = 0
      node.onRaft(() => delivered++)
      const host = await cluster.rawHost()
      const stream = await rawStream(host, node, testCase.protocol)
      const ended = closed(stream)
      stream.send(testCase.bytes())
      if (testCase.reason === 'truncated') await stream.close()
      await ended
      await eventually(
        async () =>
          (await metricValue(node, 'shoal_p2p_streams_closed_total', {
            protocol: testCase.protocol,
            reason: testCase.reason,
          })) === 1,
      )
      expect(delivered).toBe(0)
      // The same connection still carries a good stream.
      const good = await rawStream(host, node, RAFT_PROTOCOL)
      good.send(frameBytes(FrameKind.raft, new Uint8Array([0x2a])))
      await eventually(() => delivered === 1)
      await stillServes(node)
    })
  }
})

describe('a peer that never reads', () => {
  it('does not grow the sender past its queue bound: frames are dropped and counted', async () => {
    cluster = new P2PCluster()
    const maxFrameBytes = 64 * 1024
    const peerQueueBytes = 256 * 1024
    const sender = await cluster.node({ maxFrameBytes, peerQueueBytes, peerQueueFrames: 100_000 })
    const stuck = await cluster.rawHost()
    await stuck.handle(RAFT_PROTOCOL, (stream) => stream.pause())
    const to = rawAddress(stuck)

    const FRAMES = 1000
    const payload = new Uint8Array(32 * 1024)
    let accepted = 0
    for (let i = 0; i < FRAMES; i++) {
      if (sender.sendRaft(to, payload)) accepted++
      if (i % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    }
    // Let libp2p push what the window allows, then look at what is held.
    await new Promise((resolve) => setTimeout(resolve, 300))
    const stats = sender.peerQueueStats(to.peerId)!
    expect(stats.queuedBytes).toBeLessThanOrEqual(peerQueueBytes)
    expect(stats.bufferedBytes).toBeLessThanOrEqual(maxFrameBytes + 6)
    expect(await metricValue(sender, 'shoal_p2p_raft_queue_bytes')).toBeLessThanOrEqual(peerQueueBytes)

    const dropped = await metricValue(sender, 'shoal_p2p_frames_dropped_total', {
      peer: to.peerId,
      reason: 'queue_full',
    })
    expect(dropped).toBe(FRAMES - accepted)
    // 32 MiB offered; the queue (256 KiB) and Yamux's window (256 KiB) hold a few dozen frames.
    expect(accepted).toBeLessThan(60)
    expect(dropped).toBeGreaterThan(FRAMES - 60)
  })

  it('lets requests to it time out without leaving their bytes behind', async () => {
    cluster = new P2PCluster()
    const sender = await cluster.node()
    const stuck = await cluster.rawHost()
    await stuck.handle(RPC_PROTOCOL, (stream) => stream.pause())
    const to = rawAddress(stuck)
    const body = new Uint8Array(64 * 1024)
    const ROUNDS = 5
    for (let round = 0; round < ROUNDS; round++) {
      const outcomes = await Promise.allSettled(
        Array.from({ length: 20 }, () => sender.request(to, body, { timeoutMs: 200 })),
      )
      expect(
        outcomes.every((o) => o.status === 'rejected' && (o.reason as Error).name === 'P2PTimeoutError'),
      ).toBe(true)
    }
    const stats = sender.peerQueueStats(to.peerId)!
    expect(stats.pendingRequests).toBe(0)
    // 6.4 MiB were offered; what libp2p still holds is at most one round's
    // worth (the callers that were waiting when Yamux's window ran out), not
    // the sum of every round.
    expect(stats.rpcBufferedBytes).toBeLessThanOrEqual(20 * (body.byteLength + 64))
    expect(
      await metricValue(sender, 'shoal_p2p_requests_total', { peer: to.peerId, outcome: 'timeout' }),
    ).toBe(ROUNDS * 20)
  })
})
