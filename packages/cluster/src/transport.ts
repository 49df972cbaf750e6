import type { HostFrame } from '@shoal/raft'
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

/**
 * The transport port. `sendRaft` never blocks and may lose frames (Raft
 * tolerates loss); `request` rejects when the peer cannot be reached or does
 * not answer in time (the request may or may not have been handled then),
 * or with `NotDeliveredError` when it certainly never left this node.
 * Inbound traffic reaches the node through `ClusterNode.receiveRaft` and
 * `ClusterNode.handleRequest`.
 */
export interface ClusterTransport {
  sendRaft(to: NodeAddress, frame: RaftFrame): void
  request(to: NodeAddress, body: RpcRequest, options?: RequestOptions): Promise<RpcResponse>
}
