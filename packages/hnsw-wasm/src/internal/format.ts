import { crc32 } from 'node:zlib'
import type { Metric } from '../config.ts'
import { CorruptIndexError } from '../errors.ts'

/**
 * Serialised index, little-endian:
 *
 * ```
 *  offset  size  field
 *       0     4  magic "SHNW"
 *       4     2  format version (1)
 *       6     1  metric: 0 l2, 1 dot, 2 cosine
 *       7     1  reserved, 0
 *       8     4  dimensions
 *      12     4  M
 *      16     4  efConstruction
 *      20     4  efSearch
 *      24     4  nodes (live and tombstoned)
 *      28     4  entry node (i32, -1 when empty)
 *      32     4  top level (i32, -1 when empty)
 *      36     4  tombstoned nodes
 *      40     4  upper-link bytes
 *      44     8  level generator state (low word, high word)
 *      52     4  padded vector bytes (dimensions x 4 rounded up to 16)
 *      56     4  compaction threshold (f32)
 *      60        vectors        nodes x padded vector bytes (f32; unit length under cosine)
 *                level-0 links  nodes x (1 + 2M) x u32 (count, then slots)
 *                labels         nodes x u32 (the caller's ids)
 *                levels         nodes x i32
 *                upper offsets  nodes x u32 (byte offset into upper links)
 *                flags          nodes x u8 (bit 0: tombstone), zero-padded to 4 bytes
 *                upper links    upper-link bytes (per level >= 1: count, then M slots)
 *   end-4     4  CRC-32 (IEEE) of every byte before it
 * ```
 *
 * Restoring checks magic, version, length, checksum, then the graph's
 * structure (link counts and targets in range); any failure is a
 * `CorruptIndexError` and no index is created.
 */
export const MAGIC = 0x57_4e_48_53 // "SHNW" read as a little-endian u32
export const FORMAT_VERSION = 1
const HEADER_BYTES = 60
const METRICS: readonly Metric[] = ['l2', 'dot', 'cosine']

export interface Snapshot {
  options: {
    dimensions: number
    metric: Metric
    M: number
    efConstruction: number
    efSearch: number
    seed: number
    compactionThreshold: number
  }
  nodes: number
  entry: number
  topLevel: number
  deleted: number
  rngLow: number
  rngHigh: number
  paddedVectorBytes: number
  vectors: Uint8Array
  links0: Uint8Array
  labels: Uint8Array
  levels: Uint8Array
  upperOffsets: Uint8Array
  flags: Uint8Array
  upper: Uint8Array
}

function sectionSizes(nodes: number, padded: number, m: number, upperBytes: number): number[] {
  const flags = (nodes + 3) & ~3
  return [nodes * padded, nodes * (1 + 2 * m) * 4, nodes * 4, nodes * 4, nodes * 4, flags, upperBytes]
}

export function encodeIndex(s: Snapshot): Uint8Array {
  const sizes = sectionSizes(s.nodes, s.paddedVectorBytes, s.options.M, s.upper.length)
  const total = HEADER_BYTES + sizes.reduce((a, b) => a + b, 0) + 4
  const bytes = new Uint8Array(total)
  const view = new DataView(bytes.buffer)
  view.setUint32(0, MAGIC, true)
  view.setUint16(4, FORMAT_VERSION, true)
  view.setUint8(6, METRICS.indexOf(s.options.metric))
  view.setUint32(8, s.options.dimensions, true)
  view.setUint32(12, s.options.M, true)
  view.setUint32(16, s.options.efConstruction, true)
  view.setUint32(20, s.options.efSearch, true)
  view.setUint32(24, s.nodes, true)
  view.setInt32(28, s.entry, true)
  view.setInt32(32, s.topLevel, true)
  view.setUint32(36, s.deleted, true)
  view.setUint32(40, s.upper.length, true)
  view.setUint32(44, s.rngLow, true)
  view.setUint32(48, s.rngHigh, true)
  view.setUint32(52, s.paddedVectorBytes, true)
  view.setFloat32(56, s.options.compactionThreshold, true)
  let offset = HEADER_BYTES
  for (const section of [s.vectors, s.links0, s.labels, s.levels, s.upperOffsets, s.flags, s.upper]) {
    bytes.set(section, offset)
    offset += sizes.shift()!
  }
  view.setUint32(total - 4, crc32(bytes.subarray(0, total - 4)), true)
  return bytes
}

export function decodeIndex(bytes: Uint8Array): Snapshot {
  if (!(bytes instanceof Uint8Array)) throw new CorruptIndexError('a serialised index must be a Uint8Array')
  if (bytes.length < HEADER_BYTES + 4) throw new CorruptIndexError(`too short: ${bytes.length} bytes`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (view.getUint32(0, true) !== MAGIC) throw new CorruptIndexError('bad magic: not a serialised HNSW index')
  const version = view.getUint16(4, true)
  if (version !== FORMAT_VERSION) throw new CorruptIndexError(`unsupported format version ${version}`)
  const stored = view.getUint32(bytes.length - 4, true)
  const actual = crc32(bytes.subarray(0, bytes.length - 4))
  if (stored !== actual) throw new CorruptIndexError('checksum mismatch: the bytes are damaged')
  const metric = METRICS[view.getUint8(6)]
  if (metric === undefined) throw new CorruptIndexError(`unknown metric code ${view.getUint8(6)}`)
  const dimensions = view.getUint32(8, true)
  const m = view.getUint32(12, true)
  const nodes = view.getUint32(24, true)
  const upperBytes = view.getUint32(40, true)
  const padded = view.getUint32(52, true)
  if (padded !== Math.ceil((dimensions * 4) / 16) * 16)
    throw new CorruptIndexError('padded vector size mismatch')
  const sizes = sectionSizes(nodes, padded, m, upperBytes)
  const expected = HEADER_BYTES + sizes.reduce((a, b) => a + b, 0) + 4
  if (expected !== bytes.length) {
    throw new CorruptIndexError(`length ${bytes.length} does not match the header (expected ${expected})`)
  }
  let offset = HEADER_BYTES
  const take = (size: number, used = size): Uint8Array => {
    const part = bytes.subarray(offset, offset + used)
    offset += size
    return part
  }
  const vectors = take(sizes[0]!)
  const links0 = take(sizes[1]!)
  const labels = take(sizes[2]!)
  const levels = take(sizes[3]!)
  const upperOffsets = take(sizes[4]!)
  const flags = take(sizes[5]!, nodes)
  const upper = take(sizes[6]!)
  return {
    options: {
      dimensions,
      metric,
      M: m,
      efConstruction: view.getUint32(16, true),
      efSearch: view.getUint32(20, true),
      seed: 0,
      compactionThreshold: view.getFloat32(56, true),
    },
    nodes,
    entry: view.getInt32(28, true),
    topLevel: view.getInt32(32, true),
    deleted: view.getUint32(36, true),
    rngLow: view.getUint32(44, true),
    rngHigh: view.getUint32(48, true),
    paddedVectorBytes: padded,
    vectors,
    links0,
    labels,
    levels,
    upperOffsets,
    flags,
    upper,
  }
}
