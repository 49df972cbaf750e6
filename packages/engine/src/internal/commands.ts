/**
 * The command log's vocabulary. Every mutation of the database is one of
 * these, encoded with msgpackr (plain MessagePack: no records, so the bytes
 * depend only on the command) and appended to the log before it is applied.
 * `at` is the proposer's wall-clock time as an ISO string, carried in the
 * command so that applying it is deterministic on every replica.
 */

import { Packr } from 'msgpackr'
import type { ShoalError } from '../errors.ts'
import type { Doc, Filter, IndexInfo, Settings, SettingsUpdate, WriteResult } from '../types.ts'

export type Command =
  | {
      type: 'createIndex'
      uid: string
      primaryKey: string | null
      settings: SettingsUpdate | null
      at: string
    }
  | { type: 'updateIndex'; uid: string; primaryKey: string; at: string }
  | { type: 'deleteIndex'; uid: string; at: string }
  | {
      type: 'addDocuments'
      uid: string
      documents: Doc[]
      primaryKey: string | null
      /** true: add-or-update (merge top-level fields); false: add-or-replace. */
      merge: boolean
      at: string
    }
  | { type: 'deleteDocuments'; uid: string; ids: (string | number)[]; at: string }
  | { type: 'deleteDocumentsByFilter'; uid: string; filter: Filter; at: string }
  | { type: 'deleteAllDocuments'; uid: string; at: string }
  | { type: 'updateSettings'; uid: string; settings: SettingsUpdate; at: string }
  /**
   * Swaps pairs of indexes atomically (all pairs or none); a pair with
   * `rename` moves the first index to the second uid, which must be free.
   */
  | { type: 'swapIndexes'; swaps: IndexSwap[]; at: string }

/** One pair of a `swapIndexes` command. */
export interface IndexSwap {
  indexes: [string, string]
  rename: boolean
}

/** What applying a command produced: a value, or the typed error that left the state unchanged. */
export type ApplyResult =
  | { ok: true; value: IndexInfo | WriteResult | Settings | null }
  | { ok: false; error: ShoalError }

const packr = new Packr({ useRecords: false, moreTypes: false })

export function encodeCommand(command: Command): Uint8Array {
  return packr.pack(command)
}

/** Decodes a logged command; throws on bytes that are not a command. */
export function decodeCommand(payload: Uint8Array): Command {
  const command = packr.unpack(payload) as Command
  if (command === null || typeof command !== 'object' || typeof command.type !== 'string') {
    throw new TypeError('not a command')
  }
  return command
}

/** msgpackr is also the snapshot body's encoding. */
export function encodeValue(value: unknown): Uint8Array {
  return packr.pack(value)
}

export function decodeValue(bytes: Uint8Array): unknown {
  return packr.unpack(bytes)
}
