import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, open, readFile, rename, stat } from 'node:fs/promises'
import path from 'node:path'

/**
 * The backup folder (format `shoal-backup`, version 1; docs/formats/backup.md):
 *
 *   <folder>/manifest.json          what the backup holds (below), written last
 *   <folder>/manifest.json.sha256   sha256 of manifest.json, hex, one line
 *   <folder>/keys.json              the API keys of the node that wrote it (uids, no secrets)
 *   <folder>/tasks.json             the task history, as `GET /tasks` shows it, oldest first
 *   <folder>/engine.image           standalone: the engine image holding every index
 *   <folder>/shards/<n>/<s>.image   cluster: the image of shard <s> of the n-th index of the manifest
 *
 * Every `.image` is an engine image frame (its own magic, version and checksum), readable by
 * `Engine.restoreImage`. Every file but the manifest and its checksum is listed in
 * `manifest.files` with its size and sha256: verify and restore check all of them before
 * anything else is done. Files are written under a temporary name, fsync'd and renamed, the
 * manifest last: a folder with a manifest is whole.
 */

export const BACKUP_FORMAT = 'shoal-backup'
export const BACKUP_VERSION = 1
export const MANIFEST_FILE = 'manifest.json'
export const MANIFEST_CHECKSUM_FILE = 'manifest.json.sha256'

export interface BackupFileEntry {
  /** Relative to the backup folder, `/`-separated. */
  readonly path: string
  readonly bytes: number
  /** sha256 of the file's bytes, hex. */
  readonly sha256: string
}

export interface BackupShardEntry {
  readonly shard: number
  /** The image holding this shard's documents and settings (under the index's uid). */
  readonly file: string
  readonly documents: number
  /** The shard's Raft log index the image was taken at (cluster), or the engine's applied index. */
  readonly appliedIndex: number
}

export interface BackupIndexEntry {
  readonly uid: string
  readonly primaryKey: string | null
  /** The source's sharding (a standalone index has none). */
  readonly sharding: { shardCount: number; replicationFactor: number; strategy: string } | null
  readonly shards: readonly BackupShardEntry[]
}

export interface BackupManifest {
  readonly format: typeof BACKUP_FORMAT
  readonly version: typeof BACKUP_VERSION
  readonly backupUid: string
  /** When the backup started: every task that succeeded before it is in the backup. */
  readonly startedAt: string
  readonly finishedAt: string
  readonly shoalVersion: string
  readonly source: {
    readonly mode: 'standalone' | 'cluster'
    /** The node that wrote the backup (cluster: its node id). */
    readonly node: string | null
    readonly clusterId: string | null
    /** The metadata version the shard map was read at (cluster). */
    readonly metadataVersion: number | null
    /** The backup's own task uid. */
    readonly taskUid: number | null
  }
  readonly indexes: readonly BackupIndexEntry[]
  readonly keysFile: string
  readonly tasksFile: string
  readonly files: readonly BackupFileEntry[]
}

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex')
}

async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Writes one file of a backup whole (temporary name, fsync, rename) and returns its entry. */
export async function writeBackupFile(
  folder: string,
  relative: string,
  bytes: Uint8Array | string,
): Promise<BackupFileEntry> {
  const file = path.join(folder, ...relative.split('/'))
  await mkdir(path.dirname(file), { recursive: true })
  const temporary = `${file}.partial`
  const handle = await open(temporary, 'w')
  try {
    await handle.writeFile(bytes)
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(temporary, file)
  await syncFolder(path.dirname(file))
  const size = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.byteLength
  return { path: relative, bytes: size, sha256: sha256Hex(bytes) }
}

/** Writes the manifest and its checksum: the last step, after which the backup is whole. */
export async function writeManifest(folder: string, manifest: BackupManifest): Promise<void> {
  const text = `${JSON.stringify(manifest, null, 2)}\n`
  await writeBackupFile(folder, MANIFEST_FILE, text)
  await writeBackupFile(folder, MANIFEST_CHECKSUM_FILE, `${sha256Hex(text)}\n`)
}

/** One thing wrong with a backup folder. */
export interface BackupProblem {
  readonly file: string
  readonly problem: string
}

/** A backup folder failed verification: nothing was restored. */
export class BackupCorruptError extends Error {
  override readonly name = 'BackupCorruptError'
  readonly code = 'backup_corrupt'
  readonly problems: readonly BackupProblem[]
  constructor(folder: string, problems: readonly BackupProblem[]) {
    super(
      `the backup in ${folder} failed verification: ${problems.map((p) => `${p.file}: ${p.problem}`).join('; ')}`,
    )
    this.problems = problems
  }
}

/** Reads the manifest, checking its checksum and shape; throws BackupCorruptError when unusable. */
export async function readManifest(folder: string): Promise<BackupManifest> {
  const fail = (file: string, problem: string) => new BackupCorruptError(folder, [{ file, problem }])
  const text = await readFile(path.join(folder, MANIFEST_FILE), 'utf8').catch(() => null)
  if (text === null) throw fail(MANIFEST_FILE, 'missing (not a backup folder, or one cut short)')
  const expected = await readFile(path.join(folder, MANIFEST_CHECKSUM_FILE), 'utf8').catch(() => null)
  if (expected === null) throw fail(MANIFEST_CHECKSUM_FILE, 'missing')
  if (expected.trim() !== sha256Hex(text)) throw fail(MANIFEST_FILE, 'checksum mismatch')
  let manifest: BackupManifest
  try {
    manifest = JSON.parse(text) as BackupManifest
  } catch (error) {
    throw fail(MANIFEST_FILE, `not JSON: ${(error as Error).message}`)
  }
  if (manifest.format !== BACKUP_FORMAT) throw fail(MANIFEST_FILE, `format is not ${BACKUP_FORMAT}`)
  if (manifest.version !== BACKUP_VERSION)
    throw fail(MANIFEST_FILE, `format version ${manifest.version} (this Shoal reads ${BACKUP_VERSION})`)
  if (!Array.isArray(manifest.files) || !Array.isArray(manifest.indexes))
    throw fail(MANIFEST_FILE, 'no files or indexes list')
  const listed = new Set(manifest.files.map((f) => f.path))
  for (const needed of [
    manifest.keysFile,
    manifest.tasksFile,
    ...manifest.indexes.flatMap((i) => i.shards.map((s: BackupShardEntry) => s.file)),
  ])
    if (!listed.has(needed)) throw fail(MANIFEST_FILE, `names ${needed} without a checksum for it`)
  for (const entry of manifest.files)
    if (
      entry.path.split('/').some((part: string) => part === '..' || part === '') ||
      path.isAbsolute(entry.path)
    )
      throw fail(MANIFEST_FILE, `file path ${entry.path} leaves the backup folder`)
  return manifest
}

async function fileChecksum(file: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256')
  let bytes = 0
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer)
    bytes += (chunk as Buffer).byteLength
  }
  return { bytes, sha256: hash.digest('hex') }
}

/** Checks every file of a backup against the manifest; an empty list means it is whole. */
export async function verifyBackup(
  folder: string,
): Promise<{ manifest: BackupManifest | null; problems: BackupProblem[] }> {
  let manifest: BackupManifest
  try {
    manifest = await readManifest(folder)
  } catch (error) {
    if (error instanceof BackupCorruptError) return { manifest: null, problems: [...error.problems] }
    throw error
  }
  const problems: BackupProblem[] = []
  for (const entry of manifest.files) {
    const file = path.join(folder, ...entry.path.split('/'))
    const found = await stat(file).catch(() => null)
    if (found === null) {
      problems.push({ file: entry.path, problem: 'missing' })
      continue
    }
    const actual = await fileChecksum(file)
    if (actual.bytes !== entry.bytes)
      problems.push({ file: entry.path, problem: `size ${actual.bytes} bytes, expected ${entry.bytes}` })
    else if (actual.sha256 !== entry.sha256) problems.push({ file: entry.path, problem: 'checksum mismatch' })
  }
  return { manifest, problems }
}

/** `YYYYMMDD-HHMMSSmmm` plus a suffix: the uid (and folder name) of a backup. */
export function backupUidAt(at: Date, suffix: string): string {
  const iso = at.toISOString()
  return `${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11, 23).replace(/[:.]/g, '')}-${suffix}`
}
