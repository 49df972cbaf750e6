import { describe, expect, it } from 'vitest'
import { TickPacer } from '../src/clock.ts'

describe('the Raft clock keeps its ticks in step with real time', () => {
  it('runs of the timer that are each a little late still give one tick per tick length overall', () => {
    const pacer = new TickPacer(100, 0)
    // A repeating timer re-armed from each late run: 106 ms apart instead of 100.
    let given = 0
    let now = 0
    for (let run = 0; run < 200; run++) {
      now += 106
      given += pacer.ticksAt(now)
      // Never ahead of real time, never more than one tick behind it.
      expect(given).toBeLessThanOrEqual(Math.floor(now / 100))
      expect(Math.floor(now / 100) - given).toBeLessThanOrEqual(1)
    }
    expect(given).toBe(Math.floor(now / 100))
  })

  it('a run a little early gives nothing and the next catches up; a long stall is not made up for', () => {
    const pacer = new TickPacer(100, 0)
    expect(pacer.ticksAt(99)).toBe(0)
    expect(pacer.ticksAt(205)).toBe(2)
    expect(pacer.ticksAt(305)).toBe(1)
    // Stalled a second: two ticks now, then the count starts again from here.
    expect(pacer.ticksAt(1_305)).toBe(TickPacer.CATCH_UP)
    expect(pacer.ticksAt(1_404)).toBe(0)
    expect(pacer.ticksAt(1_406)).toBe(1)
  })
})
