import type { Entry, Message, NodeId } from './core/index.ts'
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

const isInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0
const isString = (v: unknown): v is string => typeof v === 'string'
const isStrings = (v: unknown): boolean => Array.isArray(v) && v.every(isString)

function isEntry(v: unknown): v is Entry {
  const e = v as Record<string, unknown> | null
  if (e === null || typeof e !== 'object' || !isInt(e.index) || !isInt(e.term)) return false
  if (e.kind === 'normal') return e.data instanceof Uint8Array
  const change = e.change as Record<string, unknown> | null
  return (
    e.kind === 'conf' &&
    change !== null &&
    typeof change === 'object' &&
    (change.type === 'addVoter' || change.type === 'addLearner' || change.type === 'remove') &&
    isString(change.node)
  )
}

/**
 * Whether a decoded value has the shape of a Raft message addressed to `to`:
 * a frame from the network is checked before it reaches a group, so a
 * malformed item is dropped and counted instead of failing the group.
 */
export function isMessageFor(v: unknown, to: NodeId): v is Message {
  const m = v as Record<string, unknown> | null
  if (m === null || typeof m !== 'object' || m.to !== to || !isString(m.from) || !isInt(m.term)) return false
  switch (m.type) {
    case 'append':
      return (
        isInt(m.index) &&
        isInt(m.logTerm) &&
        isInt(m.commit) &&
        Array.isArray(m.entries) &&
        m.entries.every(isEntry)
      )
    case 'appendResponse':
      return isInt(m.index) && typeof m.reject === 'boolean' && isInt(m.hintIndex) && isInt(m.hintTerm)
    case 'vote':
      return (
        typeof m.pre === 'boolean' && isInt(m.index) && isInt(m.logTerm) && typeof m.transfer === 'boolean'
      )
    case 'voteResponse':
      return typeof m.pre === 'boolean' && typeof m.reject === 'boolean'
    case 'heartbeat':
      return isInt(m.commit) && (m.context === null || isString(m.context)) && typeof m.quiesce === 'boolean'
    case 'heartbeatResponse':
      return m.context === null || isString(m.context)
    case 'snapshot': {
      const meta = m.meta as Record<string, unknown> | null
      const conf = (meta?.confState ?? null) as Record<string, unknown> | null
      return (
        meta !== null &&
        typeof meta === 'object' &&
        isInt(meta.index) &&
        isInt(meta.term) &&
        conf !== null &&
        isStrings(conf.voters) &&
        isStrings(conf.learners) &&
        isInt(m.offset) &&
        m.chunk instanceof Uint8Array &&
        isInt(m.totalBytes)
      )
    }
    case 'snapshotResponse':
      return isInt(m.index) && isInt(m.received)
    case 'timeoutNow':
      return true
    default:
      return false
  }
}

/** Whether a decoded value is a well-formed frame item (raft messages are checked by `isMessageFor`). */
export function isFrameItem(v: unknown): v is HostFrameItem {
  const item = v as Record<string, unknown> | null
  if (item === null || typeof item !== 'object') return false
  switch (item.kind) {
    case 'raft':
      return isString(item.group)
    case 'forward':
      return isString(item.group) && isInt(item.id) && item.data instanceof Uint8Array
    case 'forwardResult':
      return (
        isInt(item.id) &&
        (item.ok === true || (item.ok === false && isString(item.code) && isString(item.message)))
      )
    default:
      return false
  }
}
