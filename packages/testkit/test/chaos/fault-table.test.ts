import { describe, expect, it } from 'vitest'
import { drawDelayMs, FaultTable } from '../../src/chaos/index.ts'

describe('FaultTable', () => {
  it('adds a spike’s extra delay only inside its window, counted from when it was set', () => {
    let now = 1000
    const table = new FaultTable({ nodes: ['a', 'b'], seed: 1, now: () => now })
    table.set('a', 'b', { latencyMs: 10, spike: { everyMs: 5000, durationMs: 2500, extraMs: 2000 } })
    const link = table.link('a', 'b')
    expect(drawDelayMs(link, now)).toBe(2010)
    now += 2499
    expect(drawDelayMs(link, now)).toBe(2010)
    now += 1
    expect(drawDelayMs(link, now)).toBe(10)
    now += 2500
    expect(drawDelayMs(link, now)).toBe(2010)
  })

  it('keeps jitter within [latency, latency + jitter]', () => {
    const table = new FaultTable({ nodes: ['a', 'b'], seed: 9 })
    table.set('a', 'b', { latencyMs: 50, jitterMs: 20 })
    const link = table.link('a', 'b')
    for (let i = 0; i < 1000; i++) {
      const delay = drawDelayMs(link, 0)
      expect(delay).toBeGreaterThanOrEqual(50)
      expect(delay).toBeLessThanOrEqual(70)
    }
  })

  it('gives each link its own generator: draws on one link do not shift another’s', () => {
    const draws = (touchOther: boolean): number[] => {
      const table = new FaultTable({ nodes: ['a', 'b', 'c'], seed: 5 })
      if (touchOther) for (let i = 0; i < 10; i++) table.link('b', 'c').rng.next()
      return Array.from({ length: 5 }, () => table.link('a', 'b').rng.nextU32())
    }
    expect(draws(true)).toEqual(draws(false))
  })

  it('heals every link and reports the links with faults', () => {
    const table = new FaultTable({ nodes: ['a', 'b', 'c'], seed: 1 })
    table.set('a', 'b', { cut: 'reset' })
    table.setBoth('b', 'c', { latencyMs: 5 })
    expect(table.active().map((l) => `${l.from}>${l.to}`)).toEqual(['a>b', 'b>c', 'c>b'])
    const changes: string[] = []
    table.onChange((link) => changes.push(`${link.from}>${link.to}`))
    table.heal()
    expect(table.active()).toEqual([])
    expect(changes).toEqual(['a>b', 'b>c', 'c>b'])
  })
})
