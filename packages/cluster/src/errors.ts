export type ClusterErrorCode =
  | 'CLUSTER_CONFIG'
  | 'CLUSTER_MISMATCH'
  | 'CLUSTER_NOT_INITIALISED'
  | 'CLUSTER_NO_LEADER'
  | 'CLUSTER_UNAVAILABLE'
  | 'CLUSTER_TIMEOUT'
  | 'CLUSTER_INVALID_COMMAND'
  | 'CLUSTER_REJECTED'
  | 'CLUSTER_STOPPED'
  | 'CLUSTER_NOT_DELIVERED'
  | 'CLUSTER_INVALID_SHARDING'
  | 'CLUSTER_UNSATISFIABLE_PLACEMENT'

/** Base class of every error this package throws; `code` is stable. */
export class ClusterError extends Error {
  override readonly name: string = 'ClusterError'
  readonly code: ClusterErrorCode
  /** True when the same request may succeed if sent again later (a leader election, a timeout). */
  readonly retriable: boolean

  constructor(code: ClusterErrorCode, message: string, options?: ErrorOptions & { retriable?: boolean }) {
    super(message, options)
    this.code = code
    this.retriable = options?.retriable ?? false
  }
}

/** A setting or option is out of range, or settings contradict each other. */
export class ClusterConfigError extends ClusterError {
  override readonly name = 'ClusterConfigError'
  constructor(message: string) {
    super('CLUSTER_CONFIG', message)
  }
}

/**
 * The data dir, or a node we talked to, belongs to another cluster. Two
 * clusters never merge: the node refuses to start or to join.
 */
export class ClusterMismatchError extends ClusterError {
  override readonly name = 'ClusterMismatchError'
  readonly expected: string
  readonly found: string
  constructor(expected: string, found: string, where: string) {
    super('CLUSTER_MISMATCH', `${where} belongs to cluster ${found}, not to cluster ${expected}`)
    this.expected = expected
    this.found = found
  }
}

/** No metadata leader could be reached in time; retry later. */
export class NoLeaderError extends ClusterError {
  override readonly name = 'NoLeaderError'
  constructor(message = 'no metadata leader is reachable') {
    super('CLUSTER_NO_LEADER', message, { retriable: true })
  }
}

/** The operation did not finish within its deadline; it may or may not have taken effect. */
export class ClusterTimeoutError extends ClusterError {
  override readonly name = 'ClusterTimeoutError'
  constructor(message: string, options?: ErrorOptions) {
    super('CLUSTER_TIMEOUT', message, { ...options, retriable: true })
  }
}

/** A metadata command is malformed or not allowed in the current state; nothing changed. */
export class InvalidCommandError extends ClusterError {
  override readonly name = 'InvalidCommandError'
  constructor(message: string) {
    super('CLUSTER_INVALID_COMMAND', message)
  }
}

/**
 * The node is stopped (or stopping). Retriable: another node, or this one once restarted, can
 * take the same request (a request in flight when a node is shut down answers 503, not 400).
 */
export class ClusterStoppedError extends ClusterError {
  override readonly name = 'ClusterStoppedError'
  constructor() {
    super('CLUSTER_STOPPED', 'the cluster node is stopped', { retriable: true })
  }
}

/**
 * A transport's way to say a request never left this node (no connection
 * could be opened): unlike any other failure, it is safe to send again.
 */
export class NotDeliveredError extends ClusterError {
  override readonly name = 'NotDeliveredError'
  constructor(message: string, options?: ErrorOptions) {
    super('CLUSTER_NOT_DELIVERED', message, { ...options, retriable: true })
  }
}

/** A sharding request the cluster cannot honour (bad values, more replicas than data nodes); nothing changed. */
export class InvalidShardingError extends ClusterError {
  override readonly name = 'InvalidShardingError'
  constructor(message: string) {
    super('CLUSTER_INVALID_SHARDING', message)
  }
}

/**
 * An index's placement constraints (`sharding.placement`) that the cluster's nodes cannot meet
 * now (too few nodes with the required labels, too few values of `spreadBy`); nothing changed.
 */
export class UnsatisfiablePlacementError extends ClusterError {
  override readonly name = 'UnsatisfiablePlacementError'
  constructor(message: string) {
    super('CLUSTER_UNSATISFIABLE_PLACEMENT', message)
  }
}

/** Another node answered a request with a failure; `code` is the remote code, the message its text. */
export class RemoteAppError extends ClusterError {
  override readonly name = 'RemoteAppError'
  readonly remoteCode: string
  constructor(remoteCode: string, message: string) {
    super('CLUSTER_REJECTED', message)
    this.remoteCode = remoteCode
  }
}
