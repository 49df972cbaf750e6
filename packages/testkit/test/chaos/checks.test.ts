import { describe, expect, it } from 'vitest'
import {
  ChaosConfigError,
  divergentKeys,
  lostWrites,
  parseDuration,
  roundRobin,
  type Scenario,
} from '../../src/chaos/index.ts'
import type { KvInput, KvOutput, Operation } from '../../src/lin/index.ts'
import { Rng } from '../../src/rng/index.ts'

type Op = Operation<KvInput, KvOutput>
const write = (key: string, value: string, call: number, ret?: number): Op => ({
  clientId: value,
  input: { kind: 'write', key, value },
  output: {},
  call,
  return: ret,
})

describe('lost acknowledged writes', () => {
  it('none when the final value is the last acknowledged write', () => {
    const history = [write('k', 'a', 0, 1), write('k', 'b', 2, 3)]
    expect(lostWrites(history, new Map([['k', 'b']]))).toEqual([])
  })

  it('an acknowledged write called after the final value’s write returned is lost', () => {
    const history = [write('k', 'a', 0, 1), write('k', 'b', 2, 3)]
    expect(lostWrites(history, new Map([['k', 'a']]))).toEqual([{ key: 'k', value: 'b', finalValue: 'a' }])
  })

  it('concurrent writes may end in either order', () => {
    const history = [write('k', 'a', 0, 5), write('k', 'b', 1, 4)]
    expect(lostWrites(history, new Map([['k', 'a']]))).toEqual([])
    expect(lostWrites(history, new Map([['k', 'b']]))).toEqual([])
  })

  it('a pending write may be the final value without losing the acknowledged one before it', () => {
    const history = [write('k', 'a', 0, 1), write('k', 'b', 2)]
    expect(lostWrites(history, new Map([['k', 'b']]))).toEqual([])
  })

  it('a key that reads as never written loses every acknowledged write', () => {
    const history = [write('k', 'a', 0, 1), write('k', 'b', 2)]
    expect(lostWrites(history, new Map([['k', null]]))).toEqual([{ key: 'k', value: 'a', finalValue: null }])
  })
})

describe('replica comparison', () => {
  it('lists keys whose values differ between nodes', () => {
    const states = [
      {
        node: 'n1',
        appliedIndex: 3,
        values: new Map([
          ['x', '1'],
          ['y', '2'],
        ]),
      },
      {
        node: 'n2',
        appliedIndex: 3,
        values: new Map([
          ['x', '1'],
          ['y', null],
        ]),
      },
    ]
    expect(divergentKeys(states)).toEqual([{ key: 'y', values: { n1: '2', n2: null } }])
  })
})

describe('durations', () => {
  it('reads ms, s, m and h, and refuses anything else', () => {
    expect(parseDuration('250ms')).toBe(250)
    expect(parseDuration('20s')).toBe(20_000)
    expect(parseDuration('10m')).toBe(600_000)
    expect(parseDuration('1h')).toBe(3_600_000)
    expect(parseDuration('1500')).toBe(1500)
    expect(() => parseDuration('ten minutes')).toThrow(ChaosConfigError)
  })
})

describe('scenarios in turn', () => {
  it('applies each scenario in order with its own hold time, prefixing the fault kind', async () => {
    const make = (name: string, hold: number): Scenario => ({
      name,
      description: name,
      quietMs: [1, 1],
      holdMs: [hold, hold],
      apply: async () => ({ kind: 'k', detail: '', heal: () => {} }),
    })
    const combined = roundRobin([make('a', 10), make('b', 20)])
    const context = { rng: new Rng(1) } as Parameters<Scenario['apply']>[0]
    const applied = [
      await combined.apply(context),
      await combined.apply(context),
      await combined.apply(context),
    ]
    expect(applied.map((f) => [f.kind, f.holdMs])).toEqual([
      ['a: k', 10],
      ['b: k', 20],
      ['a: k', 10],
    ])
  })
})
