import {
  holdsData,
  type MetadataState,
  type NodeRecord,
  type PlannedMove,
  type ShardReplica,
} from '@shoal/cluster'

/**
 * Why each shard that is not fully served is in that state, in the manner of Elasticsearch's
 * allocation explanations: which replicas are missing or unreachable, which are moving, and
 * what (if anything) will repair the shard. Pure: the caller passes liveness and the
 * controller's current plan.
 */

export interface DiagnosisInput {
  readonly state: MetadataState
  /** Whether SWIM sees the node alive now (self included). */
  readonly alive: (nodeId: string) => boolean
  /** The controller's plan as of now (`planShardMoves`). */
  readonly plan: {
    readonly start: readonly PlannedMove[]
    readonly unplaceable: readonly { readonly index: string; readonly reason: string }[]
  }
}

export interface ReplicaDiagnosis {
  readonly node: string
  readonly name: string | null
  readonly role: ShardReplica['role']
  readonly state: ShardReplica['state']
  readonly alive: boolean
}

export interface ShardDiagnosis {
  readonly index: string
  readonly shard: number
  /** red: no live quorum (writes and leader reads stop); yellow: served, but short of replicas or moving. */
  readonly status: 'red' | 'yellow'
  readonly wanted_replicas: number
  /** Replicas that are active and on a live node. */
  readonly live_replicas: number
  /** One sentence per problem and per cause. */
  readonly problems: readonly string[]
  readonly replicas: readonly ReplicaDiagnosis[]
}

function label(record: NodeRecord | undefined, id: string): string {
  return record === undefined ? id : `${record.name} (${id})`
}

/** Why a replica's node is not serving it. */
function unreachableBecause(record: NodeRecord | undefined): string {
  if (record === undefined) return 'the node is not in the metadata'
  if (record.state === 'left') return 'the node has left the cluster'
  if (record.state === 'dead') return 'the node is marked dead'
  return 'the node does not answer gossip (down or cut off)'
}

/** The diagnoses of every shard short of live replicas, without a live quorum, or moving. */
export function diagnoseShards(input: DiagnosisInput): ShardDiagnosis[] {
  const { state, alive } = input
  const diagnoses: ShardDiagnosis[] = []
  const liveDataNodes = Object.values(state.nodes).filter(
    (n) => n.state === 'active' && holdsData(n) && alive(n.id),
  )
  for (const [uid, shards] of Object.entries(state.shards).sort(([a], [b]) => a.localeCompare(b))) {
    const wanted = state.indexes[uid]?.sharding.replicationFactor ?? 0
    const unplaceable = input.plan.unplaceable.find((u) => u.index === uid)
    for (const shard of shards) {
      const problems: string[] = []
      const voters = shard.replicas.filter((r) => r.role === 'voter' && r.state !== 'initializing')
      const liveVoters = voters.filter((r) => alive(r.nodeId)).length
      const live = shard.replicas.filter((r) => r.state === 'active' && alive(r.nodeId)).length
      for (const replica of shard.replicas) {
        const record = state.nodes[replica.nodeId]
        const name = label(record, replica.nodeId)
        if (replica.state === 'initializing')
          problems.push(`a replica is being added on ${name}: it catches up, then votes (move in flight)`)
        else if (replica.state === 'removing') problems.push(`the replica on ${name} is being removed`)
        else if (!alive(replica.nodeId))
          problems.push(`the replica on ${name} is unreachable: ${unreachableBecause(record)}`)
      }
      const red = voters.length === 0 || liveVoters <= voters.length / 2
      if (red) problems.unshift(`no live quorum: ${liveVoters} of ${voters.length} voting replicas are live`)
      if (live < wanted) {
        problems.push(`${wanted - live} of ${wanted} wanted replicas are not live`)
        const holders = new Set(shard.replicas.map((r) => r.nodeId))
        const planned = input.plan.start.find((m) => m.index === uid && m.shard === shard.shard)
        if (unplaceable !== undefined) problems.push(`cannot place the index: ${unplaceable.reason}`)
        else if (planned?.to !== undefined)
          problems.push(
            `the controller is placing a replica on ${label(state.nodes[planned.to], planned.to)}`,
          )
        else if (liveDataNodes.every((n) => holders.has(n.id)))
          problems.push(
            'no other live node can take a replica: every live data node already holds one (add a node, or bring the missing one back)',
          )
        else
          problems.push(
            'a live node could take a replica: the controller replaces an unreachable one after its grace period',
          )
      }
      if (problems.length === 0) continue
      diagnoses.push({
        index: uid,
        shard: shard.shard,
        status: red ? 'red' : 'yellow',
        wanted_replicas: wanted,
        live_replicas: live,
        problems,
        replicas: shard.replicas.map((r) => ({
          node: r.nodeId,
          name: state.nodes[r.nodeId]?.name ?? null,
          role: r.role,
          state: r.state,
          alive: alive(r.nodeId),
        })),
      })
    }
  }
  return diagnoses
}
