import { deepStrictEqual, ok, strictEqual } from 'node:assert/strict'
import type { MemberRecord, Message } from '../core/index.ts'
import type { Transport } from '../transport.ts'

/** Makes a fresh, unstarted transport; the checks start and stop it. */
export type TransportFactory = () => Transport | Promise<Transport>

export interface ComplianceCheck {
  name: string
  run(factory: TransportFactory): Promise<void>
}

/**
 * What every `Transport` must do, as checks that throw on failure. Run them
 * from any test runner against each implementation:
 * `for (const check of transportCompliance) it(check.name, () => check.run(factory))`.
 */
export const transportCompliance: readonly ComplianceCheck[] = [
  {
    name: 'has an address once started',
    async run(factory) {
      await withPair(factory, async (a, b) => {
        ok(a.address.length > 0)
        ok(a.address !== b.address)
      })
    },
  },
  {
    name: 'delivers a batch of messages unchanged',
    async run(factory) {
      await withPair(factory, async (a, b, received) => {
        const batch: Message[] = [
          { type: 'ping', seq: 1, from: 'a', fromAddress: a.address, target: 'b', updates: [] },
          { type: 'gossip', from: 'a', updates: [{ kind: 'suspect', id: 'c', incarnation: 3, from: 'a' }] },
        ]
        a.send(b.address, batch)
        await until(() => received.length >= 2)
        deepStrictEqual(received, batch)
      })
    },
  },
  {
    name: 'delivers many small messages sent at once',
    async run(factory) {
      await withPair(factory, async (a, b, received) => {
        const batch: Message[] = Array.from({ length: 200 }, (_, seq) => ({ type: 'nack', seq, from: 'a' }))
        a.send(b.address, batch)
        await until(() => received.length >= 200)
        deepStrictEqual(
          received.map((m) => (m.type === 'nack' ? m.seq : -1)).sort((x, y) => x - y),
          batch.map((_, seq) => seq),
        )
      })
    },
  },
  {
    name: 'delivers a message larger than one packet',
    async run(factory) {
      await withPair(factory, async (a, b, received) => {
        const members: MemberRecord[] = Array.from({ length: 300 }, (_, i) => ({
          id: `member-${i}`,
          address: `10.1.${i % 250}.7:7946`,
          incarnation: i,
          state: 'alive',
          meta: { zone: 'eu-west-1a', capabilities: 'vector,bm25' },
        }))
        a.send(b.address, [
          { type: 'push-pull', from: 'a', fromAddress: a.address, join: false, reply: false, members },
        ])
        await until(() => received.length >= 1)
        const message = received[0]
        strictEqual(message?.type, 'push-pull')
        strictEqual(message.type === 'push-pull' ? message.members.length : 0, 300)
      })
    },
  },
  {
    name: 'does not throw when sending to an unknown or malformed address',
    async run(factory) {
      await withPair(factory, async (a) => {
        a.send('127.0.0.1:1', [{ type: 'nack', seq: 1, from: 'a' }])
        a.send('not an address', [{ type: 'nack', seq: 1, from: 'a' }])
      })
    },
  },
  {
    name: 'delivers nothing after stop',
    async run(factory) {
      const a = await factory()
      const b = await factory()
      const received: Message[] = []
      await a.start(() => {})
      await b.start((messages) => received.push(...messages))
      const to = b.address
      await b.stop()
      a.send(to, [{ type: 'nack', seq: 1, from: 'a' }])
      await new Promise((resolve) => setTimeout(resolve, 100))
      await a.stop()
      strictEqual(received.length, 0)
    },
  },
]

async function withPair(
  factory: TransportFactory,
  body: (a: Transport, b: Transport, received: Message[]) => Promise<void>,
): Promise<void> {
  const a = await factory()
  const b = await factory()
  const received: Message[] = []
  await a.start(() => {})
  await b.start((messages) => received.push(...messages))
  try {
    await body(a, b, received)
  } finally {
    await a.stop()
    await b.stop()
  }
}

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > end) throw new Error('timed out waiting for delivery')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
