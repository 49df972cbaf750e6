/**
 * The leader's view of one follower (etcd's Progress). In `probe` the leader
 * sends one append at a time until it finds the match point; in `replicate` it
 * pipelines appends up to the in-flight window; in `snapshot` it streams a
 * snapshot and sends no appends.
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot'

export class Progress {
  match = 0
  next: number
  state: ProgressState = 'probe'
  /** In probe: an append is outstanding, wait for its answer or a heartbeat response. */
  probeSent = false
  /** Set by any message from the follower; cleared by the CheckQuorum sweep. */
  recentActive = false
  /** The leader's tick count when the follower was last heard from. */
  lastActiveTick = Number.NEGATIVE_INFINITY
  isLearner: boolean
  /**
   * Last index of each in-flight append, oldest first, and its entry bytes
   * (null when none: most followers of an idle group have none).
   */
  #inflight: number[] | null = null
  #inflightSizes: number[] | null = null
  inflightBytes = 0
  /**
   * The snapshot being streamed: its index, how many of its bytes the follower
   * acknowledged (a cumulative prefix), and the offset of the next chunk to
   * send. Chunks in [snapshotOffset, snapshotNext) are in flight.
   */
  pendingSnapshot = 0
  snapshotOffset = 0
  snapshotNext = 0
  /** Heartbeats since the follower last acknowledged new snapshot bytes, to resend lost chunks. */
  snapshotIdleTicks = 0
  /**
   * Resends in a row without a new acknowledgement: each doubles the wait
   * before the next one (a follower too busy to answer in time is not sent
   * the window again every few heartbeats).
   */
  snapshotResends = 0

  constructor(next: number, isLearner: boolean) {
    this.next = next
    this.isLearner = isLearner
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') this.next = Math.max(this.match + 1, this.pendingSnapshot + 1)
    else this.next = this.match + 1
    this.state = 'probe'
    this.probeSent = false
    this.#clearInflight()
    this.pendingSnapshot = 0
  }

  becomeReplicate(): void {
    this.state = 'replicate'
    this.next = this.match + 1
    this.probeSent = false
    this.#clearInflight()
    this.pendingSnapshot = 0
  }

  becomeSnapshot(index: number): void {
    this.state = 'snapshot'
    this.pendingSnapshot = index
    this.snapshotOffset = 0
    this.snapshotNext = 0
    this.snapshotIdleTicks = 0
    this.snapshotResends = 0
    this.#clearInflight()
  }

  /** Records an acknowledged index; returns true when it moved forward. */
  maybeUpdate(index: number): boolean {
    let updated = false
    if (index > this.match) {
      this.match = index
      updated = true
      this.probeSent = false
    }
    this.next = Math.max(this.next, index + 1)
    while (this.#inflight !== null && (this.#inflight[0] as number) <= index) this.freeFirst()
    return updated
  }

  /**
   * A rejection of the append at `rejected`: back off to `hintNext` (at least
   * match + 1). Stale rejections (of appends already superseded) are ignored.
   */
  maybeDecrease(rejected: number, hintNext: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false
      this.becomeProbe()
      this.next = Math.max(this.match + 1, Math.min(hintNext, rejected))
      return true
    }
    if (this.next - 1 !== rejected) return false
    this.next = Math.max(this.match + 1, Math.min(hintNext, rejected))
    this.probeSent = false
    return true
  }

  /** Forgets the oldest in-flight append (acknowledged, or presumed lost). */
  freeFirst(): void {
    if (this.#inflight === null) return
    this.#inflight.shift()
    this.inflightBytes -= this.#inflightSizes?.shift() ?? 0
    if (this.#inflight.length === 0) this.#clearInflight()
  }

  /**
   * The follower acknowledged the first `received` bytes of the snapshot.
   * Acknowledgements are cumulative, so one that moves back means the
   * follower lost what it had (it restarted, or began another transfer):
   * the stream goes back to `received`. Returns true when bytes were newly
   * acknowledged.
   */
  snapshotAcked(received: number): boolean {
    if (received > this.snapshotOffset) {
      this.snapshotOffset = received
      this.snapshotNext = Math.max(this.snapshotNext, received)
      this.snapshotIdleTicks = 0
      this.snapshotResends = 0
      return true
    }
    if (received < this.snapshotOffset) this.snapshotRewind(received)
    return false
  }

  /** Sends again from `offset` (lost chunks, or a follower that starts over). */
  snapshotRewind(offset: number): void {
    this.snapshotOffset = Math.min(this.snapshotOffset, offset)
    this.snapshotNext = offset
    this.snapshotIdleTicks = 0
  }

  /** Appends sent and not yet acknowledged. */
  get inflightCount(): number {
    return this.#inflight?.length ?? 0
  }

  #clearInflight(): void {
    this.#inflight = null
    this.#inflightSizes = null
    this.inflightBytes = 0
  }

  /** Replicate state pauses when either the message or the byte window is full. */
  isPaused(maxInflight: number, maxInflightBytes = Number.POSITIVE_INFINITY): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent
      case 'replicate':
        return this.inflightCount >= maxInflight || this.inflightBytes >= maxInflightBytes
      case 'snapshot':
        return true
    }
  }

  /** Called after an append carrying entries up to `last` was sent. */
  sentEntries(last: number, count: number, bytes = 0): void {
    if (this.state === 'replicate') {
      if (count > 0) {
        this.next = last + 1
        if (this.#inflight === null) this.#inflight = []
        this.#inflight.push(last)
        if (this.#inflightSizes === null) this.#inflightSizes = []
        this.#inflightSizes.push(bytes)
        this.inflightBytes += bytes
      }
    } else if (this.state === 'probe') {
      this.probeSent = true
    }
  }
}
