import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { encodeMessages } from '../src/codec.ts'
import { detectionBoundMs, resolveConfig } from '../src/core/index.ts'
import { PacketSeal } from '../src/packet.ts'
import { SwimNode } from '../src/swim-node.ts'
import { UdpTransport } from '../src/udp-transport.ts'

const here = path.dirname(fileURLToPath(import.meta.url))
const fixture = path.join(here, 'fixtures/udp-member.ts')

/** Short intervals so the test finishes quickly; the same formulas as LAN. */
const fastConfig = {
  probeIntervalMs: 500,
  probeTimeoutMs: 200,
  gossipIntervalMs: 100,
  pushPullIntervalMs: 5_000,
}

interface Child {
  id: string
  process: ChildProcess
  address: string
  lines: Array<Record<string, unknown> & { receivedAtMs: number }>
}

const children: Child[] = []
afterEach(() => {
  for (const child of children.splice(0)) child.process.kill('SIGKILL')
})

function startMember(id: string, key: Buffer, seeds: string[]): Promise<Child> {
  const proc = spawn(
    process.execPath,
    [fixture, id, key.toString('hex'), JSON.stringify(fastConfig), ...seeds],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  const child: Child = { id, process: proc, address: '', lines: [] }
  children.push(child)
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream })
    lines.on('line', (line) => {
      const parsed = JSON.parse(line) as Record<string, unknown>
      child.lines.push({ ...parsed, receivedAtMs: Date.now() })
      if (parsed.type === 'ready') {
        child.address = String(parsed.address)
        resolve(child)
      }
    })
    proc.once('exit', (code) => reject(new Error(`member ${id} exited with ${code}`)))
  })
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (condition()) return true
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return condition()
}

/** The latest state each child reported for `subject`. */
function latest(child: Child, subject: string): string | undefined {
  let state: string | undefined
  for (const line of child.lines) if (line.member === subject) state = String(line.type)
  return state
}

describe('SWIM over real UDP', () => {
  it('5 processes on 127.0.0.1: kill -9 one, the rest mark it dead within the bound', async () => {
    const key = randomBytes(32)
    const first = await startMember('p0', key, [])
    const rest = await Promise.all(
      ['p1', 'p2', 'p3', 'p4'].map((id) => startMember(id, key, [first.address])),
    )
    const all = [first, ...rest]
    const joined = await waitFor(
      () =>
        all.every((c) =>
          all.every((o) => o === c || ['join', 'alive', 'update'].includes(latest(c, o.id) ?? '')),
        ),
      15_000,
    )
    expect(joined).toBe(true)
    const victim = rest[1] as Child
    const killedAt = Date.now()
    victim.process.kill('SIGKILL')
    const survivors = all.filter((c) => c !== victim)
    const bound = detectionBoundMs(resolveConfig(fastConfig), 5)
    // Allow scheduling slack for 4 processes on a shared 2-core machine.
    const detected = await waitFor(
      () => survivors.every((c) => latest(c, victim.id) === 'dead'),
      bound + 5_000,
    )
    expect(detected).toBe(true)
    for (const survivor of survivors) {
      const line = survivor.lines.find((l) => l.member === victim.id && l.type === 'dead')
      expect((line?.receivedAtMs ?? Number.POSITIVE_INFINITY) - killedAt).toBeLessThanOrEqual(bound + 1_000)
    }
  }, 40_000)

  it('drops malformed, unauthenticated, oversized, stale and replayed packets, counts them, and keeps working', async () => {
    const key = randomBytes(32)
    const transport = new UdpTransport({ clusterKey: key })
    const node = new SwimNode({ id: 'target', transport, config: fastConfig })
    await node.start()
    const [host, portText] = node.address.split(':') as [string, string]
    const port = Number(portText)
    const socket = createSocket('udp4')
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()))
    const replyAddress = `127.0.0.1:${socket.address().port}`
    const replies: Buffer[] = []
    socket.on('message', (packet) => replies.push(packet))
    const send = (packet: Uint8Array) =>
      new Promise<void>((resolve) => socket.send(packet, port, host, () => resolve()))
    const ping = encodeMessages([
      { type: 'ping', seq: 1, from: 'prober', fromAddress: replyAddress, target: 'target', updates: [] },
    ])
    try {
      const good = new PacketSeal({ clusterKey: key })
      const wrongKey = new PacketSeal({ clusterKey: randomBytes(32) })
      await send(randomBytes(200))
      await send(good.seal(new Uint8Array([0xc1, 0xff, 0x00]), Date.now()))
      await send(wrongKey.seal(ping, Date.now()))
      const tampered = good.seal(ping, Date.now())
      tampered[30] = (tampered[30] as number) ^ 0xff
      await send(tampered)
      await send(randomBytes(2_000))
      await send(good.seal(ping, Date.now() - 120_000))
      const valid = good.seal(ping, Date.now())
      await send(valid)
      await send(valid)
      const counted = await waitFor(() => {
        const { dropped } = transport.stats()
        return dropped.replayed === 1 && dropped.stale === 1 && dropped.oversized === 1
      }, 5_000)
      expect(counted).toBe(true)
      const { dropped } = transport.stats()
      expect(dropped).toEqual({ malformed: 2, unauthenticated: 2, oversized: 1, stale: 1, replayed: 1 })
      // The one valid ping was answered: the node is alive and well.
      expect(await waitFor(() => replies.length === 1, 5_000)).toBe(true)
      const opened = good.open(replies[0] as Buffer, Date.now(), 1400)
      expect(opened.ok).toBe(true)
    } finally {
      socket.close()
      await node.stop()
    }
  })

  it('encrypts when asked: a plaintext cluster cannot read an encrypted one and vice versa', () => {
    const key = randomBytes(32)
    const encrypted = new PacketSeal({ clusterKey: key, encrypt: true })
    const plain = new PacketSeal({ clusterKey: key })
    const payload = new TextEncoder().encode('secret membership')
    const sealed = encrypted.seal(payload, 1000)
    expect(Buffer.from(sealed).includes(Buffer.from('secret'))).toBe(false)
    const opened = encrypted.open(sealed, 1000, 1400)
    expect(opened.ok && Buffer.from(opened.payload).toString()).toBe('secret membership')
    expect(encrypted.open(plain.seal(payload, 1000), 1000, 1400)).toEqual({
      ok: false,
      reason: 'unauthenticated',
    })
  })

  it('sends push-pull state that does not fit one packet over TCP', async () => {
    const key = randomBytes(32)
    const a = new UdpTransport({ clusterKey: key })
    const b = new UdpTransport({ clusterKey: key })
    const received: string[] = []
    await a.start(() => {})
    await b.start((messages) => {
      for (const m of messages) if (m.type === 'push-pull') received.push(`${m.members.length}`)
    })
    try {
      const members = Array.from({ length: 200 }, (_, i) => ({
        id: `member-${i}`,
        address: `10.0.0.${i % 250}:7946`,
        incarnation: i,
        state: 'alive' as const,
        meta: { zone: 'eu-west-1a' },
      }))
      a.send(b.address, [
        { type: 'push-pull', from: 'a', fromAddress: a.address, join: true, reply: false, members },
      ])
      expect(await waitFor(() => received.length === 1, 5_000)).toBe(true)
      expect(received[0]).toBe('200')
      expect(a.stats().streamsSent).toBe(1)
      expect(b.stats().streamsReceived).toBe(1)
    } finally {
      await a.stop()
      await b.stop()
    }
  })
})
