import { randomBytes } from 'node:crypto'
import { crc32 } from 'node:zlib'
import { multiaddr } from '@multiformats/multiaddr'
import { Packr } from 'msgpackr'
import { afterEach, describe, expect, it } from 'vitest'
import { encodeFrame, FrameDecoder } from '../src/internal/p2p/frame.ts'
import {
  FrameKind,
  P2PAbortedError,
  P2PProtocolError,
  P2PRemoteError,
  SNAPSHOT_PROTOCOL,
} from '../src/internal/p2p/index.ts'
import { YAMUX_MAX_WINDOW_BYTES } from '../src/internal/p2p/libp2p-host.ts'
import { eventually, metricValue, P2PCluster } from './p2p-harness.ts'

let cluster: P2PCluster
afterEach(async () => {
  await cluster.close()
})

async function* pieces(bytes: Uint8Array, sizes: number[]): AsyncIterable<Uint8Array> {
  let at = 0
  for (let i = 0; at < bytes.byteLength; i++) {
    const size = sizes[i % sizes.length]!
    yield bytes.subarray(at, at + size)
    at += size
  }
}

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const chunk of chunks) parts.push(chunk)
  return Buffer.concat(parts)
}

describe('/shoal/snapshot/1', () => {
  it('delivers the same bytes in order with the metadata, cut to snapshotChunkBytes', async () => {
    cluster = new P2PCluster()
    const sender = await cluster.node({ snapshotChunkBytes: 256 * 1024 })
    const receiver = await cluster.node()
    const snapshot = randomBytes(3 * 1024 * 1024 + 17)
    let got: { from: string; meta: unknown; bytes: Buffer; largest: number } | undefined
    receiver.onSnapshot(async (from, meta, chunks) => {
      let largest = 0
      const parts: Uint8Array[] = []
      for await (const chunk of chunks) {
        largest = Math.max(largest, chunk.byteLength)
        parts.push(chunk)
      }
      got = { from, meta, bytes: Buffer.concat(parts), largest }
    })
    const meta = { group: 7, index: 1200, term: 3 }
    await sender.sendSnapshot(receiver.address(), meta, pieces(snapshot, [1000, 700 * 1024, 5, 64 * 1024]))
    expect(got?.from).toBe(sender.peerId)
    expect(got?.meta).toEqual(meta)
    expect(got?.largest).toBeLessThanOrEqual(256 * 1024)
    expect(got?.bytes.equals(snapshot)).toBe(true)
    expect(
      await metricValue(receiver, 'shoal_p2p_streams_closed_total', {
        protocol: SNAPSHOT_PROTOCOL,
        reason: 'end',
      }),
    ).toBe(1)
  })

  it('passes the receiving handler error code back to the sender', async () => {
    cluster = new P2PCluster()
    const sender = await cluster.node()
    const receiver = await cluster.node()
    receiver.onSnapshot(async (_from, _meta, chunks) => {
      await collect(chunks)
      throw Object.assign(new Error('disk full'), { code: 'no_space' })
    })
    const error = await sender
      .sendSnapshot(receiver.address(), {}, pieces(randomBytes(1000), [100]))
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(P2PRemoteError)
    expect((error as P2PRemoteError).remoteCode).toBe('no_space')
  })

  it('detects a corrupted chunk: the handler sees a checksum error, the sender is told, the close is counted', async () => {
    cluster = new P2PCluster()
    const receiver = await cluster.node()
    let handlerError: unknown
    let chunksSeen = 0
    receiver.onSnapshot(async (_from, _meta, chunks) => {
      try {
        for await (const _chunk of chunks) chunksSeen++
      } catch (error) {
        handlerError = error
        throw error
      }
    })
    const host = await cluster.rawHost()
    const stream = await host.dialProtocol(
      receiver.multiaddrs().map((a) => multiaddr(a)),
      SNAPSHOT_PROTOCOL,
    )
    const results: unknown[] = []
    const decoder = new FrameDecoder(1024 * 1024, [FrameKind.snapshotResult])
    const unpack = new Packr({ useRecords: false })
    stream.addEventListener('message', (event) => {
      for (const frame of decoder.push(event.data)) results.push(unpack.unpack(frame.body))
    })
    const good = randomBytes(4096)
    const bad = randomBytes(4096)
    stream.send(encodeFrame(FrameKind.snapshotBegin, { group: 1 }, 1 << 20))
    stream.send(encodeFrame(FrameKind.snapshotChunk, [0, crc32(good), good], 1 << 20))
    // The CRC32 of other bytes: one flipped bit on the way.
    const flipped = Buffer.from(bad)
    flipped[100]! ^= 0x10
    stream.send(encodeFrame(FrameKind.snapshotChunk, [1, crc32(bad), flipped], 1 << 20))

    await eventually(() => handlerError !== undefined && results.length === 1)
    expect(chunksSeen).toBe(1)
    expect(handlerError).toBeInstanceOf(P2PProtocolError)
    expect((handlerError as P2PProtocolError).reason).toBe('checksum')
    expect((results[0] as string[])[0]).toBe('checksum')
    await eventually(
      async () =>
        (await metricValue(receiver, 'shoal_p2p_streams_closed_total', {
          protocol: SNAPSHOT_PROTOCOL,
          reason: 'checksum',
        })) === 1,
    )
  })

  it('stops waiting for the receiver when the caller aborts', async () => {
    cluster = new P2PCluster()
    const sender = await cluster.node()
    const receiver = await cluster.node()
    receiver.onSnapshot(async (_from, _meta, chunks) => {
      await collect(chunks)
      await new Promise(() => {})
    })
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 200)
    const pending = sender.sendSnapshot(receiver.address(), {}, pieces(randomBytes(5000), [1000]), {
      signal: controller.signal,
    })
    await expect(pending).rejects.toBeInstanceOf(P2PAbortedError)
  })

  it('holds the sender back while the receiving handler is slow', async () => {
    cluster = new P2PCluster()
    const chunkBytes = 64 * 1024
    const windowBytes = 256 * 1024
    const sender = await cluster.node({ snapshotChunkBytes: chunkBytes })
    const receiver = await cluster.node({ snapshotWindowBytes: windowBytes })
    const CHUNKS = 600
    let produced = 0
    let consumed = 0
    let maxAhead = 0
    async function* source(): AsyncIterable<Uint8Array> {
      for (let i = 0; i < CHUNKS; i++) {
        produced++
        maxAhead = Math.max(maxAhead, produced - consumed)
        yield new Uint8Array(chunkBytes).fill(i % 251)
      }
    }
    receiver.onSnapshot(async (_from, _meta, chunks) => {
      for await (const _chunk of chunks) {
        consumed++
        await new Promise((resolve) => setTimeout(resolve, 1))
      }
    })
    await sender.sendSnapshot(receiver.address(), {}, source())
    expect(consumed).toBe(CHUNKS)
    // What can be ahead of the handler: the receiver's window of checked
    // chunks, what Yamux let through before the pause took hold (one window
    // in the paused read buffer, one more handed over on resume), and a few
    // frames in hand on either side.
    const bound = Math.ceil((windowBytes + 2 * YAMUX_MAX_WINDOW_BYTES) / chunkBytes) + 8
    expect(maxAhead).toBeLessThanOrEqual(bound)
    expect(bound).toBeLessThan(CHUNKS / 2)
  })
})
