import { holdsData } from './capabilities.ts'
import type { MetadataState } from './metadata/types.ts'
import { eligibleNodes, placeableReplicas, shardViolations } from './placement-constraints.ts'
import { describeConstraints } from './shard-moves.ts'

export type HealthStatus = 'green' | 'yellow' | 'red'

/** `GET /_cluster/health`, with Elasticsearch's field names plus Shoal's cluster facts. */
export interface ClusterHealth {
  readonly cluster_name: string | null
  readonly cluster_id: string | null
  readonly status: HealthStatus
  readonly timed_out: boolean
  readonly number_of_nodes: number
  readonly number_of_data_nodes: number
  readonly active_primary_shards: number
  readonly active_shards: number
  readonly relocating_shards: number
  readonly initializing_shards: number
  readonly unassigned_shards: number
  readonly active_shards_percent_as_number: number
  readonly metadata_version: number
  readonly metadata_leader: string | null
  /** False when this node could not confirm the metadata majority just now (the status is then red). */
  readonly metadata_reachable: boolean
  /** Why the status is not green, one line each. */
  readonly reasons: readonly string[]
}

export interface HealthInput {
  readonly state: MetadataState
  /** Whether each node id is alive as SWIM sees it (self included). */
  readonly alive: (nodeId: string) => boolean
  readonly metadataReachable: boolean
  readonly metadataLeader: string | null
  readonly metaVoters: readonly string[]
  readonly targetMetaVoters: number
}

/**
 * Computes cluster health the way Elasticsearch does: red when some shard has
 * no serving quorum (or this node cannot reach the metadata majority), yellow
 * when everything is served but some replica or metadata voter is missing,
 * green otherwise.
 */
export function computeHealth(input: HealthInput): ClusterHealth {
  const { state } = input
  const reasons: string[] = []
  const liveNodes = Object.values(state.nodes).filter(
    (n) => (n.state === 'active' || n.state === 'draining' || n.state === 'joining') && input.alive(n.id),
  )
  let active = 0
  let activePrimaries = 0
  let initializing = 0
  let unassigned = 0
  let relocating = 0
  let red = false
  let yellow = false
  for (const [uid, shards] of Object.entries(state.shards)) {
    const wanted = state.indexes[uid]?.sharding.replicationFactor ?? 0
    for (const shard of shards) {
      // The members that vote now: a replica on its way out votes until it is removed; one
      // arriving votes only once promoted (counted when recorded active).
      const voters = shard.replicas.filter((r) => r.role === 'voter' && r.state !== 'initializing')
      const liveVoters = voters.filter((r) => input.alive(r.nodeId))
      for (const replica of shard.replicas) {
        if (replica.state === 'initializing') initializing++
        else if (replica.state === 'removing') relocating++
        else if (input.alive(replica.nodeId)) active++
        else unassigned++
      }
      const missing = Math.max(0, wanted - shard.replicas.filter((r) => r.state !== 'removing').length)
      unassigned += missing
      if (liveVoters.length > voters.length / 2) activePrimaries++
      else {
        red = true
        reasons.push(`index ${uid} shard ${shard.shard} has no live quorum`)
      }
      if (liveVoters.filter((r) => r.state === 'active').length < wanted) yellow = true
    }
  }
  const unmet = placementReasons(input)
  if (unmet.length > 0) {
    yellow = true
    reasons.push(...unmet)
  }
  if (!input.metadataReachable) {
    red = true
    reasons.push('this node cannot reach the metadata majority')
  }
  const liveMetaVoters = input.metaVoters.filter((id) => input.alive(id)).length
  if (liveMetaVoters < input.targetMetaVoters) {
    yellow = true
    reasons.push(`${liveMetaVoters} of ${input.targetMetaVoters} metadata voters are live`)
  }
  const deadNodes = Object.values(state.nodes).filter(
    (n) => n.state === 'dead' || ((n.state === 'active' || n.state === 'draining') && !input.alive(n.id)),
  )
  if (deadNodes.length > 0) {
    yellow = true
    reasons.push(`nodes not live: ${deadNodes.map((n) => n.id).join(', ')}`)
  }
  const total = active + initializing + unassigned + relocating
  return {
    cluster_name: state.clusterName,
    cluster_id: state.clusterId,
    status: red ? 'red' : yellow ? 'yellow' : 'green',
    timed_out: false,
    number_of_nodes: liveNodes.length,
    number_of_data_nodes: liveNodes.filter(holdsData).length,
    active_primary_shards: activePrimaries,
    active_shards: active,
    relocating_shards: relocating,
    initializing_shards: initializing,
    unassigned_shards: unassigned,
    active_shards_percent_as_number: total === 0 ? 100 : (100 * active) / total,
    metadata_version: state.version,
    metadata_leader: input.metadataLeader,
    metadata_reachable: input.metadataReachable,
    reasons,
  }
}

/**
 * Why indexes' placement constraints are not met now, one line each: a replica on a node the
 * constraints exclude, or fewer live nodes meeting them than the replication factor. The
 * controller never places a replica against a constraint, so an unmet one shows here instead.
 */
function placementReasons(input: HealthInput): string[] {
  const { state } = input
  const reasons: string[] = []
  const live = Object.values(state.nodes).filter((n) => n.state === 'active' && input.alive(n.id))
  const nodeOf = (id: string) => state.nodes[id]
  for (const [uid, shards] of Object.entries(state.shards)) {
    const spec = state.indexes[uid]?.sharding.placement
    if (spec === undefined) continue
    const rf = state.indexes[uid]?.sharding.replicationFactor ?? 0
    const room = placeableReplicas(eligibleNodes(live, spec), spec)
    if (room < rf)
      reasons.push(
        `index ${uid}: placement (${describeConstraints(spec)}) cannot be met: live nodes allow ${room} of ${rf} replicas per shard`,
      )
    for (const shard of shards) {
      const holders = shard.replicas.filter((r) => r.state !== 'removing').map((r) => r.nodeId)
      const problem = shardViolations(holders, spec, nodeOf)[0]
      if (problem !== undefined)
        reasons.push(`index ${uid} shard ${shard.shard}: placement not met: ${problem}`)
    }
  }
  return reasons
}

const RANK: Record<HealthStatus, number> = { red: 0, yellow: 1, green: 2 }

/** True when `status` is at least as good as `wanted` (green ⊃ yellow ⊃ red), as `wait_for_status` means it. */
export function healthAtLeast(status: HealthStatus, wanted: HealthStatus): boolean {
  return RANK[status] >= RANK[wanted]
}
