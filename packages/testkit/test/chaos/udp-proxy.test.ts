import dgram from 'node:dgram'
import { afterEach, describe, expect, it } from 'vitest'
import { FaultTable, UdpLinkProxy } from '../../src/chaos/index.ts'

// Real datagrams on 127.0.0.1: `b` is a socket that records (and may answer)
// what reaches it; `a` sends to the proxy for the link a → b.

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function bound(onMessage: (msg: Buffer, rinfo: dgram.RemoteInfo) => void): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4')
  socket.on('message', onMessage)
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  cleanups.push(() => new Promise<void>((resolve) => socket.close(() => resolve())))
  return socket
}

async function setup(seed = 1) {
  const atB: string[] = []
  const atA: string[] = []
  const b = await bound((msg, rinfo) => {
    atB.push(msg.toString())
    if (msg.toString().startsWith('ping')) b.send(`pong${msg.toString().slice(4)}`, rinfo.port, rinfo.address)
  })
  const a = await bound((msg) => atA.push(msg.toString()))
  const table = new FaultTable({ nodes: ['a', 'b'], seed })
  const proxy = new UdpLinkProxy({
    table,
    from: 'a',
    to: 'b',
    target: { host: '127.0.0.1', port: b.address().port },
  })
  await proxy.start()
  cleanups.push(() => proxy.stop())
  const send = (text: string) => a.send(text, proxy.port, '127.0.0.1')
  return { table, proxy, atA, atB, send }
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time')
    await new Promise((r) => setTimeout(r, 5))
  }
}

const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms))

async function sendAll(send: (text: string) => void, count: number, prefix = 'm'): Promise<string[]> {
  const sent: string[] = []
  for (let i = 0; i < count; i++) {
    sent.push(`${prefix}${i}`)
    send(`${prefix}${i}`)
    if (i % 10 === 9) await new Promise((r) => setTimeout(r, 1))
  }
  return sent
}

describe('UDP link proxy', () => {
  it('delivers datagrams and carries the answers back to the sender', async () => {
    const { atA, atB, send } = await setup()
    send('ping1')
    await until(() => atA.includes('pong1'))
    expect(atB).toEqual(['ping1'])
  })

  it('drops every datagram on a cut link and a share of them under loss', async () => {
    const { table, proxy, atB, send } = await setup()
    table.set('a', 'b', { cut: 'blackhole' })
    await sendAll(send, 20, 'cut')
    await settle()
    expect(atB).toEqual([])
    table.replace('a', 'b', { loss: 0.3 })
    await sendAll(send, 200)
    await until(() => proxy.stats.datagrams === 220)
    await settle()
    expect(atB.length).toBe(200 - (proxy.stats.dropped - 20))
    expect(atB.length).toBeGreaterThan(100)
    expect(atB.length).toBeLessThan(180)
  })

  it('cuts one way only: answers stop while requests still arrive', async () => {
    const { table, atA, atB, send } = await setup()
    table.set('b', 'a', { cut: 'reset' })
    send('ping1')
    await until(() => atB.includes('ping1'))
    await settle()
    expect(atA).toEqual([])
  })

  it('duplicates datagrams', async () => {
    const { table, atB, send } = await setup()
    table.set('a', 'b', { duplicate: 1 })
    await sendAll(send, 10)
    await until(() => atB.length === 20)
    for (let i = 0; i < 10; i++) expect(atB.filter((m) => m === `m${i}`)).toHaveLength(2)
  })

  it('reorders datagrams by holding some back, losing none', async () => {
    const { table, atB, send } = await setup()
    table.set('a', 'b', { reorder: 0.3, reorderMs: 30 })
    const sent = await sendAll(send, 50)
    await until(() => atB.length === 50)
    expect([...atB].sort()).toEqual([...sent].sort())
    expect(atB).not.toEqual(sent)
  })

  it('corrupts one byte of a datagram', async () => {
    const { table, atB, proxy } = await setup()
    table.set('a', 'b', { corrupt: 1 })
    const payload = 'abcdefghijklmnop'
    const a = await bound(() => {})
    a.send(payload, proxy.port, '127.0.0.1')
    await until(() => atB.length === 1)
    const got = Buffer.from(atB[0] as string, 'latin1')
    const differing = [...Buffer.from(payload).keys()].filter((i) => Buffer.from(payload)[i] !== got[i])
    expect(differing.length).toBeGreaterThanOrEqual(1)
    expect(proxy.stats.corrupted).toBe(1)
  })

  it('delays datagrams by the link latency', async () => {
    const { table, atB, send } = await setup()
    table.set('a', 'b', { latencyMs: 120 })
    const started = performance.now()
    send('late')
    await until(() => atB.length === 1)
    expect(performance.now() - started).toBeGreaterThanOrEqual(115)
  })
})
