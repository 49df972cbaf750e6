import { shardOfDocument } from '@shoal/cluster'
import type { Command } from '@shoal/engine'
import { keyOf } from './shard-region-ledger.ts'

/** A document's version in the origin region before a write: `[wallMs, logical, region]`, or null. */
export type PrevVersion = readonly [number, number, string] | null

/** What one local shard is given of a remote write: its part of the command, and the `prev` of its documents. */
export interface RemotePart {
  readonly command: Command
  readonly prev: PrevVersion[]
}

/**
 * Splits a remote region's command over this cluster's `shardCount` shards by primary key
 * (docs/multi-region.md, "Regions made of clusters": regions need not have the same shard
 * count). The result has one part per shard, in shard order, each with the `prev` of the
 * documents it carries in the same order. A shard none of the documents hashes to gets an
 * empty part, which writes nothing and moves that shard's position in the origin's feed;
 * settings and index creations go whole to every shard. `name` is the name the local shards
 * know the index by.
 */
export function splitRemoteCommand(
  command: Command,
  prev: readonly PrevVersion[],
  shardCount: number,
  name: string,
): RemotePart[] {
  if (!Number.isSafeInteger(shardCount) || shardCount < 1) throw new RangeError('shardCount must be positive')
  const shards = Array.from({ length: shardCount }, (_, shard) => shard)
  switch (command.type) {
    case 'addDocuments': {
      const primaryKey = command.primaryKey
      if (primaryKey === null) throw new TypeError('a remote document write names its primary key')
      const parts = shards.map(() => ({
        documents: [] as typeof command.documents,
        prev: [] as PrevVersion[],
      }))
      command.documents.forEach((doc, i) => {
        const part = parts[shardOfDocument(keyOf(doc, primaryKey, i), shardCount)]!
        part.documents.push(doc)
        part.prev.push(prev[i] ?? null)
      })
      return parts.map((part) => ({
        command: { ...command, uid: name, documents: part.documents },
        prev: part.prev,
      }))
    }
    case 'deleteDocuments': {
      const parts = shards.map(() => ({ ids: [] as typeof command.ids, prev: [] as PrevVersion[] }))
      command.ids.forEach((id, i) => {
        const part = parts[shardOfDocument(id, shardCount)]!
        part.ids.push(id)
        part.prev.push(prev[i] ?? null)
      })
      return parts.map((part) => ({ command: { ...command, uid: name, ids: part.ids }, prev: part.prev }))
    }
    case 'updateSettings':
    case 'createIndex':
      return shards.map(() => ({ command: { ...command, uid: name }, prev: [...prev] }))
    default:
      throw new TypeError(`a ${command.type} command is not replicated between regions`)
  }
}

/**
 * What this cluster applied of a remote shard's feed: the lowest position its own shards
 * recorded (every shard is given every remote entry, so each position is a prefix), 0 when a
 * shard has none.
 */
export function appliedOverShards(positions: readonly number[]): number {
  return positions.length === 0 ? 0 : Math.min(...positions)
}
