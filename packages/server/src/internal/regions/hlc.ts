/**
 * Hybrid logical clocks (Kulkarni et al., "Logical Physical Clocks", 2014): a timestamp is the
 * highest physical time seen (`wallMs`) and a counter (`logical`) that orders events within one
 * millisecond. Every local event and every received timestamp moves the clock forward, so a write
 * made after seeing another write always carries a larger timestamp, whatever the wall clocks say.
 *
 * Pure: the physical time is passed in; nothing here reads a clock.
 */

export interface Hlc {
  /** Milliseconds since the epoch: the highest physical time this clock has seen. */
  readonly wallMs: number
  /** Orders events that share `wallMs`. */
  readonly logical: number
}

/** A write's version: its timestamp and the region that made it (the tiebreak). */
export interface Stamp {
  readonly hlc: Hlc
  readonly region: string
}

export const HLC_ZERO: Hlc = Object.freeze({ wallMs: 0, logical: 0 })

/** The timestamp of a local event, given the clock's last timestamp and the physical time. */
export function hlcTick(last: Hlc, physicalMs: number): Hlc {
  if (physicalMs > last.wallMs) return { wallMs: physicalMs, logical: 0 }
  return { wallMs: last.wallMs, logical: last.logical + 1 }
}

/** The clock after receiving `remote` (HLC's receive rule): above both, and above physical time. */
export function hlcReceive(last: Hlc, remote: Hlc, physicalMs: number): Hlc {
  const wallMs = Math.max(last.wallMs, remote.wallMs, physicalMs)
  if (wallMs === last.wallMs && wallMs === remote.wallMs)
    return { wallMs, logical: Math.max(last.logical, remote.logical) + 1 }
  if (wallMs === last.wallMs) return { wallMs, logical: last.logical + 1 }
  if (wallMs === remote.wallMs) return { wallMs, logical: remote.logical + 1 }
  return { wallMs, logical: 0 }
}

/** Negative, zero or positive as `a` is before, equal to or after `b`. */
export function compareHlc(a: Hlc, b: Hlc): number {
  if (a.wallMs !== b.wallMs) return a.wallMs < b.wallMs ? -1 : 1
  if (a.logical !== b.logical) return a.logical < b.logical ? -1 : 1
  return 0
}

/**
 * Last-writer-wins order of two writes: the later timestamp wins; equal timestamps (two regions
 * in the same millisecond and counter) fall to the region name, the greater name winning, so
 * every region picks the same winner.
 */
export function compareStamps(a: Stamp, b: Stamp): number {
  const byClock = compareHlc(a.hlc, b.hlc)
  if (byClock !== 0) return byClock
  if (a.region === b.region) return 0
  return a.region < b.region ? -1 : 1
}

export function isHlc(value: unknown): value is Hlc {
  if (typeof value !== 'object' || value === null) return false
  const { wallMs, logical } = value as Record<string, unknown>
  return (
    typeof wallMs === 'number' &&
    Number.isSafeInteger(wallMs) &&
    wallMs >= 0 &&
    typeof logical === 'number' &&
    Number.isSafeInteger(logical) &&
    logical >= 0
  )
}

/** `wallMs.logical`, the form the HTTP API shows. */
export function formatHlc(hlc: Hlc): string {
  return `${hlc.wallMs}.${hlc.logical}`
}
