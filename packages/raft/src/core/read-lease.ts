import type { NodeId } from './types.ts'

/**
 * Follower read leases (see `RaftConfig.followerLeaseTicks`), the two pure
 * records the core keeps. Times are the owning member's own ticks.
 *
 * Why a leaseholder never serves a state older than an acknowledged write:
 * - the follower asks at its tick f0 and holds the lease until f0 + hold on
 *   its clock; the leader records the grant from its tick g ≥ the arrival of
 *   the request until g + followerLeaseTicks on its clock. f0 precedes g in
 *   real time and hold ≤ followerLeaseTicks × (1 − margin) − 1, so while the
 *   clocks drift apart by less than the margin, the follower's lease ends
 *   before the leader's record of it;
 * - the leader acknowledges an entry only when every follower with a live
 *   record has applied it, and the grant carries the leader's commit index
 *   (at least every acknowledged index), which the follower applies before
 *   serving: writes acknowledged before the grant are covered by the index,
 *   later ones by the record;
 * - a follower drops its lease on any change of term or role and when it
 *   quiesces; a leader grants only while it holds its own leader lease and
 *   has committed an entry of its term (so its commit index covers every
 *   earlier leader's acknowledged entries); a new leader acknowledges nothing
 *   until every member has answered in its term or followerLeaseTicks + 1
 *   ticks have passed, by which time the leases earlier leaders granted
 *   (granted before this election, as their leader leases ended first) are
 *   over; a member that stops leading acknowledges nothing more until the
 *   records of its own grants have run out.
 */

/** The lease a follower holds from its current leader in its current term. */
export interface HeldLease {
  /** Reads are served once this index is applied. */
  readonly index: number
  /** The lease ends when this member's clock reaches this tick. */
  readonly expiresTick: number
}

interface GrantRecord {
  expiresTick: number
  /** The last index the follower reported applied. */
  applied: number
}

/** The leader's records of the leases it granted; each outlives the lease it records. */
export class LeaseGrants {
  readonly #records = new Map<NodeId, GrantRecord>()

  get size(): number {
    return this.#records.size
  }

  /** Records (or extends) a grant to `id` until `expiresTick`. */
  grant(id: NodeId, expiresTick: number, applied: number): void {
    const record = this.#records.get(id)
    if (record === undefined) this.#records.set(id, { expiresTick, applied })
    else {
      record.expiresTick = Math.max(record.expiresTick, expiresTick)
      record.applied = Math.max(record.applied, applied)
    }
  }

  /** A leaseholder reported its applied index (reports can arrive out of order). */
  noteApplied(id: NodeId, applied: number): void {
    const record = this.#records.get(id)
    if (record !== undefined && applied > record.applied) record.applied = applied
  }

  /** Drops the records whose time is up at `nowTick`; returns how many. */
  expire(nowTick: number): number {
    let expired = 0
    for (const [id, record] of this.#records) {
      if (record.expiresTick > nowTick) continue
      this.#records.delete(id)
      expired++
    }
    return expired
  }

  /** The smallest applied index among the recorded leaseholders (Infinity when none). */
  appliedFloor(): number {
    let floor = Number.POSITIVE_INFINITY
    for (const record of this.#records.values()) floor = Math.min(floor, record.applied)
    return floor
  }
}

/**
 * The ticks at which this follower asked for a lease (one a tick at most,
 * ascending): a grant counts only if it echoes one of them, so a grant meant
 * for an earlier incarnation of this member (whose clock started elsewhere)
 * or forged cannot stretch a lease. Requests older than `hold` ticks could
 * only give a lease already over and are forgotten.
 */
export class LeaseRequests {
  readonly #ticks: number[] = []

  get last(): number {
    return this.#ticks.at(-1) ?? Number.NEGATIVE_INFINITY
  }

  add(tick: number, hold: number): void {
    if (this.last === tick) return
    this.#ticks.push(tick)
    while ((this.#ticks[0] as number) + hold <= tick) this.#ticks.shift()
  }

  has(tick: number): boolean {
    return this.#ticks.includes(tick)
  }
}
