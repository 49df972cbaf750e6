import { createHmac, timingSafeEqual } from 'node:crypto'
import type { Command } from '@shoal/engine'
import { Packr } from 'msgpackr'
import type { PrevVersion } from './region-split.ts'

/**
 * A cluster region's feed entry (docs/multi-region.md, "Regions made of clusters"): one local
 * write of a replicated index, as one shard's region ledger recorded it. Bytes on the wire are
 * MessagePack of
 * `[2, origin, index, originShard, seq, after, wallMs, logical, prev, command, mac]`:
 *
 * - `index` is the index uid; `originShard` the origin's shard group name;
 * - `seq` is the Raft index of the shard entry, `after` the `seq` of the shard's previous entry
 *   of the index (0: none): a receiver that applied `after` applies this one next;
 * - `prev` is, per document of `command` in order, the version the origin held before;
 * - `command` is the engine command's MessagePack bytes;
 * - `mac` is HMAC-SHA256 under the inter-region key over every field before it.
 *
 * Version 2 of the feed format (a standalone region's entries are version 1, region-protocol.ts):
 * the two are not mixed on one link.
 */
export interface ClusterFeedEntry {
  origin: string
  index: string
  originShard: string
  seq: number
  after: number
  wallMs: number
  logical: number
  prev: PrevVersion[]
  command: Command
}

export const CLUSTER_FEED_VERSION = 2

const packr = new Packr({ useRecords: false, moreTypes: false })

function fieldsOf(entry: ClusterFeedEntry): unknown[] {
  return [
    CLUSTER_FEED_VERSION,
    entry.origin,
    entry.index,
    entry.originShard,
    entry.seq,
    entry.after,
    entry.wallMs,
    entry.logical,
    entry.prev,
    packr.pack(entry.command),
  ]
}

function macOf(key: Uint8Array, fields: unknown[]): Buffer {
  return createHmac('sha256', key).update(packr.pack(fields)).digest()
}

export function encodeClusterFeedEntry(entry: ClusterFeedEntry, key: Uint8Array): Uint8Array {
  const fields = fieldsOf(entry)
  return packr.pack([...fields, macOf(key, fields)])
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const isName = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 256

/** The entry in `bytes`, or why it is refused (the MAC is checked with `key`). */
export function decodeClusterFeedEntry(
  bytes: Uint8Array,
  key: Uint8Array,
): { ok: true; entry: ClusterFeedEntry } | { ok: false; reason: 'undecodable' | 'bad_version' | 'bad_mac' } {
  let fields: unknown
  try {
    fields = packr.unpack(bytes)
  } catch {
    return { ok: false, reason: 'undecodable' }
  }
  if (!Array.isArray(fields) || fields.length !== 11) return { ok: false, reason: 'undecodable' }
  if (fields[0] !== CLUSTER_FEED_VERSION) return { ok: false, reason: 'bad_version' }
  const [, origin, index, originShard, seq, after, wallMs, logical, prev, commandBytes, mac] = fields
  if (!(mac instanceof Uint8Array) || mac.byteLength !== 32) return { ok: false, reason: 'undecodable' }
  const expected = macOf(key, fields.slice(0, 10))
  if (!timingSafeEqual(expected, Buffer.from(mac))) return { ok: false, reason: 'bad_mac' }
  if (
    !isName(origin) ||
    !isName(index) ||
    !isName(originShard) ||
    !isCount(seq) ||
    seq === 0 ||
    !isCount(after) ||
    after >= seq ||
    !isCount(wallMs) ||
    !isCount(logical) ||
    !Array.isArray(prev) ||
    !prev.every(
      (p) =>
        p === null || (Array.isArray(p) && p.length === 3 && isCount(p[0]) && isCount(p[1]) && isName(p[2])),
    ) ||
    !(commandBytes instanceof Uint8Array)
  )
    return { ok: false, reason: 'undecodable' }
  let command: Command
  try {
    command = packr.unpack(commandBytes) as Command
  } catch {
    return { ok: false, reason: 'undecodable' }
  }
  if (typeof command !== 'object' || command === null || typeof command.type !== 'string')
    return { ok: false, reason: 'undecodable' }
  return {
    ok: true,
    entry: { origin, index, originShard, seq, after, wallMs, logical, prev: prev as PrevVersion[], command },
  }
}
