import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  compareHlc,
  compareStamps,
  HLC_ZERO,
  type Hlc,
  hlcReceive,
  hlcTick,
} from '../src/internal/regions/hlc.ts'

// docs/multi-region.md, "Conflicts": hybrid logical clocks (Kulkarni et al. 2014). A clock never
// goes back, an event after a receive is after what was received, and last-writer-wins picks the
// same winner everywhere.

const hlc = fc.record({
  wallMs: fc.integer({ min: 0, max: 2 ** 40 }),
  logical: fc.integer({ min: 0, max: 1000 }),
})
const physical = fc.integer({ min: 0, max: 2 ** 40 })
const region = fc.constantFrom('eu', 'us', 'ap', 'sa')

describe('hybrid logical clock', () => {
  it('a tick is after the last timestamp and not behind physical time', () => {
    fc.assert(
      fc.property(hlc, physical, (last, now) => {
        const next = hlcTick(last, now)
        expect(compareHlc(next, last)).toBeGreaterThan(0)
        expect(next.wallMs).toBeGreaterThanOrEqual(now)
      }),
    )
  })

  it('a receive is after both the local and the remote timestamp', () => {
    fc.assert(
      fc.property(hlc, hlc, physical, (last, remote, now) => {
        const next = hlcReceive(last, remote, now)
        expect(compareHlc(next, last)).toBeGreaterThan(0)
        expect(compareHlc(next, remote)).toBeGreaterThan(0)
        expect(next.wallMs).toBe(Math.max(last.wallMs, remote.wallMs, now))
      }),
    )
  })

  it('any run of ticks and receives is strictly increasing (causality)', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('tick' as const), now: physical }),
      fc.record({ kind: fc.constant('receive' as const), now: physical, remote: hlc }),
    )
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        let clock: Hlc = HLC_ZERO
        for (const s of steps) {
          const next = s.kind === 'tick' ? hlcTick(clock, s.now) : hlcReceive(clock, s.remote, s.now)
          expect(compareHlc(next, clock)).toBeGreaterThan(0)
          clock = next
        }
      }),
    )
  })

  it('with physical time moving forward, the logical counter stays bounded by the events in one millisecond', () => {
    let clock: Hlc = HLC_ZERO
    for (let ms = 1; ms <= 100; ms++) {
      for (let i = 0; i < 5; i++) clock = hlcTick(clock, ms)
      expect(clock).toEqual({ wallMs: ms, logical: 4 })
    }
  })

  it('last-writer-wins is a total order: antisymmetric, transitive, ties broken by region name', () => {
    const stamp = fc.record({ hlc, region })
    fc.assert(
      fc.property(stamp, stamp, stamp, (a, b, c) => {
        expect(Math.sign(compareStamps(a, b))).toBe(-Math.sign(compareStamps(b, a)))
        if (compareStamps(a, b) <= 0 && compareStamps(b, c) <= 0)
          expect(compareStamps(a, c)).toBeLessThanOrEqual(0)
        if (compareStamps(a, b) === 0) expect(a).toEqual(b)
      }),
    )
    const same = { wallMs: 5, logical: 1 }
    expect(compareStamps({ hlc: same, region: 'us' }, { hlc: same, region: 'eu' })).toBeGreaterThan(0)
  })

  it('every region picks the same winner whatever order the writes arrive in', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ hlc, region }), { minLength: 1, maxLength: 20 }), (writes) => {
        const winner = (order: typeof writes) =>
          order.reduce((best, w) => (compareStamps(w, best) > 0 ? w : best))
        expect(winner([...writes].reverse())).toEqual(winner(writes))
      }),
    )
  })
})
