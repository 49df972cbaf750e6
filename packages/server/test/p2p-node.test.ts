import { chmod, stat } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  P2PAbortedError,
  P2PConfigError,
  P2PFrameTooLargeError,
  P2PNode,
  P2PRemoteError,
  P2PTimeoutError,
  P2PUnreachableError,
  PEER_KEY_FILE,
} from '../src/internal/p2p/index.ts'
import { eventually, metricValue, P2PCluster } from './p2p-harness.ts'

// Real libp2p nodes on 127.0.0.1 (TCP + pnet + Noise + Yamux), ephemeral ports.

let cluster: P2PCluster
afterEach(async () => {
  await cluster.close()
})

describe('identity', () => {
  it('keeps its peer id across a restart from the same data dir', async () => {
    cluster = new P2PCluster()
    const dataDir = await cluster.dataDir()
    const first = await cluster.node({ dataDir })
    const peerId = first.peerId
    await first.stop()
    const second = await cluster.node({ dataDir })
    expect(second.peerId).toBe(peerId)
    expect((await stat(path.join(dataDir, PEER_KEY_FILE))).mode & 0o777).toBe(0o600)
  })

  it('refuses a key file that others can read', async () => {
    cluster = new P2PCluster()
    const dataDir = await cluster.dataDir()
    await (await cluster.node({ dataDir })).stop()
    await chmod(path.join(dataDir, PEER_KEY_FILE), 0o644)
    await expect(cluster.node({ dataDir })).rejects.toBeInstanceOf(P2PConfigError)
  })

  it('refuses a cluster key shorter than 16 bytes', () => {
    cluster = new P2PCluster()
    expect(
      () =>
        new P2PNode({
          dataDir: '/tmp/unused',
          clusterKey: new Uint8Array(8),
          listen: { host: '127.0.0.1', port: 0 },
        }),
    ).toThrow(P2PConfigError)
  })

  it('refuses to start on a port another node listens on', async () => {
    cluster = new P2PCluster()
    const first = await cluster.node()
    const port = Number(first.multiaddrs()[0]!.split('/')[4])
    await expect(cluster.node({ listen: { host: '127.0.0.1', port } })).rejects.toBeInstanceOf(P2PConfigError)
  })

  it('refuses a peer that answers at the address with another identity (Noise checks the peer id)', async () => {
    cluster = new P2PCluster()
    const a = await cluster.node()
    const b = await cluster.node()
    const c = await cluster.node()
    c.onRequest(async () => 'c')
    b.onRequest(async () => 'b')
    const impostor = { peerId: c.peerId, addrs: b.multiaddrs().map((addr) => addr.replace(/\/p2p\/.*$/, '')) }
    await expect(a.request(impostor, 'who?', { timeoutMs: 3000 })).rejects.toBeInstanceOf(P2PUnreachableError)
  })

  it('reaches a peer that restarted from its data dir on another port', async () => {
    cluster = new P2PCluster()
    const a = await cluster.node({ redialBackoffMs: 50 })
    const dataDir = await cluster.dataDir()
    const before = await cluster.node({ dataDir })
    before.onRequest(async () => 'before')
    expect(await a.request(before.address(), 'hi')).toBe('before')
    expect(a.sendRaft(before.address(), 'first')).toBe(true)
    const old = before.address()
    await before.stop()

    const after = await cluster.node({ dataDir })
    expect(after.peerId).toBe(old.peerId)
    expect(after.multiaddrs()).not.toEqual(old.addrs)
    after.onRequest(async () => 'after')
    const frames: unknown[] = []
    after.onRaft((_from, frame) => frames.push(frame))
    expect(await a.request(after.address(), 'hi')).toBe('after')
    await eventually(async () => {
      a.sendRaft(after.address(), 'again')
      await new Promise((resolve) => setTimeout(resolve, 20))
      return frames.length > 0
    })
    expect(frames[0]).toBe('again')
  })

  it('reports the connection to a peer closing when the peer goes away, and opening when it is reached again', async () => {
    cluster = new P2PCluster()
    const a = await cluster.node()
    const events: Array<[string, boolean]> = []
    a.onPeerConnection((peer, connected) => events.push([peer, connected]))
    const dataDir = await cluster.dataDir()
    const b = await cluster.node({ dataDir })
    b.onRequest(async () => 'b')
    expect(await a.request(b.address(), 'hi')).toBe('b')
    await eventually(() => events.length === 1)
    const peer = b.peerId
    await b.stop()
    await eventually(() => events.length === 2)
    const again = await cluster.node({ dataDir })
    again.onRequest(async () => 'again')
    expect(await a.request(again.address(), 'hi')).toBe('again')
    await eventually(() => events.length === 3)
    expect(events).toEqual([
      [peer, true],
      [peer, false],
      [peer, true],
    ])
  })

  it('advertises the announce address instead of the listen address', async () => {
    cluster = new P2PCluster()
    const node = await cluster.node({ announce: { host: '127.0.0.1', port: 41999 } })
    expect(node.multiaddrs()).toEqual([`/ip4/127.0.0.1/tcp/41999/p2p/${node.peerId}`])
  })
})

describe('/shoal/raft/1', () => {
  it('delivers every frame in order between three nodes', async () => {
    cluster = new P2PCluster()
    const nodes = [await cluster.node(), await cluster.node(), await cluster.node()]
    const received = new Map<string, unknown[]>()
    for (const node of nodes) {
      node.onRaft((from, frame) => {
        const key = `${from}->${node.peerId}`
        received.set(key, [...(received.get(key) ?? []), frame])
      })
    }
    const FRAMES = 200
    for (let i = 0; i < FRAMES; i++) {
      for (const from of nodes) {
        for (const to of nodes) {
          if (from === to) continue
          expect(
            from.sendRaft(to.address(), { seq: i, groups: [[1, 'append', new Uint8Array([i % 256])]] }),
          ).toBe(true)
        }
      }
    }
    await eventually(
      () => received.size === 6 && [...received.values()].every((list) => list.length === FRAMES),
    )
    for (const list of received.values()) {
      expect(list.map((frame) => (frame as { seq: number }).seq)).toEqual(
        Array.from({ length: FRAMES }, (_, i) => i),
      )
    }
    const [a, b] = nodes
    expect(
      await metricValue(a!, 'shoal_p2p_messages_sent_total', { peer: b!.peerId, protocol: '/shoal/raft/1' }),
    ).toBe(FRAMES)
    expect(
      await metricValue(b!, 'shoal_p2p_messages_received_total', {
        peer: a!.peerId,
        protocol: '/shoal/raft/1',
      }),
    ).toBe(FRAMES)
  })

  it('drops frames sent before start, counted, and delivers those sent after', async () => {
    cluster = new P2PCluster()
    const b = await cluster.node()
    const received: unknown[] = []
    b.onRaft((_from, frame) => received.push(frame))
    const a = new P2PNode({
      dataDir: await cluster.dataDir(),
      clusterKey: cluster.clusterKey,
      listen: { host: '127.0.0.1', port: 0 },
    })
    expect(a.sendRaft(b.address(), 'early')).toBe(false)
    expect(await metricValue(a, 'shoal_p2p_frames_dropped_total', { reason: 'stopped' })).toBe(1)
    await a.start()
    try {
      expect(a.sendRaft(b.address(), 'on time')).toBe(true)
      await eventually(() => received.length === 1)
      expect(received).toEqual(['on time'])
    } finally {
      await a.stop()
    }
  })

  it('refuses a frame larger than maxFrameBytes before queueing it', async () => {
    cluster = new P2PCluster()
    const a = await cluster.node({ maxFrameBytes: 4096 })
    const b = await cluster.node()
    expect(() => a.sendRaft(b.address(), new Uint8Array(5000))).toThrow(P2PFrameTooLargeError)
  })

  it('drops frames to an unreachable peer, counted, without blocking the caller', async () => {
    cluster = new P2PCluster()
    const a = await cluster.node({ dialTimeoutMs: 1000 })
    const b = await cluster.node()
    const gone = b.address()
    await b.stop()
    expect(a.sendRaft(gone, 'first')).toBe(true)
    await eventually(
      async () => (await metricValue(a, 'shoal_p2p_frames_dropped_total', { reason: 'unreachable' })) >= 1,
    )
    // Within the redial backoff, frames are refused at once.
    expect(a.sendRaft(gone, 'second')).toBe(false)
  })
})

describe('/shoal/rpc/1', () => {
  it('answers a request with the handler result', async () => {
    cluster = new P2PCluster()
    const a = await cluster.node()
    const b = await cluster.node()
    b.onRequest(async (from, body) => ({ from, echo: body }))
    expect(await a.request(b.address(), { op: 'read', key: 'x' })).toEqual({
      from: a.peerId,
      echo: { op: 'read', key: 'x' },
    })
  })

  it('rejects with the remote error code when the handler throws', async () => {
    cluster = new P2PCluster()
    const a = await cluster.node()
    const b = await cluster.node()
    b.onRequest(async () => {
      throw Object.assign(new Error('not the leader'), { code: 'not_leader' })
    })
    const error = await a.request(b.address(), 'propose').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(P2PRemoteError)
    expect((error as P2PRemoteError).remoteCode).toBe('not_leader')
    expect((error as P2PRemoteError).message).toBe('not the leader')
  })

  it('answers no_handler when no request handler is set', async () => {
    cluster = new P2PCluster()
    const a = await cluster.node()
    const b = await cluster.node()
    const error = await a.request(b.address(), 1).catch((e: unknown) => e)
    expect((error as P2PRemoteError).remoteCode).toBe('no_handler')
  })

  it('times out when the handler does not answer in time, counts it, and the next request still works', async () => {
    cluster = new P2PCluster()
    const a = await cluster.node()
    const b = await cluster.node()
    b.onRequest((_from, body) => (body === 'slow' ? new Promise(() => {}) : Promise.resolve('fast')))
    const started = performance.now()
    await expect(a.request(b.address(), 'slow', { timeoutMs: 300 })).rejects.toBeInstanceOf(P2PTimeoutError)
    expect(performance.now() - started).toBeLessThan(3000)
    expect(await metricValue(a, 'shoal_p2p_requests_total', { peer: b.peerId, outcome: 'timeout' })).toBe(1)
    expect(await a.request(b.address(), 'quick')).toBe('fast')
  })

  it('answers in completion order: a slow handler does not hold up a fast one', async () => {
    cluster = new P2PCluster()
    const a = await cluster.node()
    const b = await cluster.node()
    let releaseSlow: (value: string) => void = () => {}
    b.onRequest((_from, body) =>
      body === 'slow' ? new Promise<string>((resolve) => (releaseSlow = resolve)) : Promise.resolve('fast'),
    )
    const slow = a.request(b.address(), 'slow')
    expect(await a.request(b.address(), 'quick')).toBe('fast')
    releaseSlow('slow done')
    expect(await slow).toBe('slow done')
  })

  it('runs at most maxInboundRequests handlers at once per peer, and answers every request', async () => {
    cluster = new P2PCluster()
    const a = await cluster.node()
    const b = await cluster.node({ maxInboundRequests: 4 })
    let running = 0
    let most = 0
    b.onRequest(async (_from, body) => {
      running++
      most = Math.max(most, running)
      await new Promise((resolve) => setTimeout(resolve, 5))
      running--
      return body
    })
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => a.request(b.address(), i)))
    expect(answers).toEqual(Array.from({ length: 40 }, (_, i) => i))
    expect(most).toBeLessThanOrEqual(4)
  })

  it('rejects with P2PAbortedError when the caller aborts', async () => {
    cluster = new P2PCluster()
    const a = await cluster.node()
    const b = await cluster.node()
    b.onRequest(() => new Promise(() => {}))
    const controller = new AbortController()
    const pending = a.request(b.address(), 'slow', { signal: controller.signal })
    setTimeout(() => controller.abort(), 100)
    await expect(pending).rejects.toBeInstanceOf(P2PAbortedError)
  })

  it('rejects with P2PUnreachableError when nothing listens at the address', async () => {
    cluster = new P2PCluster()
    const a = await cluster.node()
    const b = await cluster.node()
    const gone = b.address()
    await b.stop()
    await expect(a.request(gone, 'x', { timeoutMs: 3000 })).rejects.toBeInstanceOf(P2PUnreachableError)
  })

  it('serves many concurrent requests on one connection', async () => {
    cluster = new P2PCluster()
    const a = await cluster.node()
    const b = await cluster.node()
    b.onRequest(async (_from, body) => (body as number) * 2)
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => a.request(b.address(), i)))
    expect(answers).toEqual(Array.from({ length: 100 }, (_, i) => i * 2))
  })
})
