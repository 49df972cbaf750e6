import { followerLeaseHoldTicks, type RaftConfig, type RaftRng } from './config.ts'
import { IncomingSnapshot } from './incoming-snapshot.ts'
import { entryBytes, invariant, NO_BYTES, RaftLog } from './log.ts'
import { Progress } from './progress.ts'
import { majority, quorumIndex, voteOutcome } from './quorum.ts'
import { type HeldLease, LeaseGrants, LeaseRequests } from './read-lease.ts'
import type {
  AppendMessage,
  AppendResponse,
  ConfChange,
  ConfState,
  Entry,
  HardState,
  HeartbeatMessage,
  HeartbeatResponse,
  LeaseGrant,
  Message,
  NodeId,
  ProposeResult,
  ReadState,
  Ready,
  Role,
  Snapshot,
  SnapshotMessage,
  SnapshotResponse,
  SoftState,
  VoteMessage,
} from './types.ts'

/** What a member starts from: its durable state as the storage recovered it. */
export interface RaftInit {
  config: RaftConfig
  rng: RaftRng
  hardState: HardState
  /** The latest snapshot; a fresh group starts from one at index 0 holding the initial membership. */
  snapshot: Snapshot
  /** Stored entries following the snapshot, contiguous. */
  entries: Entry[]
}

export interface FollowerStatus {
  readonly id: NodeId
  readonly match: number
  readonly next: number
  readonly state: 'probe' | 'replicate' | 'snapshot'
  readonly learner: boolean
  /** Entries the follower is behind the leader's last index. */
  readonly lag: number
}

export interface RaftStatus {
  readonly id: NodeId
  readonly role: Role
  readonly term: number
  readonly leader: NodeId | null
  readonly commitIndex: number
  readonly appliedIndex: number
  readonly lastIndex: number
  readonly snapshotIndex: number
  readonly confState: ConfState
  /** The group is silent: this member neither ticks nor sends until woken. */
  readonly quiesced: boolean
  /** Only on the leader. */
  readonly followers: readonly FollowerStatus[]
  /** Messages ignored because their sender is outside the configuration while a leader is heard. */
  readonly outsiderMessagesIgnored: number
  /** The highest index that may be reported done (see `Ready.acknowledgedIndex`). */
  readonly acknowledgedIndex: number
  /** The follower read lease this member holds (null: none, or not a follower). */
  readonly followerLease: HeldLease | null
  /** Leader: followers whose lease it records now. */
  readonly leaseGrantsLive: number
  /** Follower read leases this member granted, and records of them that ran out, since it started. */
  readonly leaseGrantsIssued: number
  readonly leaseGrantsExpired: number
}

interface PendingRead {
  readonly context: string
  readonly index: number
  readonly acks: Set<NodeId>
}

const MAX_APPLY_BYTES = 64 * 1024 * 1024
/** Heartbeats without a new snapshot acknowledgement before the window is sent again; doubles per resend in a row. */
const SNAPSHOT_RESEND_HEARTBEATS = 3
/** The most heartbeats the doubling waits between two resends. */
const SNAPSHOT_RESEND_MAX_HEARTBEATS = 24

/**
 * One member of one Raft group as a pure state machine (etcd raft's design):
 * feed it `tick()`, `step(message)` and requests; collect its work with
 * `ready()`; acknowledge with `advance()`. It never blocks, reads a clock or
 * performs I/O. Between `ready()` and `advance()` the driver must not call
 * anything else on it.
 */
export class RaftCore {
  readonly id: NodeId
  readonly #config: RaftConfig
  readonly #rng: RaftRng
  readonly log: RaftLog
  #term: number
  #vote: NodeId | null
  #leader: NodeId | null = null
  #role: Role = 'follower'
  /*
   * Collections a quiesced group does not need are allocated on first use and
   * dropped when empty (null), so an idle group costs little memory: a host
   * keeps thousands of them. Members are arrays never mutated in place.
   */
  #voters: readonly NodeId[] = NO_IDS
  #learners: readonly NodeId[] = NO_IDS
  /** Only while leading. */
  #progress: Map<NodeId, Progress> | null = null
  /** Only while campaigning. */
  #votes: Map<NodeId, boolean> | null = null
  #electionElapsed = 0
  /** Ticks since this member last heard from the leader it follows (quiesced time does not count). */
  #silentTicks = 0
  #outsiderMessagesIgnored = 0
  /** Ticks since this member started: the local clock of the lease. */
  #ticks = 0
  #heartbeatElapsed = 0
  #randomizedElectionTicks = 0
  #pendingConfIndex = 0
  #transferee: NodeId | null = null
  #pendingReads: PendingRead[] | null = null
  #readsAwaitingCommit: string[] | null = null
  #readHeartbeatDue = false
  /**
   * `#ticks` at the last read asked of this leader (lease reads keep it awake a while after); null
   * before any. Null rather than -Infinity: a double field would cost every group a boxed number.
   */
  #lastReadTick: number | null = null
  #messages: Message[] | null = null
  #readStates: ReadState[] | null = null
  /** Followers owed an append at the next `ready()`; batching many proposals into one message. */
  #sendDue: Map<NodeId, boolean> | null = null
  #sendEmptyDue = false
  #snapshot: Snapshot
  #snapshotToPersist: Snapshot | null = null
  #incoming: IncomingSnapshot | null = null
  /** A new replica waits for a fresh snapshot (see `catchUpSnapshotBytes`). */
  #snapshotRequested = false
  #prevSoft: SoftState
  #prevHard: HardState
  #readyOutstanding = false
  #quiesced = false
  /** Peers a node-level failure detector reports dead; they do not hold quiescence back. */
  #deadPeers: Set<NodeId> | null = null
  /**
   * The leader of `term` whose connection the driver reported lost, while no
   * message from it has arrived since (see `leaderUnreachable`).
   */
  #leaderLost: { id: NodeId; term: number } | null = null
  // ---- follower read leases (read-lease.ts); all null or unused when followerLeaseTicks is 0
  /** Follower: the lease held from the current leader in this term. */
  #lease: HeldLease | null = null
  /** Follower: the ticks it asked for a lease at, in this term. */
  #leaseRequests: LeaseRequests | null = null
  /** Follower: `#ticks` of the last local read (leases are asked for and renewed while reads come); null before any. */
  #lastLocalReadTick: number | null = null
  /** Follower: ask the leader for a lease at the next `ready()`, unprompted. */
  #leaseRequestDue = false
  /** Leader: the leases granted in this term whose records have not run out. */
  #grants: LeaseGrants | null = null
  /** `#ticks` by which every record of a lease this member ever granted has run out. */
  #grantsEndTick = 0
  /** New leader: members not yet heard from in this term, until `#fenceEndTick` (null: no fence). */
  #unheard: Set<NodeId> | null = null
  #fenceEndTick = 0
  #acknowledged = 0
  #prevAcknowledged = 0
  #leaseGrantsIssued = 0
  #leaseGrantsExpired = 0

  constructor(init: RaftInit) {
    this.#config = init.config
    this.id = init.config.id
    this.#rng = init.rng
    const meta = init.snapshot.meta
    this.#snapshot = init.snapshot
    this.log = new RaftLog(meta.index, meta.term, [...init.entries], init.hardState.commit)
    this.#term = init.hardState.term
    this.#vote = init.hardState.vote
    this.#setConfState(meta.confState)
    this.#prevHard = this.#hardState()
    this.#acknowledged = this.log.committed
    this.#prevAcknowledged = this.log.committed
    this.#resetElectionTimer()
    this.#prevSoft = this.#softState()
  }

  // ---- public API -------------------------------------------------------

  get role(): Role {
    return this.#role
  }

  get term(): number {
    return this.#term
  }

  get leader(): NodeId | null {
    return this.#leader
  }

  /** Whether `id` is a voter or a learner of the group. */
  isMember(id: NodeId): boolean {
    return this.#voters.includes(id) || this.#learners.includes(id)
  }

  confState(): ConfState {
    return { voters: [...this.#voters].sort(), learners: [...this.#learners].sort() }
  }

  /** True while the group is silent (see `RaftConfig.quiesce`); `tick()` then does nothing. */
  get quiesced(): boolean {
    return this.#quiesced
  }

  /** Advances logical time by one tick; a quiesced member's time stands still. */
  tick(): void {
    this.#assertNoReady()
    if (this.#quiesced) return
    this.#ticks++
    this.#silentTicks++
    if (this.#role === 'leader') {
      this.#expireGrants()
      if (this.#config.quiesce && this.#canQuiesce()) this.#quiesce()
      else this.#tickLeader()
    } else this.#tickElection()
  }

  /**
   * Ends quiescence because of local work (a request, a forwarded proposal): a
   * woken leader heartbeats at once, a woken follower restarts its election
   * timer, so it campaigns if its leader does not answer within a timeout.
   */
  wake(): void {
    this.#assertNoReady()
    this.#wake()
  }

  /**
   * Node-level liveness of the peer `id` (from SWIM, say). A peer back alive
   * wakes the group (the leader catches it up); a death wakes a quiesced group
   * only when it must act (#deathNeedsWake): a follower whose leader died
   * forgets it and campaigns within one election timeout. A dead peer no longer
   * keeps the leader from quiescing (the lagging-replica set), so one dead node
   * does not keep every group awake, nor wake the quiet ones.
   */
  setPeerLiveness(id: NodeId, alive: boolean): void {
    this.#assertNoReady()
    if (id === this.id || this.#isDead(id) !== alive) return
    if (!alive) {
      if (this.#deadPeers === null) this.#deadPeers = new Set()
      this.#deadPeers.add(id)
    } else {
      this.#deadPeers?.delete(id)
      if (this.#deadPeers?.size === 0) this.#deadPeers = null
    }
    if (!this.#voters.includes(id) && !this.#learners.includes(id)) return
    if (!alive && this.#quiesced && !this.#deathNeedsWake(id)) return
    this.#wake()
    if (!alive && this.#role !== 'leader' && this.#leader === id) {
      this.#leader = null
      // The remaining randomized part of the timeout, in [0, electionTicks), still breaks ties.
      this.#electionElapsed = this.#config.electionTicks
    }
  }

  /**
   * Whether a quiesced member must wake because `id` died: a follower when `id`
   * is its leader (it campaigns); a leader when the voters left alive are no
   * longer a majority (awake, check-quorum makes it step down). Otherwise the
   * group stays quiet: a quiesced leader's followers all held its whole log when
   * it quiesced, so nothing is owed to `id`, and #fullProgress rebuilds its
   * progress if the group wakes for other work. No group is woken, probed or
   * ticked per dead replica; the peer is caught up when it is declared alive.
   */
  #deathNeedsWake(id: NodeId): boolean {
    if (this.#role !== 'leader') return this.#leader === id
    let liveVoters = 0
    for (const voter of this.#voters) if (!this.#isDead(voter)) liveVoters++
    return liveVoters < majority(this.#voters.length)
  }

  /**
   * The driver lost its connection to `id` (a closed socket: its process died,
   * or the link broke). If `id` is the leader this follower follows, the
   * follower wakes and campaigns (pre-vote first) within
   * `leaderLossCampaignTicks` instead of an election timeout, and, until a
   * message from `id` arrives, it no longer holds to that leader against
   * other members' campaigns: it grants their pre-votes and votes by the
   * ordinary rules (one vote per term, an up-to-date log, Raft §5.2, §5.4.1)
   * instead of ignoring them as leader stickiness would (thesis §4.2.3).
   * A member that did not lose its connection, or heard from the leader
   * since, still ignores them, so a spurious signal at one follower costs no
   * term: its pre-vote is refused by the others' silence and by the leader,
   * whose heartbeat (the pre-vote wakes a quiesced leader) makes it a
   * follower of the same leader again.
   */
  leaderUnreachable(id: NodeId): void {
    this.#assertNoReady()
    if (id === this.id || this.#role !== 'follower' || this.#leader !== id) return
    this.#wake()
    this.#leaderLost = { id, term: this.#term }
    if (!this.#promotable()) return
    const remaining = 1 + this.#rng.int(this.#config.leaderLossCampaignTicks)
    this.#electionElapsed = Math.max(this.#electionElapsed, this.#randomizedElectionTicks - remaining)
  }

  /**
   * The driver lost its connection to `id`. A follower whose leader `id` is: see
   * `leaderUnreachable`. A leader: what `id` acknowledged before no longer counts
   * toward its lease, since `id` may now vote for another member at once
   * (`leaderUnreachable`), well within the half election timeout the lease
   * otherwise relies on; `id` counts again once it acknowledges a message sent
   * after this, which it does only after hearing from this leader again (and
   * from then on it holds to this leader). A follower also drops the read
   * lease it holds from that leader. The signal is taken as both ends of a
   * connection see it: a close one end sees and the other does not for long is
   * outside what this covers.
   */
  peerUnreachable(id: NodeId): void {
    this.#assertNoReady()
    if (id === this.id) return
    if (this.#role === 'leader') {
      const pr = this.#prs.get(id)
      if (pr !== undefined) pr.lastActiveTick = Number.NEGATIVE_INFINITY
      return
    }
    if (this.#leader === id) this.#dropLease()
    this.leaderUnreachable(id)
  }

  /** Starts an election now (as after an election timeout). */
  campaign(): void {
    this.#assertNoReady()
    this.#wake()
    if (this.#role !== 'leader' && this.#promotable()) this.#campaign(this.#config.preVote ? 'pre' : 'real')
  }

  /** Proposes one command. */
  propose(data: Uint8Array): ProposeResult {
    return this.proposeBatch([data])
  }

  /** Proposes several commands as consecutive entries; the result names the first. */
  proposeBatch(commands: readonly Uint8Array[]): ProposeResult {
    this.#assertNoReady()
    this.#wake()
    const refusal = this.#refuseProposal()
    if (refusal !== null) return refusal
    const first = this.log.lastIndex() + 1
    const entries: Entry[] = commands.map((data, i) => ({
      kind: 'normal',
      term: this.#term,
      index: first + i,
      data,
    }))
    this.#appendAsLeader(entries)
    return { ok: true, index: first, term: this.#term }
  }

  /** Proposes a membership change; one may be pending at a time (thesis §4.1). */
  proposeConfChange(change: ConfChange): ProposeResult {
    this.#assertNoReady()
    this.#wake()
    const refusal = this.#refuseProposal()
    if (refusal !== null) return refusal
    if (this.#pendingConfIndex > this.log.applied)
      return { ok: false, reason: 'confChangePending', leader: this.#leader }
    if (!this.#validConfChange(change))
      return { ok: false, reason: 'invalidConfChange', leader: this.#leader }
    // A learner becomes a voter only once it holds every committed entry, so the
    // promotion cannot leave the new quorum waiting on a member that is still catching up.
    const learner = this.#learners.includes(change.node) ? this.#prs.get(change.node) : undefined
    if (change.type === 'addVoter' && learner !== undefined && learner.match < this.log.committed)
      return { ok: false, reason: 'learnerBehind', leader: this.#leader }
    const index = this.log.lastIndex() + 1
    this.#appendAsLeader([{ kind: 'conf', term: this.#term, index, change }])
    this.#pendingConfIndex = index
    return { ok: true, index, term: this.#term }
  }

  /**
   * Requests a linearizable read point (Raft thesis §6.4). A `ReadState` with
   * this context appears in a later Ready once leadership is confirmed; reads
   * are then linearizable after applying up to its index. Returns false when
   * this member is not the leader.
   */
  readIndex(context: string): boolean {
    this.#assertNoReady()
    this.#wake()
    if (this.#role !== 'leader') return false
    this.#lastReadTick = this.#ticks
    if (this.log.term(this.log.committed) !== this.#term) {
      if (this.#readsAwaitingCommit === null) this.#readsAwaitingCommit = []
      this.#readsAwaitingCommit.push(context)
      return true
    }
    this.#startRead(context)
    return true
  }

  /**
   * Leader leases (`RaftConfig.leaseReads`): the read point `readIndex` would
   * confirm at once, without a heartbeat round — the commit index, when this
   * member leads, is awake, transfers no leadership, has committed an entry of
   * its term (Raft thesis §6.4) and a quorum heard from it within the lease
   * (or it is the only voter); null otherwise (ask `readIndex`). A read here
   * is linearizable once it has applied that index. Pure; pair it with
   * `noteLeaderRead()`.
   */
  leaderReadIndex(): number | null {
    if (this.#role !== 'leader' || this.#quiesced || this.#transferee !== null) return null
    if (this.log.term(this.log.committed) !== this.#term) return null
    if (this.#voters.length === 1 || (this.#config.leaseReads && this.#leaseValid()))
      return this.log.committed
    return null
  }

  /**
   * A read was served here under the leader's lease (`leaderReadIndex`): as
   * `readIndex` does, it keeps the leader awake for an election timeout, so the
   * lease still holds for the next read instead of costing a heartbeat round.
   */
  noteLeaderRead(): void {
    this.#assertNoReady()
    if (this.#role !== 'leader') return
    this.#wake()
    this.#lastReadTick = this.#ticks
  }

  /**
   * Follower read leases (`RaftConfig.followerLeaseTicks`): the index this
   * follower's state must have applied for a read served from it to see every
   * write acknowledged anywhere (`Ready.acknowledgedIndex`) before the read
   * began; null without a valid lease (read through the leader instead).
   * Pure; pair it with `noteLocalRead()`.
   */
  followerReadIndex(): number | null {
    const lease = this.#lease
    if (lease === null || this.#role !== 'follower' || this.#quiesced) return null
    return this.#ticks < lease.expiresTick ? lease.index : null
  }

  /**
   * A read was (or is about to be) served or wanted locally: while reads come,
   * the follower asks for a lease, and renews it once past half its life, on
   * its answers to the leader and, when none is due soon, unprompted (waking a
   * quiesced group: leader and follower stay awake while the lease lives).
   */
  noteLocalRead(): void {
    this.#assertNoReady()
    if (this.#config.followerLeaseTicks === 0 || this.#role !== 'follower' || this.#leader === null) return
    this.#lastLocalReadTick = this.#ticks
    if (!this.#wantsLease() || this.#leaseRequests?.last === this.#ticks) return
    this.#wake()
    this.#lastLocalReadTick = this.#ticks
    this.#leaseRequestDue = true
  }

  /**
   * The driver's clock fell behind real time (a stalled event loop, a late
   * timer): a lease measured in its ticks may have lasted longer than it
   * says. Drops the lease and every request in flight (their grants are
   * refused); the next read asks again.
   */
  clockSlipped(): void {
    this.#assertNoReady()
    this.#dropLease()
  }

  /** See `Ready.acknowledgedIndex`; never goes down. */
  get acknowledgedIndex(): number {
    const value = this.#computeAcknowledged()
    if (value > this.#acknowledged) this.#acknowledged = value
    return this.#acknowledged
  }

  /** Hands leadership to `to` (thesis §3.10); proposals are refused until it completes or times out. */
  transferLeadership(to: NodeId): boolean {
    this.#assertNoReady()
    this.#wake()
    if (this.#role !== 'leader' || to === this.id || !this.#voters.includes(to)) return false
    if (this.#transferee === to) return true
    this.#transferee = to
    this.#electionElapsed = 0
    const pr = this.#prs.get(to) as Progress
    if (pr.match === this.log.lastIndex())
      this.#send({ type: 'timeoutNow', from: this.id, to, term: this.#term })
    else this.#setDue(to, false)
    return true
  }

  /**
   * Installs an application snapshot taken at the applied index and drops the
   * log up to it. The caller has stored the snapshot durably first.
   */
  compact(index: number, data: Uint8Array): Snapshot {
    this.#assertNoReady()
    invariant(index === this.log.applied, 'compact at the applied index')
    const term = this.log.term(index)
    invariant(term !== undefined, 'compact index is in the log')
    const snapshot: Snapshot = { meta: { index, term, confState: this.confState() }, data }
    this.#snapshot = snapshot
    this.log.compact(index)
    return snapshot
  }

  /**
   * Takes a snapshot of the state at the applied index for followers to
   * catch up from, keeping the log (unlike `compact`); the answer to
   * `Ready.snapshotRequested`. New replicas waiting for it are sent it at the
   * next `ready()`. Returns the latest snapshot (this one, unless one at a
   * later index is already held).
   */
  offerSnapshot(index: number, data: Uint8Array): Snapshot {
    this.#assertNoReady()
    invariant(index === this.log.applied, 'offer a snapshot at the applied index')
    if (index <= this.#snapshot.meta.index) return this.#snapshot
    const term = this.log.term(index)
    invariant(term !== undefined, 'offered snapshot index is in the log')
    this.#snapshot = { meta: { index, term, confState: this.confState() }, data }
    if (this.#role === 'leader') {
      for (const [id, pr] of this.#prs) {
        if (id === this.id || pr.match !== 0 || pr.next !== 1 || pr.state !== 'probe') continue
        pr.probeSent = false
        this.#setDue(id, true)
      }
    }
    return this.#snapshot
  }

  get snapshot(): Snapshot {
    return this.#snapshot
  }

  /** Feeds one message from the network. */
  step(m: Message): void {
    this.#assertNoReady()
    if (m.to !== this.id) return
    // Only news wakes a quiesced member; a Ready that follows a quiesce (even
    // one due to an earlier tick) never does (CockroachDB #9372 was that race).
    if (this.#fromOutsider(m)) {
      this.#outsiderMessagesIgnored++
      return
    }
    if (this.#quiesced && this.#wakesUp(m)) this.#wake()
    if (this.#leaderLost?.id === m.from) this.#leaderLost = null
    if (!this.#stepTerm(m)) return
    if (m.type === 'vote') {
      this.#handleVote(m)
      return
    }
    switch (this.#role) {
      case 'leader':
        this.#stepLeader(m)
        break
      case 'candidate':
      case 'preCandidate':
        this.#stepCandidate(m)
        break
      case 'follower':
        this.#stepFollower(m)
        break
    }
  }

  hasReady(): boolean {
    if (this.#messages !== null || this.#readStates !== null) return true
    if (this.#sendDue !== null || this.#sendEmptyDue || this.#readHeartbeatDue) return true
    if (this.#snapshotToPersist !== null || this.log.persistingIndex < this.log.lastIndex()) return true
    if (this.#snapshotRequested) return true
    if (this.log.committed > this.log.applied || this.#leaseRequestDue) return true
    if (this.acknowledgedIndex !== this.#prevAcknowledged) return true
    return !sameHard(this.#hardState(), this.#prevHard) || !sameSoft(this.#softState(), this.#prevSoft)
  }

  /** Collects the pending work; see `Ready` for the obligations. */
  ready(): Ready {
    this.#assertNoReady()
    this.#flushSends()
    const soft = this.#softState()
    const hard = this.#hardState()
    const early: Message[] = []
    const late: Message[] = []
    for (const m of this.#messages ?? NO_MESSAGES) (this.#sendsEarly(m) ? early : late).push(m)
    const rd: Ready = {
      softState: sameSoft(soft, this.#prevSoft) ? null : soft,
      hardState: sameHard(hard, this.#prevHard) ? null : hard,
      entries: this.log.unstableEntries(),
      snapshot: this.#snapshotToPersist,
      committedEntries: this.#snapshotToPersist === null ? this.log.nextCommitted(MAX_APPLY_BYTES) : [],
      messages: late,
      earlyMessages: early,
      readStates: this.#readStates ?? NO_READ_STATES,
      snapshotRequested: this.#snapshotRequested,
      acknowledgedIndex: this.acknowledgedIndex,
    }
    this.#snapshotRequested = false
    this.#messages = null
    this.#readStates = null
    this.#readyOutstanding = true
    return rd
  }

  /**
   * Acknowledges that the driver has done everything `rd` asked for. With
   * `entriesDurable: false` the driver is still persisting `rd.entries` in the
   * background, which it may do only for a Ready that sends no `messages`
   * (nothing in it promises durable state) and holds no snapshot and no
   * change of term or vote; it calls `entriesPersisted` once they are durable.
   * Until then they count nowhere: a leader's own match (and so a commit that
   * needs it) moves only then (thesis §10.2.1), while its followers'
   * acknowledgements may commit the entries meanwhile.
   */
  advance(rd: Ready, options: { entriesDurable?: boolean } = {}): void {
    invariant(this.#readyOutstanding, 'advance without ready')
    const durable = options.entriesDurable ?? true
    invariant(
      durable ||
        (rd.messages.length === 0 &&
          rd.snapshot === null &&
          (rd.hardState === null ||
            (rd.hardState.term === this.#prevHard.term && rd.hardState.vote === this.#prevHard.vote))),
      'only entries that nothing promises may be persisted in the background',
    )
    this.#readyOutstanding = false
    if (rd.softState !== null) this.#prevSoft = rd.softState
    if (rd.hardState !== null) this.#prevHard = rd.hardState
    this.#prevAcknowledged = rd.acknowledgedIndex
    if (rd.snapshot !== null) {
      if (this.#snapshotToPersist === rd.snapshot) this.#snapshotToPersist = null
      if (rd.snapshot.meta.index > this.#snapshot.meta.index) this.#snapshot = rd.snapshot
      this.log.stableAtLeast(rd.snapshot.meta.index)
    }
    const last = rd.entries[rd.entries.length - 1]
    if (last !== undefined) {
      if (durable) this.#entriesDurable(last.index, last.term)
      else this.log.persistingTo(last.index)
    }
    for (const entry of rd.committedEntries) {
      invariant(entry.index === this.log.applied + 1, 'committed entries are applied in order')
      this.log.applied = entry.index
      if (entry.kind === 'conf') this.#applyConfChange(entry.change)
    }
    if (rd.committedEntries.length > 0 || rd.snapshot !== null) this.#reportApplied()
  }

  /**
   * Entries up to (`index`, `term`) that the driver persisted in the background
   * (`advance` with `entriesDurable: false`) are durable now; ignored when they
   * were replaced meanwhile (a new leader's entries at the same index).
   */
  entriesPersisted(index: number, term: number): void {
    this.#assertNoReady()
    this.#entriesDurable(index, term)
  }

  #entriesDurable(index: number, term: number): void {
    this.log.stableTo(index, term)
    // The leader's own entries count towards a quorum once durable, not when appended (thesis §10.2.1).
    const self = this.#role === 'leader' ? this.#prs.get(this.id) : undefined
    if (self?.maybeUpdate(this.log.stableIndex) && this.#maybeCommit()) this.#sendEmptyDue = true
  }

  status(): RaftStatus {
    const followers: FollowerStatus[] = []
    if (this.#role === 'leader') {
      for (const [id, pr] of this.#quiesced ? this.#fullProgress() : this.#prs) {
        if (id === this.id) continue
        followers.push({
          id,
          match: pr.match,
          next: pr.next,
          state: pr.state,
          learner: pr.isLearner,
          lag: this.log.lastIndex() - pr.match,
        })
      }
    }
    return {
      id: this.id,
      role: this.#role,
      term: this.#term,
      leader: this.#leader,
      commitIndex: this.log.committed,
      appliedIndex: this.log.applied,
      lastIndex: this.log.lastIndex(),
      snapshotIndex: this.log.snapshotIndex,
      confState: this.confState(),
      quiesced: this.#quiesced,
      followers,
      outsiderMessagesIgnored: this.#outsiderMessagesIgnored,
      acknowledgedIndex: this.acknowledgedIndex,
      followerLease: this.followerReadIndex() === null ? null : this.#lease,
      leaseGrantsLive: this.#grants?.size ?? 0,
      leaseGrantsIssued: this.#leaseGrantsIssued,
      leaseGrantsExpired: this.#leaseGrantsExpired,
    }
  }

  // ---- terms and votes --------------------------------------------------

  /**
   * A message from outside this member's configuration (a node never added,
   * one removed, a forged sender) is ignored while this member follows or is
   * a leader it heard from within the election timeout (quiesced time does
   * not count, and such a message does not wake a quiesced member): it could
   * otherwise raise the term and depose the leader, win a vote, or append
   * entries at the current term. The leader already followed is always heard (a member still
   * replaying the log that added its leader), and so is anyone while no leader
   * is known or the lease lapsed, or while this member has no configuration
   * yet (a new member learning it), so a member whose configuration lags
   * still finds the current leader within an election timeout.
   */
  #fromOutsider(m: Message): boolean {
    if (this.isMember(m.from) || m.from === this.#leader || this.#voters.length === 0) return false
    if (!this.#config.checkQuorum || this.#leader === null) return false
    return this.#role === 'leader' || this.#silentTicks < this.#config.electionTicks
  }

  /** Applies the term rules common to every role; false means drop the message. */
  #stepTerm(m: Message): boolean {
    if (m.term > this.#term) {
      if (m.type === 'vote') {
        // A member that heard from a leader within the election timeout ignores
        // votes (leader stickiness, thesis §4.2.3), unless a transfer asked for it.
        // A member that lost its connection to that leader (and heard nothing from it since)
        // no longer holds to it (see `leaderUnreachable`).
        const inLease =
          this.#config.checkQuorum &&
          this.#leader !== null &&
          this.#electionElapsed < this.#config.electionTicks &&
          this.#silentTicks < this.#config.electionTicks &&
          !this.#lostLeader()
        if (inLease && !m.transfer) return false
        if (m.pre) return true
      }
      if (m.type === 'voteResponse' && m.pre && !m.reject) return true
      const fromLeader = m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot'
      this.#becomeFollower(m.term, fromLeader ? this.#known(m.from) : null)
      return true
    }
    if (m.term < this.#term) {
      if (m.type === 'append' || m.type === 'heartbeat') {
        // Tell a stale leader about the newer term so it steps down.
        this.#send({ ...this.#appendAck(m.from, 0), reject: false })
      } else if (m.type === 'vote' && m.pre) {
        this.#send({
          type: 'voteResponse',
          from: this.id,
          to: m.from,
          term: this.#term,
          pre: true,
          reject: true,
        })
      }
      return false
    }
    return true
  }

  /** Whether the leader followed now is the one whose connection was reported lost. */
  #lostLeader(): boolean {
    const lost = this.#leaderLost
    return lost !== null && lost.id === this.#leader && lost.term === this.#term
  }

  /**
   * Two members that campaign at once with the same log would grant each
   * other's pre-votes and then split the real vote, costing an election
   * timeout (likely when every follower learns of the leader's death at the
   * same moment, see `leaderUnreachable`). A pre-candidate therefore refuses a
   * rival pre-candidate's pre-vote whose log equals its own when the rival's id is
   * the higher one: of two such rivals exactly one goes on. Pre-votes decide
   * nothing (thesis §9.6), so this touches liveness only.
   */
  #rivalYields(m: VoteMessage): boolean {
    return (
      m.pre &&
      this.#role === 'preCandidate' &&
      m.term === this.#term + 1 &&
      m.index === this.log.lastIndex() &&
      m.logTerm === this.log.lastTerm() &&
      m.from > this.id
    )
  }

  #handleVote(m: VoteMessage): void {
    const canVote =
      this.#vote === m.from ||
      (this.#vote === null && this.#leader === null) ||
      (m.pre && m.term > this.#term)
    const grant = canVote && this.log.isUpToDate(m.index, m.logTerm) && !this.#rivalYields(m)
    const term = grant ? m.term : this.#term
    this.#send({ type: 'voteResponse', from: this.id, to: m.from, term, pre: m.pre, reject: !grant })
    if (grant && !m.pre) {
      this.#electionElapsed = 0
      this.#vote = this.#known(m.from)
    }
  }

  #campaign(kind: 'pre' | 'real' | 'transfer'): void {
    const pre = kind === 'pre'
    const transfer = kind === 'transfer'
    if (pre) {
      this.#reset(this.#term)
      this.#role = 'preCandidate'
    } else {
      this.#reset(this.#term + 1)
      this.#role = 'candidate'
      this.#vote = this.id
    }
    this.#leader = null
    this.#votes = new Map([[this.id, true]])
    if (this.#tallyVotes(pre)) return
    const term = pre ? this.#term + 1 : this.#term
    for (const to of this.#voters) {
      if (to === this.id) continue
      this.#send({
        type: 'vote',
        from: this.id,
        to,
        term,
        pre,
        index: this.log.lastIndex(),
        logTerm: this.log.lastTerm(),
        transfer,
      })
    }
  }

  /** Counts votes; returns true when the election is decided. */
  #tallyVotes(pre: boolean): boolean {
    let granted = 0
    let rejected = 0
    for (const [id, vote] of this.#votes ?? NO_VOTES) {
      if (!this.#voters.includes(id)) continue
      if (vote) granted++
      else rejected++
    }
    const outcome = voteOutcome(this.#voters.length, granted, rejected)
    if (outcome === 'won') {
      if (pre) this.#campaign('real')
      else this.#becomeLeader()
      return true
    }
    if (outcome === 'lost') {
      this.#becomeFollower(this.#term, null)
      return true
    }
    return false
  }

  // ---- roles ------------------------------------------------------------

  #reset(term: number): void {
    if (term !== this.#term) {
      this.#term = term
      this.#vote = null
    }
    this.#leader = null
    this.#quiesced = false
    this.#electionElapsed = 0
    this.#silentTicks = 0
    this.#heartbeatElapsed = 0
    this.#resetElectionTimer()
    this.#transferee = null
    this.#progress = null
    this.#votes = null
    this.#pendingReads = null
    this.#readsAwaitingCommit = null
    this.#readHeartbeatDue = false
    this.#sendDue = null
    this.#sendEmptyDue = false
    this.#dropLease()
    this.#grants = null
    this.#unheard = null
  }

  #becomeFollower(term: number, leader: NodeId | null): void {
    this.#reset(term)
    this.#role = 'follower'
    this.#leader = leader
  }

  #becomeLeader(): void {
    invariant(this.#role === 'candidate', 'only a candidate becomes leader')
    this.#reset(this.#term)
    this.#role = 'leader'
    this.#leader = this.id
    const next = this.log.lastIndex() + 1
    const progress = new Map<NodeId, Progress>()
    for (const id of this.#voters) progress.set(id, new Progress(next, false))
    for (const id of this.#learners) progress.set(id, new Progress(next, true))
    this.#progress = progress
    const self = progress.get(this.id) as Progress
    self.match = this.log.stableIndex
    self.becomeReplicate()
    // No membership change until this term's first entry is applied, which also
    // closes the single-server-change hazard across leader changes (thesis §4.1 erratum).
    this.#appendAsLeader([{ kind: 'normal', term: this.#term, index: next, data: NO_BYTES }])
    this.#pendingConfIndex = next
    this.#startLeaseFence()
  }

  #tickElection(): void {
    this.#electionElapsed++
    // A learner never campaigns: one that missed the quiescing heartbeat falls
    // silent after an election timeout without news instead of ticking forever.
    if (this.#config.quiesce && !this.#promotable() && this.#electionElapsed >= this.#config.electionTicks) {
      this.#quiesced = true
      this.#electionElapsed = 0
      this.#dropLease()
      // It heard no leader for an election timeout: a leader it does not know
      // (its configuration may lag) must be heard, and wakes it.
      // Nor does it hold to the leader it followed against campaigns any more (the
      // stickiness check below reads #silentTicks): its clock stands still while
      // quiesced and each wake restarts it, so leader stickiness (thesis §4.2.3)
      // would otherwise refuse every vote for ever: a learner promoted while cut off,
      // whose leader then removed itself, is the remaining voter's only possible
      // majority, and it never campaigns itself. It still names that leader until it
      // hears of another (a learner of an idle, quiesced group keeps knowing it).
      this.#silentTicks = this.#config.electionTicks
      return
    }
    if (this.#promotable() && this.#electionElapsed >= this.#randomizedElectionTicks) {
      this.#electionElapsed = 0
      this.#campaign(this.#config.preVote ? 'pre' : 'real')
    }
  }

  #tickLeader(): void {
    this.#heartbeatElapsed++
    this.#electionElapsed++
    if (this.#electionElapsed >= this.#config.electionTicks) {
      this.#electionElapsed = 0
      if (this.#config.checkQuorum && !this.#quorumActive()) {
        this.#becomeFollower(this.#term, null)
        return
      }
      this.#transferee = null
    }
    if (this.#heartbeatElapsed >= this.#config.heartbeatTicks) {
      this.#heartbeatElapsed = 0
      this.#broadcastHeartbeat()
      this.#resendStalledSnapshots()
    }
  }

  /** CheckQuorum: did a quorum of voters speak to us since the last sweep? Clears the marks. */
  #quorumActive(): boolean {
    let active = 0
    for (const [id, pr] of this.#prs) {
      if (id === this.id) {
        active += this.#voters.includes(id) ? 1 : 0
        continue
      }
      if (pr.recentActive && !pr.isLearner) active++
      pr.recentActive = false
    }
    return active >= majority(this.#voters.length)
  }

  #promotable(): boolean {
    return this.#voters.includes(this.id)
  }

  #resetElectionTimer(): void {
    const base = this.#config.electionTicks
    this.#randomizedElectionTicks = base + this.#rng.int(base)
  }

  // ---- follower and candidate ------------------------------------------

  #stepFollower(m: Message): void {
    switch (m.type) {
      case 'append':
        this.#electionElapsed = 0
        this.#silentTicks = 0
        this.#leader = this.#known(m.from)
        this.#handleAppend(m)
        break
      case 'heartbeat':
        this.#electionElapsed = 0
        this.#silentTicks = 0
        this.#leader = this.#known(m.from)
        this.#handleHeartbeat(m)
        break
      case 'snapshot':
        this.#electionElapsed = 0
        this.#silentTicks = 0
        this.#leader = this.#known(m.from)
        this.#handleSnapshotChunk(m)
        break
      case 'timeoutNow':
        if (this.#promotable()) this.#campaign('transfer')
        break
      default:
        break
    }
  }

  #stepCandidate(m: Message): void {
    switch (m.type) {
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        this.#becomeFollower(m.term, this.#known(m.from))
        this.#stepFollower(m)
        break
      case 'voteResponse':
        if (m.pre !== (this.#role === 'preCandidate')) return
        if (this.#votes === null) this.#votes = new Map()
        this.#votes.set(m.from, !m.reject)
        this.#tallyVotes(m.pre)
        break
      default:
        break
    }
  }

  #appendAck(to: NodeId, index: number): AppendResponse {
    return {
      type: 'appendResponse',
      from: this.id,
      to,
      term: this.#term,
      index,
      reject: false,
      hintIndex: 0,
      hintTerm: 0,
    }
  }

  #handleAppend(m: AppendMessage): void {
    if (m.index < this.log.committed) {
      this.#send(this.#appendAck(m.from, this.log.committed))
      return
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries)
    if (lastNew !== null) {
      this.#send(this.#appendAck(m.from, lastNew))
      return
    }
    const hint = this.log.conflictHint(Math.min(m.index, this.log.lastIndex()), m.logTerm)
    this.#send({
      ...this.#appendAck(m.from, m.index),
      reject: true,
      hintIndex: hint.index,
      hintTerm: hint.term,
    })
  }

  #handleHeartbeat(m: HeartbeatMessage): void {
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()))
    if (m.lease !== undefined && this.#role === 'follower' && this.#leader === m.from)
      this.#acceptLease(m.lease)
    if (m.quiesce && this.#role === 'follower' && this.#leader === m.from) {
      // Quiesce only holding exactly the leader's log, all of it committed; otherwise
      // answer as to any heartbeat, and the answer wakes the leader.
      const last = this.log.lastIndex()
      if (m.commit === last && this.log.committed === last && this.log.lastTerm() === m.term) {
        this.#quiesced = true
        this.#electionElapsed = 0
        // Its clock stands still while quiesced, so it could not tell its lease run out.
        this.#dropLease()
        return
      }
    }
    this.#send({ type: 'heartbeatResponse', from: this.id, to: m.from, term: this.#term, context: m.context })
  }

  /**
   * One piece of a snapshot stream. Pieces may come in any order, twice or
   * never; each is answered with the prefix received so far (cumulative), and
   * the image is installed once the prefix covers it.
   */
  #handleSnapshotChunk(m: SnapshotMessage): void {
    if (m.meta.index <= this.log.committed) {
      this.#incoming = null
      this.#send(this.#appendAck(m.from, this.log.committed))
      return
    }
    let incoming = this.#incoming
    if (incoming === null || !incoming.matches(m)) {
      incoming = new IncomingSnapshot(m)
      this.#incoming = incoming
    }
    incoming.accept(m.offset, m.chunk)
    if (!incoming.complete) {
      this.#send({
        type: 'snapshotResponse',
        from: this.id,
        to: m.from,
        term: this.#term,
        index: m.meta.index,
        received: incoming.received,
      })
      return
    }
    this.#incoming = null
    this.#restore({ meta: m.meta, data: incoming.data })
    // Acknowledge the snapshot position only: entries after it may still conflict.
    this.#send(this.#appendAck(m.from, m.meta.index))
  }

  #restore(snapshot: Snapshot): void {
    const meta = snapshot.meta
    if (this.log.matchTerm(meta.index, meta.term)) {
      // We already have the entries; only the commit index moves (etcd's fast-forward).
      this.log.commitTo(meta.index)
      return
    }
    this.log.restore(snapshot)
    this.#setConfState(meta.confState)
    this.#snapshotToPersist = snapshot
  }

  // ---- leader -----------------------------------------------------------

  #refuseProposal(): ProposeResult | null {
    if (this.#role !== 'leader') return { ok: false, reason: 'notLeader', leader: this.#leader }
    if (this.#transferee !== null) return { ok: false, reason: 'transferring', leader: this.#leader }
    return null
  }

  /** The leader's own match moves in `advance()`, once its entries are durable. */
  #appendAsLeader(entries: Entry[]): void {
    this.log.appendFrom(entries)
    for (const id of this.#prs.keys()) if (id !== this.id) this.#touchDue(id)
  }

  /** Raft §5.3–5.4.2: commit the quorum index when it is from the current term. */
  #maybeCommit(): boolean {
    const matches: number[] = []
    for (const id of this.#voters) matches.push(this.#prs.get(id)?.match ?? 0)
    const index = quorumIndex(matches)
    if (index <= this.log.committed || this.log.term(index) !== this.#term) return false
    this.log.commitTo(index)
    if (this.#readsAwaitingCommit !== null) {
      const waiting = this.#readsAwaitingCommit
      this.#readsAwaitingCommit = null
      for (const context of waiting) this.#startRead(context)
    }
    return true
  }

  #stepLeader(m: Message): void {
    const pr = this.#prs.get(m.from)
    if (pr === undefined) return
    pr.recentActive = true
    pr.lastActiveTick = this.#ticks
    this.#unheard?.delete(m.from)
    switch (m.type) {
      case 'appendResponse':
        this.#handleAppendResponse(m, pr)
        this.#handleLeaseFields(m)
        break
      case 'heartbeatResponse':
        this.#handleHeartbeatResponse(m, pr)
        this.#handleLeaseFields(m)
        break
      case 'snapshotResponse':
        this.#handleSnapshotResponse(m, pr)
        break
      default:
        break
    }
  }

  #handleAppendResponse(m: AppendResponse, pr: Progress): void {
    if (m.reject) {
      let hintIndex = m.hintIndex
      if (m.hintTerm > 0) hintIndex = this.log.conflictHint(m.hintIndex, m.hintTerm).index
      if (pr.maybeDecrease(m.index, hintIndex + 1)) this.#touchDue(m.from)
      return
    }
    const wasPaused = this.#paused(pr)
    if (!pr.maybeUpdate(m.index)) {
      if (wasPaused && !this.#paused(pr)) this.#touchDue(m.from)
      return
    }
    if (pr.state === 'probe') pr.becomeReplicate()
    else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) {
      pr.becomeProbe()
      pr.becomeReplicate()
    }
    if (this.#maybeCommit()) this.#sendEmptyDue = true
    if (pr.match < this.log.lastIndex()) this.#touchDue(m.from)
    if (this.#transferee === m.from && pr.match === this.log.lastIndex())
      this.#send({ type: 'timeoutNow', from: this.id, to: m.from, term: this.#term })
  }

  #handleHeartbeatResponse(m: HeartbeatResponse, pr: Progress): void {
    pr.probeSent = false
    if (pr.state !== 'snapshot' && pr.match < this.log.lastIndex()) {
      // Appends may have been lost: free one in-flight slot and send even an
      // empty append, whose rejection moves the follower back to probing.
      if (pr.state === 'replicate' && pr.inflightCount >= this.#config.maxInflightMessages) pr.freeFirst()
      this.#setDue(m.from, true)
    }
    if (m.context === null || !this.#voters.includes(m.from)) return
    const pending = this.#pendingReads
    const position = pending === null ? -1 : pending.findIndex((read) => read.context === m.context)
    if (pending === null || position < 0) return
    const read = pending[position] as PendingRead
    read.acks.add(m.from)
    if (read.acks.size < majority(this.#voters.length)) return
    // A quorum confirmed leadership after every earlier request too (etcd readOnly).
    if (this.#readStates === null) this.#readStates = []
    for (const done of pending.splice(0, position + 1))
      this.#readStates.push({ index: done.index, context: done.context })
    if (pending.length === 0) this.#pendingReads = null
  }

  #handleSnapshotResponse(m: SnapshotResponse, pr: Progress): void {
    if (pr.state !== 'snapshot' || m.index !== pr.pendingSnapshot) return
    pr.snapshotAcked(m.received)
    this.#sendSnapshotChunks(m.from, pr)
  }

  #startRead(context: string): void {
    if (this.#voters.length === 1 || (this.#config.leaseReads && this.#leaseValid())) {
      if (this.#readStates === null) this.#readStates = []
      this.#readStates.push({ index: this.log.committed, context })
      return
    }
    if (this.#pendingReads === null) this.#pendingReads = []
    this.#pendingReads.push({ context, index: this.log.committed, acks: new Set([this.id]) })
    this.#readHeartbeatDue = true
  }

  /**
   * The leader lease holds while a quorum heard from us within half an election
   * timeout: a follower that heard from the leader votes for nobody else for a
   * full election timeout (CheckQuorum), so the other half covers message delay
   * and clock drift between members. Outside the lease, reads take the
   * heartbeat round.
   */
  #leaseValid(): boolean {
    const horizon = this.#ticks - Math.floor(this.#config.electionTicks / 2)
    let fresh = 0
    for (const id of this.#voters) {
      if (id === this.id) fresh++
      else if ((this.#prs.get(id)?.lastActiveTick ?? Number.NEGATIVE_INFINITY) >= horizon) fresh++
    }
    return fresh >= majority(this.#voters.length)
  }

  #broadcastHeartbeat(): void {
    this.#readHeartbeatDue = false
    const context = this.#pendingReads?.at(-1)?.context ?? null
    for (const [to, pr] of this.#prs) {
      if (to === this.id) continue
      const commit = Math.min(pr.match, this.log.committed)
      this.#send({ type: 'heartbeat', from: this.id, to, term: this.#term, commit, context, quiesce: false })
    }
  }

  #resendStalledSnapshots(): void {
    for (const [to, pr] of this.#prs) {
      if (pr.state !== 'snapshot') continue
      pr.snapshotIdleTicks++
      const waitHeartbeats = Math.min(
        SNAPSHOT_RESEND_MAX_HEARTBEATS,
        SNAPSHOT_RESEND_HEARTBEATS * 2 ** pr.snapshotResends,
      )
      if (pr.snapshotIdleTicks < waitHeartbeats) continue
      // Nothing acknowledged for a while: what is in flight is presumed lost (go-back-N).
      pr.snapshotRewind(pr.snapshotOffset)
      pr.snapshotResends++
      this.#sendSnapshotChunks(to, pr)
    }
  }

  /** Sends what each due follower lacks; many proposals leave as one message. */
  #flushSends(): void {
    if (this.#readHeartbeatDue) this.#broadcastHeartbeat()
    if (this.#leaseRequestDue) this.#sendLeaseRequest()
    if (this.#role !== 'leader') {
      this.#sendDue = null
      this.#sendEmptyDue = false
      return
    }
    if (this.#sendEmptyDue) for (const id of this.#prs.keys()) this.#setDue(id, true)
    const due = this.#sendDue
    this.#sendDue = null
    this.#sendEmptyDue = false
    if (due === null) return
    for (const [to, sendEmpty] of due) {
      if (to === this.id) continue
      const pr = this.#prs.get(to)
      if (pr === undefined) continue
      let empty = sendEmpty || pr.state === 'probe'
      while (this.#sendAppend(to, pr, empty)) empty = false
    }
  }

  /** One append (or the start of a snapshot) to `to`; returns true when another may follow. */
  #sendAppend(to: NodeId, pr: Progress, sendIfEmpty: boolean): boolean {
    if (this.#paused(pr)) return false
    if (this.#catchUpBySnapshot(to, pr)) return false
    const prevIndex = pr.next - 1
    const prevTerm = this.log.term(prevIndex)
    const entries = this.log.slice(pr.next, this.log.lastIndex(), this.#config.maxMessageBytes)
    if (prevTerm === undefined || entries === null) {
      pr.becomeSnapshot(this.#snapshot.meta.index)
      this.#sendSnapshotChunks(to, pr)
      return false
    }
    if (entries.length === 0 && !sendIfEmpty) return false
    const commit = this.log.committed
    this.#send({
      type: 'append',
      from: this.id,
      to,
      term: this.#term,
      index: prevIndex,
      logTerm: prevTerm,
      entries,
      commit,
    })
    const last = entries[entries.length - 1]
    let bytes = 0
    for (const entry of entries) bytes += entryBytes(entry)
    pr.sentEntries(last === undefined ? prevIndex : last.index, entries.length, bytes)
    return pr.state === 'replicate' && entries.length > 0 && pr.next <= this.log.lastIndex()
  }

  /**
   * A new replica — one whose probe found its log empty (nothing
   * acknowledged, next entry 1) — that lacks more than
   * `catchUpSnapshotBytes` of entries starts from a snapshot: the latest one
   * when at most that many bytes follow it, otherwise a fresh one asked of
   * the driver, sending that replica nothing meanwhile. A new leader's
   * followers also start at match 0, but at next = its last index + 1 until
   * a probe says otherwise, so they are not taken for new replicas. Returns
   * true when it took care of `to`.
   */
  #catchUpBySnapshot(to: NodeId, pr: Progress): boolean {
    const limit = this.#config.catchUpSnapshotBytes
    if (limit === 0 || pr.match !== 0 || pr.next !== 1 || pr.state !== 'probe') return false
    if (!this.log.bytesExceed(pr.next, limit)) return false
    const snapshotIndex = this.#snapshot.meta.index
    if (snapshotIndex >= pr.next && !this.log.bytesExceed(snapshotIndex + 1, limit)) {
      pr.becomeSnapshot(snapshotIndex)
      this.#sendSnapshotChunks(to, pr)
      return true
    }
    this.#snapshotRequested = true
    return true
  }

  #paused(pr: Progress): boolean {
    return pr.isPaused(this.#config.maxInflightMessages, this.#config.maxInflightBytes)
  }

  /**
   * Fills the follower's snapshot window: chunks from `snapshotNext` while
   * fewer than `maxInflightSnapshotChunks` chunks' bytes are unacknowledged.
   * Chunks start at multiples of `snapshotChunkBytes`; an empty image is one
   * empty chunk at offset 0.
   */
  #sendSnapshotChunks(to: NodeId, pr: Progress): void {
    const snapshot = this.#snapshot
    if (pr.pendingSnapshot !== snapshot.meta.index) pr.becomeSnapshot(snapshot.meta.index)
    const total = snapshot.data.byteLength
    const chunkBytes = this.#config.snapshotChunkBytes
    const windowEnd = pr.snapshotOffset + this.#config.maxInflightSnapshotChunks * chunkBytes
    while ((pr.snapshotNext < total || pr.snapshotNext === 0) && pr.snapshotNext < windowEnd) {
      const offset = pr.snapshotNext - (pr.snapshotNext % chunkBytes)
      this.#send({
        type: 'snapshot',
        from: this.id,
        to,
        term: this.#term,
        meta: snapshot.meta,
        offset,
        chunk: snapshot.data.subarray(offset, offset + chunkBytes),
        totalBytes: total,
      })
      pr.snapshotNext = offset + chunkBytes
    }
  }

  // ---- quiescence -------------------------------------------------------

  /**
   * Idle and caught up: nothing to propose, read, transfer or send; the whole
   * log durable, committed and applied here; every live follower holds all of
   * it; a quorum of voters (the leader included) is among them. A peer reported
   * dead is left behind: it is caught up when it returns and wakes the group.
   */
  #canQuiesce(): boolean {
    if (this.#transferee !== null || this.#pendingReads !== null || this.#readsAwaitingCommit !== null)
      return false
    // Waking voids the lease (ticks stand still while quiet), so the next read would cost a
    // heartbeat round: a lease-reading leader stays awake for an election timeout after a read.
    const lastRead = this.#lastReadTick
    if (this.#config.leaseReads && lastRead !== null && this.#ticks - lastRead < this.#config.electionTicks)
      return false
    if (this.#sendDue !== null || this.#sendEmptyDue || this.#readHeartbeatDue) return false
    // Ticks stand still while quiet: live lease records and the new leader's fence must run out first.
    if (this.#grants !== null || this.#fenceActive()) return false
    const last = this.log.lastIndex()
    if (this.log.committed !== last || this.log.applied !== last || this.log.stableIndex !== last)
      return false
    let caughtUpVoters = 0
    for (const [id, pr] of this.#prs) {
      const caughtUp = id === this.id || (pr.match === last && pr.state === 'replicate')
      if (!caughtUp && !this.#isDead(id)) return false
      if (caughtUp && this.#voters.includes(id) && !this.#isDead(id)) caughtUpVoters++
    }
    return caughtUpVoters >= majority(this.#voters.length)
  }

  /** The leader's last word: a quiescing heartbeat to each live, caught-up follower. */
  #quiesce(): void {
    this.#quiesced = true
    const last = this.log.lastIndex()
    for (const [to, pr] of this.#prs) {
      if (to === this.id || this.#isDead(to) || pr.match !== last) continue
      this.#send({
        type: 'heartbeat',
        from: this.id,
        to,
        term: this.#term,
        commit: last,
        context: null,
        quiesce: true,
      })
    }
    // Every live follower holds the whole log now (#canQuiesce), so its progress
    // is known without storing it: only dead peers' entries are kept until #wake.
    let kept: Map<NodeId, Progress> | null = null
    for (const [id, pr] of this.#prs) {
      if (id === this.id || !this.#isDead(id)) continue
      if (kept === null) kept = new Map()
      kept.set(id, pr)
    }
    this.#progress = kept
  }

  /**
   * The progress of every member, with the entries a quiesced leader dropped
   * rebuilt as it left them: caught up to its last index, replicating, nothing
   * in flight. Members in configuration order, as in #becomeLeader.
   */
  #fullProgress(): Map<NodeId, Progress> {
    const last = this.log.lastIndex()
    const full = new Map<NodeId, Progress>()
    for (const [ids, learner] of [
      [this.#voters, false],
      [this.#learners, true],
    ] as const) {
      for (const id of ids) {
        let pr = this.#prs.get(id)
        if (pr === undefined) {
          pr = new Progress(last + 1, learner)
          pr.match = id === this.id ? this.log.stableIndex : last
          pr.becomeReplicate()
        }
        full.set(id, pr)
      }
    }
    return full
  }

  /**
   * Whether `m` ends quiescence: a request or new information, not a late echo
   * of the traffic that preceded it (answers to earlier heartbeats, duplicate
   * acknowledgements, the leader's own heartbeats), which would otherwise keep
   * waking a group that has nothing to do.
   */
  #wakesUp(m: Message): boolean {
    if (m.term < this.#term) return false
    switch (m.type) {
      case 'heartbeat':
        return m.term !== this.#term || m.from !== this.#leader
      case 'heartbeatResponse':
        // A follower asking for a read lease wakes its leader (see `noteLocalRead`).
        return m.term > this.#term || m.leaseRequestTick !== undefined
      case 'voteResponse':
      case 'snapshotResponse':
        return m.term > this.#term
      case 'appendResponse': {
        if (m.term > this.#term || m.leaseRequestTick !== undefined) return true
        if (this.#role !== 'leader' || !this.isMember(m.from)) return false
        // A live follower's progress was dropped at quiescence: it held the whole log.
        const match = this.#prs.get(m.from)?.match ?? this.log.lastIndex()
        return m.reject || m.index > match
      }
      default:
        return true
    }
  }

  #wake(): void {
    if (!this.#quiesced) return
    this.#quiesced = false
    this.#electionElapsed = 0
    if (this.#role !== 'leader') return
    this.#heartbeatElapsed = 0
    this.#progress = this.#fullProgress()
    for (const pr of this.#prs.values()) {
      // Ticks stood still while quiesced: no earlier contact may back a lease now.
      pr.lastActiveTick = Number.NEGATIVE_INFINITY
      pr.recentActive = false
    }
    // Wake the followers at once rather than at the next tick.
    this.#readHeartbeatDue = true
  }

  /**
   * Whether `m` may leave before the Ready's persistence completes: a leader's
   * replication traffic in a term already durable (thesis §10.2.1). Votes,
   * their answers and acknowledgements wait for the fsync.
   */
  #sendsEarly(m: Message): boolean {
    if (m.term !== this.#prevHard.term) return false
    return m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot' || m.type === 'timeoutNow'
  }

  // ---- follower read leases (read-lease.ts) ------------------------------

  #computeAcknowledged(): number {
    const committed = this.log.committed
    if (this.#config.followerLeaseTicks === 0) return committed
    // A member that granted leases acknowledges nothing more until their records ran out.
    if (this.#role !== 'leader') return this.#ticks >= this.#grantsEndTick ? committed : this.#acknowledged
    if (this.#fenceActive()) return this.#acknowledged
    return Math.min(committed, this.#grants?.appliedFloor() ?? committed)
  }

  /** A new leader's fence: followers may still hold leases an earlier leader granted. */
  #startLeaseFence(): void {
    if (this.#config.followerLeaseTicks === 0) return
    const others = [...this.#voters, ...this.#learners].filter((id) => id !== this.id)
    if (others.length === 0) return
    this.#unheard = new Set(others)
    this.#fenceEndTick = this.#ticks + this.#config.followerLeaseTicks + 1
  }

  #fenceActive(): boolean {
    if (this.#unheard === null) return false
    if (this.#unheard.size > 0 && this.#ticks < this.#fenceEndTick) return true
    this.#unheard = null
    return false
  }

  #expireGrants(): void {
    if (this.#grants === null) return
    this.#leaseGrantsExpired += this.#grants.expire(this.#ticks)
    if (this.#grants.size === 0) this.#grants = null
  }

  #handleLeaseFields(m: AppendResponse | HeartbeatResponse): void {
    if (m.applied !== undefined) this.#grants?.noteApplied(m.from, m.applied)
    if (m.leaseRequestTick !== undefined) this.#maybeGrant(m.from, m.leaseRequestTick, m.applied ?? 0)
  }

  /**
   * Grants only while holding the leader lease (no other leader can exist
   * before it ends), not while handing leadership over, and once an entry of
   * this term is committed (its commit index then covers every index an
   * earlier leader acknowledged).
   */
  #maybeGrant(to: NodeId, requestTick: number, applied: number): void {
    const duration = this.#config.followerLeaseTicks
    const pr = this.#prs.get(to)
    if (duration === 0 || pr === undefined || to === this.id || this.#transferee !== null) return
    if (this.log.term(this.log.committed) !== this.#term || !this.#leaseValid()) return
    const expiresTick = this.#ticks + duration
    if (this.#grants === null) this.#grants = new LeaseGrants()
    this.#grants.grant(to, expiresTick, applied)
    this.#grantsEndTick = Math.max(this.#grantsEndTick, expiresTick)
    this.#leaseGrantsIssued++
    this.#send({
      type: 'heartbeat',
      from: this.id,
      to,
      term: this.#term,
      commit: Math.min(pr.match, this.log.committed),
      context: null,
      quiesce: false,
      lease: { requestTick, index: this.log.committed },
    })
  }

  #acceptLease(grant: LeaseGrant): void {
    // Only an answer to a request of this member in this term: its clock started with it.
    if (this.#leaseRequests?.has(grant.requestTick) !== true) return
    const expiresTick = grant.requestTick + followerLeaseHoldTicks(this.#config)
    if (expiresTick <= this.#ticks) return
    const held = this.followerReadIndex() === null ? null : this.#lease
    this.#lease = {
      index: Math.max(grant.index, held?.index ?? 0),
      expiresTick: Math.max(expiresTick, held?.expiresTick ?? 0),
    }
  }

  #dropLease(): void {
    this.#lease = null
    this.#leaseRequests = null
    this.#leaseRequestDue = false
  }

  /** Reads came within a lease's length, and the lease is missing or past half its life. */
  #wantsLease(): boolean {
    if (this.#role !== 'follower' || this.#leader === null) return false
    const duration = this.#config.followerLeaseTicks
    const lastRead = this.#lastLocalReadTick
    if (duration === 0 || lastRead === null || this.#ticks - lastRead > duration) return false
    const lease = this.followerReadIndex() === null ? null : this.#lease
    const hold = followerLeaseHoldTicks(this.#config)
    // Past half its life: renewals start early enough to arrive while it still holds.
    return lease === null || this.#ticks >= lease.expiresTick - Math.ceil(hold / 2)
  }

  #sendLeaseRequest(): void {
    this.#leaseRequestDue = false
    const leader = this.#leader
    if (leader === null || !this.#wantsLease()) return
    this.#send({ type: 'heartbeatResponse', from: this.id, to: leader, term: this.#term, context: null })
  }

  /**
   * A follower that asked for a lease lately tells its leader what it has
   * applied as soon as it has, so acknowledgements wait for it no longer
   * than they must (its answers to appends leave before it applies).
   */
  #reportApplied(): void {
    const leader = this.#leader
    if (this.#role !== 'follower' || leader === null || this.#quiesced) return
    const duration = this.#config.followerLeaseTicks
    const last = this.#leaseRequests?.last ?? Number.NEGATIVE_INFINITY
    if (duration === 0 || this.#ticks - last > 2 * duration + 2) return
    this.#send(this.#appendAck(leader, this.log.committed))
  }

  /** A follower's answers to its leader carry its applied index, and a lease request when one is wanted. */
  #withLeaseFields(m: Message): Message {
    if (m.type !== 'appendResponse' && m.type !== 'heartbeatResponse') return m
    if (this.#config.followerLeaseTicks === 0 || this.#role !== 'follower' || m.to !== this.#leader) return m
    const applied = this.log.applied
    if (!this.#wantsLease()) return { ...m, applied }
    if (this.#leaseRequests === null) this.#leaseRequests = new LeaseRequests()
    this.#leaseRequests.add(this.#ticks, followerLeaseHoldTicks(this.#config))
    this.#leaseRequestDue = false
    return { ...m, applied, leaseRequestTick: this.#ticks }
  }

  // ---- membership -------------------------------------------------------

  #validConfChange(change: ConfChange): boolean {
    switch (change.type) {
      case 'addVoter':
        return !this.#voters.includes(change.node)
      case 'addLearner':
        return !this.#voters.includes(change.node) && !this.#learners.includes(change.node)
      case 'remove':
        return (
          (this.#voters.includes(change.node) && this.#voters.length > 1) ||
          this.#learners.includes(change.node)
        )
    }
  }

  #setConfState(conf: ConfState): void {
    this.#voters = conf.voters.length === 0 ? NO_IDS : conf.voters
    this.#learners = conf.learners.length === 0 ? NO_IDS : conf.learners
  }

  /** A committed change takes effect when applied (etcd's rule; one pending at a time keeps it safe). */
  #applyConfChange(change: ConfChange): void {
    const node = change.node
    if (change.type === 'addVoter') {
      this.#learners = without(this.#learners, node)
      if (!this.#voters.includes(node)) this.#voters = this.#voters.concat(node)
    } else if (change.type === 'addLearner') {
      if (!this.#voters.includes(node) && !this.#learners.includes(node))
        this.#learners = this.#learners.concat(node)
    } else {
      this.#voters = without(this.#voters, node)
      this.#learners = without(this.#learners, node)
    }
    if (this.#role !== 'leader') return
    if (change.type === 'remove') {
      this.#progress?.delete(node)
      if (this.#transferee === node) this.#transferee = null
      if (node === this.id) {
        this.#becomeFollower(this.#term, null)
        return
      }
    } else {
      // A member joining during the fence may hold a lease from an earlier term too.
      this.#unheard?.add(node)
      const pr = this.#prs.get(node)
      if (pr === undefined)
        this.#progress?.set(node, new Progress(this.log.lastIndex() + 1, change.type === 'addLearner'))
      else pr.isLearner = change.type === 'addLearner'
      this.#setDue(node, true)
    }
    if (this.#maybeCommit()) this.#sendEmptyDue = true
  }

  // ---- plumbing ---------------------------------------------------------

  #send(m: Message): void {
    if (this.#messages === null) this.#messages = []
    this.#messages.push(this.#withLeaseFields(m))
  }

  /** The leader's progress of each member; empty when not leading. */
  get #prs(): ReadonlyMap<NodeId, Progress> {
    return this.#progress ?? NO_PROGRESS
  }

  /**
   * `id` as the member list holds it. A decoded message carries its own copy
   * of each id; keeping that copy as leader or vote would cost every idle
   * group a string of its own (a libp2p peer id is about 80 bytes).
   */
  #known(id: NodeId): NodeId {
    return this.#voters.find((v) => v === id) ?? this.#learners.find((l) => l === id) ?? id
  }

  #isDead(id: NodeId): boolean {
    return this.#deadPeers?.has(id) ?? false
  }

  /** `to` is owed an append at the next ready(), with an empty one if `sendEmpty`. */
  #setDue(to: NodeId, sendEmpty: boolean): void {
    if (this.#sendDue === null) this.#sendDue = new Map()
    this.#sendDue.set(to, sendEmpty)
  }

  /** `to` is owed an append (keeping an empty one already owed). */
  #touchDue(to: NodeId): void {
    if (this.#sendDue?.has(to) !== true) this.#setDue(to, false)
  }

  #hardState(): HardState {
    return { term: this.#term, vote: this.#vote, commit: this.log.committed }
  }

  #softState(): SoftState {
    return { role: this.#role, leader: this.#leader, term: this.#term }
  }

  #assertNoReady(): void {
    invariant(!this.#readyOutstanding, 'no calls between ready() and advance()')
  }
}

const NO_IDS: readonly NodeId[] = Object.freeze([])
const NO_MESSAGES: readonly Message[] = Object.freeze([])
const NO_READ_STATES: readonly ReadState[] = Object.freeze([])
const NO_VOTES: ReadonlyMap<NodeId, boolean> = new Map()
const NO_PROGRESS: ReadonlyMap<NodeId, Progress> = new Map()

function without(ids: readonly NodeId[], id: NodeId): readonly NodeId[] {
  if (!ids.includes(id)) return ids
  const rest = ids.filter((other) => other !== id)
  return rest.length === 0 ? NO_IDS : rest
}

function sameHard(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit
}

function sameSoft(a: SoftState, b: SoftState): boolean {
  return a.role === b.role && a.leader === b.leader && a.term === b.term
}
