import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { MemoryNetwork } from '../src/memory-network.ts'
import { SwimNode } from '../src/swim-node.ts'
import { transportCompliance } from '../src/testing/index.ts'
import { UdpTransport } from '../src/udp-transport.ts'

// STYLE §5: every port's compliance checks run against the in-memory and the real adapter.
describe('Transport compliance: UdpTransport', () => {
  const key = randomBytes(32)
  for (const check of transportCompliance) {
    it(check.name, () => check.run(() => new UdpTransport({ clusterKey: key, encrypt: true })))
  }
})

describe('Transport compliance: MemoryNetwork', () => {
  const network = new MemoryNetwork()
  for (const check of transportCompliance) it(check.name, () => check.run(() => network.createTransport()))
})

describe('SwimNode on a MemoryNetwork', () => {
  it('five nodes join, and a stopped one is declared dead by the others', async () => {
    const network = new MemoryNetwork({ latencyMs: { min: 0, max: 3 } })
    const config = {
      probeIntervalMs: 200,
      probeTimeoutMs: 80,
      gossipIntervalMs: 50,
      pushPullIntervalMs: 2_000,
    }
    const nodes: SwimNode[] = []
    for (let i = 0; i < 5; i++) {
      const node = new SwimNode({
        id: `n${i}`,
        transport: network.createTransport(`mem:${i}`),
        config,
        seeds: i === 0 ? [] : ['mem:0'],
        randomSeed: i,
      })
      await node.start()
      nodes.push(node)
    }
    try {
      const waitFor = async (condition: () => boolean) => {
        for (let t = 0; t < 600 && !condition(); t++) await new Promise((resolve) => setTimeout(resolve, 25))
        return condition()
      }
      expect(
        await waitFor(() => nodes.every((n) => n.members().filter((m) => m.state === 'alive').length === 5)),
      ).toBe(true)
      const victim = nodes.pop() as SwimNode
      await victim.stop()
      expect(await waitFor(() => nodes.every((n) => n.member(victim.id)?.state === 'dead'))).toBe(true)
    } finally {
      for (const node of nodes) await node.stop()
    }
  })

  it('spreads a metadata update and a graceful leave between running nodes', async () => {
    const network = new MemoryNetwork({ latencyMs: { min: 0, max: 3 } })
    const config = {
      probeIntervalMs: 200,
      probeTimeoutMs: 80,
      gossipIntervalMs: 50,
      pushPullIntervalMs: 2_000,
    }
    const nodes: SwimNode[] = []
    const seen: string[] = []
    for (let i = 0; i < 3; i++) {
      const node = new SwimNode({
        id: `n${i}`,
        transport: network.createTransport(`mem:${i}`),
        config,
        seeds: i === 0 ? [] : ['mem:0'],
        meta: { zone: 'a' },
        randomSeed: i,
      })
      node.on((event) => seen.push(`${node.id}:${event.type}:${event.member.id}`))
      await node.start()
      nodes.push(node)
    }
    const [n0, n1, n2] = nodes as [SwimNode, SwimNode, SwimNode]
    const waitFor = async (condition: () => boolean) => {
      for (let t = 0; t < 600 && !condition(); t++) await new Promise((resolve) => setTimeout(resolve, 25))
      return condition()
    }
    try {
      expect(
        await waitFor(() => nodes.every((n) => n.members().filter((m) => m.state === 'alive').length === 3)),
      ).toBe(true)
      n1.updateMetadata({ zone: 'b' })
      expect(
        await waitFor(() => n0.member('n1')?.meta.zone === 'b' && n2.member('n1')?.meta.zone === 'b'),
      ).toBe(true)
      expect(seen).toContain('n0:update:n1')
      await n2.leave({ propagateMs: 300 })
      expect(
        await waitFor(() => n0.member('n2')?.state === 'left' && n1.member('n2')?.state === 'left'),
      ).toBe(true)
      expect(seen).toContain('n0:leave:n2')
      expect(seen.some((entry) => entry.endsWith(':dead:n2'))).toBe(false)
    } finally {
      await n0.stop()
      await n1.stop()
    }
  })
})
