import type { RaftFrame, RpcRequest } from '@shoal/cluster'
import type { GroupMessage } from '@shoal/raft'

const MESSAGE_TYPES = new Set([
  'append',
  'appendResponse',
  'heartbeat',
  'heartbeatResponse',
  'vote',
  'voteResponse',
  'snapshot',
  'snapshotResponse',
  'timeoutNow',
])

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isCount(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

/**
 * Checks the envelope of every Raft message of a frame that arrived from
 * `peerId`: the frame must name its sender truthfully, and each message must
 * be one the core knows, between strings, with counts where counts go. The
 * core checks the rest (terms, indexes) as protocol, not as input.
 */
export function isRaftFrame(value: unknown, peerId: string): value is RaftFrame {
  if (!isRecord(value) || typeof value.clusterId !== 'string' || value.from !== peerId) return false
  if (!Array.isArray(value.messages)) return false
  return value.messages.every((item) => isGroupMessage(item, peerId))
}

function isGroupMessage(item: unknown, peerId: string): item is GroupMessage {
  if (!isRecord(item) || typeof item.group !== 'string' || !isRecord(item.message)) return false
  const message = item.message
  if (typeof message.type !== 'string' || !MESSAGE_TYPES.has(message.type)) return false
  if (message.from !== peerId || typeof message.to !== 'string' || !isCount(message.term)) return false
  if (message.type === 'append') {
    if (!isCount(message.index) || !isCount(message.logTerm) || !isCount(message.commit)) return false
    if (!Array.isArray(message.entries)) return false
    return message.entries.every(
      (e) =>
        isRecord(e) &&
        isCount(e.term) &&
        isCount(e.index) &&
        ((e.kind === 'normal' && e.data instanceof Uint8Array) || (e.kind === 'conf' && isRecord(e.change))),
    )
  }
  return true
}

export function isRpcRequest(value: unknown): value is RpcRequest {
  return (
    isRecord(value) &&
    typeof value.clusterId === 'string' &&
    (value.type === 'meta.readIndex' || (value.type === 'meta.propose' && isRecord(value.command)))
  )
}
