import { describe, expect, it } from 'vitest'
import { FaultNetwork, type SystemUnderTest, scenarioByName } from '../../src/chaos/index.ts'
import { Rng } from '../../src/rng/index.ts'

// The membership scenario against a bookkeeping system: which node joins
// through which member, which member leaves, and which links are cut while
// it happens. The real run is packages/server/test/chaos-meta.test.ts.

function bookkeeping(nodes: string[], initial: number) {
  const inSystem = new Set(nodes.slice(0, initial))
  const calls: string[] = []
  let leaveRequests = 0
  let network: FaultNetwork | undefined
  const cutBetween = (a: string, b: string) => a !== b && network?.table.faults(a, b).cut !== 'none'
  const system = {
    name: 'bookkeeping',
    nodes,
    capabilities: { pause: false, clock: false, diskFull: false, fsyncFailure: false, membership: true },
    members: () => nodes.filter((n) => inSystem.has(n)),
    async join(node: string, via: string) {
      expect(inSystem.has(node)).toBe(false)
      expect(inSystem.has(via)).toBe(true)
      // The newcomer joins during the partition, on its seed's side.
      expect(cutBetween(node, via)).toBe(false)
      for (const other of inSystem) expect(cutBetween(node, other)).toBe(cutBetween(via, other))
      inSystem.add(node)
      calls.push(`join ${node} via ${via}`)
    },
    async leave(node: string) {
      expect(inSystem.has(node)).toBe(true)
      expect([...inSystem].some((a) => [...inSystem].some((b) => cutBetween(a, b)))).toBe(true)
      // Every third request is refused, as a system still replacing a member would.
      if (++leaveRequests % 3 === 0) {
        calls.push(`stay ${node}`)
        return false
      }
      inSystem.delete(node)
      calls.push(`leave ${node}`)
      return true
    },
  } as unknown as SystemUnderTest
  return {
    system,
    calls,
    inSystem,
    attach(n: FaultNetwork) {
      network = n
    },
  }
}

describe('membership-partition', () => {
  it('joins or removes one node per fault during a partition of the members, keeping 3 to 5 members', async () => {
    const scenario = scenarioByName('membership-partition')
    expect(scenario.requires).toEqual(['membership'])
    const nodes = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6']
    const book = bookkeeping(nodes, 3)
    const network = new FaultNetwork({ nodes, seed: 1 })
    book.attach(network)
    const rng = new Rng(20261207)
    let joins = 0
    let leaves = 0
    let stays = 0
    for (let i = 0; i < 40; i++) {
      const before = book.inSystem.size
      const applied = await scenario.apply({ system: book.system, network, rng })
      expect(applied.kind).toBe('membership-partition')
      const last = book.calls.at(-1) ?? ''
      if (before === 3) expect(last.startsWith('join')).toBe(true)
      if (before === 5) expect(last.startsWith('leave') || last.startsWith('stay')).toBe(true)
      if (last.startsWith('join')) joins++
      else if (last.startsWith('leave')) leaves++
      else stays++
      expect(book.inSystem.size).toBeGreaterThanOrEqual(3)
      expect(book.inSystem.size).toBeLessThanOrEqual(5)
      const expectedDetail = { join: 'joins through', leave: 'stops for good', stay: 'stays' }
      expect(applied.detail).toContain(expectedDetail[last.split(' ')[0] as 'join' | 'leave' | 'stay'])
      await applied.heal()
      expect(network.table.active()).toEqual([])
    }
    expect(book.calls).toHaveLength(40)
    expect(joins).toBeGreaterThan(5)
    expect(leaves).toBeGreaterThan(5)
    expect(stays).toBeGreaterThan(0)
  })
})
