import { ChaosConfigError } from './errors.ts'

/**
 * How a cut link behaves.
 * - `none`: traffic flows.
 * - `reset`: the destination looks down: TCP connections carrying traffic that
 *   way are closed and new ones are accepted and closed at once; datagrams are dropped.
 * - `blackhole`: packets vanish with no error: TCP connections stay open but
 *   bytes that way are discarded, and the connection is closed when the cut
 *   heals (a real connection would have timed out; its stream has a gap);
 *   datagrams are dropped.
 */
export type CutMode = 'none' | 'reset' | 'blackhole'

/**
 * Latency spikes: for `durationMs` out of every `everyMs` (measured from when
 * the spike was set), `extraMs` is added to every chunk or datagram.
 */
export interface LatencySpike {
  everyMs: number
  durationMs: number
  extraMs: number
}

/**
 * The faults of one directed link (traffic from node A to node B). Every
 * probability is per chunk (TCP: one read from the socket) or per datagram (UDP).
 */
export interface LinkFaults {
  /** Added to every chunk or datagram. @defaultValue 0 */
  latencyMs: number
  /** Uniform extra delay in [0, jitterMs]; TCP chunks stay in order. @defaultValue 0 */
  jitterMs: number
  /** Periodic latency spikes. @defaultValue null */
  spike: LatencySpike | null
  /**
   * Probability that a chunk or datagram is lost. UDP: the datagram is dropped.
   * TCP: the kernel would retransmit, so an application sees loss as a stall:
   * the chunk (and, in order, everything behind it) is held back for
   * `retransmitMs`, doubled for each further loss drawn on the same chunk
   * (exponential back-off, as TCP's retransmission timer). @defaultValue 0
   */
  loss: number
  /** TCP stall per lost chunk, see `loss`. @defaultValue 200 (Linux's minimum RTO) */
  retransmitMs: number
  /** UDP only: probability that a datagram is delivered twice. @defaultValue 0 */
  duplicate: number
  /** UDP only: probability that a datagram is held back `reorderMs` so later ones overtake it. @defaultValue 0 */
  reorder: number
  /** @defaultValue 50 */
  reorderMs: number
  /** Probability that one random byte of a chunk or datagram is replaced by a different one. @defaultValue 0 */
  corrupt: number
  /** TCP only: probability per chunk that the connection is reset (both ends closed). @defaultValue 0 */
  reset: number
  /** @defaultValue 'none' */
  cut: CutMode
}

export const NO_FAULTS: Readonly<LinkFaults> = Object.freeze({
  latencyMs: 0,
  jitterMs: 0,
  spike: null,
  loss: 0,
  retransmitMs: 200,
  duplicate: 0,
  reorder: 0,
  reorderMs: 50,
  corrupt: 0,
  reset: 0,
  cut: 'none',
})

const PROBABILITIES = ['loss', 'duplicate', 'reorder', 'corrupt', 'reset'] as const
const DURATIONS = ['latencyMs', 'jitterMs', 'retransmitMs', 'reorderMs'] as const

/** `base` with `change` applied, validated; throws `ChaosConfigError` on a value out of range or an unknown field. */
export function resolveLinkFaults(change: Partial<LinkFaults>, base: LinkFaults = NO_FAULTS): LinkFaults {
  for (const key of Object.keys(change)) {
    if (!(key in NO_FAULTS)) throw new ChaosConfigError(`unknown link fault '${key}'`)
  }
  const faults: LinkFaults = { ...base, ...change }
  for (const key of PROBABILITIES) {
    const p = faults[key]
    if (!(typeof p === 'number' && p >= 0 && p <= 1))
      throw new ChaosConfigError(`${key} must be a probability in [0, 1], got ${p}`)
  }
  for (const key of DURATIONS) {
    const ms = faults[key]
    if (!(typeof ms === 'number' && Number.isFinite(ms) && ms >= 0))
      throw new ChaosConfigError(`${key} must be a non-negative number of milliseconds, got ${ms}`)
  }
  if (!['none', 'reset', 'blackhole'].includes(faults.cut))
    throw new ChaosConfigError(`cut must be 'none', 'reset' or 'blackhole', got ${String(faults.cut)}`)
  const spike = faults.spike
  if (spike !== null) {
    const ok =
      spike.everyMs > 0 && spike.durationMs >= 0 && spike.durationMs <= spike.everyMs && spike.extraMs >= 0
    if (!ok)
      throw new ChaosConfigError(
        `spike needs everyMs > 0, 0 <= durationMs <= everyMs and extraMs >= 0, got ${JSON.stringify(spike)}`,
      )
  }
  return faults
}

/** True when the link adds nothing: traffic passes untouched. */
export function isClean(faults: LinkFaults): boolean {
  return (
    faults.latencyMs === 0 &&
    faults.jitterMs === 0 &&
    faults.spike === null &&
    faults.loss === 0 &&
    faults.duplicate === 0 &&
    faults.reorder === 0 &&
    faults.corrupt === 0 &&
    faults.reset === 0 &&
    faults.cut === 'none'
  )
}
