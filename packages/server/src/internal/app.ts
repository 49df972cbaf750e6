import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { Grant } from './api-keys.ts'
import { ApiError, errorLink, toErrorResponse } from './errors.ts'
import { buildOpenApi } from './openapi.ts'
import { RateLimiter } from './rate-limit.ts'
import { RawBody, RawStatus, type RouteSpec, type Services } from './route-spec.ts'
import { adminClusterRoutes } from './routes-admin-cluster.ts'
import { backupRoutes } from './routes-backups.ts'
import { clusterRoutes } from './routes-cluster.ts'
import { dashboardRoutes } from './routes-dashboard.ts'
import { documentRoutes } from './routes-documents.ts'
import { facetSearchRoutes } from './routes-facet-search.ts'
import { fieldRoutes } from './routes-fields.ts'
import { gatedRoutes } from './routes-gated.ts'
import { indexRoutes } from './routes-indexes.ts'
import { keyRoutes } from './routes-keys.ts'
import { multiSearchRoutes } from './routes-multi-search.ts'
import { regionRoutes } from './routes-regions.ts'
import { searchRoutes } from './routes-search.ts'
import { secretsRoutes } from './routes-secrets.ts'
import { settingsRoutes } from './routes-settings.ts'
import { shardRoutes } from './routes-shards.ts'
import { similarRoutes } from './routes-similar.ts'
import { standbyRoutes } from './routes-standby.ts'
import { systemRoutes } from './routes-system.ts'
import { taskRoutes } from './routes-tasks.ts'
import { webhookRoutes } from './routes-webhooks.ts'
import { keepTrace, runTraced, SearchTrace, searchTraceOn, traceMark } from './search-trace.ts'

/** Every API route except the two that describe the server itself (metrics, OpenAPI). */
const API_ROUTES: RouteSpec[] = [
  ...indexRoutes,
  ...documentRoutes,
  ...searchRoutes,
  ...facetSearchRoutes,
  ...similarRoutes,
  ...multiSearchRoutes,
  ...settingsRoutes,
  ...fieldRoutes,
  ...taskRoutes,
  ...keyRoutes,
  ...webhookRoutes,
  ...systemRoutes,
  ...backupRoutes,
  ...gatedRoutes,
  ...clusterRoutes,
  ...shardRoutes,
  ...adminClusterRoutes,
  ...dashboardRoutes,
  ...standbyRoutes,
  ...regionRoutes,
  ...secretsRoutes,
]

/** The full route table, including `/metrics` and `/openapi.json`. */
export function routeTable(): RouteSpec[] {
  const routes: RouteSpec[] = [
    ...API_ROUTES,
    {
      method: 'GET',
      url: '/metrics',
      action: 'metrics.get',
      tag: 'System',
      summary:
        'Prometheus metrics: requests and latency per route, task queue depth, index sizes, fsync latency, process',
      async handler({ services }) {
        const registry = services.metrics.registry
        return new RawBody(registry.contentType, await registry.metrics())
      },
    },
    {
      method: 'GET',
      url: '/openapi.json',
      action: null,
      tag: 'System',
      summary: 'This API described in OpenAPI 3.1',
      handler({ services }) {
        return buildOpenApi(routes, services.version)
      },
    },
  ]
  return routes
}

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header === undefined) return undefined
  const match = /^Bearer\s+(.+)$/i.exec(header.trim())
  return match?.[1]?.trim() ?? ''
}

type App = ReturnType<typeof createFastify>

function createFastify(services: Services, logger: Logger) {
  return Fastify({
    loggerInstance: logger,
    bodyLimit: services.config.payloadLimitBytes,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    exposeHeadRoutes: false,
    return503OnClosing: true,
  })
}

/** Builds the fastify app: auth and rate limiting, the route table, errors in Meilisearch's shape. */
export function buildApp(services: Services, logger: Logger): App {
  const app = createFastify(services, logger)
  const routes = routeTable()
  const grants = new WeakMap<FastifyRequest, Grant>()
  // Bodies stay raw bytes; each route reads them (see request-body.ts).
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))
  const traces = new WeakMap<FastifyRequest, SearchTrace>()
  if (searchTraceOn) traceSearches(app, traces, 'arrive')
  installAccessControl(app, services, routes, grants)
  installStandbyGate(app, services)
  if (searchTraceOn) traceSearches(app, traces, 'auth')
  installErrorHandling(app, services)
  registerRoutes(app, services, routes, grants, traces)
  return app
}

/** The search route whose requests `SHOAL_SEARCH_TRACE` follows (search-trace.ts). */
const TRACED_ROUTE = '/indexes/:indexUid/search'

/**
 * With `SHOAL_SEARCH_TRACE`: `arrive` starts a search request's trace in the first `onRequest`
 * hook; `auth` ends its access-control stage and, further on, its body read, serialization and
 * sending (the route and the cluster's read path mark their own stages in between).
 */
function traceSearches(app: App, traces: WeakMap<FastifyRequest, SearchTrace>, stage: 'arrive' | 'auth') {
  if (stage === 'arrive') {
    app.addHook('onRequest', async (request) => {
      if (request.routeOptions.url !== TRACED_ROUTE) return
      const uid = (request.params as Record<string, string>).indexUid ?? ''
      traces.set(request, new SearchTrace(uid))
    })
    return
  }
  app.addHook('onRequest', async (request) => traces.get(request)?.mark('auth'))
  app.addHook('preHandler', async (request) => traces.get(request)?.mark('body'))
  app.addHook('onSend', async (request) => traces.get(request)?.mark('serialize'))
  app.addHook('onResponse', async (request) => {
    const trace = traces.get(request)
    if (trace === undefined) return
    trace.mark('send')
    keepTrace(trace)
  })
}

/** Request ids, CORS, per-key rate limiting, then the key check; metrics once answered. */
function installAccessControl(
  app: App,
  services: Services,
  routes: RouteSpec[],
  grants: WeakMap<FastifyRequest, Grant>,
) {
  const specs = new Map(routes.map((r) => [`${r.method} ${r.url}`, r]))
  const limiter = new RateLimiter(services.config.rateLimit)
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id)
    // Browsers may call the API from any origin (search keys are meant for frontends);
    // what a caller may do is decided by its key, not by its origin.
    reply.header('access-control-allow-origin', '*')
    reply.header('access-control-expose-headers', 'x-request-id, retry-after')
    const spec = specs.get(`${request.method} ${request.routeOptions.url}`)
    if (spec === undefined || spec.action === null) return
    const token = bearerToken(request)
    const identity = services.keys.identify(token) ?? `address:${request.ip}`
    const decision = limiter.take(identity)
    if (!decision.ok) {
      reply.header('retry-after', String(decision.retryAfterSeconds))
      throw new ApiError(
        429,
        'too_many_requests',
        `Too many requests for this key; retry in ${decision.retryAfterSeconds} s.`,
        'system',
      )
    }
    const params = request.params as Record<string, string>
    grants.set(request, services.keys.authorize(token, spec.action, params.indexUid ?? null))
  })
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unknown'
    services.metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) })
    services.metrics.requestSeconds.observe({ method: request.method, route }, reply.elapsedTime / 1000)
  })
}

/** Requests sent with POST that only read (or promote a standby): a standby serves them. */
const READING_POSTS = new Set([
  '/indexes/:indexUid/search',
  '/multi-search',
  '/indexes/:indexUid/facet-search',
  '/indexes/:indexUid/documents/fetch',
  '/indexes/:indexUid/fields',
  '/admin/standby/promote',
])

/**
 * A node with a hot standby link refuses writes with a typed error when it may not take them: a
 * standby, a fenced primary, a primary not yet sure it was not replaced, a semi_sync primary that
 * lost its standby with `fail` (docs/standby.md). Runs after the key check.
 */
function installStandbyGate(app: App, services: Services) {
  app.addHook('onRequest', async (request, reply) => {
    const standby = services.standby
    const route = request.routeOptions.url
    if (standby === undefined || route === undefined || request.method === 'GET') return
    if (request.method === 'POST' && READING_POSTS.has(route)) return
    standby.checkWrite((seconds) => reply.header('retry-after', String(seconds)))
  })
}

/** Every error leaves as `{ message, code, type, link }`; fastify's own errors are mapped too. */
function installErrorHandling(app: App, services: Services) {
  app.setErrorHandler(async (error, request, reply) => {
    const fastifyError = error as { code?: unknown; statusCode?: number; message: string }
    let response = toErrorResponse(error)
    if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      response = toErrorResponse(
        new ApiError(
          413,
          'payload_too_large',
          `The provided payload reached the size limit. The maximum accepted payload size is ${services.config.payloadLimitBytes} bytes.`,
        ),
      )
    } else if (
      typeof fastifyError.code === 'string' &&
      fastifyError.code.startsWith('FST_') &&
      (fastifyError.statusCode ?? 500) < 500
    ) {
      response = toErrorResponse(
        new ApiError(fastifyError.statusCode ?? 400, 'bad_request', fastifyError.message),
      )
    }
    if (response.internal) request.log.error({ err: error }, 'request failed')
    // A 503 is retriable (an election, a shard without a reachable replica): say when to retry.
    if (response.status === 503 && !reply.hasHeader('retry-after')) reply.header('retry-after', '1')
    reply.code(response.status).send(response.body)
  })
  app.setNotFoundHandler(async (request, reply) => {
    reply.code(404).send({
      message: `No route for ${request.method} ${request.url}`,
      code: 'not_found',
      type: 'invalid_request',
      link: errorLink('not_found'),
    })
  })
}

function registerRoutes(
  app: App,
  services: Services,
  routes: RouteSpec[],
  grants: WeakMap<FastifyRequest, Grant>,
  traces: WeakMap<FastifyRequest, SearchTrace>,
) {
  app.route({
    method: 'OPTIONS',
    url: '/*',
    handler: async (_request, reply) => {
      reply
        .code(204)
        .header('access-control-allow-methods', 'GET, POST, PUT, PATCH, DELETE, OPTIONS')
        .header('access-control-allow-headers', '*')
        .header('access-control-max-age', '86400')
        .send()
    },
  })
  for (const spec of routes) {
    const answer = async (request: FastifyRequest, reply: FastifyReply) => {
      const query = singleValuedQuery(request.query as Record<string, string | string[] | undefined>)
      if (spec.queryParams !== undefined) refuseUnknownQuery(query, spec.queryParams)
      if (services.cluster !== undefined && METADATA_READS.some((prefix) => spec.url.startsWith(prefix)))
        await services.cluster.metadataGate.caughtUp()
      await catchUpOnUnknownIndex(services, request.params as Record<string, string>)
      traceMark('route')
      const result = await spec.handler({
        params: request.params as Record<string, string>,
        query,
        rawQuery: request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '',
        body: request.body,
        contentType: request.headers['content-type'],
        grant: grants.get(request) ?? { allowsIndex: () => true, allIndexes: true },
        services,
      })
      if (result instanceof RawBody)
        return reply.type(result.contentType).headers(result.headers).send(result.payload)
      if (result instanceof RawStatus) return reply.code(result.status).send(result.body)
      reply.code(spec.status ?? 200)
      return spec.status === 204 ? reply.send() : reply.send(result)
    }
    app.route({
      method: spec.method,
      url: spec.url,
      handler: (request, reply) => {
        const trace = searchTraceOn ? traces.get(request) : undefined
        return trace === undefined ? answer(request, reply) : runTraced(trace, () => answer(request, reply))
      },
    })
  }
}

/**
 * Routes answered from a cluster node's copy of the metadata: after the node starts they wait
 * until that copy is as new as what the node served before (cluster/metadata-read-gate.ts).
 */
const METADATA_READS = ['/tasks', '/batches', '/indexes', '/keys', '/webhooks', '/stats']

/**
 * On a cluster node, an index this node's copy of the metadata does not know yet (it joined or
 * restarted moments ago) may exist: confirm with the metadata leader before answering for it, so
 * a node never answers 404 for an index another node has acknowledged. Costs a round trip only
 * on a miss.
 */
async function catchUpOnUnknownIndex(services: Services, params: Record<string, string>): Promise<void> {
  const uid = params.indexUid
  const cluster = services.cluster
  if (uid === undefined || cluster === undefined || cluster.node.state().indexes[uid] !== undefined) return
  try {
    await cluster.node.readLinearizable({ timeoutMs: 5_000 })
  } catch (error) {
    // Unconfirmed: the index may exist. A retriable 503, never a 404 that could be wrong.
    throw new ApiError(
      503,
      'cluster_unavailable',
      `Index \`${uid}\` is not known to this node and the metadata leader could not confirm it: ${error instanceof Error ? error.message : String(error)}`,
      'system',
    )
  }
}

/** Query parameters as single strings: a parameter repeated (`?a=1&a=2`) is ambiguous and refused. */
function singleValuedQuery(
  query: Record<string, string | string[] | undefined>,
): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {}
  for (const [name, value] of Object.entries(query)) {
    if (Array.isArray(value)) {
      throw new ApiError(
        400,
        'bad_request',
        `Query parameter \`${name}\` is given ${value.length} times; give it once (lists are comma-separated).`,
      )
    }
    out[name] = value
  }
  return out
}

/** A route that declares its query parameters refuses any other (never accepted and ignored). */
function refuseUnknownQuery(query: Record<string, string | undefined>, allowed: readonly string[]): void {
  for (const name of Object.keys(query)) {
    if (!allowed.includes(name)) {
      throw new ApiError(
        400,
        'bad_request',
        `Unknown parameter \`${name}\`: expected one of ${allowed.map((p) => `\`${p}\``).join(', ')}`,
      )
    }
  }
}
