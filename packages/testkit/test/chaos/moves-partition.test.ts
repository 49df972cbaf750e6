import { describe, expect, it } from 'vitest'
import { FaultNetwork, type SystemUnderTest, scenarioByName } from '../../src/chaos/index.ts'
import { Rng } from '../../src/rng/index.ts'

// The shard-moves scenario against a bookkeeping system: which node joins, is drained or is
// replaced, through which member, and which links are cut while it happens. The real run is
// packages/server/test/chaos-shards.test.ts (`--system shoal-shards`).

function bookkeeping(nodes: string[], initial: number) {
  const inSystem = new Set(nodes.slice(0, initial))
  /** Drained nodes whose process has not stopped yet: not members, not spares either. */
  const leaving = new Set<string>()
  const calls: string[] = []
  let removals = 0
  let network: FaultNetwork | undefined
  const cut = (a: string, b: string) => a !== b && network?.table.faults(a, b).cut !== 'none'
  const partitioned = () => [...inSystem].some((a) => [...inSystem].some((b) => cut(a, b)))
  /** `via` reaches at least half of the members (the larger side; four members split 2 | 2). */
  const onMajority = (via: string) => [...inSystem].filter((n) => !cut(via, n)).length >= inSystem.size / 2
  const refuseEveryThird = () => ++removals % 3 === 0
  const system = {
    name: 'bookkeeping',
    nodes,
    capabilities: {
      pause: false,
      clock: false,
      diskFull: false,
      fsyncFailure: false,
      membership: false,
      shardMoves: true,
    },
    members: () => nodes.filter((n) => inSystem.has(n)),
    running: (n: string) => inSystem.has(n) || leaving.has(n),
    async join(node: string, via: string) {
      expect(inSystem.has(node) || leaving.has(node)).toBe(false)
      expect(inSystem.has(via)).toBe(true)
      expect(partitioned()).toBe(true)
      // The newcomer joins on its seed's side.
      for (const other of inSystem) expect(cut(node, other)).toBe(cut(via, other))
      inSystem.add(node)
      calls.push(`join ${node} via ${via}`)
    },
    async drain(node: string, via: string) {
      expect(inSystem.has(node)).toBe(true)
      expect(via).not.toBe(node)
      expect(onMajority(via)).toBe(true)
      if (refuseEveryThird()) {
        calls.push(`stay ${node}`)
        return false
      }
      inSystem.delete(node)
      leaving.add(node)
      calls.push(`drain ${node} via ${via}`)
      return 'task 1'
    },
    async replace(old: string, spare: string, via: string) {
      expect(inSystem.has(old)).toBe(true)
      expect(inSystem.has(spare) || leaving.has(spare)).toBe(false)
      // The node replaced is cut off from the side the replacement joins.
      expect(cut(old, via)).toBe(true)
      expect(cut(spare, via)).toBe(false)
      expect(cut(spare, old)).toBe(true)
      if (refuseEveryThird()) {
        calls.push(`stay ${old}`)
        return false
      }
      inSystem.delete(old)
      inSystem.add(spare)
      calls.push(`replace ${old} by ${spare} via ${via}`)
      return 'task 2'
    },
  } as unknown as SystemUnderTest
  return {
    system,
    calls,
    inSystem,
    leaving,
    attach(n: FaultNetwork) {
      network = n
    },
  }
}

describe('moves-partition', () => {
  it('joins, drains or replaces one node per fault during a partition of the members, keeping 3 to 5', async () => {
    const scenario = scenarioByName('moves-partition')
    expect(scenario.requires).toEqual(['shardMoves'])
    const nodes = ['n1', 'n2', 'n3', 'n4', 'n5']
    const book = bookkeeping(nodes, 3)
    const network = new FaultNetwork({ nodes, seed: 1 })
    book.attach(network)
    const rng = new Rng(20261207)
    const kinds = { join: 0, drain: 0, replace: 0, stay: 0 }
    for (let i = 0; i < 60; i++) {
      const before = book.inSystem.size
      const applied = await scenario.apply({ system: book.system, network, rng })
      expect(applied.kind).toBe('moves-partition')
      const last = book.calls.at(-1) ?? ''
      const kind = last.split(' ')[0] as keyof typeof kinds
      kinds[kind]++
      if (kind === 'join') expect(before).toBeLessThan(5)
      if (kind === 'drain') expect(before).toBeGreaterThan(3)
      expect(book.inSystem.size).toBeGreaterThanOrEqual(3)
      expect(book.inSystem.size).toBeLessThanOrEqual(5)
      const expectedDetail = {
        join: 'joins through',
        drain: 'drained through',
        replace: 'replaced by',
        stay: 'stays',
      }
      expect(applied.detail).toContain(expectedDetail[kind])
      await applied.heal()
      expect(network.table.active()).toEqual([])
      // A drained node's process ends between faults; until then it is no spare.
      if (i % 2 === 1) book.leaving.clear()
    }
    expect(book.calls).toHaveLength(60)
    for (const [kind, n] of Object.entries(kinds)) expect(n, kind).toBeGreaterThan(kind === 'stay' ? 0 : 5)
  })

  it('is refused by a system without shard moves', async () => {
    const scenario = scenarioByName('moves-partition')
    const network = new FaultNetwork({ nodes: ['a', 'b', 'c'], seed: 1 })
    const system = {
      name: 'no-moves',
      nodes: ['a', 'b', 'c'],
      capabilities: { shardMoves: true },
      members: () => ['a', 'b', 'c'],
    } as unknown as SystemUnderTest
    await expect(scenario.apply({ system, network, rng: new Rng(1) })).rejects.toThrow(
      /lacks members\/join\/drain\/replace/,
    )
  })
})
