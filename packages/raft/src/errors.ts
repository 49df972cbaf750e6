import type { NodeId } from './core/index.ts'

export type RaftErrorCode =
  | 'RAFT_NOT_LEADER'
  | 'RAFT_PROPOSAL_DROPPED'
  | 'RAFT_REJECTED'
  | 'RAFT_STOPPED'
  | 'RAFT_STORAGE_CORRUPT'
  | 'RAFT_STORAGE'
  | 'RAFT_TIMEOUT'
  | 'RAFT_UNKNOWN_GROUP'
  | 'RAFT_UNREACHABLE'

/** Base class of every error this package throws; `code` is stable. */
export class RaftError extends Error {
  override readonly name: string = 'RaftError'
  readonly code: RaftErrorCode

  constructor(code: RaftErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
  }
}

/** This member is not the leader; `leader` is the one it knows of, if any. Safe to retry there. */
export class NotLeaderError extends RaftError {
  override readonly name = 'NotLeaderError'
  readonly leader: NodeId | null

  constructor(leader: NodeId | null) {
    super(
      'RAFT_NOT_LEADER',
      leader === null ? 'not the leader; no leader known' : `not the leader; try ${leader}`,
    )
    this.leader = leader
  }
}

/** The proposal's log position was taken by another entry after a leader change: it was not applied. Safe to retry. */
export class ProposalDroppedError extends RaftError {
  override readonly name = 'ProposalDroppedError'
  readonly index: number

  constructor(index: number) {
    super('RAFT_PROPOSAL_DROPPED', `proposal at index ${index} was replaced by a new leader's entry`)
    this.index = index
  }
}

/**
 * A proposal did not complete in time. Its outcome is unknown: it may still be
 * applied, so a retry may apply it twice unless the command is idempotent.
 */
export class RaftTimeoutError extends RaftError {
  override readonly name = 'RaftTimeoutError'

  constructor(message: string) {
    super('RAFT_TIMEOUT', message)
  }
}

/**
 * The connection to the leader a proposal was forwarded to closed before it
 * answered. Its outcome is unknown, as after a time-out (the leader may have
 * appended it before it went away, and a new leader may commit it), but known
 * at once rather than at the deadline: a retry may apply it twice unless the
 * command is idempotent.
 */
export class RaftUnreachableError extends RaftError {
  override readonly name = 'RaftUnreachableError'
  readonly node: NodeId

  constructor(node: NodeId, group: string) {
    super(
      'RAFT_UNREACHABLE',
      `proposal forwarded to ${node} for group ${group}: the connection closed before it answered (outcome unknown)`,
    )
    this.node = node
  }
}

/** The node does not host the named group. */
export class UnknownGroupError extends RaftError {
  override readonly name = 'UnknownGroupError'
  readonly group: string

  constructor(group: string, node?: string) {
    super('RAFT_UNKNOWN_GROUP', `group ${group} is not hosted${node === undefined ? '' : ` on ${node}`}`)
    this.group = group
  }
}

/** The core refused the request (a pending membership change, an invalid change, a transfer in progress). */
export class RaftRejectedError extends RaftError {
  override readonly name = 'RaftRejectedError'
  readonly reason: string

  constructor(reason: string) {
    super('RAFT_REJECTED', `request rejected: ${reason}`)
    this.reason = reason
  }
}

/** The member was stopped (or failed) before the request completed; its outcome is unknown. */
export class RaftStoppedError extends RaftError {
  override readonly name = 'RaftStoppedError'

  constructor(message = 'raft node stopped', options?: ErrorOptions) {
    super('RAFT_STOPPED', message, options)
  }
}

/** Stored state failed its checksum or does not parse. Nothing was modified. */
export class RaftStorageCorruptionError extends RaftError {
  override readonly name = 'RaftStorageCorruptionError'

  constructor(message: string, options?: ErrorOptions) {
    super('RAFT_STORAGE_CORRUPT', message, options)
  }
}
