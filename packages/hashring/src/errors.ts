/** Stable codes of the errors this package throws. */
export type HashRingErrorCode =
  /** An argument is out of range or of the wrong shape. */
  | 'ERR_INVALID_ARGUMENT'
  /** A node id is added twice. */
  | 'ERR_DUPLICATE_NODE'
  /** A node id that is not there is removed or referenced. */
  | 'ERR_UNKNOWN_NODE'
  /** A lookup on a ring with no nodes. */
  | 'ERR_EMPTY_RING'
  /** Fewer eligible nodes than the replicas asked for. */
  | 'ERR_NOT_ENOUGH_NODES'
  /** The constraints (distinct nodes, load bound) admit no placement. */
  | 'ERR_PLACEMENT_INFEASIBLE'
  /** Two placements that cannot be compared (different index or shard count). */
  | 'ERR_PLACEMENT_MISMATCH'

/** The one error type of `@shoal/hashring`; `code` says which rule was broken. */
export class HashRingError extends Error {
  override readonly name = 'HashRingError'
  readonly code: HashRingErrorCode

  constructor(code: HashRingErrorCode, message: string) {
    super(message)
    this.code = code
  }
}
