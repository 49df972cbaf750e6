/**
 * The witness's decisions, kept apart from its I/O (docs/standby.md, "Automatic promotion"): which
 * epoch is current, which node holds the primary's lease, and whether a standby may take the next
 * epoch. Time is milliseconds on the witness's monotonic clock, passed in.
 *
 * Safety rests on one rule: a primary stops acknowledging writes `leaseMs` after it *sent* its
 * last successful renewal, while the witness grants a promotion only `witnessGraceMs(leaseMs)`
 * (more than `leaseMs`, to absorb clock rate differences) after it *received* it — so the old
 * primary's lease has run out before the new one takes writes.
 */
export interface WitnessRecord {
  /** The current epoch; a promotion makes it epoch + 1. */
  epoch: number
  /** Peer id of the primary at `epoch`, once known. */
  holder: string | null
  /** The lease the holder runs by, as it said when renewing. */
  leaseMs: number
}

export type RenewAnswer = { ok: true; epoch: number } | { ok: false; fenced: true; epoch: number }
export type PromoteAnswer = { granted: true; epoch: number } | { granted: false; reason: string }

export class WitnessBook {
  #record: WitnessRecord
  /** When the holder last renewed (or, after a restart, when the witness started). */
  #renewedAt: number

  constructor(record: WitnessRecord, now: number) {
    this.#record = { ...record }
    // A lease granted before a restart may still run: wait a full grace period from the start.
    this.#renewedAt = now
  }

  get record(): WitnessRecord {
    return { ...this.#record }
  }

  /** A primary at `epoch` renews its lease. Returns the answer and whether the record changed. */
  renew(
    peerId: string,
    epoch: number,
    leaseMs: number,
    now: number,
  ): { answer: RenewAnswer; changed: boolean } {
    const record = this.#record
    if (epoch < record.epoch)
      return { answer: { ok: false, fenced: true, epoch: record.epoch }, changed: false }
    if (epoch === record.epoch && record.holder !== null && record.holder !== peerId)
      return { answer: { ok: false, fenced: true, epoch: record.epoch }, changed: false }
    const changed = epoch !== record.epoch || record.holder !== peerId || leaseMs !== record.leaseMs
    this.#record = { epoch, holder: peerId, leaseMs }
    this.#renewedAt = now
    return { answer: { ok: true, epoch }, changed }
  }

  /**
   * A standby that knows `knownEpoch` asks to become the primary. Granted only when no primary
   * renewed for `graceMs`, and only for the next epoch after the current one.
   */
  promote(peerId: string, knownEpoch: number, now: number): { answer: PromoteAnswer; changed: boolean } {
    const record = this.#record
    if (knownEpoch < record.epoch)
      return {
        answer: { granted: false, reason: `epoch ${record.epoch} is already past ${knownEpoch}` },
        changed: false,
      }
    const silentMs = now - this.#renewedAt
    const graceMs = witnessGraceMs(record.leaseMs)
    if (record.holder !== null && record.holder !== peerId && silentMs < graceMs)
      return {
        answer: {
          granted: false,
          reason: `the primary renewed its lease ${Math.round(silentMs)} ms ago (a promotion needs ${graceMs} ms of silence)`,
        },
        changed: false,
      }
    const epoch = Math.max(record.epoch, knownEpoch) + 1
    // The new primary's lease starts now, as if it had renewed, with the old one's length
    // until it renews with its own.
    this.#record = { epoch, holder: peerId, leaseMs: record.leaseMs }
    this.#renewedAt = now
    return { answer: { granted: true, epoch }, changed: true }
  }
}

/** The silence the witness waits for before a promotion: 1.5 × the lease, plus 500 ms. */
export function witnessGraceMs(leaseMs: number): number {
  return Math.ceil(leaseMs * 1.5) + 500
}
