import type { ConfChange, ConfState, FollowerStatus } from '@shoal/raft'
import type { ShardReplica } from './metadata/types.ts'

export interface ShardStepInput {
  /** This node: the shard group's leader. */
  readonly self: string
  /** The shard's replicas as the metadata records them. */
  readonly replicas: readonly ShardReplica[]
  /** The shard group's Raft configuration. */
  readonly conf: ConfState
  /** The leader's view of its followers. */
  readonly followers: readonly FollowerStatus[]
  /** A learner is promoted once it lags the leader by at most this many entries. */
  readonly caughtUpEntries: number
  /** Whether a member is alive (SWIM); a dead member is never the target of a leadership transfer. */
  readonly alive: (nodeId: string) => boolean
  /**
   * Members the index's placement prefers as leader (`leaderPrefers`); empty or absent: no
   * preference. @defaultValue []
   */
  readonly preferredLeaders?: readonly string[]
}

/** The next step a shard's leader takes towards the recorded replicas. */
export type ShardStep =
  | { readonly kind: 'conf'; readonly change: ConfChange }
  | { readonly kind: 'transfer'; readonly to: string }
  /** Record progress in the metadata: the replica list to compare-and-set in place of `input.replicas`. */
  | { readonly kind: 'record'; readonly replicas: readonly ShardReplica[] }

/**
 * The next membership step of one shard group, taken by its leader, or null when the group's
 * configuration matches the metadata (or must wait: a learner still catching up). In order:
 * 1. a recorded replica missing from the group joins as a learner (it catches up by snapshot and log);
 * 2. a caught-up learner recorded as a voter is promoted;
 * 3. a newcomer that has reached its role is recorded `active`;
 * 4. a member not recorded (or recorded `removing`) leaves: a learner at once, a voter only once
 *    every recorded voter votes and no newcomer is still arriving, so removing it never costs the
 *    group a voter it had; when the leaver is this leader, leadership moves first to a caught-up voter;
 * 5. a `removing` replica that has left the group is dropped from the record;
 * 6. when the index prefers some members as leader and this leader is not one, leadership moves to
 *    a preferred voter that is live and caught up.
 * One change at a time (Raft thesis §4.1).
 */
export function planShardStep(input: ShardStepInput): ShardStep | null {
  const voters = new Set(input.conf.voters)
  const learners = new Set(input.conf.learners)
  const follower = new Map(input.followers.map((f) => [f.id, f]))
  const caughtUp = (id: string): boolean => {
    if (id === input.self) return true
    const f = follower.get(id)
    return f !== undefined && f.state === 'replicate' && f.lag <= input.caughtUpEntries
  }
  const keep = input.replicas.filter((r) => r.state !== 'removing')
  const keepIds = new Set(keep.map((r) => r.nodeId))
  // 1.
  for (const r of keep)
    if (!voters.has(r.nodeId) && !learners.has(r.nodeId))
      return { kind: 'conf', change: { type: 'addLearner', node: r.nodeId } }
  // 2.
  for (const r of keep)
    if (r.role === 'voter' && learners.has(r.nodeId) && caughtUp(r.nodeId))
      return { kind: 'conf', change: { type: 'addVoter', node: r.nodeId } }
  // 3.
  const arrived = (r: ShardReplica) =>
    r.state === 'initializing' && (r.role === 'voter' ? voters.has(r.nodeId) : learners.has(r.nodeId))
  if (keep.some(arrived))
    return {
      kind: 'record',
      replicas: input.replicas.map((r) => (arrived(r) ? { ...r, state: 'active' as const } : r)),
    }
  // 4.
  const leavers = [...learners, ...voters].filter((id) => !keepIds.has(id)).sort()
  for (const id of leavers)
    if (learners.has(id)) return { kind: 'conf', change: { type: 'remove', node: id } }
  const settled =
    keep.every((r) => r.state === 'active') &&
    keep.every((r) => (r.role === 'voter' ? voters.has(r.nodeId) : true))
  if (leavers.length > 0 && settled) {
    const others = leavers.filter((id) => id !== input.self)
    const leaver = others[0]
    if (leaver !== undefined) return { kind: 'conf', change: { type: 'remove', node: leaver } }
    // Only this leader leaves: hand leadership to the most caught-up live voter that stays.
    const heir = keep
      .filter(
        (r) => r.role === 'voter' && voters.has(r.nodeId) && input.alive(r.nodeId) && caughtUp(r.nodeId),
      )
      .map((r) => r.nodeId)
      .sort((a, b) => (follower.get(a)?.lag ?? 0) - (follower.get(b)?.lag ?? 0) || (a < b ? -1 : 1))[0]
    return heir === undefined ? null : { kind: 'transfer', to: heir }
  }
  // 5.
  const gone = input.replicas.filter(
    (r) => r.state === 'removing' && !voters.has(r.nodeId) && !learners.has(r.nodeId),
  )
  if (gone.length > 0) return { kind: 'record', replicas: input.replicas.filter((r) => !gone.includes(r)) }
  // 6.
  const preferred = input.preferredLeaders ?? []
  if (preferred.length === 0 || preferred.includes(input.self)) return null
  const heir = preferred
    .filter((id) => voters.has(id) && keepIds.has(id) && input.alive(id) && caughtUp(id))
    .sort((a, b) => (follower.get(a)?.lag ?? 0) - (follower.get(b)?.lag ?? 0) || (a < b ? -1 : 1))[0]
  return heir === undefined ? null : { kind: 'transfer', to: heir }
}
