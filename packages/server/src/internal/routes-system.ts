import { checkFeaturePatch, experimentalFeatures } from './experimental-features.ts'
import { readJsonBody } from './request-body.ts'
import type { RouteSpec } from './route-spec.ts'

export const systemRoutes: RouteSpec[] = [
  {
    method: 'GET',
    url: '/health',
    action: null,
    tag: 'System',
    summary: 'Liveness: `{ status: "available" }`',
    handler() {
      return { status: 'available' }
    },
  },
  {
    method: 'GET',
    url: '/version',
    action: 'version',
    tag: 'System',
    summary: 'Package version of the server',
    handler({ services }) {
      return { commitSha: 'unknown', commitDate: 'unknown', pkgVersion: services.version }
    },
  },
  {
    method: 'GET',
    url: '/stats',
    action: 'stats.get',
    tag: 'Stats',
    summary: 'Database size, last update and per-index stats',
    handler({ services, grant }) {
      const stats = services.engine.stats()
      const indexes = Object.fromEntries(
        Object.entries(stats.indexes)
          .filter(([uid]) => grant.allowsIndex(uid))
          .map(([uid, s]) => [uid, { ...s, isIndexing: false }]),
      )
      const last = services.queue.list({ statuses: ['succeeded'], limit: 1 }).results[0]
      return { databaseSize: stats.databaseSize, lastUpdate: last?.finishedAt ?? null, indexes }
    },
  },
  {
    method: 'GET',
    url: '/experimental-features',
    action: 'experimental.get',
    tag: 'System',
    summary: "Meilisearch's runtime feature flags, each saying whether Shoal has that feature",
    handler() {
      return experimentalFeatures()
    },
  },
  {
    method: 'PATCH',
    url: '/experimental-features',
    action: 'experimental.update',
    tag: 'System',
    summary: "Shoal's features are fixed: a flag may be restated; switching one is refused with the reason",
    body: 'json',
    handler({ body, contentType }) {
      return checkFeaturePatch(readJsonBody(body, contentType))
    },
  },
]
