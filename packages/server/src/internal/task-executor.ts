import path from 'node:path'
import { writeStandaloneBackup } from './backup-standalone.ts'
import {
  type BackupPaths,
  backupStamp,
  notOnThisNode,
  SNAPSHOT_FILE,
  writeDump,
  writeSnapshot,
} from './backups.ts'
import { addsEmbedders, withVectorRequirement } from './cluster/vector-placement.ts'
import { withMaskedKeys } from './embedder-secrets.ts'
import type { EnginePort, Settings } from './engine-port.ts'
import { ApiError } from './errors.ts'
import { runExport } from './export-task.ts'
import { engineIndexSource } from './index-source.ts'
import type { IndexSwap, Operation, StoredTask } from './task-types.ts'

/**
 * Runs the operation of one task (or one batch of document additions) against
 * the engine and returns the task's details. Throws what the engine throws;
 * the queue records it as the task's error.
 *
 * `recovered` marks a task that was processing when the server stopped (or,
 * on a cluster, whose run was interrupted): the engine may already hold its
 * effect, so "already exists" for a creation and "not found" for a deletion
 * mean it had succeeded. Document writes and settings are idempotent and
 * simply run again. A cluster engine asked again for a creation its task
 * made completes it in every shard instead of answering "already exists".
 */

export type LoadDocuments = (payloadFile: string) => Promise<object[]>

export async function runTask(
  engine: EnginePort,
  task: StoredTask,
  loadDocuments: LoadDocuments,
  recovered: boolean,
  backups?: BackupPaths,
): Promise<Record<string, unknown>> {
  const uid = task.indexUid ?? ''
  const op = task.operation
  switch (op.kind) {
    case 'createIndex':
      try {
        await engine.createIndex(uid, {
          ...(op.primaryKey !== undefined ? { primaryKey: op.primaryKey } : {}),
          ...(op.sharding !== undefined ? { sharding: op.sharding } : {}),
        })
      } catch (error) {
        if (!(recovered && codeOf(error) === 'index_already_exists')) throw error
      }
      return { primaryKey: op.primaryKey ?? null }
    case 'updateIndex':
      return updateIndex(engine, task, op, recovered)
    case 'swapIndexes':
      if (!(recovered && swapsApplied(engine, op.swaps, task.startedAt))) {
        await afterStart(task.startedAt)
        await swapIndexes(engine, op.swaps)
      }
      return { swaps: op.swaps }
    case 'deleteIndex': {
      if (recovered && !engine.hasIndex(uid)) return { deletedDocuments: 0 }
      const before = (await engine.stats()).indexes[uid]?.numberOfDocuments ?? 0
      await engine.deleteIndex(uid)
      return { deletedDocuments: before }
    }
    case 'addDocuments': {
      let docs = await loadDocuments(op.payloadFile)
      if (op.skipCreation === true) {
        docs = await existingOnly(engine, uid, op.primaryKey, docs)
        // Nothing to update: an index that does not exist is not created for it.
        if (docs.length === 0) return { receivedDocuments: op.documentCount, indexedDocuments: 0 }
      }
      await withIndex(engine, uid, op.primaryKey, () => writeDocuments(engine, uid, op, docs), {
        recovered,
      })
      return { receivedDocuments: op.documentCount, indexedDocuments: docs.length }
    }
    case 'deleteDocuments': {
      const result = await engine.index(uid).deleteDocuments(op.ids)
      return { providedIds: op.ids.length, deletedDocuments: result.deletedDocuments ?? 0 }
    }
    case 'deleteByFilter': {
      const result = await engine.index(uid).deleteDocumentsByFilter(op.filter)
      return {
        providedIds: 0,
        deletedDocuments: result.deletedDocuments ?? 0,
        // As enqueued, and as Meilisearch reports it: the filter as JSON text.
        originalFilter: JSON.stringify(op.filter),
      }
    }
    case 'deleteAll': {
      const result = await engine.index(uid).deleteAllDocuments()
      return { deletedDocuments: result.deletedDocuments ?? 0 }
    }
    case 'updateSettings':
      await withIndex(
        engine,
        uid,
        undefined,
        () => engine.index(uid).updateSettings(op.settings as Partial<Settings>),
        {
          recovered,
          // On a cluster, an index created for embedders goes to `vector` nodes only (a
          // standalone engine has no placement and ignores `sharding`).
          ...(addsEmbedders(op.settings)
            ? { sharding: withVectorRequirement(undefined) as Record<string, unknown> }
            : {}),
        },
      )
      // Task details are shown to anyone who may list tasks: no embedder key in them.
      return withMaskedKeys({ ...op.settings })
    case 'resetSettings':
      await engine.index(uid).resetSettings()
      return {}
    case 'taskControl':
      return {}
    case 'createDump': {
      if (backups === undefined) throw new Error('dumps need BackupPaths')
      const at = new Date(task.startedAt ?? Date.now())
      const dumpUid = backupStamp(at)
      await writeDump(engineIndexSource(engine), path.join(backups.dumpDir, `${dumpUid}.dump`), at)
      return { dumpUid }
    }
    case 'export': {
      const { kind: _kind, ...request } = op
      return runExport(engineIndexSource(engine), request)
    }
    case 'createSnapshot':
      if (backups === undefined) throw new Error('snapshots need BackupPaths')
      await writeSnapshot(engine, backups.keysFile, path.join(backups.snapshotDir, SNAPSHOT_FILE))
      return {}
    case 'createBackup': {
      if (backups === undefined) throw new Error('backups need BackupPaths')
      const folder = path.join(backups.backupDir, op.backupUid)
      const { manifest, bytes } = await writeStandaloneBackup(engine, {
        backupUid: op.backupUid,
        folder,
        startedAt: new Date(task.startedAt ?? Date.now()),
        taskUid: task.uid,
        shoalVersion: backups.version ?? 'unknown',
        keysFile: backups.keysFile,
        tasks: (backups.taskHistory?.() ?? []).filter((t) => (t as { uid: number }).uid < task.uid),
      })
      return {
        backupUid: op.backupUid,
        path: folder,
        indexes: manifest.indexes.length,
        shardsTotal: 1,
        shardsWritten: 1,
        bytesWritten: bytes,
      }
    }
    case 'clusterRebalance':
    case 'nodeDrain':
    case 'nodeReplace':
      // Cluster operations are followed by the metadata leader, never run as index writes.
      throw new Error(`a ${op.kind} task reached the task executor`)
  }
}

/**
 * A new primary key and/or a new uid. The rename's target is checked before
 * the primary key changes, so a failed rename changes nothing.
 */
async function updateIndex(
  engine: EnginePort,
  task: StoredTask,
  op: Extract<Operation, { kind: 'updateIndex' }>,
  recovered: boolean,
): Promise<Record<string, unknown>> {
  const uid = task.indexUid ?? ''
  const rename =
    op.newUid === undefined ? [] : [{ indexes: [uid, op.newUid] as [string, string], rename: true }]
  const renamed = recovered && rename.length > 0 && swapsApplied(engine, rename, task.startedAt)
  if (!renamed) {
    if (op.newUid !== undefined && engine.hasIndex(op.newUid)) {
      throw new ApiError(409, 'index_already_exists', `Index \`${op.newUid}\` already exists.`)
    }
    if (op.primaryKey !== undefined) await engine.updateIndex(uid, { primaryKey: op.primaryKey })
    if (rename.length > 0) {
      await afterStart(task.startedAt)
      await swapIndexes(engine, rename)
    }
  }
  return {
    primaryKey: op.primaryKey ?? null,
    ...(op.newUid !== undefined ? { oldIndexUid: uid, newIndexUid: op.newUid } : {}),
  }
}

async function swapIndexes(engine: EnginePort, swaps: IndexSwap[]): Promise<void> {
  if (engine.swapIndexes === undefined) throw notOnThisNode('Index swaps and renames')
  await engine.swapIndexes(swaps)
}

/**
 * Whether a swap recovered after a crash had already been applied. A swap
 * stamps both indexes of every pair with its time, which is strictly after
 * the task started (see `afterStart`); earlier writes are not. A rename is
 * applied when its source is gone and its target exists.
 */
function swapsApplied(engine: EnginePort, swaps: IndexSwap[], startedAt: string | null): boolean {
  const started = startedAt === null ? Number.POSITIVE_INFINITY : Date.parse(startedAt)
  return swaps.every(({ indexes: [a, b], rename }) => {
    if (rename) return !engine.hasIndex(a) && engine.hasIndex(b)
    return [a, b].every((uid) => engine.hasIndex(uid) && Date.parse(engine.getIndex(uid).updatedAt) > started)
  })
}

/** Waits until the clock has passed the task's start, so the swap's stamp is later than it. */
async function afterStart(startedAt: string | null): Promise<void> {
  const started = startedAt === null ? 0 : Date.parse(startedAt)
  while (Date.now() <= started) await new Promise((resolve) => setTimeout(resolve, 1))
}

/**
 * Runs several consecutive document additions of one index as one engine
 * write (atomic in the engine). Returns false when the batch failed as a
 * whole; the caller then runs each task alone so that only the bad one fails.
 */
export async function runDocumentBatch(
  engine: EnginePort,
  tasks: StoredTask[],
  loadDocuments: LoadDocuments,
): Promise<boolean> {
  const first = tasks[0]?.operation
  if (first === undefined || first.kind !== 'addDocuments') throw new Error('not a document batch')
  const uid = tasks[0]?.indexUid ?? ''
  const all: object[] = []
  for (const task of tasks) {
    if (task.operation.kind !== 'addDocuments') throw new Error('mixed document batch')
    // One push per document: a spread of a large task's documents would overflow the call stack.
    for (const doc of await loadDocuments(task.operation.payloadFile)) all.push(doc)
  }
  try {
    await withIndex(engine, uid, first.primaryKey, () => writeDocuments(engine, uid, first, all))
    return true
  } catch {
    return false
  }
}

/**
 * `skipCreation`: keeps the documents whose primary key value is already in
 * the index (an index without documents or without one holds none of them).
 */
async function existingOnly(
  engine: EnginePort,
  uid: string,
  requestedKey: string | undefined,
  docs: object[],
): Promise<object[]> {
  if (!engine.hasIndex(uid)) return []
  const primaryKey = engine.getIndex(uid).primaryKey ?? requestedKey
  if (primaryKey === undefined || primaryKey === null) return []
  const index = engine.index(uid)
  const kept: object[] = []
  for (const doc of docs) {
    const id = (doc as Record<string, unknown>)[primaryKey]
    if (typeof id !== 'string' && typeof id !== 'number') continue
    try {
      await index.getDocument(id, { fields: [primaryKey] })
      kept.push(doc)
    } catch (error) {
      if (codeOf(error) !== 'document_not_found') throw error
    }
  }
  return kept
}

/** Whether `next` may join a batch that starts with `first` (same index, method and primary key). */
export function canBatch(first: StoredTask, next: StoredTask): boolean {
  const a = first.operation
  const b = next.operation
  return (
    a.kind === 'addDocuments' &&
    b.kind === 'addDocuments' &&
    first.indexUid === next.indexUid &&
    a.method === b.method &&
    a.primaryKey === b.primaryKey &&
    // One write concern per batch: an async task must not make a quorum one wait less.
    a.writeConcern === b.writeConcern &&
    // A batch reports its documents as indexed; skipped ones are counted per task.
    a.skipCreation !== true &&
    b.skipCreation !== true
  )
}

async function writeDocuments(
  engine: EnginePort,
  uid: string,
  op: Extract<Operation, { kind: 'addDocuments' }>,
  docs: object[],
): Promise<void> {
  const index = engine.index(uid)
  const opts = {
    ...(op.primaryKey !== undefined ? { primaryKey: op.primaryKey } : {}),
    ...(op.writeConcern !== undefined ? { writeConcern: op.writeConcern } : {}),
  }
  if (op.method === 'replace') await index.addDocuments(docs, opts)
  else await index.updateDocuments(docs, opts)
}

/**
 * Runs a write on an index, creating the index first when it is missing (as
 * Meilisearch does for document additions and settings). When the write
 * fails, an index created for it is deleted again: a failed task leaves no trace.
 *
 * A `recovered` run asks for the creation again when the index exists: a
 * cluster engine completes a creation its first run left unfinished (the
 * record committed, some shards not created yet) and counts it as this
 * task's; a standalone engine answers "already exists", and the index is
 * taken as it is.
 */
async function withIndex(
  engine: EnginePort,
  uid: string,
  primaryKey: string | undefined,
  write: () => Promise<unknown>,
  options: { recovered: boolean; sharding?: Record<string, unknown> } = { recovered: false },
): Promise<void> {
  let created = false
  if (!engine.hasIndex(uid) || options.recovered) {
    try {
      await engine.createIndex(uid, {
        ...(primaryKey === undefined ? {} : { primaryKey }),
        ...(options.sharding === undefined ? {} : { sharding: options.sharding }),
      })
      created = true
    } catch (error) {
      if (!(options.recovered && codeOf(error) === 'index_already_exists')) throw error
    }
  }
  try {
    await write()
  } catch (error) {
    if (created) await engine.deleteIndex(uid)
    throw error
  }
}

function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' ? code : undefined
}
