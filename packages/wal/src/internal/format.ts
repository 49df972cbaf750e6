import { crc32 } from './checksum.ts'

/**
 * On-disk format, version 1 (docs/formats/wal.md has the full description).
 *
 * A segment file is named by the index of its first record, 20 decimal digits,
 * `.wal` suffix, e.g. `00000000000000000001.wal`. It starts with a 32-byte
 * header followed by frames, back to back:
 *
 * ```
 * header (32 bytes, little-endian)
 *   0  magic        8  "SHOALWAL"
 *   8  version      4  1
 *  12  headerBytes  4  32
 *  16  firstIndex   8  index of the segment's first record
 *  24  reserved     4  0
 *  28  crc          4  CRC-32 of bytes 0..28
 *
 * frame (16-byte header + payload)
 *   0  crc          4  CRC-32 of bytes 4..16+length (length word, index, payload)
 *   4  lengthFlags  4  bits 0..29 payload length; bit 31 set on the first frame of each write;
 *                      bit 30 set on it too when the write overlapped the previous one's sync
 *   8  index        8  record index (< 2^53)
 *  16  payload      length bytes
 * ```
 *
 * The data of a segment ends at its end of file or at a frame header that is
 * all zero (the zero-filled space of a preallocated segment).
 */
export const SEGMENT_HEADER_BYTES = 32
export const FRAME_HEADER_BYTES = 16
export const FORMAT_VERSION = 1
export const FIRST_IN_WRITE_FLAG = 0x80000000
/** On a write's first frame: the write started while the previous one's sync was still running. */
export const OVERLAPPED_FLAG = 0x40000000
export const MAX_PAYLOAD_LIMIT = 0x3fffffff
const MAGIC = Uint8Array.from([0x53, 0x48, 0x4f, 0x41, 0x4c, 0x57, 0x41, 0x4c]) // SHOALWAL
const TWO_32 = 4294967296

export const SEGMENT_SUFFIX = '.wal'
export const TEMP_SUFFIX = '.tmp'

export function segmentName(firstIndex: number): string {
  return `${firstIndex.toString().padStart(20, '0')}${SEGMENT_SUFFIX}`
}

/** The first index named by a segment file name, or undefined if the name is not a segment's. */
export function parseSegmentName(name: string): number | undefined {
  if (!/^\d{20}\.wal$/.test(name)) return undefined
  const value = Number(name.slice(0, 20))
  return Number.isSafeInteger(value) && value >= 1 ? value : undefined
}

export function encodeSegmentHeader(firstIndex: number): Uint8Array {
  const bytes = new Uint8Array(SEGMENT_HEADER_BYTES)
  const view = new DataView(bytes.buffer)
  bytes.set(MAGIC, 0)
  view.setUint32(8, FORMAT_VERSION, true)
  view.setUint32(12, SEGMENT_HEADER_BYTES, true)
  writeIndex(view, 16, firstIndex)
  view.setUint32(28, crc32(bytes.subarray(0, 28)), true)
  return bytes
}

/** The first index stored in a segment header, or a reason why the header is invalid. */
export function decodeSegmentHeader(bytes: Uint8Array): { firstIndex: number } | { error: string } {
  if (bytes.length < SEGMENT_HEADER_BYTES) return { error: 'segment header is truncated' }
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) return { error: 'bad magic' }
  const view = new DataView(bytes.buffer, bytes.byteOffset, SEGMENT_HEADER_BYTES)
  if (view.getUint32(28, true) !== crc32(bytes.subarray(0, 28)))
    return { error: 'segment header checksum mismatch' }
  const version = view.getUint32(8, true)
  if (version !== FORMAT_VERSION) return { error: `unsupported format version ${version}` }
  return { firstIndex: readIndex(view, 16) }
}

export function writeIndex(view: DataView, offset: number, index: number): void {
  view.setUint32(offset, index % TWO_32, true)
  view.setUint32(offset + 4, Math.floor(index / TWO_32), true)
}

export function readIndex(view: DataView, offset: number): number {
  return view.getUint32(offset, true) + view.getUint32(offset + 4, true) * TWO_32
}

/**
 * Encodes one frame into `target` at `offset` (the caller made room for
 * FRAME_HEADER_BYTES + payload.length) and returns the offset after it.
 */
export function encodeFrame(
  target: Uint8Array,
  view: DataView,
  offset: number,
  index: number,
  payload: Uint8Array,
  firstInWrite: boolean,
): number {
  const length = payload.length
  view.setUint32(offset + 4, firstInWrite ? (length | FIRST_IN_WRITE_FLAG) >>> 0 : length, true)
  writeIndex(view, offset + 8, index)
  target.set(payload, offset + FRAME_HEADER_BYTES)
  const end = offset + FRAME_HEADER_BYTES + length
  view.setUint32(offset, crc32(target.subarray(offset + 4, end)), true)
  return end
}

/** Marks the write whose first frame starts `bytes` as overlapping the previous write's sync (and re-checksums that frame). */
export function markOverlapped(bytes: Uint8Array, view: DataView): void {
  const lengthFlags = view.getUint32(4, true)
  view.setUint32(4, (lengthFlags | OVERLAPPED_FLAG) >>> 0, true)
  const end = FRAME_HEADER_BYTES + ((lengthFlags & MAX_PAYLOAD_LIMIT) >>> 0)
  view.setUint32(0, crc32(bytes.subarray(4, end)), true)
}
