import type { ConfState, NodeId, RaftConfig, RaftRng, SnapshotMessage } from './core/index.ts'
import type { HostFrame } from './host-frame.ts'
import type { ProposalAck, StateMachine } from './node.ts'
import type { SharedWalOptions } from './shared-wal.ts'
import type { RaftStorage } from './storage.ts'

// The options, port and counters of `RaftHost`.

/**
 * Carries frames between hosts: one call per destination node per flush,
 * holding every item of every group for that node (one frame on the wire).
 * May lose frames; must not block. The receiving side hands each frame to
 * `RaftHost.receive`.
 *
 * `sendSnapshot`, when present, is the path for snapshot messages: they then
 * never ride in frames (whose size a transport may cap, and where a chunk of
 * state would delay every other group's heartbeats) but go one by one, at
 * most one in flight per group and destination node. It resolves once the
 * receiving side handed the message to `RaftHost.receiveSnapshot` and
 * rejects when it may not have: the host counts the failure and the core
 * sends the chunk again after a few silent heartbeats. The caller owns the
 * message; the chunk must not be changed.
 */
export interface HostTransport {
  send(toNode: NodeId, frame: HostFrame): void
  sendSnapshot?(toNode: NodeId, group: string, message: SnapshotMessage): Promise<void>
}

/** What a failure detector (SWIM) says about a node. */
export type NodeLiveness = 'alive' | 'dead'

export interface RaftHostOptions {
  /** This node's id; it is the member id of this node in every group it hosts. */
  nodeId: NodeId
  transport: HostTransport
  /**
   * Folder of the host's `SharedWal`: one write-ahead log for every group, so
   * a flush costs one fsync for all the groups it touched.
   */
  storageRoot?: string
  /** Options of the shared WAL under `storageRoot` (file system, compaction). */
  sharedWal?: SharedWalOptions
  /** Storage factory overriding `storageRoot` (in-memory storage in tests, a store per group). */
  storage?: (group: string, bootstrap: ConfState | undefined) => RaftStorage
  /** Milliseconds per tick of the shared clock; 0: the owner calls `tick()`. @defaultValue 100 */
  tickMs?: number
  /** Core settings shared by every group (the id is set per host). `quiesce` defaults to true here. */
  raft?: Partial<Omit<RaftConfig, 'id'>>
  /**
   * Randomness per group (seeded in tests); a group for which it returns undefined uses the host's.
   * @defaultValue one generator for the host, seeded from the node id, clock and process id
   */
  rng?: (group: string) => RaftRng | undefined
  /** Upper bound on `propose()`, forwarding and retries included. @defaultValue 10000 */
  proposeTimeoutMs?: number
  /** How long `propose()` waits for a leader to become known before `NotLeaderError`. @defaultValue 2000 */
  leaderWaitMs?: number
  /**
   * Called when a group's node fails: its storage or state machine threw (a failed fsync, a full
   * disk; with the shared WAL, which refuses every write after a failed one, each group fails at
   * its next write). That group has stopped on this host; its state must be recovered by a
   * restart. @defaultValue none: the group stays stopped
   */
  onGroupFailure?: (group: string, error: Error) => void
}

export interface AddGroupOptions {
  stateMachine: StateMachine
  /** Founding membership; omit when joining a group that already exists elsewhere. */
  bootstrap?: ConfState
  snapshotEntries?: number
  /**
   * Serve reads on the leader from its lease (a quorum heard from it within half an election
   * timeout) instead of a ReadIndex round each time; needs `checkQuorum` (on by default). Safe
   * while the members' clocks run at about the same rate. @defaultValue false
   */
  leaseReads?: boolean
  /**
   * Also grant followers read leases (`RaftConfig.followerLeaseTicks`; `RaftNode.leaseRead`),
   * so a follower serves reads that see every acknowledged write without asking the leader, and
   * writes are acknowledged once every leaseholder applied them. Needs `leaseReads`. The lease
   * length is `raft.followerLeaseTicks` when set, otherwise half the election timeout (at least
   * 5 ticks). @defaultValue false
   */
  followerLeases?: boolean
}

export interface HostProposeOptions {
  signal?: AbortSignal
  /** Overrides `RaftHostOptions.proposeTimeoutMs` for this call. */
  timeoutMs?: number
  /**
   * `durable`: resolve (with `undefined`) once the leader's own log holds the entry durably, not
   * once a majority committed it (`RaftNode.propose`). Only the leader can say so: on a member
   * that does not lead the group the call rejects with `NotLeaderError` naming the leader,
   * instead of forwarding. @defaultValue `'applied'`
   */
  ack?: ProposalAck
}

/** Counters of one host; frame and item counts only (the transport knows the bytes). */
export interface RaftHostMetrics {
  readonly groups: number
  readonly quiescedGroups: number
  readonly deadNodes: number
  /** Nodes whose connection the transport reported closed (`peerUnreachable`), not reachable again yet. */
  readonly unreachableNodes: number
  /** `peerUnreachable` calls that started a suspicion. */
  readonly peerSuspicions: number
  /** Quiesced groups those suspicions woke (followers of the suspected leader). */
  readonly suspicionWakes: number
  /** Forwarded proposals failed at once because the connection to their leader closed. */
  readonly forwardsFailedUnreachable: number
  readonly flushes: number
  readonly framesSent: number
  readonly itemsSent: number
  readonly raftMessagesSent: number
  /** Raft messages sent, by message type (`heartbeat`, `append`, `vote`, …; `quiesce` for a quiescing heartbeat). */
  readonly raftMessagesByType: Readonly<Record<string, number>>
  /** Ticks delivered to awake groups (a quiesced group is not ticked): the clock's work. */
  readonly groupTicks: number
  readonly framesReceived: number
  readonly itemsReceived: number
  /** Items for groups this host does not have, or of an unknown kind. */
  readonly itemsDropped: number
  /** Raft messages the groups ignored because their sender is outside the group's configuration (see `RaftStatus`). */
  readonly outsiderMessagesIgnored: number
  readonly forwardsSent: number
  readonly forwardsServed: number
  readonly forwardsPending: number
  /** Snapshot messages handed to `HostTransport.sendSnapshot` (0 without it). */
  readonly snapshotsSent: number
  /** Of those, transfers that failed (the core sends the chunk again). */
  readonly snapshotsFailed: number
  /** Snapshot messages not sent: they repeated a transfer under way or one that had just arrived. */
  readonly snapshotsSuperseded: number
  /** Snapshot transfers under way. */
  readonly snapshotsInFlight: number
  /** Snapshot messages that arrived through `receiveSnapshot` and reached a group. */
  readonly snapshotsReceived: number
  /** Snapshot messages that arrived malformed, addressed elsewhere or for a group not hosted here. */
  readonly snapshotsDropped: number
  /** Frames and items sent per destination node. */
  readonly sentByPeer: Readonly<Record<NodeId, { readonly frames: number; readonly items: number }>>
}
