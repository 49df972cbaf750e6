import { createHmac, timingSafeEqual } from 'node:crypto'
import { Packr } from 'msgpackr'
import type { PeerAddress } from '../p2p/index.ts'
import { isPeerAddress } from '../standby/standby-protocol.ts'
import { type Hlc, isHlc, type Stamp } from './hlc.ts'
import { isWriterClaim, type WriterClaim } from './region-writer.ts'

/**
 * The inter-region feed (docs/multi-region.md, "Feed"). Each committed command of a replicated
 * index that was written in this region is one `FeedEntry`: published on the index's gossipsub
 * topic, and served again by `region.fetch` to a region that found a gap. Bytes on the wire are
 * MessagePack of `[version, origin, index, seq, wallMs, logical, prev, command, mac]`:
 *
 * - `seq` counts the origin's commands on that index from 1, with no gap;
 * - `wallMs`/`logical` is the write's hybrid logical clock (hlc.ts);
 * - `prev` is, per document the command writes (in its order), the version the origin held
 *   before it (`[wallMs, logical, region]` or null): a remote region that held another version
 *   wrote concurrently, which is a conflict;
 * - `command` is the engine command's MessagePack bytes;
 * - `mac` is HMAC-SHA256 under the inter-region key over all the fields before it.
 *
 * The gossipsub message itself is signed by the sending peer; the MAC says the sender holds the
 * inter-region key, and binds the origin region's name to the entry.
 */
export interface FeedEntry {
  origin: string
  index: string
  seq: number
  hlc: Hlc
  prev: Array<Stamp | null>
  command: Uint8Array
}

export const FEED_VERSION = 1

/** The gossipsub topic of one index. */
export function feedTopic(index: string): string {
  return `shoal/region/${FEED_VERSION}/${index}`
}

const packr = new Packr({ useRecords: false, moreTypes: false })

function macOf(key: Uint8Array, fields: unknown[]): Uint8Array {
  return createHmac('sha256', key).update(packr.pack(fields)).digest()
}

function fieldsOf(entry: FeedEntry): unknown[] {
  return [
    FEED_VERSION,
    entry.origin,
    entry.index,
    entry.seq,
    entry.hlc.wallMs,
    entry.hlc.logical,
    entry.prev.map((p) => (p === null ? null : [p.hlc.wallMs, p.hlc.logical, p.region])),
    entry.command,
  ]
}

export function encodeFeedEntry(entry: FeedEntry, key: Uint8Array): Uint8Array {
  const fields = fieldsOf(entry)
  return packr.pack([...fields, macOf(key, fields)])
}

/** Why a feed message was refused (`shoal_region_feed_rejected_total{reason}`). */
export type FeedRejection =
  | 'undecodable'
  | 'bad_version'
  | 'bad_mac'
  | 'unknown_region'
  | 'own_region'
  | 'unreplicated_index'
  | 'clock_skew'
  | 'duplicate'

/** The entry in `bytes`, or why it is refused. Checks the MAC with `key`. */
export function decodeFeedEntry(
  bytes: Uint8Array,
  key: Uint8Array,
): { ok: true; entry: FeedEntry } | { ok: false; reason: FeedRejection } {
  let value: unknown
  try {
    value = packr.unpack(bytes)
  } catch {
    return { ok: false, reason: 'undecodable' }
  }
  if (!Array.isArray(value) || value.length !== 9) return { ok: false, reason: 'undecodable' }
  const [version, origin, index, seq, wallMs, logical, prev, command, mac] = value as unknown[]
  if (version !== FEED_VERSION) return { ok: false, reason: 'bad_version' }
  const hlc = { wallMs, logical }
  if (
    typeof origin !== 'string' ||
    typeof index !== 'string' ||
    typeof seq !== 'number' ||
    !Number.isSafeInteger(seq) ||
    seq < 1 ||
    !isHlc(hlc) ||
    !Array.isArray(prev) ||
    !(command instanceof Uint8Array) ||
    !(mac instanceof Uint8Array)
  )
    return { ok: false, reason: 'undecodable' }
  const stamps: Array<Stamp | null> = []
  for (const p of prev) {
    if (p === null) stamps.push(null)
    else if (
      Array.isArray(p) &&
      p.length === 3 &&
      isHlc({ wallMs: p[0], logical: p[1] }) &&
      typeof p[2] === 'string'
    )
      stamps.push({ hlc: { wallMs: p[0], logical: p[1] }, region: p[2] })
    else return { ok: false, reason: 'undecodable' }
  }
  const entry: FeedEntry = { origin, index, seq, hlc, prev: stamps, command }
  const expected = macOf(key, fieldsOf(entry))
  if (mac.byteLength !== expected.byteLength || !timingSafeEqual(mac, expected))
    return { ok: false, reason: 'bad_mac' }
  return { ok: true, entry }
}

/** Requests between regions over `/shoal/rpc/1` on the region transport. Each is `[kind, body]`. */
export type RegionRequest =
  | ['region.hello', HelloRequest]
  | ['region.fetch', FetchRequest]
  | ['region.ack', AckRequest]
  | ['region.snapshot', SnapshotRequest]

/** Asks a region for its whole view of `index`, when the entries a gap needs were compacted. */
export interface SnapshotRequest {
  index: string
}

/** A region's view of one index: every versioned document (null: deleted) and its own head then. */
export interface IndexSnapshot {
  index: string
  primaryKey: string | null
  /** The answering region's own last seq on `index` when the snapshot was taken. */
  head: number
  /** `[key, wallMs, logical, region, document | null]` per document with a version. */
  documents: Array<[string, number, number, string, Record<string, unknown> | null]>
}

export interface HelloRequest {
  region: string
  /** Where the caller's region transport is reached (gap fills, acks). */
  peer: PeerAddress
  /** Per index: the last seq of the caller's own commands. */
  heads: Record<string, number>
  /** Per index and origin region: the last seq the caller applied durably. */
  applied: Record<string, Record<string, number>>
  /** Per single-writer index: the writer the caller knows, for promotion fencing. */
  writers?: Record<string, WriterClaim>
}

export interface FetchRequest {
  index: string
  fromSeq: number
  maxEntries: number
}

export interface AckRequest {
  region: string
  index: string
  /** The caller holds the receiver's commands on `index` up to `seq`, durably. */
  seq: number
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isSeqMap(value: unknown): value is Record<string, number> {
  return (
    isRecord(value) &&
    Object.values(value).every((v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0)
  )
}

/** The request as a typed value, or undefined when it is not one of ours. */
export function parseRegionRequest(body: unknown): RegionRequest | undefined {
  if (!Array.isArray(body) || body.length !== 2 || !isRecord(body[1])) return undefined
  const [kind, args] = body as [unknown, Record<string, unknown>]
  switch (kind) {
    case 'region.hello':
      return typeof args.region === 'string' &&
        isPeerAddress(args.peer) &&
        isSeqMap(args.heads) &&
        isRecord(args.applied) &&
        Object.values(args.applied).every(isSeqMap) &&
        (args.writers === undefined ||
          (isRecord(args.writers) && Object.values(args.writers).every(isWriterClaim)))
        ? ['region.hello', args as unknown as HelloRequest]
        : undefined
    case 'region.fetch':
      return typeof args.index === 'string' &&
        typeof args.fromSeq === 'number' &&
        Number.isSafeInteger(args.fromSeq) &&
        args.fromSeq >= 1 &&
        typeof args.maxEntries === 'number' &&
        args.maxEntries >= 1
        ? ['region.fetch', args as unknown as FetchRequest]
        : undefined
    case 'region.ack':
      return typeof args.region === 'string' &&
        typeof args.index === 'string' &&
        typeof args.seq === 'number' &&
        Number.isSafeInteger(args.seq)
        ? ['region.ack', args as unknown as AckRequest]
        : undefined
    case 'region.snapshot':
      return typeof args.index === 'string'
        ? ['region.snapshot', args as unknown as SnapshotRequest]
        : undefined
    default:
      return undefined
  }
}
