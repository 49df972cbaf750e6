import { describe, expect, it } from 'vitest'
import { repairPlan } from '../src/internal/cluster/anti-entropy.ts'
import { type Comparison, majorityOf } from '../src/internal/cluster/anti-entropy-compare.ts'

// Which version of a differing document wins, and what each replica is sent
// (docs/anti-entropy.md, "Comparing at one applied index" and "Repair"): the version held by
// more than half of the shard's replicas, counting the ones that did not answer; none, and the
// document is left alone.

const hashes = (entries: Record<string, string | null>) => new Map(Object.entries(entries))

describe('anti-entropy majority', () => {
  it('is the version more than half of the shard’s replicas hold', () => {
    expect(majorityOf(hashes({ a: 'h1', b: 'h1', c: 'h2' }), 3)).toEqual({ hash: 'h1' })
    // Absent on two replicas of three: the majority has no such document.
    expect(majorityOf(hashes({ a: null, b: null, c: 'h9' }), 3)).toEqual({ hash: null })
  })

  it('does not exist when replicas that did not answer could outvote the ones that did', () => {
    // Three replicas, one down, two disagreeing: 1 of 3 is no majority.
    expect(majorityOf(hashes({ a: 'h1', b: 'h2' }), 3)).toBeNull()
    // Two replicas that disagree: neither is a majority.
    expect(majorityOf(hashes({ a: 'h1', b: 'h2' }), 2)).toBeNull()
    // Five replicas, two down: 2 of 5 agreeing is not enough either.
    expect(majorityOf(hashes({ a: 'h1', b: 'h1', c: 'h2' }), 5)).toBeNull()
  })
})

describe('anti-entropy repair plan', () => {
  const comparison = (differing: Comparison['differing']): Comparison => ({
    position: 10,
    compared: ['a', 'b', 'c'],
    unreachable: new Map(),
    differing,
    hashesCompared: 0,
    documentsCompared: 0,
    rounds: 0,
  })

  it('sends each divergent replica the documents it lacks or has wrong, and deletes its extra ones', () => {
    const plan = repairPlan(
      comparison([
        { key: 'changed', hashes: hashes({ a: 'h1', b: 'h1', c: 'h2' }), majority: { hash: 'h1' } },
        { key: 'missing', hashes: hashes({ a: 'h3', b: 'h3', c: null }), majority: { hash: 'h3' } },
        { key: 'extra', hashes: hashes({ a: null, b: null, c: 'h4' }), majority: { hash: null } },
        { key: 'b-only', hashes: hashes({ a: 'h5', b: 'h6', c: 'h5' }), majority: { hash: 'h5' } },
      ]),
    )
    expect(Object.fromEntries(plan)).toEqual({
      c: { put: ['changed', 'missing'], delete: ['extra'] },
      b: { put: ['b-only'], delete: [] },
    })
  })

  it('leaves a document without a majority alone', () => {
    const plan = repairPlan(
      comparison([{ key: 'split', hashes: hashes({ a: 'h1', b: 'h2', c: 'h3' }), majority: null }]),
    )
    expect(plan.size).toBe(0)
  })
})
