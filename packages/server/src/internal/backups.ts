import { createHash } from 'node:crypto'
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises'
import path from 'node:path'
import type { EnginePort } from './engine-port.ts'
import { type ApiError, badRequest } from './errors.ts'
import type { IndexSource } from './index-source.ts'

/**
 * Server-side dumps and snapshots (`POST /dumps`, `POST /snapshots`), written
 * by tasks, so that no write runs while they read the engine: the queue runs
 * one task at a time.
 *
 * A dump is the portable JSON-lines file `shoal dump` writes (format below,
 * shared with cli-dump.ts), vectors included; `shoal start --import-dump`
 * or `shoal restore` loads it. A snapshot is the engine's own checksummed
 * image plus the API keys, for `shoal start --import-snapshot`:
 *
 *   offset 0   "SHOALSNP"                     magic, 8 bytes
 *          8   u32 BE format version (1)
 *         12   u32 BE length of the keys JSON (n)
 *         16   sha256 of the keys JSON, 32 bytes
 *         48   the keys JSON (keys.json as stored: uids, actions, indexes; no secrets)
 *     48 + n   the engine snapshot frame (its own magic, version and checksum)
 *
 * Both are written to a temporary name, fsync'd, then renamed: a file under
 * its final name is always whole.
 */

export interface BackupPaths {
  /** Folder dumps are written to. */
  dumpDir: string
  /** Folder snapshots are written to. */
  snapshotDir: string
  /** The key store's file, copied into snapshots and backups. */
  keysFile: string
  /** Folder `POST /admin/backups` writes each backup's folder to. */
  backupDir: string
  /** The task history for backups, oldest first (set by the queue that runs them). */
  taskHistory?: () => readonly unknown[]
  /** The package version, recorded in backup manifests. */
  version?: string
}

/** The snapshot's name in the snapshot folder; each snapshot replaces the last, as in Meilisearch. */
export const SNAPSHOT_FILE = 'shoal.snapshot'

const DUMP_CHUNK = 1000
/** A dump reports its progress after each part and every this many chunks within one. */
const PROGRESS_CHUNKS = 10
const MAGIC = Buffer.from('SHOALSNP', 'latin1')
const SNAPSHOT_VERSION = 1
const HEADER_BYTES = 48

/** `YYYYMMDD-HHMMSSmmm` (UTC), the shape of Meilisearch's dump uids. */
export function backupStamp(at: Date): string {
  const iso = at.toISOString()
  return `${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11, 23).replace(/[:.]/g, '')}`
}

async function writeWhole(
  file: string,
  write: (append: (bytes: string | Uint8Array) => Promise<void>) => Promise<void>,
) {
  await mkdir(path.dirname(file), { recursive: true })
  const temporary = `${file}.partial`
  const handle = await open(temporary, 'w')
  try {
    await write(async (bytes) => {
      if (typeof bytes === 'string') await handle.write(bytes)
      else await handle.write(bytes)
    })
    await handle.sync()
  } catch (error) {
    // A failed write leaves nothing behind: no half file, under either name.
    await handle.close()
    await rm(temporary, { force: true })
    throw error
  }
  await handle.close()
  await rename(temporary, file)
  const folder = await open(path.dirname(file), 'r')
  try {
    await folder.sync()
  } finally {
    await folder.close()
  }
}

/**
 * How far a dump has come, reported after each part of an index (a shard on a cluster) and every
 * 10,000 documents within one.
 */
export interface DumpProgress {
  readonly indexesTotal: number
  readonly indexesDone: number
  readonly documentsDone: number
}

/**
 * Writes every index of `source` (settings, documents with their vectors; its sharding on a
 * cluster) as a dump; returns counts. The file appears under its name only once whole.
 */
export async function writeDump(
  source: IndexSource,
  file: string,
  createdAt: Date,
  progress: (done: DumpProgress) => Promise<void> = async () => {},
): Promise<{ indexes: number; documents: number }> {
  let documents = 0
  const indexes = await source.indexes()
  await writeWhole(file, async (append) => {
    const line = (value: unknown) => append(`${JSON.stringify(value)}\n`)
    await line({ type: 'header', format: 'shoal-dump', version: 1, createdAt: createdAt.toISOString() })
    for (const [done, info] of indexes.entries()) {
      await source.readParts(info.uid, async (part, position) => {
        // The settings of the first part: every shard of an index holds the same settings.
        if (position === 0)
          await line({
            type: 'index',
            uid: info.uid,
            primaryKey: info.primaryKey,
            settings: await part.settings(),
            ...(info.sharding === undefined ? {} : { sharding: info.sharding }),
          })
        const report = () =>
          progress({ indexesTotal: indexes.length, indexesDone: done, documentsDone: documents })
        for (let offset = 0; ; offset += DUMP_CHUNK) {
          const page = await part.documents({ offset, limit: DUMP_CHUNK })
          if (page.length > 0) await line({ type: 'documents', indexUid: info.uid, documents: page })
          documents += page.length
          if (page.length < DUMP_CHUNK) break
          // Within a large part too, so a long dump shows it moving.
          if ((offset / DUMP_CHUNK) % PROGRESS_CHUNKS === PROGRESS_CHUNKS - 1) await report()
        }
        await report()
      })
    }
    await line({ type: 'end', indexes: indexes.length, documents })
  })
  await progress({ indexesTotal: indexes.length, indexesDone: indexes.length, documentsDone: documents })
  return { indexes: indexes.length, documents }
}

/** Writes the engine's image and the keys as one snapshot file. */
export async function writeSnapshot(engine: EnginePort, keysFile: string, file: string): Promise<number> {
  const exportSnapshot = engine.exportSnapshot?.bind(engine)
  if (exportSnapshot === undefined) throw notOnThisNode('Snapshots')
  const keys = await readFile(keysFile).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return Buffer.from('[]')
    throw error
  })
  let bytes = 0
  await writeWhole(file, async (append) => {
    const header = Buffer.alloc(HEADER_BYTES)
    MAGIC.copy(header, 0)
    header.writeUInt32BE(SNAPSHOT_VERSION, 8)
    header.writeUInt32BE(keys.byteLength, 12)
    createHash('sha256').update(keys).digest().copy(header, 16)
    await append(header)
    await append(keys)
    bytes += header.byteLength + keys.byteLength
    for await (const chunk of exportSnapshot()) {
      await append(chunk)
      bytes += chunk.byteLength
    }
  })
  return bytes
}

/** Reads a snapshot file: the keys JSON (checked) and the engine frame (checked when installed). */
export async function readSnapshot(file: string): Promise<{ keysJson: Buffer; engineFrame: Buffer }> {
  const bytes = await readFile(file)
  const bad = (why: string) => new Error(`${file} is not a usable Shoal snapshot: ${why}`)
  if (bytes.byteLength < HEADER_BYTES || !bytes.subarray(0, 8).equals(MAGIC)) throw bad('no snapshot header')
  const version = bytes.readUInt32BE(8)
  if (version !== SNAPSHOT_VERSION)
    throw bad(`format version ${version} (this Shoal reads ${SNAPSHOT_VERSION})`)
  const keysLength = bytes.readUInt32BE(12)
  if (HEADER_BYTES + keysLength > bytes.byteLength) throw bad('cut short in its keys')
  const keysJson = bytes.subarray(HEADER_BYTES, HEADER_BYTES + keysLength)
  if (!createHash('sha256').update(keysJson).digest().equals(bytes.subarray(16, 48))) {
    throw bad('the keys fail their checksum')
  }
  return { keysJson, engineFrame: bytes.subarray(HEADER_BYTES + keysLength) }
}

/** What a node without the capability (a cluster node) answers, before anything is enqueued. */
export function notOnThisNode(what: string): ApiError {
  return badRequest('bad_request', `${what} are not supported on a cluster node yet; use a standalone node.`)
}
