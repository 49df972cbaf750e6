// @shoal/raft: deterministic Raft core, storage and transport ports, driver and multi-raft host.
export {
  type AppendMessage,
  type AppendResponse,
  type ConfChange,
  type ConfEntry,
  type ConfState,
  DEFAULT_RAFT_CONFIG,
  type Entry,
  type FollowerStatus,
  type HardState,
  type HeartbeatMessage,
  type HeartbeatResponse,
  type Message,
  type NodeId,
  type NormalEntry,
  type ProposeResult,
  type RaftConfig,
  RaftConfigError,
  RaftCore,
  type RaftInit,
  type RaftRng,
  type RaftStatus,
  type ReadState,
  type Ready,
  type Role,
  resolveRaftConfig,
  type Snapshot,
  type SnapshotMessage,
  type SnapshotMeta,
  type SnapshotResponse,
  type SoftState,
  type TimeoutNowMessage,
  type VoteMessage,
  type VoteResponse,
} from './core/index.ts'
export {
  NotLeaderError,
  ProposalDroppedError,
  RaftError,
  type RaftErrorCode,
  RaftRejectedError,
  RaftStoppedError,
  RaftStorageCorruptionError,
  RaftTimeoutError,
  RaftUnreachableError,
  UnknownGroupError,
} from './errors.ts'
export { RaftHost } from './host.ts'
export type { ForwardItem, ForwardResultItem, HostFrame, HostFrameItem, RaftItem } from './host-frame.ts'
export type {
  AddGroupOptions,
  HostProposeOptions,
  HostTransport,
  NodeLiveness,
  RaftHostMetrics,
  RaftHostOptions,
} from './host-options.ts'
export { MemoryHostNetwork, type MemoryHostNetworkOptions } from './memory-host-network.ts'
export {
  type ProposalAck,
  type ProposeOptions,
  RaftNode,
  type RaftNodeOptions,
  type RequestOptions,
  type StateMachine,
  seededRng,
} from './node.ts'
export { SharedWal, type SharedWalOptions } from './shared-wal.ts'
export {
  initialState,
  MemoryRaftStorage,
  type PersistBatch,
  type RaftStorage,
  type StoredState,
} from './storage.ts'
export { MemoryNetwork, type MessageHandler, type Transport } from './transport.ts'
export { WalRaftStorage, type WalRaftStorageOptions } from './wal-storage.ts'
