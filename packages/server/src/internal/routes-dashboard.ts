import { availableParallelism, loadavg } from 'node:os'
import {
  DASHBOARD_CSP,
  DASHBOARD_PAGE,
  type DashboardAsset,
  DashboardAssetsMissingError,
  loadDashboardAssets,
} from '@shoal/dashboard'
import { diagnoseShards } from './cluster/shard-diagnosis.ts'
import { ApiError } from './errors.ts'
import type { ServerMetrics } from './metrics.ts'
import { RawBody, type RouteSpec } from './route-spec.ts'
import { clusterFailure, requireCluster } from './routes-cluster.ts'

/** When this process started, for uptime and for telling a restarted node's counters apart. */
const STARTED_AT_MS = Date.now()

let assets: ReadonlyMap<string, DashboardAsset> | undefined

/** The dashboard's files, read on first use; missing files (an unbuilt tree) are a 503 that says so. */
function dashboardAssets(): ReadonlyMap<string, DashboardAsset> {
  try {
    assets ??= loadDashboardAssets()
    return assets
  } catch (error) {
    if (error instanceof DashboardAssetsMissingError)
      throw new ApiError(503, 'dashboard_unavailable', error.message, 'system')
    throw error
  }
}

function serveAsset(name: string): RawBody {
  const asset = dashboardAssets().get(name)
  if (asset === undefined)
    throw new ApiError(404, 'not_found', `The dashboard has no file \`${name}\`.`, 'invalid_request')
  return new RawBody(asset.contentType, asset.body, {
    'content-security-policy': DASHBOARD_CSP,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    // Revalidated on every load: a node upgraded in place serves its new files at once.
    'cache-control': 'no-cache',
  })
}

const SEARCH_ROUTES = new Set([
  '/indexes/:indexUid/search',
  '/indexes/:indexUid/facet-search',
  '/indexes/:indexUid/similar',
  '/multi-search',
])

/** Searches and writes this node answered with a 2xx since it started, from the request counter. */
export async function requestCounts(metrics: ServerMetrics) {
  let searches = 0
  let writes = 0
  let total = 0
  for (const { value, labels } of (await metrics.requests.get()).values) {
    const route = String(labels.route ?? '')
    const method = String(labels.method ?? '')
    total += value
    if (!String(labels.status ?? '').startsWith('2')) continue
    if (SEARCH_ROUTES.has(route)) searches += value
    else if (method !== 'GET' && (route.startsWith('/indexes') || route === '/swap-indexes')) writes += value
  }
  return { searches, writes, total }
}

/** The page at `/dashboard`, its files, and the two small JSON views it reads beside the API. */
export const dashboardRoutes: RouteSpec[] = [
  {
    method: 'GET',
    url: '/dashboard',
    action: null,
    tag: 'Dashboard',
    summary:
      'The web dashboard (HTML; its data calls need a key, entered on the page and kept in session storage)',
    queryParams: [],
    handler() {
      return serveAsset(DASHBOARD_PAGE)
    },
  },
  {
    method: 'GET',
    url: '/dashboard/:file',
    action: null,
    tag: 'Dashboard',
    summary: "One of the dashboard's files (scripts and stylesheet), served with a restrictive CSP",
    queryParams: [],
    handler({ params }) {
      return serveAsset(params.file === '' || params.file === undefined ? DASHBOARD_PAGE : params.file)
    },
  },
  {
    method: 'GET',
    url: '/_node/stats',
    action: 'stats.get',
    tag: 'Stats',
    summary:
      "This node's counters since it started: searches and writes answered (2xx), requests, task queue depth, memory and load; the dashboard turns them into rates",
    queryParams: [],
    async handler({ services }) {
      const memory = process.memoryUsage()
      const node = services.cluster?.node
      return {
        mode: node === undefined ? 'standalone' : 'cluster',
        nodeId: node?.nodeId ?? null,
        nodeName:
          (node === undefined ? undefined : node.state().nodes[node.nodeId]?.name) ??
          services.config.cluster.nodeName ??
          null,
        version: services.version,
        atMs: Date.now(),
        startedAtMs: STARTED_AT_MS,
        uptimeSeconds: Math.round((Date.now() - STARTED_AT_MS) / 1000),
        requests: await requestCounts(services.metrics),
        tasks: { queueDepth: services.queue.depth() },
        process: {
          rssBytes: memory.rss,
          heapUsedBytes: memory.heapUsed,
          loadAverage1m: loadavg()[0] ?? 0,
          cpus: availableParallelism(),
        },
      }
    },
  },
  {
    method: 'GET',
    url: '/_cluster/diagnosis',
    action: 'cluster.get',
    tag: 'Cluster',
    summary:
      'Why the cluster is not green, shard by shard: replicas unreachable, missing or moving, quorum lost, and what will repair each (or why nothing can)',
    queryParams: [],
    handler({ services }) {
      const runtime = requireCluster(services)
      const node = runtime.node
      let plan: ReturnType<typeof node.planShardMoves>
      try {
        plan = node.planShardMoves()
      } catch (error) {
        throw clusterFailure(error)
      }
      const state = node.state()
      return {
        metadata_version: state.version,
        shards: diagnoseShards({ state, alive: (id) => node.isAlive(id), plan }),
        unplaceable: plan.unplaceable,
      }
    },
  },
]
