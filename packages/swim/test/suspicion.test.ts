import { describe, expect, it } from 'vitest'
import {
  Awareness,
  expectedConfirmations,
  Suspicion,
  suspicionMinTimeoutMs,
  suspicionTimeoutMs,
} from '../src/core/index.ts'

// Lifeguard §IV-B; memberlist suspicion.go and util.go.
describe('suspicion maths', () => {
  it('scales the minimum timeout with log10 of the cluster size, never below one interval × mult', () => {
    expect(suspicionMinTimeoutMs(4, 1000, 1000)).toBe(12_000)
    expect(suspicionMinTimeoutMs(4, 100, 1000)).toBe(8_000)
    expect(suspicionMinTimeoutMs(4, 5, 1000)).toBe(4_000)
    expect(suspicionMinTimeoutMs(4, 0, 1000)).toBe(4_000)
  })

  it('expects mult − 2 confirmations, or none when too few members could give them', () => {
    expect(expectedConfirmations(4, 1000)).toBe(2)
    expect(expectedConfirmations(4, 4)).toBe(2)
    expect(expectedConfirmations(4, 3)).toBe(0)
    expect(expectedConfirmations(4, 2)).toBe(0)
  })

  it('starts at the maximum and reaches the minimum after k confirmations, shrinking monotonically', () => {
    const min = 8000
    const max = 48_000
    const k = 5
    let previous = Number.POSITIVE_INFINITY
    for (let c = 0; c <= k; c++) {
      const timeout = suspicionTimeoutMs(c, k, min, max)
      // Naive oracle: the formula written out.
      const oracle = Math.max(min, Math.floor(max - (Math.log(c + 1) / Math.log(k + 1)) * (max - min)))
      expect(timeout).toBe(oracle)
      expect(timeout).toBeLessThan(previous)
      previous = timeout
    }
    expect(suspicionTimeoutMs(0, k, min, max)).toBe(max)
    expect(suspicionTimeoutMs(k, k, min, max)).toBe(min)
    expect(suspicionTimeoutMs(0, 0, min, max)).toBe(min)
  })

  it('counts only independent confirmations: not the accuser, not twice the same member', () => {
    const suspicion = new Suspicion('a', 1000, 2, 8000, 48_000)
    expect(suspicion.deadlineMs).toBe(49_000)
    expect(suspicion.confirm('a')).toBe(false)
    expect(suspicion.confirm('b')).toBe(true)
    expect(suspicion.confirm('b')).toBe(false)
    expect(suspicion.deadlineMs).toBeLessThan(49_000)
    expect(suspicion.confirm('c')).toBe(true)
    expect(suspicion.deadlineMs).toBe(9000)
    expect(suspicion.confirm('d')).toBe(false)
  })
})

describe('local health awareness', () => {
  it('multiplies timeouts by score + 1 and keeps the score within 0..max − 1', () => {
    const awareness = new Awareness(8)
    expect(awareness.scale(500)).toBe(500)
    awareness.applyDelta(3)
    expect(awareness.scale(500)).toBe(2000)
    awareness.applyDelta(100)
    expect(awareness.score).toBe(7)
    expect(awareness.scale(500)).toBe(4000)
    awareness.applyDelta(-100)
    expect(awareness.score).toBe(0)
  })
})
