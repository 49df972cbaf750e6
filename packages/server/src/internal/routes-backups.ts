import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { backupUidAt, MANIFEST_CHECKSUM_FILE, MANIFEST_FILE, readManifest } from './backup-format.ts'
import { type ClusterBackupOptions, startClusterBackup } from './cluster/cluster-backup.ts'
import { ApiError, badRequest } from './errors.ts'
import { RawBody, type RouteSpec, type Services } from './route-spec.ts'

/**
 * `POST /admin/backups` (a task) and the download of a finished backup's files, which
 * `shoal backup create --to DIR` uses. See docs/backups.md.
 */

const BACKUP_UID = /^[0-9]{8}-[0-9]{9}-[0-9a-f]{8}$/

function backupDir(services: Services): string {
  return services.config.backupDir ?? path.join(services.config.dataDir, 'backups')
}

/** A new backup's uid, folder and sources (also `POST /snapshots` on a cluster node). */
export function newBackupOptions(services: Services): ClusterBackupOptions {
  const backupUid = backupUidAt(new Date(), randomBytes(4).toString('hex'))
  return {
    backupUid,
    folder: path.join(backupDir(services), backupUid),
    keysFile: path.join(services.config.dataDir, 'keys.json'),
    shoalVersion: services.version,
  }
}

function backupNotFound(uid: string): ApiError {
  return new ApiError(404, 'backup_not_found', `Backup \`${uid}\` not found on this node.`)
}

export const backupRoutes: RouteSpec[] = [
  {
    method: 'POST',
    url: '/admin/backups',
    action: 'backups.create',
    tag: 'Backups',
    summary:
      'Write a backup (a task with progress): an image of every shard of every index, the API keys, the task history and a checksummed manifest, in `<backup dir>/<backupUid>/` on this node (docs/backups.md)',
    status: 202,
    handler({ body, services }) {
      if (body instanceof Buffer && body.toString('utf8').trim() !== '')
        throw badRequest('bad_request', 'This route takes no body.')
      const options = newBackupOptions(services)
      const { backupUid, folder } = options
      if (services.cluster !== undefined) return startClusterBackup(services.cluster, options)
      return services.queue.enqueue({
        type: 'backupCreation',
        indexUid: null,
        operation: { kind: 'createBackup', backupUid },
        details: { backupUid, path: folder },
      })
    },
  },
  {
    method: 'GET',
    url: '/admin/backups/:backupUid/files/*',
    action: 'backups.get',
    tag: 'Backups',
    summary:
      'One file of a finished backup on this node (the manifest, its checksum, or a file the manifest lists), as bytes; `shoal backup create --to DIR` downloads a backup this way',
    async handler({ params, services }) {
      const uid = params.backupUid ?? ''
      const relative = params['*'] ?? ''
      if (!BACKUP_UID.test(uid)) throw backupNotFound(uid)
      const folder = path.join(backupDir(services), uid)
      const manifest = await readManifest(folder).catch(() => null)
      if (manifest === null) throw backupNotFound(uid)
      const allowed =
        relative === MANIFEST_FILE ||
        relative === MANIFEST_CHECKSUM_FILE ||
        manifest.files.some((f) => f.path === relative)
      if (!allowed)
        throw new ApiError(404, 'backup_file_not_found', `Backup \`${uid}\` has no file \`${relative}\`.`)
      const bytes = await readFile(path.join(folder, ...relative.split('/'))).catch(() => null)
      if (bytes === null)
        throw new ApiError(404, 'backup_file_not_found', `Backup \`${uid}\` is missing \`${relative}\`.`)
      return new RawBody('application/octet-stream', bytes)
    },
  },
]
