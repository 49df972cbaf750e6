import { describe, expect, it } from 'vitest'
import {
  bridge,
  ChaosConfigError,
  isolate,
  linksBetweenGroups,
  randomHalves,
  ring,
} from '../../src/chaos/index.ts'
import { Rng } from '../../src/rng/index.ts'

const nodes = ['n1', 'n2', 'n3', 'n4', 'n5']
const names = (links: Array<{ from: string; to: string }>) => links.map((l) => `${l.from}>${l.to}`).sort()

describe('partition shapes', () => {
  it('cuts both directions of every link between groups and none inside a group', () => {
    expect(names(linksBetweenGroups([['a'], ['b', 'c']]))).toEqual(['a>b', 'a>c', 'b>a', 'c>a'])
    expect(() => linksBetweenGroups([['a'], ['a', 'b']])).toThrow(ChaosConfigError)
  })

  it('isolates one node from all others', () => {
    expect(isolate(nodes, 'n3')).toEqual([['n3'], ['n1', 'n2', 'n4', 'n5']])
  })

  it('splits into a majority and a minority, the same for the same seed', () => {
    const [majority, minority] = randomHalves(nodes, new Rng(4)) as [string[], string[]]
    expect(majority).toHaveLength(3)
    expect(minority).toHaveLength(2)
    expect([...majority, ...minority].sort()).toEqual(nodes)
    expect(randomHalves(nodes, new Rng(4))).toEqual([majority, minority])
  })

  it('a bridge talks to both halves, which cannot talk to each other', () => {
    const { bridge: middle, cut } = bridge(nodes, new Rng(2))
    const cutNames = new Set(names(cut))
    for (const other of nodes) {
      if (other === middle) continue
      expect(cutNames.has(`${middle}>${other}`)).toBe(false)
      expect(cutNames.has(`${other}>${middle}`)).toBe(false)
    }
    expect(cut).toHaveLength(2 * 2 * 2)
  })

  it('a ring of five leaves each node its two neighbours', () => {
    const cut = new Set(names(ring(nodes, new Rng(1))))
    for (const node of nodes) {
      const reachable = nodes.filter((other) => other !== node && !cut.has(`${node}>${other}`))
      expect(reachable).toHaveLength(2)
    }
  })
})
