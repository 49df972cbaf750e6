import {
  type MetadataState,
  mayHoldReplica,
  type NodeRecord,
  REBALANCE_SETTING,
  replacementsOf,
} from '@shoal/cluster'
import { describeMove } from './cluster/cluster-operation-progress.ts'
import { commitMetadata } from './cluster/metadata-commit.ts'
import { movesInFlight } from './cluster/moves-in-flight.ts'
import type { ClusterRuntime } from './cluster/runtime.ts'
import { ApiError, badRequest } from './errors.ts'
import { readJsonBody } from './request-body.ts'
import { RawStatus, type RouteSpec } from './route-spec.ts'
import { clusterFailure, requireCluster } from './routes-cluster.ts'
import type { EnqueueRequest } from './task-queue.ts'
import { isClusterOperation, type StoredTask, type TaskSummary } from './task-types.ts'

/** A node named by id or by its (unique) name. */
function findNode(state: MetadataState, ref: unknown, field: string): NodeRecord {
  if (typeof ref !== 'string' || ref.length === 0)
    throw badRequest('invalid_cluster_request', `\`${field}\` must be a node id or name`)
  const byId = state.nodes[ref]
  if (byId !== undefined) return byId
  const named = Object.values(state.nodes).filter((n) => n.name === ref)
  if (named.length === 1) return named[0] as NodeRecord
  if (named.length > 1)
    throw badRequest('invalid_cluster_request', `several nodes are named \`${ref}\`: give the node id`)
  throw new ApiError(404, 'node_not_found', `no node \`${ref}\` in this cluster`)
}

/** The JSON object body of an admin request, with only the named fields. */
function adminBody(body: unknown, contentType: string | undefined, allowed: readonly string[]) {
  const parsed = body === undefined || body === null || body === '' ? {} : readJsonBody(body, contentType)
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw badRequest('invalid_cluster_request', 'the body must be a JSON object')
  for (const key of Object.keys(parsed))
    if (!allowed.includes(key))
      throw badRequest(
        'invalid_cluster_request',
        `unknown field \`${key}\`; expected ${allowed.map((a) => `\`${a}\``).join(', ') || 'none'}`,
      )
  return parsed as Record<string, unknown>
}

/** The metadata as of now (confirmed with its leader): operators act on what is, not on a lagging copy. */
async function currentState(runtime: ClusterRuntime): Promise<MetadataState> {
  try {
    return await runtime.node.readLinearizable({ timeoutMs: 5_000 })
  } catch (error) {
    throw clusterFailure(error)
  }
}

async function enqueue(runtime: ClusterRuntime, request: EnqueueRequest): Promise<TaskSummary> {
  try {
    return await runtime.tasks.enqueue(request)
  } catch (error) {
    if (error instanceof ApiError) throw error
    throw clusterFailure(error)
  }
}

/** The cluster operation tasks not ended yet, with their progress (from their details). */
function operationsUnderWay(runtime: ClusterRuntime) {
  const out = []
  for (const record of runtime.node.metadata.tasks()) {
    const task = record as unknown as StoredTask
    if (task.status !== 'enqueued' && task.status !== 'processing') continue
    if (!isClusterOperation(task.operation)) continue
    const details = (task.details ?? {}) as Record<string, unknown>
    out.push({
      taskUid: task.uid,
      type: task.type,
      status: task.status,
      movesPlanned: details.movesPlanned ?? 0,
      movesDone: details.movesDone ?? 0,
      movesInFlight: details.movesInFlight ?? 0,
      bytesMoved: details.bytesMoved ?? 0,
    })
  }
  return out
}

/** Operator actions on a cluster: overview, rebalance, drain and replace (docs/cluster-operations.md). */
export const adminClusterRoutes: RouteSpec[] = [
  {
    method: 'GET',
    url: '/_admin/cluster',
    action: 'cluster.get',
    tag: 'Cluster',
    summary:
      'Overview: nodes with their replicas and leaders, under-replicated shards, moves in flight with progress, cluster operation tasks under way, and the pending plan',
    async handler({ services }) {
      const runtime = requireCluster(services)
      const node = runtime.node
      const state = node.state()
      const replicas = new Map<string, number>()
      let shards = 0
      let underReplicated = 0
      for (const [uid, list] of Object.entries(state.shards)) {
        const rf = state.indexes[uid]?.sharding.replicationFactor ?? 0
        for (const shard of list) {
          shards++
          const live = shard.replicas.filter((r) => r.state === 'active' && node.isAlive(r.nodeId)).length
          if (live < rf) underReplicated++
          for (const r of shard.replicas) replicas.set(r.nodeId, (replicas.get(r.nodeId) ?? 0) + 1)
        }
      }
      const plan = node.planShardMoves()
      return {
        clusterId: node.clusterId,
        metadataLeader: node.metadataLeader,
        metadataVersion: state.version,
        nodes: Object.values(state.nodes)
          .sort((a, b) => a.id.localeCompare(b.id))
          .map((n) => ({
            id: n.id,
            name: n.name,
            state: n.state,
            alive: node.isAlive(n.id),
            zone: n.zone,
            replicas: replicas.get(n.id) ?? 0,
          })),
        shards: { total: shards, underReplicated },
        moves: { inFlight: await movesInFlight(runtime), waiting: plan.waiting },
        operations: operationsUnderWay(runtime),
        plan: plan.start.map(describeMove),
        unplaceable: plan.unplaceable,
        replacements: replacementsOf(state.settings),
        rebalanceRequested: state.settings[REBALANCE_SETTING] !== undefined,
        steward: runtime.hosting.steward.counters,
      }
    },
  },
  {
    method: 'POST',
    url: '/admin/shards/rebalance',
    action: 'cluster.update',
    tag: 'Cluster',
    summary:
      'Plans replica moves that even out the load (`{ "dryRun": true }` only shows the plan); without dryRun it enqueues a `clusterRebalance` task (202) that moves replicas in bounded batches until balanced',
    body: 'json',
    async handler({ services, body, contentType }) {
      const runtime = requireCluster(services)
      const parsed = adminBody(body, contentType, ['dryRun'])
      if (parsed.dryRun !== undefined && typeof parsed.dryRun !== 'boolean')
        throw badRequest('invalid_cluster_request', '`dryRun` must be a boolean')
      const plan = runtime.node.planShardMoves()
      const answer = {
        dryRun: parsed.dryRun === true,
        moves: plan.start.map(describeMove),
        waiting: plan.waiting,
        inFlight: plan.inFlight,
        unplaceable: plan.unplaceable,
      }
      if (parsed.dryRun === true) return answer
      const task = await enqueue(runtime, {
        type: 'clusterRebalance',
        indexUid: null,
        operation: { kind: 'clusterRebalance' },
        details: {},
      })
      return new RawStatus(202, { ...task, ...answer })
    },
  },
  {
    method: 'POST',
    url: '/admin/cluster/remove',
    action: 'cluster.update',
    tag: 'Cluster',
    status: 202,
    summary:
      'Drains a node (`{ "node": id or name }`): enqueues a `nodeDrain` task (202); its replicas move to other nodes first, then it leaves the cluster',
    body: 'json',
    async handler({ services, body, contentType }) {
      const runtime = requireCluster(services)
      const parsed = adminBody(body, contentType, ['node'])
      const state = await currentState(runtime)
      const target = findNode(state, parsed.node, 'node')
      // Whether other nodes can take each replica is the task's to find out (it fails if not).
      const task = await enqueue(runtime, {
        type: 'nodeDrain',
        indexUid: null,
        operation: { kind: 'nodeDrain', nodeId: target.id },
        details: { node: target.id },
      })
      return { ...task, node: target.id, name: target.name }
    },
  },
  {
    method: 'POST',
    url: '/admin/cluster/replace',
    action: 'cluster.update',
    tag: 'Cluster',
    status: 202,
    summary:
      'Replaces a node (`{ "old": id or name, "new": id or name }`): enqueues a `nodeReplace` task (202); the new node takes every replica of the old one, which then leaves',
    body: 'json',
    async handler({ services, body, contentType }) {
      const runtime = requireCluster(services)
      const parsed = adminBody(body, contentType, ['old', 'new'])
      const state = await currentState(runtime)
      const old = findNode(state, parsed.old, 'old')
      const replacement = findNode(state, parsed.new, 'new')
      if (old.id === replacement.id)
        throw badRequest('invalid_cluster_request', 'a node cannot replace itself')
      if (replacement.state !== 'active' || !runtime.node.isAlive(replacement.id))
        throw badRequest(
          'invalid_cluster_request',
          `the new node ${replacement.name} must be an active, live member (it is ${replacement.state}${runtime.node.isAlive(replacement.id) ? '' : ', unreachable'})`,
        )
      if (replacementsOf(state.settings)[replacement.id] !== undefined)
        throw badRequest('invalid_cluster_request', `${replacement.name} is itself being replaced`)
      const task = await enqueue(runtime, {
        type: 'nodeReplace',
        indexUid: null,
        operation: { kind: 'nodeReplace', oldNodeId: old.id, newNodeId: replacement.id },
        details: { node: old.id, replacement: replacement.id },
      })
      return { ...task, old: old.id, new: replacement.id }
    },
  },
  {
    method: 'POST',
    url: '/admin/indexes/:indexUid/replication',
    action: 'cluster.update',
    tag: 'Cluster',
    summary:
      'Changes an index\'s replication factor (`{ "replicationFactor": n }`, at most the active data nodes): the cluster then adds (or removes) replicas of every shard, a bounded batch at a time, as it repairs a shard',
    body: 'json',
    async handler({ services, params, body, contentType }) {
      const runtime = requireCluster(services)
      const parsed = adminBody(body, contentType, ['replicationFactor'])
      const factor = parsed.replicationFactor
      if (typeof factor !== 'number' || !Number.isInteger(factor) || factor < 1)
        throw badRequest('invalid_cluster_request', '`replicationFactor` must be a positive integer')
      const state = await currentState(runtime)
      const uid = params.indexUid ?? ''
      const index = state.indexes[uid]
      if (index === undefined) throw new ApiError(404, 'index_not_found', `Index \`${uid}\` not found.`)
      // Only the nodes that may hold this index's data count (no coordinator; `vector` if needed).
      const required = index.sharding.placement?.capabilities
      const nodes = Object.values(state.nodes).filter(
        (n) => n.state === 'active' && runtime.node.isAlive(n.id) && mayHoldReplica(n, required),
      ).length
      if (factor > nodes)
        throw badRequest(
          'invalid_cluster_request',
          `\`replicationFactor\` ${factor} exceeds the ${nodes} active data node${nodes === 1 ? '' : 's'}${required === undefined ? '' : ` with ${required.join(',')}`}`,
        )
      const previous = index.sharding.replicationFactor
      if (factor !== previous)
        await commitMetadata(
          runtime.node,
          { type: 'index.update', uid, replicationFactor: factor, atMs: Date.now() },
          { refused: 'bad_request', what: 'the replication factor change' },
        )
      runtime.node.pokeController()
      return new RawStatus(202, { indexUid: uid, replicationFactor: factor, previous })
    },
  },
]
