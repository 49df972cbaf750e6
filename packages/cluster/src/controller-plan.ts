import type { ConfChange, ConfState, FollowerStatus } from '@shoal/raft'
import type { NodeRecord } from './metadata/types.ts'

/** What the planner knows about one node. */
export interface PlanNode {
  readonly record: NodeRecord
  /** SWIM says alive (or it is the planning node itself). */
  readonly alive: boolean
  /** Since when SWIM has reported it dead (undefined while alive). */
  readonly deadSinceMs?: number
  /**
   * Dead past the replica grace period with no shard replica left: its data lives elsewhere now,
   * so it no longer counts towards the voter target (its seat goes once the others suffice).
   */
  readonly departed?: boolean
}

export interface MetaPlanInput {
  readonly conf: ConfState
  readonly nodes: readonly PlanNode[]
  /** The leader's view of its followers (match, lag). */
  readonly followers: readonly FollowerStatus[]
  readonly leaderId: string
  readonly nowMs: number
  readonly maxVoters: number
  /** A dead voter is replaced only after this long. */
  readonly deadVoterGraceMs: number
  /** A learner counts as caught up when it lags by at most this many entries. */
  readonly caughtUpEntries: number
}

/** The number of voters to aim for: the largest odd number at most `maxVoters` and the eligible nodes. */
export function targetVoters(eligible: number, maxVoters: number): number {
  const n = Math.max(1, Math.min(eligible, maxVoters))
  return n % 2 === 1 ? n : n - 1
}

/**
 * The next single membership change for the metadata group, or null when it
 * is where it should be. One change at a time (Raft thesis §4.1). Every live
 * node is a member (learners follow the metadata); up to `maxVoters` live,
 * caught-up nodes vote, spread across zones. A replacement voter is promoted
 * before a dead one is removed, so a change never costs quorum it had.
 */
export function planMetaChange(input: MetaPlanInput): ConfChange | null {
  const voters = new Set(input.conf.voters)
  const learners = new Set(input.conf.learners)
  const byId = new Map(input.nodes.map((n) => [n.record.id, n]))
  const lag = new Map(input.followers.map((f) => [f.id, f.lag]))
  const members = (state: NodeRecord['state']) =>
    state === 'active' || state === 'joining' || state === 'draining'

  // 1. Nodes that left the cluster leave the group (never the leader itself).
  for (const id of [...learners, ...voters]) {
    const node = byId.get(id)
    if (id !== input.leaderId && (node === undefined || node.record.state === 'left'))
      return { type: 'remove', node: id }
  }
  // 2. Every live member node follows the metadata.
  for (const node of sorted(input.nodes)) {
    const id = node.record.id
    if (node.alive && members(node.record.state) && !voters.has(id) && !learners.has(id)) {
      return { type: 'addLearner', node: id }
    }
  }
  const isDeadLong = (id: string): boolean => {
    const node = byId.get(id)
    if (node === undefined || node.alive) return false
    return input.nowMs - (node.deadSinceMs ?? input.nowMs) >= input.deadVoterGraceMs
  }
  // A dead node still counts towards the target until it leaves (drain or
  // removal): the group never shrinks its voters because a node is down, and a
  // dead voter goes only once a live replacement votes.
  const counted = input.nodes.filter(
    (n) => (n.record.state === 'active' || n.record.state === 'dead') && n.departed !== true,
  )
  const target = targetVoters(counted.length, input.maxVoters)
  const eligible = counted.filter((n) => n.alive && n.record.state === 'active')
  const liveVoters = [...voters].filter((id) => byId.get(id)?.alive === true || id === input.leaderId)
  // 3. Promote caught-up learners while live voters are below target, zones spread.
  if (liveVoters.length < target) {
    const candidate = pickByZone(
      eligible.filter(
        (n) => learners.has(n.record.id) && (lag.get(n.record.id) ?? Infinity) <= input.caughtUpEntries,
      ),
      [...voters].map((id) => byId.get(id)?.record.zone ?? ''),
    )
    if (candidate !== undefined) return { type: 'addVoter', node: candidate.record.id }
  }
  // 4. Remove a voter dead past the grace period only once a live replacement
  //    votes (step 3), so removing it never costs the group a voter it had.
  for (const id of [...voters].sort()) {
    if (id === input.leaderId || !isDeadLong(id) || liveVoters.length < target) continue
    const remaining = voters.size - 1
    if (liveVoters.length >= Math.floor(remaining / 2) + 1) return { type: 'remove', node: id }
  }
  // 5. More live voters than the target (a dead voter came back after its
  //    replacement, or nodes left): remove one, never the leader, from the most
  //    crowded zone; step 2 keeps it as a learner.
  if (liveVoters.length > target) {
    const extra = liveVoters.filter((id) => id !== input.leaderId).sort()
    const zoneCount = countZones([...voters].map((id) => byId.get(id)?.record.zone ?? ''))
    extra.sort((a, b) => (zoneCount.get(zone(byId, b)) ?? 0) - (zoneCount.get(zone(byId, a)) ?? 0))
    const victim = extra[0]
    if (victim !== undefined) return { type: 'remove', node: victim }
  }
  return null
}

function zone(byId: Map<string, PlanNode>, id: string): string {
  return byId.get(id)?.record.zone ?? ''
}

function countZones(zones: readonly string[]): Map<string, number> {
  const count = new Map<string, number>()
  for (const z of zones) count.set(z, (count.get(z) ?? 0) + 1)
  return count
}

function sorted(nodes: readonly PlanNode[]): PlanNode[] {
  return [...nodes].sort((a, b) => (a.record.id < b.record.id ? -1 : a.record.id > b.record.id ? 1 : 0))
}

/** The candidate in the zone with the fewest voters; ties by node id. */
function pickByZone(candidates: readonly PlanNode[], voterZones: readonly string[]): PlanNode | undefined {
  const count = countZones(voterZones)
  return sorted(candidates).sort(
    (a, b) => (count.get(a.record.zone) ?? 0) - (count.get(b.record.zone) ?? 0),
  )[0]
}
