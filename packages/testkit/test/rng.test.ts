import { describe, expect, it } from 'vitest'
import { Rng } from '../src/rng/index.ts'

describe('Rng', () => {
  it('gives the same sequence for the same seed', () => {
    const a = new Rng(7)
    const b = new Rng(7)
    const seqA = Array.from({ length: 100 }, () => a.nextU32())
    const seqB = Array.from({ length: 100 }, () => b.nextU32())
    expect(seqA).toEqual(seqB)
  })

  it('gives different sequences for different seeds', () => {
    const a = new Rng(1)
    const b = new Rng(2)
    expect(Array.from({ length: 8 }, () => a.nextU32())).not.toEqual(
      Array.from({ length: 8 }, () => b.nextU32()),
    )
  })

  it('keeps int() within its bound and covers it roughly uniformly', () => {
    const rng = new Rng(3)
    const counts = new Array<number>(10).fill(0)
    for (let i = 0; i < 100_000; i++) {
      const v = rng.int(10)
      expect(v).toBeGreaterThanOrEqual(0)
      expect(v).toBeLessThan(10)
      counts[v] = (counts[v] ?? 0) + 1
    }
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(600)
  })

  it('rejects a non-positive bound', () => {
    expect(() => new Rng(1).int(0)).toThrow(RangeError)
  })

  it('shuffles into a permutation of the input', () => {
    const items = Array.from({ length: 50 }, (_, i) => i)
    const shuffled = new Rng(9).shuffle([...items])
    expect([...shuffled].sort((x, y) => x - y)).toEqual(items)
    expect(shuffled).not.toEqual(items)
  })
})
