import type { NodeId } from './types.ts'

/** The injected randomness source; `@shoal/testkit`'s `Rng` satisfies it. */
export interface RaftRng {
  /** An integer in [0, bound). */
  int(bound: number): number
}

/** Configuration of one member of one group. Times are in ticks; the driver decides a tick's length. */
export interface RaftConfig {
  /** This member's id. */
  id: NodeId
  /**
   * A follower that hears nothing from a leader for a random number of ticks in
   * [electionTicks, 2 × electionTicks) campaigns. @defaultValue 10
   */
  electionTicks: number
  /** A leader sends heartbeats every `heartbeatTicks`. Must be < electionTicks. @defaultValue 1 */
  heartbeatTicks: number
  /** Run a pre-vote before a real election so a partitioned member cannot inflate terms. @defaultValue true */
  preVote: boolean
  /**
   * A leader that has not heard from a quorum within one election timeout steps
   * down; followers ignore votes while they hear from a leader. @defaultValue true
   */
  checkQuorum: boolean
  /**
   * Serve ReadIndex from the leader lease (no heartbeat round) instead of
   * confirming leadership with a quorum. Relies on bounded clock drift; requires
   * checkQuorum. With `quiesce`, a leader stays awake (heartbeating) for
   * `electionTicks` after its last read, so that reads keep finding a valid
   * lease; waking from quiescence voids it. @defaultValue false
   */
  leaseReads: boolean
  /** Upper bound on the bytes of entries in one append message. @defaultValue 1 MiB */
  maxMessageBytes: number
  /** Maximum append messages in flight to one follower (flow control). @defaultValue 256 */
  maxInflightMessages: number
  /** Maximum entry bytes in flight to one follower (flow control). @defaultValue 32 MiB */
  maxInflightBytes: number
  /** Snapshot bytes per snapshot message. @defaultValue 1 MiB */
  snapshotChunkBytes: number
  /**
   * Snapshot chunks in flight to one follower: the leader streams a snapshot
   * in a window of this many chunks, each acknowledgement (cumulative, in
   * bytes) opening room for more, so a transfer is bound by bandwidth rather
   * than by one round trip per chunk. 1 is stop-and-wait. Up to
   * `maxInflightSnapshotChunks × snapshotChunkBytes` bytes are in flight.
   * @defaultValue 8
   */
  maxInflightSnapshotChunks: number
  /**
   * A new replica (a follower whose log the leader's probe found empty) that
   * lacks more than this many bytes of entries catches up by a snapshot of the
   * current state and then the entries after it, instead of replaying the
   * whole log: the leader sends its latest snapshot when at most this many
   * bytes follow it, and otherwise asks its driver for a fresh one
   * (`Ready.snapshotRequested`, answered with `offerSnapshot`), sending that
   * replica nothing meanwhile. A member that already holds entries (one that
   * restarted) always catches up from its own log. 0 turns it off.
   * @defaultValue 8 MiB
   */
  catchUpSnapshotBytes: number
  /**
   * Let an idle group fall silent: a leader whose followers all hold its whole
   * log (peers reported dead excepted) sends one quiescing heartbeat and stops
   * ticking, and so do its followers, until a request, a message or a liveness
   * change wakes them. Only safe where a node-level failure detector reports
   * dead peers through `setPeerLiveness` (a multi-raft host fed by SWIM): a
   * quiesced follower does not notice on its own that its leader died.
   * @defaultValue false
   */
  quiesce: boolean
  /**
   * A follower whose driver reports the connection to its leader lost
   * (`RaftCore.leaderUnreachable`: the leader's process died, so its socket
   * closed) campaigns after a random number of ticks in [1,
   * leaderLossCampaignTicks] instead of a whole election timeout; the spread
   * keeps two followers from splitting the vote. Must be ≤ electionTicks.
   * @defaultValue 3
   */
  leaderLossCampaignTicks: number
  /**
   * Follower read leases (0: off). A leader holding its own lease grants a
   * follower that asks a read lease of `followerLeaseTicks` (its own clock,
   * from when it received the request) and reports an entry as acknowledged
   * (`acknowledgedIndex`) only once every follower whose lease it has not yet
   * seen expire has applied it. A follower holding a lease serves reads from
   * its own state once applied up to the grant's index (`followerReadIndex`),
   * for `followerLeaseHoldTicks(config)` ticks of its own clock from the
   * moment it asked. A new leader acknowledges nothing until every member has
   * heard its term or `followerLeaseTicks + 1` ticks have passed. Requires
   * `leaseReads`; relies on the same bounded clock drift. About half of
   * `electionTicks` is a good value: a follower that stops answering holds
   * acknowledgements back for at most this long. @defaultValue 0
   */
  followerLeaseTicks: number
  /**
   * The fraction of `followerLeaseTicks` a follower gives up to clock drift:
   * it holds its lease `floor(followerLeaseTicks × (1 − margin)) − 1` ticks,
   * the one tick covering the granularity of both clocks. Clocks may drift
   * apart by up to this fraction. @defaultValue 0.2
   */
  followerLeaseDriftMargin: number
}

export const DEFAULT_RAFT_CONFIG: Readonly<Omit<RaftConfig, 'id'>> = Object.freeze({
  electionTicks: 10,
  heartbeatTicks: 1,
  preVote: true,
  checkQuorum: true,
  leaseReads: false,
  maxMessageBytes: 1024 * 1024,
  maxInflightMessages: 256,
  maxInflightBytes: 32 * 1024 * 1024,
  snapshotChunkBytes: 1024 * 1024,
  maxInflightSnapshotChunks: 8,
  catchUpSnapshotBytes: 8 * 1024 * 1024,
  quiesce: false,
  leaderLossCampaignTicks: 3,
  followerLeaseTicks: 0,
  followerLeaseDriftMargin: 0.2,
})

/** Thrown by `resolveRaftConfig` for a configuration that cannot work. */
export class RaftConfigError extends Error {
  override readonly name = 'RaftConfigError'
  readonly code = 'RAFT_CONFIG'
}

/** Fills defaults and validates the relations between fields. */
export function resolveRaftConfig(partial: Partial<RaftConfig> & { id: NodeId }): RaftConfig {
  const config: RaftConfig = { ...DEFAULT_RAFT_CONFIG, ...partial }
  const positive: Array<keyof RaftConfig> = [
    'electionTicks',
    'heartbeatTicks',
    'maxMessageBytes',
    'maxInflightMessages',
    'maxInflightBytes',
    'snapshotChunkBytes',
    'maxInflightSnapshotChunks',
    'leaderLossCampaignTicks',
  ]
  for (const key of positive) {
    const value = config[key]
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0)
      throw new RaftConfigError(`${key} must be a positive integer, got ${String(value)}`)
  }
  const catchUp = config.catchUpSnapshotBytes
  if (typeof catchUp !== 'number' || !Number.isInteger(catchUp) || catchUp < 0)
    throw new RaftConfigError(`catchUpSnapshotBytes must be a non-negative integer, got ${String(catchUp)}`)
  if (config.heartbeatTicks >= config.electionTicks)
    throw new RaftConfigError('heartbeatTicks must be smaller than electionTicks')
  if (config.leaderLossCampaignTicks > config.electionTicks)
    throw new RaftConfigError('leaderLossCampaignTicks must not exceed electionTicks')
  if (config.leaseReads && !config.checkQuorum) throw new RaftConfigError('leaseReads requires checkQuorum')
  validateFollowerLease(config)
  if (config.id === '') throw new RaftConfigError('id must not be empty')
  return config
}

/** How long a follower holds a read lease on its own clock, from the tick it asked. */
export function followerLeaseHoldTicks(config: RaftConfig): number {
  return Math.floor(config.followerLeaseTicks * (1 - config.followerLeaseDriftMargin)) - 1
}

function validateFollowerLease(config: RaftConfig): void {
  const ticks = config.followerLeaseTicks
  const margin = config.followerLeaseDriftMargin
  if (typeof ticks !== 'number' || !Number.isInteger(ticks) || ticks < 0)
    throw new RaftConfigError(`followerLeaseTicks must be a non-negative integer, got ${String(ticks)}`)
  if (typeof margin !== 'number' || !(margin >= 0 && margin < 1))
    throw new RaftConfigError(`followerLeaseDriftMargin must be in [0, 1), got ${String(margin)}`)
  if (ticks === 0) return
  if (!config.leaseReads) throw new RaftConfigError('followerLeaseTicks requires leaseReads')
  if (followerLeaseHoldTicks(config) < 1)
    throw new RaftConfigError(
      `followerLeaseTicks ${ticks} with drift margin ${margin} leaves a follower no whole tick of lease`,
    )
}
