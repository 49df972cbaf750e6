import {
  type ClusterHealth,
  type HealthStatus,
  healthAtLeast,
  holdsData,
  type MetadataCommand,
} from '@shoal/cluster'
import { WEBHOOK_SETTING_PREFIX } from './cluster/cluster-webhooks.ts'
import { clusterFailure, commitMetadata } from './cluster/metadata-commit.ts'
import type { ClusterRuntime } from './cluster/runtime.ts'
import { ApiError, badRequest } from './errors.ts'
import { readJsonBody } from './request-body.ts'
import { RawStatus, type RouteSpec, type Services } from './route-spec.ts'

export { clusterFailure }

export function requireCluster(services: Services): ClusterRuntime {
  if (services.cluster === undefined)
    throw new ApiError(
      404,
      'cluster_not_enabled',
      'This node runs standalone. Start it with a cluster key (--cluster-key-file or SHOAL_CLUSTER_KEY) to use the cluster API.',
    )
  return services.cluster
}

/** An Elasticsearch time value: `30s`, `500ms`, `1m`, or plain milliseconds. */
export function parseTimeValue(value: string | undefined, name: string, fallbackMs: number): number {
  if (value === undefined || value === '') return fallbackMs
  const match = /^(\d{1,9})(ms|s|m)?$/.exec(value.trim())
  if (match === null)
    throw badRequest(
      'invalid_cluster_health_parameter',
      `\`${name}\` must be a time such as 30s, 500ms or 1m, got \`${value}\``,
    )
  const amount = Number(match[1])
  const unit = match[2] ?? 'ms'
  const ms = unit === 'm' ? amount * 60_000 : unit === 's' ? amount * 1000 : amount
  if (ms > 600_000) throw badRequest('invalid_cluster_health_parameter', `\`${name}\` must be at most 10m`)
  return ms
}

const STATUSES: readonly HealthStatus[] = ['green', 'yellow', 'red']

async function waitForHealth(
  runtime: ClusterRuntime,
  wanted: HealthStatus | undefined,
  timeoutMs: number,
): Promise<{ health: ClusterHealth; timedOut: boolean }> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const health = await runtime.node.health({
      // A loaded metadata leader may take a while to confirm a read: red means it did not in 3 s.
      timeoutMs: Math.min(5_000, Math.max(3_000, deadline - Date.now())),
    })
    if (wanted === undefined || healthAtLeast(health.status, wanted)) return { health, timedOut: false }
    if (Date.now() >= deadline) return { health, timedOut: true }
    await new Promise((resolve) => setTimeout(resolve, Math.min(200, Math.max(1, deadline - Date.now()))))
  }
}

function shardCounts(runtime: ClusterRuntime): Map<string, number> {
  const counts = new Map<string, number>()
  for (const shards of Object.values(runtime.node.state().shards)) {
    for (const shard of shards)
      for (const r of shard.replicas) counts.set(r.nodeId, (counts.get(r.nodeId) ?? 0) + 1)
  }
  return counts
}

export const clusterRoutes: RouteSpec[] = [
  {
    method: 'GET',
    url: '/_cluster/health',
    action: 'cluster.get',
    tag: 'Cluster',
    summary:
      'Cluster health as in Elasticsearch (green/yellow/red, nodes, shard counts) plus the cluster id, metadata version and leader; `wait_for_status` and `timeout` wait for a status (408 when it is not reached)',
    queryParams: ['wait_for_status', 'timeout'],
    async handler({ services, query }) {
      const runtime = requireCluster(services)
      const known = new Set(['wait_for_status', 'timeout'])
      for (const name of Object.keys(query)) {
        if (!known.has(name))
          throw badRequest('invalid_cluster_health_parameter', `unknown parameter \`${name}\``)
      }
      const wanted = query.wait_for_status
      if (wanted !== undefined && !STATUSES.includes(wanted as HealthStatus))
        throw badRequest('invalid_cluster_health_parameter', '`wait_for_status` must be green, yellow or red')
      const timeoutMs = parseTimeValue(query.timeout, 'timeout', 30_000)
      const { health, timedOut } = await waitForHealth(
        runtime,
        wanted as HealthStatus | undefined,
        wanted === undefined ? 0 : timeoutMs,
      )
      const body = { ...health, timed_out: timedOut }
      return timedOut ? new RawStatus(408, body) : body
    },
  },
  {
    method: 'GET',
    url: '/_cluster/nodes',
    action: 'cluster.get',
    tag: 'Cluster',
    summary:
      'Every node the metadata records: state, liveness, roles, addresses, region, zone, capabilities and shard count',
    handler({ services }) {
      const runtime = requireCluster(services)
      const { node } = runtime
      const state = node.state()
      const conf = node.metaRaft?.status().confState ?? { voters: [], learners: [] }
      const shards = shardCounts(runtime)
      return {
        cluster_id: state.clusterId,
        cluster_name: state.clusterName,
        metadata_version: state.version,
        metadata_leader: node.metadataLeader,
        nodes: Object.values(state.nodes).map((record) => ({
          id: record.id,
          name: record.name,
          state: record.state,
          alive: node.isAlive(record.id),
          roles: [
            ...(conf.voters.includes(record.id)
              ? ['metadata_voter']
              : conf.learners.includes(record.id)
                ? ['metadata_learner']
                : []),
            ...(holdsData(record)
              ? ['data']
              : record.capabilities.includes('coordinator')
                ? ['coordinator']
                : []),
          ],
          metadata_leader: record.id === node.metadataLeader,
          http_addr: record.httpAddr,
          p2p_addrs: record.p2pAddrs,
          gossip_addr: record.gossipAddr,
          region: record.region,
          zone: record.zone,
          capabilities: record.capabilities,
          version: record.version,
          shards: shards.get(record.id) ?? 0,
          joined_at: new Date(record.joinedAtMs).toISOString(),
          updated_at: new Date(record.updatedAtMs).toISOString(),
        })),
      }
    },
  },
  {
    method: 'GET',
    url: '/cluster/members',
    action: 'cluster.get',
    tag: 'Cluster',
    summary:
      "SWIM's view of every member: state, incarnation, when its state last changed, region, zone, labels, capabilities",
    handler({ services }) {
      const runtime = requireCluster(services)
      return {
        node_id: runtime.node.nodeId,
        members: runtime.node.members().map((m) => ({
          id: m.id,
          name: m.advert.name,
          state: m.state,
          incarnation: m.incarnation,
          last_heard_at: new Date(m.lastHeardMs).toISOString(),
          state_changed_at: new Date(m.stateChangedAtMs).toISOString(),
          gossip_addr: m.gossipAddr,
          http_addr: m.advert.httpAddr,
          region: m.advert.region,
          zone: m.advert.zone,
          labels: m.advert.labels ?? {},
          capabilities: m.advert.capabilities,
          version: m.advert.version,
        })),
      }
    },
  },
  {
    method: 'GET',
    url: '/_cluster/settings',
    action: 'cluster.get',
    tag: 'Cluster',
    summary:
      'Cluster-wide settings from the metadata, with its version; `consistency=linearizable` first confirms with the metadata leader that this copy is current',
    queryParams: ['consistency'],
    async handler({ services, query }) {
      const runtime = requireCluster(services)
      const consistency = query.consistency ?? 'local'
      if (consistency !== 'local' && consistency !== 'linearizable')
        throw badRequest('invalid_cluster_request', '`consistency` must be local or linearizable')
      let state = runtime.node.state()
      if (consistency === 'linearizable') {
        try {
          state = await runtime.node.readLinearizable({ timeoutMs: 5_000 })
        } catch (error) {
          throw clusterFailure(error)
        }
      }
      // Webhooks are kept as settings, with headers that may hold secrets: /webhooks shows them.
      const persistent = Object.fromEntries(
        Object.entries(state.settings).filter(([key]) => !key.startsWith(WEBHOOK_SETTING_PREFIX)),
      )
      return { persistent, metadata_version: state.version }
    },
  },
  {
    method: 'PUT',
    url: '/_cluster/settings',
    action: 'cluster.update',
    tag: 'Cluster',
    summary:
      'Sets (string value) or removes (null) cluster-wide settings: `{ "persistent": { "key": "value" } }`; answers once the metadata group committed them',
    body: 'json',
    async handler({ services, body, contentType }) {
      const runtime = requireCluster(services)
      const parsed = readJsonBody(body, contentType)
      const persistent = (parsed as { persistent?: unknown } | null)?.persistent
      if (
        typeof parsed !== 'object' ||
        parsed === null ||
        Array.isArray(parsed) ||
        Object.keys(parsed).some((k) => k !== 'persistent')
      )
        throw badRequest('invalid_cluster_request', 'the body must be `{ "persistent": { … } }`')
      if (typeof persistent !== 'object' || persistent === null || Array.isArray(persistent))
        throw badRequest('invalid_cluster_request', '`persistent` must be an object of string or null values')
      const commands: MetadataCommand[] = []
      for (const [key, value] of Object.entries(persistent)) {
        if (key.length === 0 || key.length > 256)
          throw badRequest('invalid_cluster_request', 'setting names are 1 to 256 characters')
        if (key.startsWith('shoal.'))
          throw badRequest(
            'invalid_cluster_request',
            `settings under \`shoal.\` belong to cluster operations (rebalance, replace); use the /admin routes, not \`${key}\``,
          )
        if (value === null) commands.push({ type: 'setting.delete', key })
        else if (typeof value === 'string' && value.length <= 65_536)
          commands.push({ type: 'setting.put', key, value })
        else
          throw badRequest(
            'invalid_cluster_request',
            `setting \`${key}\` must be a string (at most 64 KiB) or null`,
          )
      }
      let version = runtime.node.state().version
      for (const command of commands) {
        const outcome = await commitMetadata(runtime.node, command, {
          refused: 'bad_request',
          what: 'the cluster setting',
        })
        version = outcome.version
      }
      return { acknowledged: true, metadata_version: version }
    },
  },
]
