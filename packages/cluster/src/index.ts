// @shoal/cluster: the control plane — metadata state machine, membership view, controller, health — behind transport and membership ports.

export {
  DEFAULT_CAPABILITIES,
  holdsData,
  mayHoldReplica,
  missingCapabilities,
  NODE_CAPABILITIES,
  type NodeCapability,
  parseCapabilities,
} from './capabilities.ts'
export {
  type AppRequestHandler,
  type ClusterCounters,
  type ClusterLogger,
  ClusterNode,
  type ClusterNodeOptions,
  META_GROUP,
} from './cluster-node.ts'
export {
  Controller,
  type ControllerConfig,
  DEFAULT_CONTROLLER_CONFIG,
  REBALANCE_SETTING,
  REPLACE_SETTING_PREFIX,
  replacementsOf,
  resolveControllerConfig,
} from './controller.ts'
export { type MetaPlanInput, type PlanNode, planMetaChange, targetVoters } from './controller-plan.ts'
export {
  ClusterConfigError,
  ClusterError,
  type ClusterErrorCode,
  ClusterMismatchError,
  ClusterStoppedError,
  ClusterTimeoutError,
  InvalidCommandError,
  InvalidShardingError,
  NoLeaderError,
  NotDeliveredError,
  RemoteAppError,
  UnsatisfiablePlacementError,
} from './errors.ts'
export {
  type ClusterHealth,
  computeHealth,
  type HealthInput,
  type HealthStatus,
  healthAtLeast,
} from './health.ts'
export {
  type ClusterIdentity,
  FileIdentityStore,
  type IdentityStore,
  MemoryIdentityStore,
} from './identity.ts'
export {
  decodeMember,
  encodeMemberMetadata,
  type MembershipPort,
  type MemberView,
  sameAdvert,
} from './membership.ts'
export { MemoryClusterNetwork } from './memory-transport.ts'
export {
  decodeCommand,
  decodeState,
  encodeCommand,
  encodeState,
  type MetadataImage,
} from './metadata/codec.ts'
export {
  ENDED_TASK_STATUSES,
  emptyMetadata,
  MAX_ENDED_TASKS,
  MetadataStateMachine,
  shardNameOf,
} from './metadata/state-machine.ts'
export {
  type ApiKeyRecord,
  type ApplyOutcome,
  type IndexRecord,
  type IndexSwapPair,
  type MetadataCommand,
  type MetadataCommandType,
  type MetadataState,
  NODE_STATES,
  type NodeAdvert,
  type NodeRecord,
  type NodeState,
  type PlacementSpec,
  type RejectReason,
  type ReplicaRole,
  type ReplicaState,
  type ShardingSpec,
  type ShardingStrategy,
  type ShardRecord,
  type ShardReplica,
  type TaskRecord,
} from './metadata/types.ts'
export { isMetadataCommand } from './metadata/validate.ts'
export {
  describeLabels,
  hasLabels,
  type LabelledNode,
  labelOf,
  parsePlacement,
  preferLeader,
  shardViolations,
} from './placement-constraints.ts'
export { type ShardGroupRef, ShardHosting, type ShardMachineFactory, shardGroupOf } from './shard-hosting.ts'
export {
  type ShardKeyOutcome,
  type ShardKeyProblem,
  shardField,
  shardKeyText,
  shardOfFieldValue,
  shardsOfFilterValue,
} from './shard-key.ts'
export { planShardStep, type ShardStep, type ShardStepInput } from './shard-membership.ts'
export {
  type MoveReason,
  type PlannedMove,
  planShardMoves,
  type ShardMovesInput,
  type ShardMovesPlan,
} from './shard-moves.ts'
export { ShardSteward, type ShardStewardCounters, type ShardStewardOptions } from './shard-steward.ts'
export {
  DEFAULT_MAX_SHARDS,
  DEFAULT_REPLICATION_FACTOR,
  type IndexPlacement,
  MAX_SHARDS,
  planIndexPlacement,
  type ShardingRequest,
  shardOfDocument,
} from './sharding.ts'
export type {
  ClusterTransport,
  NodeAddress,
  RaftFrame,
  RaftSnapshot,
  RequestOptions,
  RpcRequest,
  RpcResponse,
  SnapshotSendOptions,
} from './transport.ts'
