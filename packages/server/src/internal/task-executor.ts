import type { EnginePort, Settings } from './engine-port.ts'
import type { Operation, StoredTask } from './task-types.ts'

/**
 * Runs the operation of one task (or one batch of document additions) against
 * the engine and returns the task's details. Throws what the engine throws;
 * the queue records it as the task's error.
 *
 * `recovered` marks a task that was processing when the server stopped: the
 * engine may already hold its effect, so "already exists" for a creation and
 * "not found" for a deletion mean it had succeeded. Document writes and
 * settings are idempotent and simply run again.
 */

export type LoadDocuments = (payloadFile: string) => Promise<object[]>

export async function runTask(
  engine: EnginePort,
  task: StoredTask,
  loadDocuments: LoadDocuments,
  recovered: boolean,
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
      await engine.updateIndex(uid, { primaryKey: op.primaryKey })
      return { primaryKey: op.primaryKey }
    case 'deleteIndex': {
      if (recovered && !engine.hasIndex(uid)) return { deletedDocuments: 0 }
      const before = (await engine.stats()).indexes[uid]?.numberOfDocuments ?? 0
      await engine.deleteIndex(uid)
      return { deletedDocuments: before }
    }
    case 'addDocuments': {
      const docs = await loadDocuments(op.payloadFile)
      await withIndex(engine, uid, op.primaryKey, () => writeDocuments(engine, uid, op, docs))
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
      await withIndex(engine, uid, undefined, () =>
        engine.index(uid).updateSettings(op.settings as Partial<Settings>),
      )
      return { ...op.settings }
    case 'resetSettings':
      await engine.index(uid).resetSettings()
      return {}
    case 'taskControl':
      return {}
  }
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
    all.push(...(await loadDocuments(task.operation.payloadFile)))
  }
  try {
    await withIndex(engine, uid, first.primaryKey, () => writeDocuments(engine, uid, first, all))
    return true
  } catch {
    return false
  }
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
    a.primaryKey === b.primaryKey
  )
}

async function writeDocuments(
  engine: EnginePort,
  uid: string,
  op: Extract<Operation, { kind: 'addDocuments' }>,
  docs: object[],
): Promise<void> {
  const index = engine.index(uid)
  const opts = op.primaryKey !== undefined ? { primaryKey: op.primaryKey } : {}
  if (op.method === 'replace') await index.addDocuments(docs, opts)
  else await index.updateDocuments(docs, opts)
}

/**
 * Runs a write on an index, creating the index first when it is missing (as
 * Meilisearch does for document additions and settings). When the write
 * fails, an index created for it is deleted again: a failed task leaves no trace.
 */
async function withIndex(
  engine: EnginePort,
  uid: string,
  primaryKey: string | undefined,
  write: () => Promise<unknown>,
): Promise<void> {
  const created = !engine.hasIndex(uid)
  if (created) await engine.createIndex(uid, primaryKey !== undefined ? { primaryKey } : {})
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
