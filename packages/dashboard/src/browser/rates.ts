/**
 * Rates from counters. The node reports counters that only grow while it runs (`GET
 * /_node/stats`); the page samples them on every poll and turns each pair of samples into
 * per-second rates. Pure: no DOM, no clock (the samples carry their time).
 */

/** One poll's counters, as `GET /_node/stats` reports them. */
export interface CounterSample {
  /** The node's clock when it answered, in ms. */
  readonly atMs: number
  /** When the node process started: a different value means the counters restarted from zero. */
  readonly startedAtMs: number
  readonly searches: number
  readonly writes: number
}

export interface Rates {
  readonly atMs: number
  readonly searchesPerSecond: number
  readonly writesPerSecond: number
}

/**
 * The rates between two samples, or null when they cannot be compared: no time passed, or the
 * node restarted in between (its counters began again at zero).
 */
export function ratesBetween(previous: CounterSample, next: CounterSample): Rates | null {
  const seconds = (next.atMs - previous.atMs) / 1000
  if (seconds <= 0 || next.startedAtMs !== previous.startedAtMs) return null
  const perSecond = (from: number, to: number) => (to >= from ? (to - from) / seconds : 0)
  return {
    atMs: next.atMs,
    searchesPerSecond: perSecond(previous.searches, next.searches),
    writesPerSecond: perSecond(previous.writes, next.writes),
  }
}

/** A fixed-size window of the latest points: the oldest falls out when a new one arrives. */
export class Window<T> {
  readonly capacity: number
  #points: T[] = []

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('capacity must be a positive integer')
    this.capacity = capacity
  }

  push(point: T): void {
    this.#points.push(point)
    if (this.#points.length > this.capacity) this.#points.splice(0, this.#points.length - this.capacity)
  }

  /** The points, oldest first; the caller must not change the returned array. */
  points(): readonly T[] {
    return this.#points
  }

  clear(): void {
    this.#points = []
  }
}
