import type { RaftFrame, RpcRequest } from '@shoal/cluster'

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
