import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { ChaosConfigError, FaultNetwork, FaultTable, TcpLinkProxy } from '../../src/chaos/index.ts'

// Real sockets on 127.0.0.1: a sink server records what reaches `b`, a client
// socket plays `a` and dials `b` through the proxy for the link a → b.

interface Sink {
  port: number
  received: () => Buffer
  connections: net.Socket[]
  close: () => Promise<void>
}

async function startSink(): Promise<Sink> {
  const chunks: Buffer[] = []
  const connections: net.Socket[] = []
  const server = net.createServer((socket) => {
    connections.push(socket)
    socket.on('error', () => {})
    socket.on('data', (chunk) => chunks.push(chunk))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    received: () => Buffer.concat(chunks),
    connections,
    close: async () => {
      for (const c of connections) c.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function setup(seed = 1): Promise<{ table: FaultTable; proxy: TcpLinkProxy; sink: Sink }> {
  const sink = await startSink()
  cleanups.push(sink.close)
  const table = new FaultTable({ nodes: ['a', 'b'], seed })
  const proxy = new TcpLinkProxy({
    table,
    from: 'a',
    to: 'b',
    target: { host: '127.0.0.1', port: sink.port },
  })
  await proxy.start()
  cleanups.push(() => proxy.stop())
  return { table, proxy, sink }
}

async function dial(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port })
  socket.on('error', () => {})
  cleanups.push(() => void socket.destroy())
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  return socket
}

const closed = (socket: net.Socket): Promise<void> =>
  socket.destroyed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()))

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time')
    await new Promise((r) => setTimeout(r, 5))
  }
}

const pattern = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => i % 251))

describe('TCP link proxy', () => {
  it('passes bytes unchanged and in order when the link has no faults', async () => {
    const { proxy, sink } = await setup()
    const socket = await dial(proxy.port)
    const sent = pattern(100_000)
    socket.write(sent)
    await until(() => sink.received().length === sent.length)
    expect(sink.received().equals(sent)).toBe(true)
  })

  it('delays every chunk by the link latency, keeping the stream in order under jitter', async () => {
    const { table, proxy, sink } = await setup()
    table.set('a', 'b', { latencyMs: 150, jitterMs: 100 })
    const socket = await dial(proxy.port)
    const started = performance.now()
    for (let i = 0; i < 20; i++) {
      socket.write(pattern(1000))
      await new Promise((r) => setTimeout(r, 2))
    }
    await until(() => sink.received().length > 0)
    expect(performance.now() - started).toBeGreaterThanOrEqual(145)
    await until(() => sink.received().length === 20_000)
    expect(sink.received().equals(Buffer.concat(Array.from({ length: 20 }, () => pattern(1000))))).toBe(true)
  })

  it('models loss as retransmission stalls: the bytes all arrive, in order, late', async () => {
    const { table, proxy, sink } = await setup()
    table.set('a', 'b', { loss: 0.5, retransmitMs: 40 })
    const socket = await dial(proxy.port)
    const chunks = Array.from({ length: 30 }, (_, i) => Buffer.from(`chunk-${i};`))
    for (const chunk of chunks) {
      socket.write(chunk)
      await new Promise((r) => setTimeout(r, 3))
    }
    const expected = Buffer.concat(chunks)
    await until(() => sink.received().length === expected.length)
    expect(sink.received().equals(expected)).toBe(true)
    expect(proxy.stats.stalls).toBeGreaterThan(0)
  })

  it('corrupts exactly one byte of a chunk when corruption is certain', async () => {
    const { table, proxy, sink } = await setup()
    table.set('a', 'b', { corrupt: 1 })
    const socket = await dial(proxy.port)
    const sent = pattern(64)
    socket.write(sent)
    await until(() => sink.received().length === sent.length)
    const got = sink.received()
    const differing = [...sent.keys()].filter((i) => sent[i] !== got[i])
    expect(differing).toHaveLength(1)
    expect(proxy.stats.corrupted).toBe(1)
  })

  it('resets the connection on a chunk when the reset probability is 1', async () => {
    const { table, proxy } = await setup()
    table.set('a', 'b', { reset: 1 })
    const socket = await dial(proxy.port)
    socket.write('x')
    await closed(socket)
    expect(proxy.stats.resets).toBe(1)
  })

  it('a reset cut closes open connections and refuses new ones until healed', async () => {
    const { table, proxy, sink } = await setup()
    const before = await dial(proxy.port)
    await until(() => proxy.openConnections === 1)
    table.set('a', 'b', { cut: 'reset' })
    await closed(before)
    const during = await dial(proxy.port)
    await closed(during)
    expect(proxy.stats.refused).toBe(1)
    table.heal()
    const after = await dial(proxy.port)
    after.write('hello')
    await until(() => sink.received().toString() === 'hello')
  })

  it('a one-way cut of the reply direction leaves the dialer’s direction flowing until a reply is sent', async () => {
    const { table, proxy, sink } = await setup()
    table.set('b', 'a', { cut: 'reset' })
    const socket = await dial(proxy.port)
    socket.write('ping')
    await until(() => sink.received().toString() === 'ping')
    expect(socket.destroyed).toBe(false)
    sink.connections[0]?.write('pong')
    await closed(socket)
  })

  it('a blackhole swallows bytes silently and closes the connection when it heals', async () => {
    const { table, proxy, sink } = await setup()
    table.set('a', 'b', { cut: 'blackhole' })
    const socket = await dial(proxy.port)
    socket.write('lost')
    await until(() => proxy.stats.blackholed === 1)
    await new Promise((r) => setTimeout(r, 50))
    expect(sink.received().length).toBe(0)
    expect(socket.destroyed).toBe(false)
    table.heal()
    await closed(socket)
  })

  it('passes back-pressure on: a destination that stops reading stops the proxy reading from the dialer', async () => {
    const table = new FaultTable({ nodes: ['a', 'b'], seed: 1 })
    const stalled: net.Socket[] = []
    const server = net.createServer((socket) => {
      socket.pause()
      stalled.push(socket)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(async () => {
      for (const socket of stalled) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    })
    const port = (server.address() as net.AddressInfo).port
    const proxy = new TcpLinkProxy({ table, from: 'a', to: 'b', target: { host: '127.0.0.1', port } })
    await proxy.start()
    cleanups.push(() => proxy.stop())
    const socket = await dial(proxy.port)
    const block = Buffer.alloc(1024 * 1024)
    // Write until the dialer's buffer stays full for 300 ms (or 64 MiB went through).
    for (let sent = 0; sent < 64; sent++) {
      if (socket.write(block)) continue
      const drained = await Promise.race([
        new Promise<boolean>((resolve) => socket.once('drain', () => resolve(true))),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 300)),
      ])
      if (!drained) break
    }
    // Kernel buffers hold a few MiB; without back-pressure the proxy would read all 64.
    expect(proxy.stats.bytes).toBeLessThan(32 * 1024 * 1024)
  })

  it('drops connections on demand', async () => {
    const { proxy } = await setup()
    const socket = await dial(proxy.port)
    await until(() => proxy.openConnections === 1)
    expect(proxy.dropConnections()).toBe(1)
    await closed(socket)
  })

  it('draws the same faults for the same seed', async () => {
    const positions = async (seed: number): Promise<number[]> => {
      const { table, proxy, sink } = await setup(seed)
      table.set('a', 'b', { corrupt: 1 })
      const socket = await dial(proxy.port)
      const out: number[] = []
      for (let i = 0; i < 5; i++) {
        const length = sink.received().length
        socket.write(pattern(32))
        await until(() => sink.received().length === length + 32)
        const got = sink.received().subarray(length)
        out.push(pattern(32).findIndex((byte, j) => byte !== got[j]))
      }
      return out
    }
    const first = await positions(42)
    expect(await positions(42)).toEqual(first)
  })
})

describe('FaultNetwork over TCP', () => {
  it('routes each directed link through its own proxy, and a partition cuts exactly the links between groups', async () => {
    const sinks = { a: await startSink(), b: await startSink(), c: await startSink() }
    for (const sink of Object.values(sinks)) cleanups.push(sink.close)
    const network = new FaultNetwork({ nodes: ['a', 'b', 'c'], seed: 3 })
    cleanups.push(() => network.stop())
    await network.tcpMesh({ a: { port: sinks.a.port }, b: { port: sinks.b.port }, c: { port: sinks.c.port } })
    expect(network.links().map((l) => `${l.from}>${l.to}/${l.protocol}`)).toEqual([
      'a>b/tcp',
      'a>c/tcp',
      'b>a/tcp',
      'b>c/tcp',
      'c>a/tcp',
      'c>b/tcp',
    ])
    network.partition([['a'], ['b', 'c']])
    const port = (from: string, to: string) => Number(network.dial(from, to).split(':')[1])
    const bc = await dial(port('b', 'c'))
    bc.write('b to c')
    await until(() => sinks.c.received().toString() === 'b to c')
    const ab = await dial(port('a', 'b'))
    await closed(ab)
    const ca = await dial(port('c', 'a'))
    await closed(ca)
    expect(network.stats().tcp.refused).toBe(2)
    network.heal()
    const again = await dial(port('a', 'b'))
    again.write('healed')
    await until(() => sinks.b.received().toString() === 'healed')
  })

  it('refuses fault values out of range and unknown nodes with a typed error', () => {
    const table = new FaultTable({ nodes: ['a', 'b'], seed: 1 })
    expect(() => table.set('a', 'b', { loss: 1.5 })).toThrow(ChaosConfigError)
    expect(() => table.set('a', 'b', { latencyMs: -1 })).toThrow(ChaosConfigError)
    expect(() => table.set('a', 'b', { spike: { everyMs: 100, durationMs: 200, extraMs: 10 } })).toThrow(
      ChaosConfigError,
    )
    expect(() => table.set('a', 'b', { lossy: 1 } as never)).toThrow(ChaosConfigError)
    expect(() => table.set('a', 'x', {})).toThrow(ChaosConfigError)
    expect(() => table.set('a', 'a', {})).toThrow(ChaosConfigError)
  })
})
