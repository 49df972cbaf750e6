import type { HostFrame, SnapshotMessage } from '@shoal/raft'
import type { MetadataCommand } from './metadata/types.ts'

/** Where to reach a node: its id and its libp2p multiaddrs (which name its peer id). */
export interface NodeAddress {
  readonly nodeId: string
  readonly addrs: readonly string[]
}

/**
 * One frame of Raft traffic from one node to another: the multi-raft host's
 * frame (every item of every group for that destination in one flush),
 * tagged with the cluster id so the receiver drops frames from another
 * cluster that shares the key (two clusters never merge).
 */
export interface RaftFrame {
  readonly clusterId: string
  readonly frame: HostFrame
}

/**
 * One snapshot message of one Raft group (a chunk of a state machine image,
 * `message.chunk`), sent apart from frames through the transport's snapshot
 * path and tagged with the cluster id like a frame.
 */
export interface RaftSnapshot {
  readonly clusterId: string
  readonly group: string
  readonly message: SnapshotMessage
}

/** Requests between nodes (`/shoal/rpc/1`). */
export type RpcRequest =
  | { readonly type: 'meta.propose'; readonly clusterId: string; readonly command: MetadataCommand }
  | { readonly type: 'meta.readIndex'; readonly clusterId: string }
  /** Replicate `data` in a group this node hosts (it forwards to the group's leader). */
  | {
      readonly type: 'group.propose'
      readonly clusterId: string
      readonly group: string
      readonly data: Uint8Array
      /** `durable`: answer once the group leader's log holds it; only the leader accepts it. */
      readonly ack?: 'durable'
    }
  /** A request for the application layer above the control plane (shard search, document reads). */
  | { readonly type: 'app'; readonly clusterId: string; readonly body: unknown }

export type RpcResponse =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly code: string; readonly message: string; readonly leader?: string | null }

export interface RequestOptions {
  readonly timeoutMs?: number
  readonly signal?: AbortSignal
}

export interface SnapshotSendOptions {
  readonly signal?: AbortSignal
}

/**
 * The transport port. `sendRaft` never blocks and may lose frames (Raft
 * tolerates loss); `request` rejects when the peer cannot be reached or does
 * not answer in time (the request may or may not have been handled then),
 * or with `NotDeliveredError` when it certainly never left this node.
 * `sendSnapshot`, when present, carries Raft snapshot messages outside the
 * frames (a stream, no frame size cap): it resolves once the receiving node's
 * `ClusterNode.receiveSnapshot` accepted the message and rejects otherwise
 * (unreachable, broken stream, refused); the Raft core then sends the chunk
 * again later. Without it, snapshots ride in frames. Inbound traffic reaches
 * the node through `ClusterNode.receiveRaft`, `ClusterNode.receiveSnapshot`
 * and `ClusterNode.handleRequest`.
 */
export interface ClusterTransport {
  sendRaft(to: NodeAddress, frame: RaftFrame): void
  request(to: NodeAddress, body: RpcRequest, options?: RequestOptions): Promise<RpcResponse>
  sendSnapshot?(to: NodeAddress, snapshot: RaftSnapshot, options?: SnapshotSendOptions): Promise<void>
  /**
   * Optional: registers the listener of connection changes, called with
   * `connected` false when the last connection to `nodeId` closed (its
   * process died and the kernel reset the socket, or the link broke) and true
   * when one opens again. The node takes a close as a suspicion, not a
   * verdict (`RaftHost.peerUnreachable`): followers of quiesced groups led by
   * that node wake and campaign after an election timeout unless the leader
   * is heard from, and proposals forwarded to it fail at once.
   */
  onPeerConnection?(listener: (nodeId: string, connected: boolean) => void): void
}
