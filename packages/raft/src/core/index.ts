// The deterministic protocol core: no clocks, timers, sockets or unseeded randomness.
export {
  DEFAULT_RAFT_CONFIG,
  type RaftConfig,
  RaftConfigError,
  type RaftRng,
  resolveRaftConfig,
} from './config.ts'
export { entryBytes, NO_BYTES, RaftLog, spliceTail } from './log.ts'
export { Progress, type ProgressState } from './progress.ts'
export { majority, quorumIndex, type VoteOutcome, voteOutcome } from './quorum.ts'
export { type FollowerStatus, RaftCore, type RaftInit, type RaftStatus } from './raft.ts'
export type {
  AppendMessage,
  AppendResponse,
  ConfChange,
  ConfEntry,
  ConfState,
  Entry,
  HardState,
  HeartbeatMessage,
  HeartbeatResponse,
  Message,
  NodeId,
  NormalEntry,
  ProposeResult,
  ReadState,
  Ready,
  Role,
  Snapshot,
  SnapshotMessage,
  SnapshotMeta,
  SnapshotResponse,
  SoftState,
  TimeoutNowMessage,
  VoteMessage,
  VoteResponse,
} from './types.ts'
