/**
 * Whether a shard replica may serve `eventual` reads yet.
 *
 * A replica that restarts rebuilds its state from its last snapshot and its log, and its durable
 * commit index may lag what it had applied before it stopped: a commit index that changes alone
 * is not worth an fsync (the Raft driver lets it ride along with the next write), so the last
 * entries it applied may be committed in its log without it knowing. Until it has applied them it
 * holds an older state than it served before, and an eventual read there would go back in time.
 *
 * It therefore serves eventual reads only once one of these holds (and from then on, for as long
 * as it runs; `appliedIndex` never goes down):
 * - it has applied every entry of its log (`appliedIndex >= lastIndex > 0`). Every entry it had
 *   applied before was in its durable log or snapshot, and committed entries are never truncated,
 *   so its log now reaches at least that far;
 * - it has applied a read point its shard leader confirmed (ReadIndex, Raft thesis §6.4) after
 *   this replica opened: the leader's applied index then covers everything committed before,
 *   this replica's earlier state included. This also covers a tail of uncommitted entries that a
 *   new leader replaced, and a new replica with an empty log, which has nothing to serve yet.
 *
 * The gate is a pure record; the caller asks the leader (`establish`) and reads the Raft status.
 */
export class ReplicaReadGate {
  #ready = false
  /** A read point the shard leader confirmed after this replica opened (null: none yet). */
  #floor: number | null = null
  #asking = false

  /** Whether eventual reads may be served now, from the replica's Raft status. */
  ready(status: { readonly appliedIndex: number; readonly lastIndex: number }): boolean {
    if (this.#ready) return true
    const wholeLog = status.lastIndex > 0 && status.appliedIndex >= status.lastIndex
    const pastFloor = this.#floor !== null && status.appliedIndex >= this.#floor
    if (wholeLog || pastFloor) this.#ready = true
    return this.#ready
  }

  /** The leader's read point this replica waits to apply (null: not known yet). */
  get floor(): number | null {
    return this.#floor
  }

  /**
   * Asks for a read point unless one is known or being asked: `askLeader` resolves with the
   * shard leader's applied index after a ReadIndex round, or null when no leader answered (the
   * next read asks again).
   */
  establish(askLeader: () => Promise<number | null>): void {
    if (this.#ready || this.#floor !== null || this.#asking) return
    this.#asking = true
    void askLeader()
      .then(
        (point) => {
          if (point !== null) this.#floor = point
        },
        () => {},
      )
      .finally(() => {
        this.#asking = false
      })
  }
}
