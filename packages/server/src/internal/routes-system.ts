import path from 'node:path'
import { notOnThisNode } from './backups.ts'
import { startClusterBackup } from './cluster/cluster-backup.ts'
import { startClusterDump, startClusterExport } from './cluster/cluster-dump.ts'
import { badRequest } from './errors.ts'
import { checkFeaturePatch, experimentalFeatures } from './experimental-features.ts'
import { exportDetails, parseExportRequest } from './export-task.ts'
import { readJsonBody } from './request-body.ts'
import type { RouteSpec, Services } from './route-spec.ts'
import { newBackupOptions } from './routes-backups.ts'

/** Dumps and snapshots take no options: a body would be ignored, so it is refused. */
function refuseBody(body: unknown): void {
  if (body instanceof Buffer && body.toString('utf8').trim() !== '') {
    throw badRequest('bad_request', 'This route takes no body.')
  }
}

function dumpDir(services: Services): string {
  return services.config.dumpDir ?? path.join(services.config.dataDir, 'dumps')
}

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
    async handler({ services, grant }) {
      const stats = await services.engine.stats()
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
  {
    method: 'POST',
    url: '/dumps',
    action: 'dumps.create',
    tag: 'Backups',
    summary:
      'Write a dump (a task): every index with its settings and documents, vectors included, as JSON lines in `<dump dir>/<dumpUid>.dump` (on a cluster: read through the shards, on the node that received the request); `shoal start --import-dump` loads it',
    status: 202,
    handler({ body, services }) {
      refuseBody(body)
      // On a cluster, this node reads every shard from its leader and writes the dump to its disk.
      if (services.cluster !== undefined) return startClusterDump(services.cluster, dumpDir(services))
      if (services.engine.exportSnapshot === undefined) throw notOnThisNode('Dumps')
      return services.queue.enqueue({
        type: 'dumpCreation',
        indexUid: null,
        operation: { kind: 'createDump' },
        details: { dumpUid: null },
      })
    },
  },
  {
    method: 'POST',
    url: '/export',
    action: 'export',
    tag: 'Backups',
    summary:
      'Copy indexes to another instance (a task): body `{ url, apiKey?, payloadSize?, indexes?: { <pattern>: { filter?, overrideSettings? } } }`; creates missing remote indexes, sends settings (new indexes, or `overrideSettings`) and the documents in bodies of at most `payloadSize` (on a cluster: read through the shards, by the node that received the request)',
    status: 202,
    body: 'json',
    handler({ body, contentType, services }) {
      const request = parseExportRequest(readJsonBody(body, contentType))
      // On a cluster, this node reads every shard from its leader and sends the documents.
      if (services.cluster !== undefined)
        return startClusterExport(services.cluster, request, path.join(services.config.dataDir, 'scratch'))
      if (services.engine.exportSnapshot === undefined) throw notOnThisNode('Exports')
      return services.queue.enqueue({
        type: 'export',
        indexUid: null,
        operation: { kind: 'export', ...request },
        details: exportDetails(request),
      })
    },
  },
  {
    method: 'POST',
    url: '/snapshots',
    action: 'snapshots.create',
    tag: 'Backups',
    summary:
      'Write a snapshot (a task): the engine image and the API keys in `<snapshot dir>/shoal.snapshot`, replacing the last; `shoal start --import-snapshot` loads it. On a cluster node: a cluster backup (a `backupCreation` task, as `POST /admin/backups`)',
    status: 202,
    handler({ body, services }) {
      refuseBody(body)
      // A cluster has no single engine image: its snapshot is a cluster backup (docs/backups.md).
      if (services.cluster !== undefined)
        return startClusterBackup(services.cluster, newBackupOptions(services))
      if (services.engine.exportSnapshot === undefined) throw notOnThisNode('Snapshots')
      return services.queue.enqueue({
        type: 'snapshotCreation',
        indexUid: null,
        operation: { kind: 'createSnapshot' },
        details: {},
      })
    },
  },
]
