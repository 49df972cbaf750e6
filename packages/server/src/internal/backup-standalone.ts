import { readFile } from 'node:fs/promises'
import { type BackupFileEntry, type BackupManifest, writeBackupFile, writeManifest } from './backup-format.ts'
import type { EnginePort } from './engine-port.ts'
import { ApiError } from './errors.ts'

/**
 * A standalone node's backup (`POST /admin/backups`), run as a task by the queue, which runs one
 * task at a time: the engine image is exactly the state after every earlier task and before
 * every later one. Writes sent meanwhile are accepted (enqueued) and applied once it ends.
 */

export interface BackupSource {
  readonly backupUid: string
  readonly folder: string
  readonly startedAt: Date
  readonly taskUid: number | null
  readonly shoalVersion: string
  /** The key store's file (uids, actions, indexes; no secrets). */
  readonly keysFile: string
  /** The task history, oldest first, as `GET /tasks` shows it. */
  readonly tasks: readonly unknown[]
}

/** The key store's file as stored, or an empty list when the node never wrote one. */
export async function readKeysFile(keysFile: string): Promise<string> {
  return readFile(keysFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '[]'
    throw error
  })
}

export async function writeStandaloneBackup(
  engine: EnginePort,
  source: BackupSource,
): Promise<{ manifest: BackupManifest; bytes: number }> {
  const exportSnapshot = engine.exportSnapshot?.bind(engine)
  if (exportSnapshot === undefined)
    throw new ApiError(500, 'internal', 'this engine cannot export an image', 'internal')
  // Both read before the first await of the export: the queue runs nothing else meanwhile.
  const indexes = engine.listIndexes()
  const stats = await engine.stats()
  const parts: Uint8Array[] = []
  for await (const chunk of exportSnapshot()) parts.push(chunk)
  const image = Buffer.concat(parts)
  // The engine frame's header holds the applied index at byte 16 (u64 LE; engine snapshot-file.ts).
  const appliedIndex = image.byteLength >= 24 ? Number(image.readBigUInt64LE(16)) : 0
  const files: BackupFileEntry[] = []
  files.push(await writeBackupFile(source.folder, 'engine.image', image))
  files.push(await writeBackupFile(source.folder, 'keys.json', await readKeysFile(source.keysFile)))
  files.push(await writeBackupFile(source.folder, 'tasks.json', JSON.stringify(source.tasks)))
  const manifest: BackupManifest = {
    format: 'shoal-backup',
    version: 1,
    backupUid: source.backupUid,
    startedAt: source.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    shoalVersion: source.shoalVersion,
    source: {
      mode: 'standalone',
      node: null,
      clusterId: null,
      metadataVersion: null,
      taskUid: source.taskUid,
    },
    indexes: indexes.map((info) => ({
      uid: info.uid,
      primaryKey: info.primaryKey,
      sharding: null,
      shards: [
        {
          shard: 0,
          file: 'engine.image',
          documents: stats.indexes[info.uid]?.numberOfDocuments ?? 0,
          appliedIndex: Number.isSafeInteger(appliedIndex) ? appliedIndex : 0,
        },
      ],
    })),
    keysFile: 'keys.json',
    tasksFile: 'tasks.json',
    files,
  }
  await writeManifest(source.folder, manifest)
  return { manifest, bytes: files.reduce((sum, f) => sum + f.bytes, 0) }
}
