/** A member's identity inside one group; stable for the member's lifetime. */
export type NodeId = string

/** A log entry. `index` starts at 1; `term` is the leader's term when it was appended. */
export type Entry = NormalEntry | ConfEntry

export interface NormalEntry {
  readonly kind: 'normal'
  readonly term: number
  readonly index: number
  /** The application's command. An empty payload is the no-op a new leader appends (Raft §5.4.2, §8). */
  readonly data: Uint8Array
}

export interface ConfEntry {
  readonly kind: 'conf'
  readonly term: number
  readonly index: number
  readonly change: ConfChange
}

/**
 * One membership change. Changes are made one server at a time (Raft thesis §4.1):
 * `addVoter` adds a voter or promotes a learner, `addLearner` adds a non-voting
 * member, `remove` removes a voter or a learner.
 */
export interface ConfChange {
  readonly type: 'addVoter' | 'addLearner' | 'remove'
  readonly node: NodeId
}

/** Group membership. Voters and learners are disjoint. */
export interface ConfState {
  readonly voters: readonly NodeId[]
  readonly learners: readonly NodeId[]
}

/** What a member must persist before it sends any message (Raft Figure 2). */
export interface HardState {
  readonly term: number
  readonly vote: NodeId | null
  readonly commit: number
}

export interface SnapshotMeta {
  readonly index: number
  readonly term: number
  /** Membership as of `index`. */
  readonly confState: ConfState
}

/** A state-machine image supplied by the application, with the log position it covers. */
export interface Snapshot {
  readonly meta: SnapshotMeta
  readonly data: Uint8Array
}

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader'

interface Envelope {
  readonly from: NodeId
  readonly to: NodeId
  readonly term: number
}

/** Append entries after (`index`, `logTerm`) and advance the commit index (Raft §5.3). */
export interface AppendMessage extends Envelope {
  readonly type: 'append'
  readonly index: number
  readonly logTerm: number
  readonly entries: readonly Entry[]
  readonly commit: number
}

/**
 * The answer to `append`. On success `index` is the last index the follower now
 * matches. On rejection `index` is the rejected probe index and (`hintIndex`,
 * `hintTerm`) let the leader skip a whole term of conflicting entries at once.
 */
export interface AppendResponse extends Envelope, LeaseFields {
  readonly type: 'appendResponse'
  readonly index: number
  readonly reject: boolean
  readonly hintIndex: number
  readonly hintTerm: number
}

/**
 * What a follower adds to its answers to its leader while follower read
 * leases are on (`RaftConfig.followerLeaseTicks`): `applied`, the last index
 * it has applied (the leader acknowledges an entry only once every follower
 * it granted a live lease has applied it), and `leaseRequestTick`, present
 * when it asks for a lease or its renewal: its own clock when it asked, which
 * the grant echoes and from which its lease runs.
 */
export interface LeaseFields {
  readonly applied?: number
  readonly leaseRequestTick?: number
}

/**
 * A read lease granted on a heartbeat: the follower may serve reads from its
 * own state, once it has applied `index` (the leader's commit index when it
 * granted), until its clock reaches `requestTick` + its hold time.
 */
export interface LeaseGrant {
  readonly requestTick: number
  readonly index: number
}

/** A (pre-)vote request (Raft §5.2; thesis §9.6 for pre-votes). */
export interface VoteMessage extends Envelope {
  readonly type: 'vote'
  readonly pre: boolean
  readonly index: number
  readonly logTerm: number
  /** Set when a leadership transfer triggered the election, so leader leases are ignored. */
  readonly transfer: boolean
}

export interface VoteResponse extends Envelope {
  readonly type: 'voteResponse'
  readonly pre: boolean
  readonly reject: boolean
}

/**
 * Keeps followers quiet and confirms leadership for ReadIndex (`context`). With
 * `quiesce` set it is the leader's last word before the group goes silent: a
 * follower whose log ends at `commit` in this term stops ticking and does not
 * answer; any other follower treats it as a plain heartbeat, and its answer
 * wakes the leader again.
 */
export interface HeartbeatMessage extends Envelope {
  readonly type: 'heartbeat'
  readonly commit: number
  readonly context: string | null
  readonly quiesce: boolean
  /** A read lease for this follower (`RaftConfig.followerLeaseTicks`). */
  readonly lease?: LeaseGrant
}

export interface HeartbeatResponse extends Envelope, LeaseFields {
  readonly type: 'heartbeatResponse'
  readonly context: string | null
}

/**
 * One piece of a snapshot: bytes [offset, offset + chunk.byteLength) of an
 * image of `totalBytes`. The leader keeps a window of chunks in flight; the
 * follower takes them in any order.
 */
export interface SnapshotMessage extends Envelope {
  readonly type: 'snapshot'
  readonly meta: SnapshotMeta
  readonly offset: number
  readonly chunk: Uint8Array
  readonly totalBytes: number
}

/**
 * Acknowledges snapshot bytes [0, `received`) of the snapshot at `index`
 * (cumulative). An acknowledgement below an earlier one means the follower
 * started over, and the leader sends again from there.
 */
export interface SnapshotResponse extends Envelope {
  readonly type: 'snapshotResponse'
  readonly index: number
  readonly received: number
}

/** Tells the transfer target to campaign at once (thesis §3.10). */
export interface TimeoutNowMessage extends Envelope {
  readonly type: 'timeoutNow'
}

export type Message =
  | AppendMessage
  | AppendResponse
  | VoteMessage
  | VoteResponse
  | HeartbeatMessage
  | HeartbeatResponse
  | SnapshotMessage
  | SnapshotResponse
  | TimeoutNowMessage

/** A confirmed read: once `index` is applied, reads for `context` are linearizable. */
export interface ReadState {
  readonly index: number
  readonly context: string
}

/** Volatile state worth reporting; changes appear in `Ready.softState`. */
export interface SoftState {
  readonly role: Role
  readonly leader: NodeId | null
  readonly term: number
}

/**
 * One batch of work for the driver. Obligations, in order:
 * 0. `earlyMessages` may be sent at once, before or while step 1 runs: they
 *    are a leader's appends, heartbeats and snapshot chunks of a term that is
 *    already durable, and promise nothing about this Ready's state (Raft
 *    thesis §10.2.1: the leader writes its log in parallel with replication;
 *    its own entries count towards commitment only after `advance`);
 * 1. persist `snapshot`, `entries` (replacing any stored entries from the first
 *    new index on) and `hardState` durably;
 * 2. then send `messages` (never before step 1: a vote or an append
 *    acknowledgement promises durable state);
 * 3. restore `snapshot` into the state machine and apply `committedEntries` in order;
 * 4. call `advance()` with this Ready.
 * A Ready with no `messages`, no `snapshot` and no change of term or vote (a
 * leader's own appends: nothing in it promises durable state) may instead be
 * written in the background: steps 2 to 4 go on at once, `advance(rd, {
 * entriesDurable: false })`, and `entriesPersisted(index, term)` of its last
 * entry once the write is durable. Writes reach storage in Ready order, so any
 * later write (and any message that promises durable state) waits for the
 * background ones first.
 */
export interface Ready {
  readonly softState: SoftState | null
  readonly hardState: HardState | null
  readonly entries: readonly Entry[]
  readonly snapshot: Snapshot | null
  readonly committedEntries: readonly Entry[]
  readonly messages: readonly Message[]
  readonly earlyMessages: readonly Message[]
  readonly readStates: readonly ReadState[]
  /**
   * The leader wants a snapshot of the state at the applied index for a new
   * replica to catch up from (`catchUpSnapshotBytes`): after `advance`, the
   * driver takes one and hands it over with `offerSnapshot`. A driver that
   * never does leaves such replicas waiting.
   */
  readonly snapshotRequested: boolean
  /**
   * The highest index that may be reported to clients as done (a proposal
   * resolved) once applied here; the commit index unless follower read leases
   * are on, when it waits for leaseholders to apply (`RaftConfig.followerLeaseTicks`).
   */
  readonly acknowledgedIndex: number
}

/** Expected refusals are values, not exceptions. */
export type ProposeResult =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | {
      readonly ok: false
      readonly reason:
        | 'notLeader'
        | 'transferring'
        | 'confChangePending'
        | 'invalidConfChange'
        | 'learnerBehind'
      readonly leader: NodeId | null
    }
