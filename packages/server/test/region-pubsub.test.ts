import { waitFor } from '@shoal/testkit/wait'
import { afterAll, describe, expect, it } from 'vitest'
import type { P2PNode } from '../src/internal/p2p/index.ts'
import { P2PCluster } from './p2p-harness.ts'

// docs/multi-region.md, "Transport": the inter-region feed runs gossipsub (@libp2p/gossipsub 17)
// on a libp2p 3 node of its own, keyed by the inter-region key. These check that the two work
// together over our TCP + pnet + Noise + Yamux stack.

describe('gossipsub on the p2p node', () => {
  const cluster = new P2PCluster()
  afterAll(() => cluster.close())

  async function connected(a: P2PNode, b: P2PNode, topic: string): Promise<void> {
    b.onRequest(async () => 'hello')
    await a.request(b.address(), 'hello')
    await waitFor(
      'both nodes to see the other subscribed',
      () => a.pubsub().getSubscribers(topic).length > 0 && b.pubsub().getSubscribers(topic).length > 0,
      {
        timeoutMs: 10_000,
      },
    )
  }

  it('a message published on a topic reaches the subscriber on the other node', async () => {
    const a = await cluster.node({ pubsub: true })
    const b = await cluster.node({ pubsub: true })
    const received: string[] = []
    b.pubsub().addEventListener('message', (event) => {
      if (event.detail.topic === 'shoal/region/1/docs')
        received.push(new TextDecoder().decode(event.detail.data))
    })
    a.pubsub().subscribe('shoal/region/1/docs')
    b.pubsub().subscribe('shoal/region/1/docs')
    await connected(a, b, 'shoal/region/1/docs')
    for (let i = 0; i < 5; i++)
      await a.pubsub().publish('shoal/region/1/docs', new TextEncoder().encode(`m${i}`))
    await waitFor('five messages', () => received.length === 5, { timeoutMs: 10_000 })
    expect(received).toEqual(['m0', 'm1', 'm2', 'm3', 'm4'])
  })

  it('a node started without pubsub has none', async () => {
    const plain = await cluster.node()
    expect(() => plain.pubsub()).toThrow(/runs no pubsub/)
  })
})
