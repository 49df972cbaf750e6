import type { Message, NodeId } from './core/index.ts'
import {
  NotLeaderError,
  ProposalDroppedError,
  RaftError,
  type RaftErrorCode,
  RaftRejectedError,
  RaftStoppedError,
  RaftTimeoutError,
  UnknownGroupError,
} from './errors.ts'

/*
 * What travels between multi-raft hosts. One frame per destination node per
 * flush carries every item for that node, of every group. Items are plain
 * objects of strings, numbers, booleans, null and Uint8Arrays (and the state
 * machine's apply results), so msgpackr or structured clone encode them as
 * they are; `kind` tells them apart.
 */

/** One Raft message of one group. */
export interface RaftItem {
  readonly kind: 'raft'
  readonly group: string
  readonly message: Message
}

/** A proposal a follower forwards to the node it believes leads `group`; `id` is the sender's. */
export interface ForwardItem {
  readonly kind: 'forward'
  readonly group: string
  readonly id: number
  readonly data: Uint8Array
}

/** The outcome of a forwarded proposal, sent back to the frame's `from`. */
export type ForwardResultItem =
  | { readonly kind: 'forwardResult'; readonly id: number; readonly ok: true; readonly value: unknown }
  | {
      readonly kind: 'forwardResult'
      readonly id: number
      readonly ok: false
      readonly code: RaftErrorCode
      readonly message: string
      /** For RAFT_NOT_LEADER: the leader the answering node knows of. */
      readonly leader: NodeId | null
      /** For RAFT_PROPOSAL_DROPPED: the log index that was replaced. */
      readonly index: number
    }

export type HostFrameItem = RaftItem | ForwardItem | ForwardResultItem

/** One frame: everything one node sends another in one flush. */
export interface HostFrame {
  readonly from: NodeId
  readonly items: readonly HostFrameItem[]
}

/** A failed proposal as a result item (the error's code survives the trip). */
export function failureItem(id: number, error: unknown): ForwardResultItem {
  const raft = error instanceof RaftError ? error : null
  return {
    kind: 'forwardResult',
    id,
    ok: false,
    code: raft?.code ?? 'RAFT_STOPPED',
    message: error instanceof Error ? error.message : String(error),
    leader: error instanceof NotLeaderError ? error.leader : null,
    index: error instanceof ProposalDroppedError ? error.index : 0,
  }
}

/** The typed error a failed result stands for, as the leader raised it. */
export function errorOf(item: Extract<ForwardResultItem, { ok: false }>, group: string): RaftError {
  switch (item.code) {
    case 'RAFT_NOT_LEADER':
      return new NotLeaderError(item.leader)
    case 'RAFT_PROPOSAL_DROPPED':
      return new ProposalDroppedError(item.index)
    case 'RAFT_REJECTED':
      return new RaftRejectedError(item.message.replace(/^request rejected: /, ''))
    case 'RAFT_TIMEOUT':
      return new RaftTimeoutError(item.message)
    case 'RAFT_UNKNOWN_GROUP':
      return new UnknownGroupError(group)
    default:
      return new RaftStoppedError(`forwarded proposal failed on the leader: ${item.message}`)
  }
}
