import { spawn } from 'node:child_process'
import dgram from 'node:dgram'
import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { FaultNetwork, NodeFront, procAddress, tcpDialerPid } from '../../src/chaos/index.ts'
import { waitFor } from '../../src/wait/index.ts'

// Node b has one address (its front) that both a and c dial. The front must
// tell them apart so that a cut of c → b stops c's bytes and not a's: a is
// this process, c a child process (TCP, found by socket owner), or a UDP
// socket with its own port (UDP, found by sender address).

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

describe('procAddress', () => {
  it('prints an IPv4 address and port as /proc/net/tcp does', () => {
    expect(procAddress('127.0.0.1', 8080)).toBe('0100007F:1F90')
    expect(procAddress('::ffff:10.1.2.3', 1)).toBe('0302010A:0001')
    expect(procAddress('::1', 1)).toBeNull()
  })
})

describe('NodeFront', () => {
  it('attributes TCP connections to the process that dialed them, and applies that link’s faults', async () => {
    const received: string[] = []
    const sink = net.createServer((socket) => socket.on('data', (chunk) => received.push(chunk.toString())))
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise<void>((resolve) => sink.close(() => resolve())))
    const target = { port: (sink.address() as net.AddressInfo).port }
    const network = new FaultNetwork({ nodes: ['a', 'b', 'c'], seed: 3 })
    cleanups.push(() => network.stop())
    await network.addTcp('a', 'b', target)
    await network.addTcp('c', 'b', target)
    const pids = new Map<number, string>([[process.pid, 'a']])
    const front = new NodeFront({
      node: 'b',
      tcp: {
        identify: async (socket) => pids.get((await tcpDialerPid(socket, [...pids.keys()])) ?? -1) ?? null,
        route: (source) => parseEndpoint(network.dial(source, 'b')),
      },
    })
    await front.start()
    cleanups.push(() => front.stop())
    network.set('c', 'b', { cut: 'blackhole' })

    const child = spawn(process.execPath, [
      '-e',
      `const s = require('node:net').connect(${front.port}, '127.0.0.1', () => s.write('from-c')); s.on('error', () => {}); setTimeout(() => {}, 10000)`,
    ])
    cleanups.push(() => void child.kill('SIGKILL'))
    pids.set(child.pid as number, 'c')
    const own = net.connect(front.port, '127.0.0.1', () => own.write('from-a'))
    own.on('error', () => {})
    cleanups.push(() => void own.destroy())

    await waitFor('a’s bytes', () => received.includes('from-a'), { timeoutMs: 5000 })
    await waitFor('both connections attributed', () => front.stats.connections === 2, { timeoutMs: 5000 })
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(received).toEqual(['from-a'])
    expect(network.stats().tcp.blackholed).toBe(1)
    expect(front.stats.unidentified).toBe(0)
  })

  it('closes a TCP connection whose dialer is none of the known processes', async () => {
    const network = new FaultNetwork({ nodes: ['a', 'b'], seed: 3 })
    cleanups.push(() => network.stop())
    const front = new NodeFront({
      node: 'b',
      tcp: {
        identify: async (socket) => ((await tcpDialerPid(socket, [])) === null ? null : 'a'),
        route: () => ({ port: 1 }),
      },
    })
    await front.start()
    cleanups.push(() => front.stop())
    const socket = net.connect(front.port, '127.0.0.1')
    socket.on('error', () => {})
    await new Promise((resolve) => socket.once('close', resolve))
    expect(front.stats.unidentified).toBe(1)
  })

  it('attributes UDP datagrams by sender address, on the same port as TCP', async () => {
    const received: string[] = []
    const sink = dgram.createSocket('udp4')
    sink.on('message', (datagram) => received.push(datagram.toString()))
    await new Promise<void>((resolve) => sink.bind(0, '127.0.0.1', () => resolve()))
    cleanups.push(() => new Promise<void>((resolve) => sink.close(() => resolve())))
    const senders = await Promise.all(
      ['a', 'c'].map(async (name) => {
        const socket = dgram.createSocket('udp4')
        await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()))
        cleanups.push(() => new Promise<void>((resolve) => socket.close(() => resolve())))
        return { name, socket }
      }),
    )
    const byPort = new Map(senders.map((s) => [s.socket.address().port, s.name]))
    const network = new FaultNetwork({ nodes: ['a', 'b', 'c'], seed: 3 })
    cleanups.push(() => network.stop())
    for (const from of ['a', 'c']) await network.addUdp(from, 'b', { port: sink.address().port })
    const front = new NodeFront({
      node: 'b',
      udp: {
        identify: (sender) => byPort.get(sender.port) ?? null,
        route: (source) => parseEndpoint(network.dial(source, 'b', 'udp')),
      },
      tcp: { identify: async () => null, route: () => ({ port: 1 }) },
    })
    await front.start()
    cleanups.push(() => front.stop())
    network.set('c', 'b', { cut: 'blackhole' })
    for (const { name, socket } of senders) socket.send(`from-${name}`, front.port, '127.0.0.1')
    await waitFor('a’s datagram', () => received.includes('from-a'), { timeoutMs: 5000 })
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(received).toEqual(['from-a'])
    expect(front.stats.datagrams).toBe(2)
    expect(network.stats().udp.dropped).toBe(1)
  })
})

function parseEndpoint(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':')
  return { host: address.slice(0, at), port: Number(address.slice(at + 1)) }
}
