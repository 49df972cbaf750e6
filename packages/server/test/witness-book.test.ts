import { describe, expect, it } from 'vitest'
import { WitnessBook, witnessGraceMs } from '../src/internal/standby/witness-book.ts'

// docs/standby.md, "Automatic promotion and the witness": the witness grants the next epoch only
// after the primary's lease has run out, fences a primary at an older epoch, and never lets two
// nodes hold one epoch.

const LEASE = 1000
const GRACE = witnessGraceMs(LEASE)

function book(now = 0): WitnessBook {
  return new WitnessBook({ epoch: 0, holder: null, leaseMs: 60_000 }, now)
}

describe('the witness book', () => {
  it('the grace a promotion waits for is longer than the lease', () => {
    expect(GRACE).toBeGreaterThan(LEASE)
    expect(witnessGraceMs(LEASE)).toBe(2000)
  })

  it('a primary renewing its lease holds the epoch; the standby is refused until the grace has passed', () => {
    const b = book()
    expect(b.renew('primary', 1, LEASE, 0)).toEqual({ answer: { ok: true, epoch: 1 }, changed: true })
    expect(b.renew('primary', 1, LEASE, 500)).toEqual({ answer: { ok: true, epoch: 1 }, changed: false })
    const early = b.promote('standby', 1, 500 + GRACE - 1)
    expect(early.answer.granted).toBe(false)
    expect(early.changed).toBe(false)
    expect(b.promote('standby', 1, 500 + GRACE)).toEqual({
      answer: { granted: true, epoch: 2 },
      changed: true,
    })
    expect(b.record).toEqual({ epoch: 2, holder: 'standby', leaseMs: LEASE })
  })

  it('fences the old primary once a standby took the next epoch', () => {
    const b = book()
    b.renew('primary', 1, LEASE, 0)
    b.promote('standby', 1, GRACE + 1)
    expect(b.renew('primary', 1, LEASE, GRACE + 2).answer).toEqual({ ok: false, fenced: true, epoch: 2 })
    expect(b.renew('standby', 2, LEASE, GRACE + 3).answer).toEqual({ ok: true, epoch: 2 })
  })

  it('refuses a second node at the same epoch, and a promotion from a stale epoch', () => {
    const b = book()
    b.renew('primary', 1, LEASE, 0)
    expect(b.renew('other', 1, LEASE, 10).answer).toEqual({ ok: false, fenced: true, epoch: 1 })
    b.promote('standby', 1, GRACE + 1)
    expect(b.promote('late', 1, 10 * GRACE).answer.granted).toBe(false)
  })

  it('after a restart it waits a full grace period before granting, whatever it last saw', () => {
    const restarted = new WitnessBook({ epoch: 3, holder: 'primary', leaseMs: LEASE }, 100_000)
    expect(restarted.promote('standby', 3, 100_000 + GRACE - 1).answer.granted).toBe(false)
    expect(restarted.promote('standby', 3, 100_000 + GRACE).answer).toEqual({ granted: true, epoch: 4 })
  })

  it('a primary promoted by hand at a higher epoch takes the record over', () => {
    const b = book()
    b.renew('primary', 1, LEASE, 0)
    expect(b.renew('standby', 2, LEASE, 10)).toEqual({ answer: { ok: true, epoch: 2 }, changed: true })
  })
})
