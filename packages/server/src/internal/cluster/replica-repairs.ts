import { readFile } from 'node:fs/promises'
import path from 'node:path'
import type { Doc, Engine } from '@shoal/engine'
import { Packr } from 'msgpackr'
import { writeFileDurably } from '../task-log.ts'

/**
 * The repairs anti-entropy made to one shard replica, kept durably beside it.
 *
 * A repair changes the replica's engine outside the Raft log, so replaying the log after a
 * restart would bring the corruption back. The replica therefore writes each repair to
 * `<replica dir>/repairs.msgpack` (a MessagePack array, replaced atomically: temporary file,
 * fsync, rename, fsync of the folder) before applying it, and applies it again whenever it
 * reaches the repair's position: after replaying the entry at that position, or right after
 * restoring a snapshot taken at that position without it. The snapshot records which repairs
 * its state already holds at its position (`repairedHere`), so none applies twice.
 */
export interface ReplicaRepair {
  /** Unique, so that a snapshot can say it holds this repair. */
  readonly id: string
  /** The entry position the replica was at when repaired. */
  readonly position: number
  readonly indexUid: string
  /** Documents to add or replace (the majority's stored versions). */
  readonly put: readonly Doc[]
  /** Id keys of documents to delete. */
  readonly delete: readonly string[]
}

const FILE = 'repairs.msgpack'
const packr = new Packr({ useRecords: false, moreTypes: false })

/** The repairs journaled in `dir` (none when there is no journal). Throws on an unreadable one. */
export async function readRepairJournal(dir: string): Promise<ReplicaRepair[]> {
  let bytes: Buffer
  try {
    bytes = await readFile(path.join(dir, FILE))
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return []
    throw error
  }
  const repairs = packr.unpack(bytes) as ReplicaRepair[]
  if (
    !Array.isArray(repairs) ||
    !repairs.every((r) => typeof r?.id === 'string' && Number.isSafeInteger(r.position))
  )
    throw new Error(`the anti-entropy repair journal in ${dir} is unreadable`)
  return repairs
}

/** Replaces the journal in `dir` with `repairs`, durably. */
export async function writeRepairJournal(dir: string, repairs: readonly ReplicaRepair[]): Promise<void> {
  await writeFileDurably(path.join(dir, FILE), Buffer.from(packr.pack(repairs)))
}

/**
 * Applies a repair to the engine: deletions, then additions (add-or-replace, the index's primary
 * key), keeping the index's `updatedAt`. Throws the engine's typed error if one is refused.
 */
export async function applyRepair(engine: Engine, repair: ReplicaRepair): Promise<void> {
  const info = engine.getIndex(repair.indexUid)
  const at = info.updatedAt
  if (repair.delete.length > 0) {
    const result = await engine.apply({
      type: 'deleteDocuments',
      uid: repair.indexUid,
      ids: [...repair.delete],
      at,
    })
    if (!result.ok) throw result.error
  }
  if (repair.put.length > 0) {
    const result = await engine.apply({
      type: 'addDocuments',
      uid: repair.indexUid,
      documents: [...repair.put],
      primaryKey: info.primaryKey,
      merge: false,
      at,
    })
    if (!result.ok) throw result.error
  }
}
