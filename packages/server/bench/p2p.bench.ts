import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { defineSuite, type SuiteContext } from '@shoal/bench'
import { decodeBody, encodeFrame, FrameDecoder, FrameKind } from '../src/internal/p2p/frame.ts'
import { P2PNode } from '../src/internal/p2p/index.ts'

/**
 * The node-to-node transport against a plain TCP socket carrying the same
 * frames (6-byte header, msgpack body, same decoder), both ends in this
 * process on 127.0.0.1: Raft-frame throughput (a burst of one-way frames,
 * timed until the last is delivered) and rpc round trips (one request at a
 * time). The ratio is the price of libp2p: pnet (XSalsa20), Noise
 * (ChaCha20-Poly1305), Yamux, and its event dispatch per message.
 */

const MAX_FRAME_BYTES = 16 * 1024 * 1024

/** A Raft-like batch: a few groups' messages with a small entry each. */
function raftBatch(seq: number): unknown {
  return {
    seq,
    groups: Array.from({ length: 4 }, (_, g) => [g, 'append', 7, seq, new Uint8Array(48).fill(g)]),
  }
}

/** One-way frames and request/response over one plain TCP connection. */
class PlainTcpPair {
  #server: Server | undefined
  #client: Socket | undefined
  #onFrame: ((kind: number, value: unknown) => void) | undefined
  #onResponse: ((value: unknown) => void) | undefined

  async start(): Promise<void> {
    this.#server = createServer((socket) => {
      socket.setNoDelay(true)
      const decoder = new FrameDecoder(MAX_FRAME_BYTES, [FrameKind.raft, FrameKind.rpcRequest])
      socket.on('data', (chunk) => {
        for (const frame of decoder.push(chunk)) {
          const value = decodeBody(frame.body)
          if (frame.kind === FrameKind.rpcRequest) {
            socket.write(encodeFrame(FrameKind.rpcResponse, value, MAX_FRAME_BYTES))
          } else this.#onFrame?.(frame.kind, value)
        }
      })
    })
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve))
    const port = (this.#server.address() as { port: number }).port
    this.#client = await new Promise<Socket>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => resolve(socket))
    })
    this.#client.setNoDelay(true)
    const decoder = new FrameDecoder(MAX_FRAME_BYTES, [FrameKind.rpcResponse])
    this.#client.on('data', (chunk) => {
      for (const frame of decoder.push(chunk)) this.#onResponse?.(decodeBody(frame.body))
    })
  }

  onFrame(handler: (kind: number, value: unknown) => void): void {
    this.#onFrame = handler
  }

  /** Writes without waiting, as the Raft queue does; Node buffers in the socket. */
  send(value: unknown): void {
    this.#client!.write(encodeFrame(FrameKind.raft, value, MAX_FRAME_BYTES))
  }

  request(value: unknown): Promise<unknown> {
    return new Promise((resolve) => {
      this.#onResponse = resolve
      this.#client!.write(encodeFrame(FrameKind.rpcRequest, value, MAX_FRAME_BYTES))
    })
  }

  async stop(): Promise<void> {
    this.#client?.destroy()
    await new Promise((resolve) => this.#server?.close(resolve))
  }
}

/** Resolves once `count` more frames have arrived; `arrived()` is the receiver's hook. */
class Arrivals {
  #seen = 0
  #target = 0
  #done: (() => void) | undefined

  arrived(): void {
    this.#seen++
    if (this.#seen >= this.#target) this.#done?.()
  }

  expect(count: number): Promise<void> {
    this.#target = this.#seen + count
    return new Promise((resolve) => {
      this.#done = resolve
    })
  }
}

async function raftThroughput(ctx: SuiteContext, a: P2PNode, b: P2PNode, tcp: PlainTcpPair): Promise<void> {
  const burst = ctx.smoke ? 200 : 2000
  const libp2pArrivals = new Arrivals()
  b.onRaft(() => libp2pArrivals.arrived())
  const to = b.address()
  let seq = 0
  const tcpArrivals = new Arrivals()
  tcp.onFrame(() => tcpArrivals.arrived())
  // Interleaved rounds; the ratio is named `raft-frames-ratio-vs-…plain TCP`.
  await ctx.compare(
    'raft-frames',
    [
      {
        name: `raft frames, bursts of ${burst} (libp2p)`,
        fn: async () => {
          const done = libp2pArrivals.expect(burst)
          for (let i = 0; i < burst; i++) {
            if (!a.sendRaft(to, raftBatch(seq++)))
              throw new Error('a frame was dropped; the burst exceeds the queue')
          }
          await done
        },
      },
      {
        name: `raft frames, bursts of ${burst} (plain TCP)`,
        peer: 'plain TCP, same framing',
        fn: async () => {
          const done = tcpArrivals.expect(burst)
          for (let i = 0; i < burst; i++) tcp.send(raftBatch(seq++))
          await done
        },
      },
    ],
    { opsPerCall: burst },
  )
}

async function rpcRoundTrip(ctx: SuiteContext, a: P2PNode, b: P2PNode, tcp: PlainTcpPair): Promise<void> {
  const body = { op: 'get', key: 'metadata/version', pad: randomBytes(64) }
  b.onRequest(async (_from, request) => request)
  const to = b.address()
  await ctx.compare('rpc-round-trips', [
    { name: 'rpc round trip (libp2p)', fn: () => a.request(to, body) },
    { name: 'rpc round trip (plain TCP)', peer: 'plain TCP, same framing', fn: () => tcp.request(body) },
  ])
}

export default defineSuite({
  description:
    'Node-to-node transport: Raft-frame throughput and rpc round trips over libp2p (TCP, pnet, Noise, Yamux) against a plain TCP socket with the same framing, in one process on loopback',
  async run(ctx) {
    const dirs = [
      await mkdtemp(path.join(tmpdir(), 'shoal-p2p-bench-')),
      await mkdtemp(path.join(tmpdir(), 'shoal-p2p-bench-')),
    ]
    const clusterKey = randomBytes(32)
    const [a, b] = dirs.map(
      (dataDir) =>
        new P2PNode({ dataDir, clusterKey, listen: { host: '127.0.0.1', port: 0 }, peerQueueFrames: 8192 }),
    ) as [P2PNode, P2PNode]
    const tcp = new PlainTcpPair()
    try {
      await a.start()
      await b.start()
      await tcp.start()
      await raftThroughput(ctx, a, b, tcp)
      await rpcRoundTrip(ctx, a, b, tcp)
    } finally {
      await Promise.allSettled([a.stop(), b.stop(), tcp.stop()])
      await Promise.allSettled(dirs.map((dir) => rm(dir, { recursive: true, force: true })))
    }
  },
})
