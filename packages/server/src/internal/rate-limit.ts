/**
 * Per-key token buckets. Each identity (an API key's uid, `master`, or the
 * client address when no key is sent) refills at `requestsPerSecond` up to
 * `burst` tokens; a request takes one token or is refused with the seconds
 * until one is available (the `Retry-After` value).
 */

export interface RateLimitConfig {
  /** Sustained requests per second per key; 0 turns limiting off. @defaultValue 0 */
  requestsPerSecond: number
  /** Bucket size: requests allowed at once after an idle period. @defaultValue 2 × requestsPerSecond */
  burst: number
}

interface Bucket {
  tokens: number
  updatedMs: number
}

/** Past this many identities (client addresses, mostly), idle buckets are forgotten. */
const MAX_TRACKED = 10_000

export type RateDecision = { ok: true } | { ok: false; retryAfterSeconds: number }

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>()

  private readonly config: RateLimitConfig
  private readonly now: () => number

  constructor(config: RateLimitConfig, now: () => number = Date.now) {
    this.config = config
    this.now = now
  }

  get enabled(): boolean {
    return this.config.requestsPerSecond > 0
  }

  take(identity: string): RateDecision {
    if (!this.enabled) return { ok: true }
    const nowMs = this.now()
    const rate = this.config.requestsPerSecond
    if (this.buckets.size >= MAX_TRACKED && !this.buckets.has(identity)) this.forgetIdle(nowMs)
    const bucket = this.buckets.get(identity) ?? { tokens: this.config.burst, updatedMs: nowMs }
    bucket.tokens = Math.min(this.config.burst, bucket.tokens + ((nowMs - bucket.updatedMs) / 1000) * rate)
    bucket.updatedMs = nowMs
    this.buckets.set(identity, bucket)
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return { ok: true }
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / rate)) }
  }

  /** Drops buckets that have refilled completely: forgetting them changes no decision. */
  private forgetIdle(nowMs: number): void {
    const refillMs = (this.config.burst / this.config.requestsPerSecond) * 1000
    for (const [identity, bucket] of this.buckets) {
      if (nowMs - bucket.updatedMs >= refillMs) this.buckets.delete(identity)
    }
  }

  /** Identities currently tracked (for tests). */
  get trackedIdentities(): number {
    return this.buckets.size
  }
}
