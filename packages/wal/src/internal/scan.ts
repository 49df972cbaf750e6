import { crc32 } from 'node:zlib'
import type { WalFile } from '../file-system.ts'
import { FIRST_IN_WRITE_FLAG, FRAME_HEADER_BYTES, MAX_PAYLOAD_LIMIT, readIndex } from './format.ts'

/** One record read back. `payload` is a view into a read buffer that nothing else writes to. */
export interface WalRecord {
  index: number
  payload: Uint8Array
}

/** Every SAMPLE_EVERY-th record of a segment has its byte offset remembered, for reads that start mid-segment. */
export const SAMPLE_EVERY = 64

/** Why a scan stopped. `bad` means the frame at `offset` is not a valid continuation. */
export type ScanStop =
  | { kind: 'end' }
  | { kind: 'zero' }
  | { kind: 'limit' }
  | { kind: 'bad'; reason: string }

/**
 * Position and findings of a scan over one segment, updated as it goes. The
 * caller reads them after the scan finishes (or stops early).
 */
export interface ScanState {
  /** Byte offset of the next frame. */
  offset: number
  /** Index the next frame must carry. */
  nextIndex: number
  /** Sampled offsets (see SAMPLE_EVERY), filled when the scan started at the segment's first record. */
  samples: number[] | undefined
  stop: ScanStop | undefined
}

export interface ScanOptions {
  file: WalFile
  /** Byte offset where the frames to scan start, and the index of the frame there. */
  offset: number
  index: number
  /** Index of the segment's first record (for sampling). */
  segmentFirstIndex: number
  /** Byte offset where the segment's data ends for sure (file size, or the durable write position). */
  end: number
  verify: boolean
  maxPayloadBytes: number
  chunkBytes: number
  /** Records in [from, to] are collected and yielded; none are collected when `collect` is false. */
  from: number
  to: number
  collect: boolean
}

/**
 * Walks the frames of one segment in large sequential chunks, parsing them in
 * place: yielded payloads are views into the chunk, which is never reused, so
 * they stay valid after the next chunk is read. Each frame's CRC is computed
 * once, only when `verify` is set.
 */
export async function* scanSegment(options: ScanOptions, state: ScanState): AsyncGenerator<WalRecord[]> {
  const { file, end, verify, maxPayloadBytes, segmentFirstIndex, from, to, collect } = options
  let buffer = new Uint8Array(0)
  let view = new DataView(buffer.buffer)
  let bufferStart = options.offset
  let bufferLength = 0
  let records: WalRecord[] = []
  state.offset = options.offset
  state.nextIndex = options.index
  state.stop = undefined

  // Makes at least `need` bytes from state.offset available, reading a new
  // chunk; returns false when the segment's data ends first.
  const fill = async (need: number): Promise<boolean> => {
    const have = bufferStart + bufferLength - state.offset
    if (have >= need) return true
    const available = end - state.offset
    if (have >= available) return false
    const size = Math.min(Math.max(need, options.chunkBytes), available)
    const next = new Uint8Array(size)
    if (have > 0) next.set(buffer.subarray(state.offset - bufferStart, bufferLength), 0)
    const got = await file.read(next, have, size - have, state.offset + have)
    buffer = next
    view = new DataView(next.buffer, next.byteOffset, next.byteLength)
    bufferStart = state.offset
    bufferLength = have + got
    return bufferLength >= need
  }

  for (;;) {
    if (state.offset >= end) {
      state.stop = { kind: 'end' }
      break
    }
    if (bufferStart + bufferLength - state.offset < FRAME_HEADER_BYTES) {
      if (records.length > 0) {
        yield records
        records = []
      }
      if (!(await fill(FRAME_HEADER_BYTES))) {
        state.stop = isZero(buffer, state.offset - bufferStart, bufferLength)
          ? { kind: 'zero' }
          : { kind: 'bad', reason: 'truncated frame header' }
        break
      }
    }
    let at = state.offset - bufferStart
    const crc = view.getUint32(at, true)
    const lengthFlags = view.getUint32(at + 4, true)
    const index = readIndex(view, at + 8)
    if (crc === 0 && lengthFlags === 0 && index === 0) {
      state.stop = { kind: 'zero' }
      break
    }
    const length = (lengthFlags & MAX_PAYLOAD_LIMIT) >>> 0
    if (length > maxPayloadBytes) {
      state.stop = { kind: 'bad', reason: `frame length ${length} exceeds maxPayloadBytes` }
      break
    }
    if (index !== state.nextIndex) {
      state.stop = { kind: 'bad', reason: `frame carries index ${index}` }
      break
    }
    const frameBytes = FRAME_HEADER_BYTES + length
    if (at + frameBytes > bufferLength) {
      if (records.length > 0) {
        yield records
        records = []
      }
      if (!(await fill(frameBytes))) {
        state.stop = { kind: 'bad', reason: 'truncated frame' }
        break
      }
      at = 0
    }
    if (verify && crc32(buffer.subarray(at + 4, at + frameBytes)) !== crc) {
      state.stop = { kind: 'bad', reason: 'checksum mismatch' }
      break
    }
    if (state.samples !== undefined && (index - segmentFirstIndex) % SAMPLE_EVERY === 0) {
      state.samples.push(state.offset)
    }
    if (collect && index >= from) {
      records.push({ index, payload: buffer.subarray(at + FRAME_HEADER_BYTES, at + frameBytes) })
    }
    state.offset += frameBytes
    state.nextIndex = index + 1
    if (index >= to) {
      state.stop = { kind: 'limit' }
      break
    }
  }
  if (records.length > 0) yield records
}

function isZero(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== 0) return false
  return true
}

/**
 * After a stop at `offset` in the last segment: is there a valid frame further
 * on that starts a later write? Only one write is ever unsynced at a time, so
 * such a frame proves the write at `offset` had been synced and was damaged
 * afterwards: corruption, not a torn tail. Returns that frame's offset.
 */
export function findLaterWrite(
  bytes: Uint8Array,
  from: number,
  expectedIndex: number,
  maxPayloadBytes: number,
): number | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const block = 4096
  for (let blockStart = from; blockStart < bytes.length; blockStart += block) {
    const blockEnd = Math.min(bytes.length, blockStart + block)
    if (isZero(bytes, blockStart, blockEnd)) continue
    // A frame whose flag byte (offset + 7) lies in this block.
    for (let q = Math.max(from, blockStart - 7); q < blockEnd - 7; q++) {
      if ((bytes[q + 7]! & 0x80) === 0 || q + FRAME_HEADER_BYTES > bytes.length) continue
      const lengthFlags = view.getUint32(q + 4, true)
      if ((lengthFlags & FIRST_IN_WRITE_FLAG) === 0) continue
      const length = (lengthFlags & MAX_PAYLOAD_LIMIT) >>> 0
      if (length > maxPayloadBytes || q + FRAME_HEADER_BYTES + length > bytes.length) continue
      const index = readIndex(view, q + 8)
      if (index <= expectedIndex || index > expectedIndex + bytes.length) continue
      if (crc32(bytes.subarray(q + 4, q + FRAME_HEADER_BYTES + length)) === view.getUint32(q, true)) return q
    }
  }
  return undefined
}
