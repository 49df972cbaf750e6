/**
 * Suspicion maths (Lifeguard §IV-B, memberlist `suspicion.go`). A suspicion
 * starts at the maximum timeout and shrinks logarithmically towards the
 * minimum as independent members confirm it, so a suspicion raised by one
 * (possibly slow) member alone waits longest.
 */

/** The minimum suspicion timeout: `mult × max(1, log10(n)) × probeInterval`. */
export function suspicionMinTimeoutMs(
  suspicionMult: number,
  clusterSize: number,
  probeIntervalMs: number,
): number {
  const scale = Math.max(1, Math.log10(Math.max(1, clusterSize)))
  return Math.floor(suspicionMult * scale * probeIntervalMs)
}

/**
 * Confirmations expected before the timeout reaches the minimum: `mult − 2`,
 * or none when fewer members than that could give them (memberlist: `n − 2 < k`
 * means k = 0; the 2 are this member and the suspect).
 */
export function expectedConfirmations(suspicionMult: number, clusterSize: number): number {
  const k = Math.max(0, suspicionMult - 2)
  return clusterSize - 2 < k ? 0 : k
}

/**
 * The timeout after `confirmations` independent confirmations out of `k`
 * expected: `max − (max − min) × log(c + 1) / log(k + 1)`, never below `min`.
 */
export function suspicionTimeoutMs(confirmations: number, k: number, minMs: number, maxMs: number): number {
  if (k < 1) return minMs
  const fraction = Math.log(confirmations + 1) / Math.log(k + 1)
  const raw = Math.floor(maxMs - fraction * (maxMs - minMs))
  return Math.max(minMs, raw)
}

/** One running suspicion: who raised it, who confirmed it, and when it expires. */
export class Suspicion {
  readonly startedAtMs: number
  readonly k: number
  readonly minMs: number
  readonly maxMs: number
  readonly #confirmers = new Set<string>()
  #timeoutMs: number

  constructor(from: string, startedAtMs: number, k: number, minMs: number, maxMs: number) {
    this.startedAtMs = startedAtMs
    this.k = k
    this.minMs = minMs
    this.maxMs = maxMs
    // The member that raised the suspicion is no confirmation of its own claim.
    this.#confirmers.add(from)
    this.#timeoutMs = suspicionTimeoutMs(0, k, minMs, maxMs)
  }

  get confirmations(): number {
    return this.#confirmers.size - 1
  }

  get deadlineMs(): number {
    return this.startedAtMs + this.#timeoutMs
  }

  /** Records an independent confirmation; true when it was new (and worth re-gossiping). */
  confirm(from: string): boolean {
    if (this.confirmations >= this.k || this.#confirmers.has(from)) return false
    this.#confirmers.add(from)
    this.#timeoutMs = suspicionTimeoutMs(this.confirmations, this.k, this.minMs, this.maxMs)
    return true
  }
}

/**
 * Lifeguard local health awareness (§IV-A): a score in 0..max−1 that grows
 * when this node misses acks or nacks or has to refute a suspicion of itself,
 * and shrinks on timely acks. Probe timeouts are multiplied by `score + 1`.
 */
export class Awareness {
  readonly #max: number
  #score = 0

  constructor(maxMultiplier: number) {
    this.#max = maxMultiplier
  }

  get score(): number {
    return this.#score
  }

  applyDelta(delta: number): void {
    this.#score = Math.min(this.#max - 1, Math.max(0, this.#score + delta))
  }

  scale(durationMs: number): number {
    return durationMs * (this.#score + 1)
  }
}

/**
 * The detection bound a memberlist cluster with the same parameters meets:
 * a failed member is declared dead the minimum suspicion timeout after the
 * k-th independent suspicion (with Lifeguard; the first without), and in a
 * cluster each protocol period brings about one more probe of it. So: one
 * period for the first probe to fail, one per confirmation, one more for
 * dissemination and scheduling slack, plus the minimum timeout.
 */
export function detectionBoundMs(
  config: {
    probeIntervalMs: number
    suspicionMult: number
    lifeguard: boolean
  },
  clusterSize: number,
): number {
  const minMs = suspicionMinTimeoutMs(config.suspicionMult, clusterSize, config.probeIntervalMs)
  const k = config.lifeguard ? expectedConfirmations(config.suspicionMult, clusterSize) : 0
  return minMs + (k + 3) * config.probeIntervalMs
}
