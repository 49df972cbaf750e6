import type { ClusterRuntime } from './cluster/runtime.ts'
import { replicaStatuses, shardTargets } from './cluster/shard-rpc.ts'
import { ApiError } from './errors.ts'
import { readJsonBody } from './request-body.ts'
import { checkIndexUid, type RouteSpec, type Services } from './route-spec.ts'

function requireCluster(services: Services): ClusterRuntime {
  if (services.cluster === undefined)
    throw new ApiError(
      404,
      'cluster_not_enabled',
      'This node runs standalone: its indexes have no shards. Start it in a cluster to shard indexes.',
    )
  return services.cluster
}

/** Per shard: which documents it owns and the state of each replica (role, applied index, lag). */
async function describeShards(runtime: ClusterRuntime, uid: string) {
  const node = runtime.node
  const index = node.metadata.state.indexes[uid]
  if (index === undefined) throw new ApiError(404, 'index_not_found', `Index \`${uid}\` not found.`)
  const records = node.metadata.state.shards[uid] ?? []
  const statuses = await replicaStatuses(node, runtime.hosting, uid)
  const targets = shardTargets(node, uid)
  return targets.map((target) => {
    const replicas = statuses.get(target.group) ?? new Map()
    const leader =
      [...replicas.entries()].find(([id, s]) => s !== null && s.role === 'leader' && s.leader === id)?.[0] ??
      null
    const leaderCommit = leader === null ? null : (replicas.get(leader)?.commitIndex ?? null)
    const record = records.find((r) => r.shard === target.shard)
    return {
      shard: target.shard,
      ownership: `hash(${index.sharding.strategy === 'field' ? `lowercase(${index.sharding.field})` : 'primaryKey'}) mod ${index.sharding.shardCount} = ${target.shard}`,
      group: target.group,
      leader,
      replicas: (record?.replicas ?? []).map((replica) => {
        const status = replicas.get(replica.nodeId) ?? null
        return {
          node: replica.nodeId,
          nodeName: node.metadata.state.nodes[replica.nodeId]?.name ?? null,
          role: replica.role,
          state: replica.state,
          reachable: status !== null,
          raftRole: status?.role ?? null,
          leader: status !== null && status.role === 'leader',
          appliedIndex: status?.appliedIndex ?? null,
          commitIndex: status?.commitIndex ?? null,
          quiesced: status?.quiesced ?? null,
          raftVoters: status?.voters ?? null,
          raftLearners: status?.learners ?? null,
          lag:
            status === null || leaderCommit === null ? null : Math.max(0, leaderCommit - status.appliedIndex),
        }
      }),
    }
  })
}

/** The `{shard}` of an admin shard route: a non-negative integer, else 400. */
function shardParam(value: string | undefined): number {
  const shard = Number(value)
  if (value === undefined || !/^\d{1,9}$/.test(value) || !Number.isSafeInteger(shard))
    throw new ApiError(400, 'invalid_shard', `The shard must be a non-negative integer, got \`${value}\`.`)
  return shard
}

/** Anti-entropy takes no query parameter and no body but `{}`: anything else is refused, not ignored. */
function refuseInput(
  query: Record<string, string | undefined>,
  body: unknown,
  contentType: string | undefined,
): void {
  const names = Object.keys(query)
  if (names.length > 0)
    throw new ApiError(400, 'invalid_anti_entropy_request', `Unknown parameter \`${names[0]}\`.`)
  const parsed = readJsonBody(body, contentType)
  if (
    parsed !== undefined &&
    (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.keys(parsed).length > 0)
  )
    throw new ApiError(400, 'invalid_anti_entropy_request', 'This route takes no body (or `{}`).')
}

/** Runs an anti-entropy call; a failure that is not a typed answer is a 503 (the cluster), never a 500. */
async function noInternalError<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (error) {
    if (error instanceof ApiError) throw error
    throw new ApiError(
      503,
      'cluster_unavailable',
      `Anti-entropy could not complete: ${error instanceof Error ? error.message : String(error)}`,
      'system',
    )
  }
}

/** `GET /indexes/{uid}/_shards` and `GET /cluster/shards`; anti-entropy's verify and repair. */
export const shardRoutes: RouteSpec[] = [
  {
    method: 'GET',
    url: '/indexes/:indexUid/_shards',
    action: 'cluster.get',
    tag: 'Cluster',
    summary: 'Shards of one index: ownership, replicas with node, role, state, applied index, leader and lag',
    async handler({ params, services }) {
      const runtime = requireCluster(services)
      const uid = checkIndexUid(params.indexUid)
      const index = runtime.node.metadata.state.indexes[uid]
      if (index === undefined) throw new ApiError(404, 'index_not_found', `Index \`${uid}\` not found.`)
      return { indexUid: uid, sharding: index.sharding, shards: await describeShards(runtime, uid) }
    },
  },
  {
    method: 'GET',
    url: '/cluster/shards',
    action: 'cluster.get',
    tag: 'Cluster',
    summary: 'Shards of every index, as `GET /indexes/{uid}/_shards` reports them',
    async handler({ services }) {
      const runtime = requireCluster(services)
      const indexes = []
      for (const index of Object.values(runtime.node.metadata.state.indexes).sort((a, b) =>
        a.uid.localeCompare(b.uid),
      ))
        indexes.push({
          indexUid: index.uid,
          sharding: index.sharding,
          shards: await describeShards(runtime, index.uid),
        })
      return { indexes }
    },
  },
  {
    method: 'POST',
    url: '/admin/shards/:indexUid/:shard/verify',
    action: 'cluster.update',
    tag: 'Cluster',
    summary:
      "Anti-entropy: compares the Merkle trees of the shard's replicas at one applied index and reports the documents on which they differ",
    async handler({ params, services, query, body, contentType }) {
      const runtime = requireCluster(services)
      const uid = checkIndexUid(params.indexUid)
      refuseInput(query, body, contentType)
      return noInternalError(() => runtime.antiEntropy.verify(uid, shardParam(params.shard)))
    },
  },
  {
    method: 'POST',
    url: '/admin/shards/:indexUid/:shard/repair',
    action: 'cluster.update',
    tag: 'Cluster',
    summary:
      'Anti-entropy: verifies the shard, sends each divergent replica the majority version of only the documents it differs on, then verifies again',
    async handler({ params, services, query, body, contentType }) {
      const runtime = requireCluster(services)
      const uid = checkIndexUid(params.indexUid)
      refuseInput(query, body, contentType)
      return noInternalError(() => runtime.antiEntropy.repair(uid, shardParam(params.shard)))
    },
  },
]
