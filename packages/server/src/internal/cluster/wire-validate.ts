import type { RaftFrame, RpcRequest } from '@shoal/cluster'
import type { SnapshotMessage } from '@shoal/raft'

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Checks the envelope of a Raft frame that arrived from `peerId`: a cluster
 * id, and a host frame that names its sender truthfully with a list of items.
 * The host checks each item (kind, group, message shape) and drops and counts
 * what it cannot use; the core treats terms and indexes as protocol.
 */
export function isRaftFrame(value: unknown, peerId: string): value is RaftFrame {
  if (!isRecord(value) || typeof value.clusterId !== 'string' || !isRecord(value.frame)) return false
  const items = value.frame.items
  if (value.frame.from !== peerId || !Array.isArray(items)) return false
  // A Raft message must come from the peer that sent it: no node speaks for another.
  return items.every(
    (item) =>
      !isRecord(item) || item.kind !== 'raft' || !isRecord(item.message) || item.message.from === peerId,
  )
}

/**
 * The meta of a `/shoal/snapshot/1` stream that carries one Raft snapshot
 * message: the message without its chunk, whose `chunkBytes` bytes follow
 * as the stream's chunks.
 */
export interface SnapshotHeader {
  readonly clusterId: string
  readonly group: string
  readonly chunkBytes: number
  readonly message: Omit<SnapshotMessage, 'chunk'>
}

/**
 * The largest snapshot message a node accepts: its bytes are gathered in one
 * buffer before the Raft host sees them. The Raft core cuts a snapshot into
 * messages of `snapshotChunkBytes` (1 MiB by default), far below it.
 */
export const MAX_SNAPSHOT_MESSAGE_BYTES = 64 * 1024 * 1024

const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0

/**
 * Checks a snapshot stream's header from `peerId`: the message must be a
 * snapshot message from that peer, and the announced bytes must fit in the
 * snapshot (`offset + chunkBytes <= totalBytes`) and in
 * `MAX_SNAPSHOT_MESSAGE_BYTES`, which bounds what the receiver buffers. The
 * Raft host checks the rest of the message's shape.
 */
export function isSnapshotHeader(value: unknown, peerId: string): value is SnapshotHeader {
  if (!isRecord(value) || typeof value.clusterId !== 'string' || typeof value.group !== 'string') return false
  const message = value.message
  if (!isRecord(message) || message.type !== 'snapshot' || message.from !== peerId) return false
  if (!isCount(value.chunkBytes) || !isCount(message.offset) || !isCount(message.totalBytes)) return false
  return (
    value.chunkBytes <= MAX_SNAPSHOT_MESSAGE_BYTES &&
    message.offset + value.chunkBytes <= message.totalBytes &&
    !('chunk' in message)
  )
}

export function isRpcRequest(value: unknown): value is RpcRequest {
  return (
    isRecord(value) &&
    typeof value.clusterId === 'string' &&
    (value.type === 'meta.readIndex' ||
      (value.type === 'meta.propose' && isRecord(value.command)) ||
      (value.type === 'group.propose' &&
        typeof value.group === 'string' &&
        value.data instanceof Uint8Array) ||
      (value.type === 'app' && isRecord(value.body)))
  )
}
