/**
 * Attempts of shard reads (shard-rpc.ts `readShards`): how long the reader waits for one replica
 * before it looks for another, and how each attempt ended, for `shoal_shard_read_attempts_total`.
 *
 * A read has a deadline (10 s for a strong search). Within it, each request to a replica is one
 * attempt. An attempt that has not answered within the attempt time-out is not abandoned: its
 * answer is still taken if it comes while the shard is unread. But the reader stops waiting on it
 * alone, wakes its own replica of the shard (a quiesced follower would otherwise hear nothing until
 * the node is declared dead) and asks the shard's current leader as the replicas name it, or the
 * next replica; it does not ask the silent node again while that attempt runs. A strong read at
 * another replica goes through that replica's own leader check (ReadIndex or a valid lease), so a
 * retry never serves a strong read from a replica that cannot prove leadership, and each shard's
 * answer comes from exactly one attempt: the first that answered.
 */

/** How an attempt ended. */
export type ShardReadOutcome =
  /** The replica answered the shard's value (or its own typed error: an unknown document, a bad parameter). */
  | 'answered'
  /** The replica does not lead the shard, or could not confirm its leadership (strong reads). */
  | 'not_leader'
  /** The replica cannot serve it now: no replica of the shard there, stopped, or catching up. */
  | 'unavailable'
  /** No answer within the attempt time-out; the reader moved on (a later answer still counts). */
  | 'timeout'
  /** The request failed: the node could not be reached, the connection broke, or it answered no shard reply. */
  | 'unreachable'

export const SHARD_READ_OUTCOMES: readonly ShardReadOutcome[] = Object.freeze([
  'answered',
  'not_leader',
  'unavailable',
  'timeout',
  'unreachable',
])

/**
 * The attempt time-out when the caller does not set one: the longest election timeout of the
 * node's Raft groups (`ClusterNode.electionTimeoutMs`, 2 s with the default 100 ms tick), at least
 * `MIN_ATTEMPT_MS`. A leader silent that long has, if it is really gone, been replaced (or is being
 * replaced: its followers campaign after at most that long without news); one merely slow keeps
 * its attempt running, so a short time-out costs it nothing but a question to the other replicas.
 * Never longer than the time left before the read's deadline.
 */
export function attemptTimeoutMs(electionTimeoutMs: number, remainingMs: number): number {
  return Math.max(1, Math.min(remainingMs, Math.max(MIN_ATTEMPT_MS, electionTimeoutMs)))
}

/** Floor of the default attempt time-out: a round trip and a ReadIndex round on a busy node. */
export const MIN_ATTEMPT_MS = 500

/**
 * Pause between rounds of a read that found no answer yet: 20 ms after the first round, growing
 * by 20 ms a round to 200 ms, so that an election (an election timeout) is polled a few times, not
 * hammered.
 */
export function retryBackoffMs(round: number): number {
  return Math.min(200, 20 * round)
}

/** The outcome of a replica's refusal code, or null for a code that is the shard's own answer. */
export function refusalOutcome(code: string): ShardReadOutcome | null {
  if (code === 'not_leader') return 'not_leader'
  if (code === 'unknown_group' || code === 'stopped' || code === 'replica_catching_up') return 'unavailable'
  return null
}

const counts = new Map<ShardReadOutcome, number>(SHARD_READ_OUTCOMES.map((o) => [o, 0]))

/** Counts `attempts` shard read attempts that ended with `outcome` (one per shard asked). */
export function countShardReadAttempts(outcome: ShardReadOutcome, attempts = 1): void {
  counts.set(outcome, (counts.get(outcome) ?? 0) + attempts)
}

/** Shard read attempts this node made, by outcome, since it started. */
export function shardReadAttempts(): ReadonlyMap<ShardReadOutcome, number> {
  return counts
}
