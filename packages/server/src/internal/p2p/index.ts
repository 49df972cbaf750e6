/**
 * The node-to-node transport: libp2p 3 (TCP, pnet, Noise, Yamux) carrying
 * Shoal's `/shoal/raft/1`, `/shoal/rpc/1` and `/shoal/snapshot/1`
 * protocols. See the server README, "Node-to-node transport".
 */
export {
  P2PAbortedError,
  P2PAddressError,
  P2PConfigError,
  P2PError,
  type P2PErrorCode,
  P2PFrameTooLargeError,
  P2PProtocolError,
  P2PRemoteError,
  P2PStoppedError,
  P2PTimeoutError,
  P2PUnreachableError,
} from './errors.ts'
export { FRAME_HEADER_BYTES, FRAME_VERSION, FrameKind } from './frame.ts'
export { derivePnetKey, MIN_CLUSTER_KEY_BYTES, PEER_KEY_FILE } from './keys.ts'
export type { PeerAddress } from './libp2p-host.ts'
export type { CloseReason, DropReason } from './metrics.ts'
export { P2PNode, type PeerConnectionHandler, type PeerQueueStats, type RaftHandler } from './node.ts'
export { type HostPort, P2P_DEFAULTS, type P2PLogger, type P2PNodeOptions } from './options.ts'
export { RAFT_PROTOCOL } from './raft-outbox.ts'
export { type RequestHandler, type RequestOptions, RPC_PROTOCOL } from './rpc.ts'
export { SNAPSHOT_PROTOCOL, type SnapshotHandler } from './snapshot.ts'
