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

/** Bytes copied (and checksummed) between two pauses by the `InSlices` variants. */
export const SLICE_BYTES = 1 << 20

/**
 * What `encodeIndexSteps` writes: the header fields, and the sections as a function that returns
 * views of them as they are now (called again after every pause: a view over WebAssembly memory
 * is detached when the memory grows, so it is taken afresh each time).
 */
export interface SnapshotSource extends Omit<Snapshot, SectionName> {
  sections(): Uint8Array[]
  upperBytes: number
}

type SectionName = 'vectors' | 'links0' | 'labels' | 'levels' | 'upperOffsets' | 'flags' | 'upper'

/** Work that yields where it may pause; `runSteps` runs it whole. */
export type Steps<T> = Generator<void, T, void>

export function runSteps<T>(steps: Steps<T>): T {
  for (;;) {
    const next = steps.next()
    if (next.done === true) return next.value
  }
}

export async function runStepsWithPauses<T>(steps: Steps<T>, pause: () => Promise<void>): Promise<T> {
  for (;;) {
    const next = steps.next()
    if (next.done === true) return next.value
    await pause()
  }
}

export function encodeIndex(s: Snapshot): Uint8Array {
  const sections = [s.vectors, s.links0, s.labels, s.levels, s.upperOffsets, s.flags, s.upper]
  return runSteps(encodeIndexSteps({ ...s, upperBytes: s.upper.length, sections: () => sections }))
}

/**
 * The serialised bytes, the sections copied and checksummed `SLICE_BYTES` at a time with a
 * yield between slices (the run whole or with pauses gives the same bytes: one code path).
 */
export function* encodeIndexSteps(s: SnapshotSource): Steps<Uint8Array> {
  const sizes = sectionSizes(s.nodes, s.paddedVectorBytes, s.options.M, s.upperBytes)
  const total = HEADER_BYTES + sizes.reduce((a, b) => a + b, 0) + 4
  // Zeroed: the flags section's padding is part of the checksummed bytes.
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
  view.setUint32(40, s.upperBytes, true)
  view.setUint32(44, s.rngLow, true)
  view.setUint32(48, s.rngHigh, true)
  view.setUint32(52, s.paddedVectorBytes, true)
  view.setFloat32(56, s.options.compactionThreshold, true)
  let offset = HEADER_BYTES
  for (let section = 0; section < sizes.length; section++) {
    const length = s.sections()[section]!.length
    for (let from = 0; from < length; from += SLICE_BYTES) {
      if (from > 0) yield
      // Taken afresh after every pause (the memory may have grown meanwhile).
      bytes.set(s.sections()[section]!.subarray(from, from + SLICE_BYTES), offset + from)
    }
    offset += sizes[section]!
    yield
  }
  let crc = 0
  for (let at = 0; at < total - 4; at += SLICE_BYTES) {
    if (at > 0) yield
    crc = crc32(bytes.subarray(at, Math.min(total - 4, at + SLICE_BYTES)), crc)
  }
  view.setUint32(total - 4, crc, true)
  return bytes
}

export function decodeIndex(bytes: Uint8Array): Snapshot {
  return runSteps(decodeIndexSteps(bytes))
}

/**
 * Checks `bytes` (magic, version, checksum `SLICE_BYTES` at a time with a yield between slices,
 * then the header against the length) and returns the snapshot, its sections views of `bytes`.
 */
export function* decodeIndexSteps(bytes: Uint8Array): Steps<Snapshot> {
  if (!(bytes instanceof Uint8Array)) throw new CorruptIndexError('a serialised index must be a Uint8Array')
  if (bytes.length < HEADER_BYTES + 4) throw new CorruptIndexError(`too short: ${bytes.length} bytes`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (view.getUint32(0, true) !== MAGIC) throw new CorruptIndexError('bad magic: not a serialised HNSW index')
  const version = view.getUint16(4, true)
  if (version !== FORMAT_VERSION) throw new CorruptIndexError(`unsupported format version ${version}`)
  const stored = view.getUint32(bytes.length - 4, true)
  let actual = 0
  for (let at = 0; at < bytes.length - 4; at += SLICE_BYTES) {
    if (at > 0) yield
    actual = crc32(bytes.subarray(at, Math.min(bytes.length - 4, at + SLICE_BYTES)), actual)
  }
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
