import { describe, expect, it } from 'vitest'
import { RateLimiter } from '../src/internal/rate-limit.ts'

describe('rate limiter', () => {
  it('allows a burst, then refuses with the seconds until the next token, per identity', () => {
    let nowMs = 0
    const limiter = new RateLimiter({ requestsPerSecond: 2, burst: 3 }, () => nowMs)
    expect([1, 2, 3].map(() => limiter.take('a').ok)).toEqual([true, true, true])
    expect(limiter.take('a')).toEqual({ ok: false, retryAfterSeconds: 1 })
    expect(limiter.take('b').ok).toBe(true)
    nowMs = 500
    expect(limiter.take('a').ok).toBe(true)
    expect(limiter.take('a').ok).toBe(false)
  })

  it('is off when the rate is 0', () => {
    const limiter = new RateLimiter({ requestsPerSecond: 0, burst: 0 })
    expect(Array.from({ length: 100 }, () => limiter.take('a').ok).every(Boolean)).toBe(true)
  })

  it('forgets refilled buckets once it tracks many identities, without changing decisions', () => {
    let nowMs = 0
    const limiter = new RateLimiter({ requestsPerSecond: 10, burst: 1 }, () => nowMs)
    for (let i = 0; i < 10_000; i++) limiter.take(`client-${i}`)
    expect(limiter.take('client-0').ok).toBe(false)
    nowMs = 1000
    limiter.take('newcomer')
    expect(limiter.trackedIdentities).toBe(1)
    expect(limiter.take('client-0').ok).toBe(true)
  })
})
