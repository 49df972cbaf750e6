import { multiaddr } from '@multiformats/multiaddr'
import fc from 'fast-check'
import type { Libp2p } from 'libp2p'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type P2PNode, RAFT_PROTOCOL, RPC_PROTOCOL, SNAPSHOT_PROTOCOL } from '../src/internal/p2p/index.ts'
import { closed, eventually, metricValue, P2PCluster } from './p2p-harness.ts'

// Random bytes on a raw stream of each protocol, over a real connection:
// every stream is closed and counted, and the node keeps serving.

function fcParams(numRuns: number): fc.Parameters<[Uint8Array]> {
  const seed = process.env.SEED
  return seed === undefined || seed === '' ? { numRuns } : { numRuns, seed: Number(seed) }
}

let cluster: P2PCluster
let node: P2PNode
let host: Libp2p

beforeAll(async () => {
  cluster = new P2PCluster()
  node = await cluster.node({ maxFrameBytes: 64 * 1024 })
  node.onRaft(() => {})
  node.onRequest(async (_from, body) => body)
  node.onSnapshot(async (_from, _meta, chunks) => {
    for await (const _chunk of chunks) {
      // read to the end
    }
  })
  host = await cluster.rawHost()
})

afterAll(async () => {
  await cluster.close()
})

async function closedCount(protocol: string): Promise<number> {
  return metricValue(node, 'shoal_p2p_streams_closed_total', { protocol })
}

describe('random bytes on each protocol', () => {
  for (const protocol of [RAFT_PROTOCOL, RPC_PROTOCOL, SNAPSHOT_PROTOCOL]) {
    it(`closes and counts every ${protocol} stream, and keeps serving`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 2048 }), async (bytes) => {
          const before = await closedCount(protocol)
          const stream = await host.dialProtocol(
            node.multiaddrs().map((a) => multiaddr(a)),
            protocol,
          )
          const ended = closed(stream)
          stream.send(bytes)
          await stream.close().catch(() => {})
          // A stream the node is still reading (a frame announcing more bytes
          // than came) ends when this side aborts it.
          setTimeout(() => stream.abort(new Error('fuzz done')), 2000).unref()
          await ended
          await eventually(async () => (await closedCount(protocol)) === before + 1, 5000)
        }),
        fcParams(25),
      )
      const peer = await cluster.node()
      peer.onRequest(async () => 'alive')
      expect(await node.request(peer.address(), 'still there?')).toBe('alive')
      expect(await peer.request(node.address(), 'echo')).toBe('echo')
    })
  }
})
