import type { SnapshotMessage, SnapshotMeta } from './types.ts'

/**
 * Pieces past the acknowledged prefix remembered at most. The leader keeps
 * `maxInflightSnapshotChunks` chunks in flight, so a few dozen cover any
 * sane window; a piece beyond the limit is dropped and sent again later.
 */
const MAX_EARLY_PIECES = 64

/**
 * A snapshot a follower is receiving: the image is assembled in place in a
 * buffer of `totalBytes`, pieces may arrive in any order, duplicated or not
 * at all, and `received` is the length of the prefix that arrived whole —
 * what the follower acknowledges. A transfer is one leader's (its id and
 * term) stream of one snapshot (index, term and size); a piece of another
 * transfer starts a new one.
 */
export class IncomingSnapshot {
  readonly meta: SnapshotMeta
  readonly from: string
  readonly term: number
  /** The caller owns it once `complete`; until then it is being written. */
  readonly data: Uint8Array
  /** Bytes [0, received) arrived. */
  received = 0
  /** Pieces that arrived ahead of the prefix: start → end. */
  #early: Map<number, number> | null = null

  constructor(first: SnapshotMessage) {
    this.meta = first.meta
    this.from = first.from
    this.term = first.term
    this.data = new Uint8Array(first.totalBytes)
  }

  /** Whether `m` belongs to this transfer. */
  matches(m: SnapshotMessage): boolean {
    return (
      m.from === this.from &&
      m.term === this.term &&
      m.meta.index === this.meta.index &&
      m.meta.term === this.meta.term &&
      m.totalBytes === this.data.byteLength
    )
  }

  get complete(): boolean {
    return this.received === this.data.byteLength
  }

  /**
   * Takes one piece; returns false (and takes nothing) when it lies outside
   * the image. A piece already covered is accepted again without effect.
   */
  accept(offset: number, chunk: Uint8Array): boolean {
    const end = offset + chunk.byteLength
    if (offset < 0 || end > this.data.byteLength) return false
    if (end <= this.received) return true
    if (offset > this.received) {
      const early = this.#early ?? new Map<number, number>()
      const known = early.get(offset)
      if (known === undefined && early.size >= MAX_EARLY_PIECES) return true
      this.data.set(chunk, offset)
      early.set(offset, Math.max(known ?? 0, end))
      this.#early = early
      return true
    }
    this.data.set(chunk.subarray(this.received - offset), this.received)
    this.received = end
    this.#absorbEarly()
    return true
  }

  /** Extends the prefix over early pieces it now reaches. */
  #absorbEarly(): void {
    const early = this.#early
    if (early === null) return
    let grown = true
    while (grown) {
      grown = false
      for (const [start, end] of early) {
        if (start > this.received) continue
        early.delete(start)
        if (end > this.received) {
          this.received = end
          grown = true
        }
      }
    }
    if (early.size === 0) this.#early = null
  }
}
