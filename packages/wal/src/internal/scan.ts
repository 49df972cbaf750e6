import type { WalFile } from '../file-system.ts'
import { crc32 } from './checksum.ts'
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
  /**
   * Recycle chunk memory: yielded payload views are valid only until the
   * next batch is requested. Records are always yielded before the scan
   * moves to another chunk, so no pending view outlives its chunk.
   */
  reuseBuffers: boolean
}

/** Memory for a chunk. Not zero-filled: every byte handed out below a chunk's `length` comes from the file. */
function allocate(size: number): Uint8Array {
  const raw = Buffer.allocUnsafeSlow(size)
  return new Uint8Array(raw.buffer, raw.byteOffset, size)
}

/** A chunk of a segment file read into memory. */
interface Chunk {
  bytes: Uint8Array
  view: DataView
  /** File offset of bytes[0]. */
  start: number
  length: number
}

/**
 * Reads a byte range of a file in large sequential chunks, always one chunk
 * ahead, so that the read of the next chunk overlaps the parsing (and
 * checksumming) of the current one. Chunks are never reused: views into them
 * stay valid for as long as anyone holds them.
 */
class ChunkReader {
  readonly #file: WalFile
  readonly #end: number
  readonly #chunkBytes: number
  readonly #reuse: boolean
  #nextStart: number
  #ahead: Promise<Chunk | undefined> | undefined
  #current: Chunk | undefined
  #spare: Uint8Array | undefined

  constructor(file: WalFile, start: number, end: number, chunkBytes: number, reuse: boolean) {
    this.#file = file
    this.#end = end
    this.#chunkBytes = chunkBytes
    this.#nextStart = start
    this.#reuse = reuse
  }

  /**
   * The next chunk, or undefined at the end of the range. With `reuse`, the
   * previous chunk's memory becomes the buffer of the next read-ahead: the
   * caller must be done with every view into it.
   */
  async next(): Promise<Chunk | undefined> {
    const chunk = await (this.#ahead ?? this.#read())
    if (this.#reuse && this.#current !== undefined) this.#spare = this.#current.bytes
    this.#current = chunk
    this.#ahead = chunk === undefined || chunk.start + chunk.length >= this.#end ? undefined : this.#read()
    return chunk
  }

  async #read(): Promise<Chunk | undefined> {
    const start = this.#nextStart
    const size = Math.min(this.#chunkBytes, this.#end - start)
    if (size <= 0) return undefined
    this.#nextStart = start + size
    const bytes = this.#spare !== undefined && this.#spare.length >= size ? this.#spare : allocate(size)
    this.#spare = undefined
    const length = await this.#file.read(bytes, 0, size, start)
    if (length < size) this.#nextStart = this.#end
    if (length === 0) return undefined
    return { bytes, view: new DataView(bytes.buffer, bytes.byteOffset, length), start, length }
  }

  /** Waits for a read ahead still in flight (before the file is closed). */
  async settle(): Promise<void> {
    await this.#ahead?.catch(() => undefined)
  }
}

/**
 * Walks the frames of one segment in large sequential chunks, parsing them in
 * place: yielded payloads are views into the chunk, which is never reused, so
 * they stay valid after the next chunk is read. A frame that straddles two
 * chunks is assembled into a buffer of its own. Each frame's CRC is computed
 * once, only when `verify` is set.
 */
export async function* scanSegment(options: ScanOptions, state: ScanState): AsyncGenerator<WalRecord[]> {
  const { verify, maxPayloadBytes, segmentFirstIndex, from, to, collect } = options
  const chunkBytes = Math.max(options.chunkBytes, 64)
  const reader = new ChunkReader(options.file, options.offset, options.end, chunkBytes, options.reuseBuffers)
  const header = new Uint8Array(FRAME_HEADER_BYTES)
  const headerView = new DataView(header.buffer)
  let chunk = await reader.next()
  let records: WalRecord[] = []
  state.offset = options.offset
  state.nextIndex = options.index
  state.stop = undefined

  // Copies `count` bytes of the file from `position` on into `target` at
  // `into`, moving forward through chunks (position never goes back to an
  // earlier chunk); false when the data ends first, `copied` tells how much.
  let copied = 0
  const gather = async (
    target: Uint8Array,
    into: number,
    position: number,
    count: number,
  ): Promise<boolean> => {
    copied = 0
    while (copied < count) {
      if (chunk === undefined) return false
      const rel = position - chunk.start
      if (rel >= chunk.length) {
        chunk = await reader.next()
        continue
      }
      const take = Math.min(count - copied, chunk.length - rel)
      target.set(chunk.bytes.subarray(rel, rel + take), into + copied)
      copied += take
      position += take
    }
    return true
  }

  try {
    for (;;) {
      if (state.offset >= options.end || chunk === undefined) {
        state.stop = { kind: 'end' }
        break
      }
      const rel = state.offset - chunk.start
      if (rel >= chunk.length) {
        if (records.length > 0) {
          yield records
          records = []
        }
        chunk = await reader.next()
        continue
      }
      let bytes = chunk.bytes
      let view = chunk.view
      let at = rel
      if (rel + FRAME_HEADER_BYTES > chunk.length) {
        if (records.length > 0) {
          yield records
          records = []
        }
        // The header straddles chunks (or the data ends inside it).
        if (!(await gather(header, 0, state.offset, FRAME_HEADER_BYTES))) {
          state.stop = isZero(header, 0, copied)
            ? { kind: 'zero' }
            : { kind: 'bad', reason: 'truncated frame header' }
          break
        }
        bytes = header
        view = headerView
        at = 0
      }
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
      if (bytes !== chunk.bytes || rel + frameBytes > chunk.length) {
        // The frame straddles chunks: assemble it on its own.
        if (records.length > 0) {
          yield records
          records = []
        }
        const own = new Uint8Array(frameBytes)
        let complete: boolean
        if (bytes === header) {
          // The header was gathered already; the payload follows it.
          own.set(header)
          complete = await gather(own, FRAME_HEADER_BYTES, state.offset + FRAME_HEADER_BYTES, length)
        } else {
          complete = await gather(own, 0, state.offset, frameBytes)
        }
        if (!complete) {
          state.stop = { kind: 'bad', reason: 'truncated frame' }
          break
        }
        bytes = own
        at = 0
      }
      if (verify && crc32(bytes.subarray(at + 4, at + frameBytes)) !== crc) {
        state.stop = { kind: 'bad', reason: 'checksum mismatch' }
        break
      }
      if (state.samples !== undefined && (index - segmentFirstIndex) % SAMPLE_EVERY === 0) {
        state.samples.push(state.offset)
      }
      if (collect && index >= from) {
        records.push({ index, payload: bytes.subarray(at + FRAME_HEADER_BYTES, at + frameBytes) })
      }
      state.offset += frameBytes
      state.nextIndex = index + 1
      if (index >= to) {
        state.stop = { kind: 'limit' }
        break
      }
    }
    if (records.length > 0) yield records
  } finally {
    await reader.settle()
  }
}

const ZERO_BLOCK = Buffer.alloc(4096)

/** Whether `bytes[from..to)` are all zero, compared a block at a time. */
export function isZero(bytes: Uint8Array, from: number, to: number): boolean {
  for (let start = from; start < to; start += ZERO_BLOCK.length) {
    const end = Math.min(to, start + ZERO_BLOCK.length)
    if (ZERO_BLOCK.compare(bytes, start, end, 0, end - start) !== 0) return false
  }
  return true
}

/**
 * Looks in `bytes` from `from` on for an intact frame that starts a write
 * (its first-in-write flag set) and carries an index above `expectedIndex`:
 * a write made after the one whose frame stopped a scan. Returns its offset.
 * Recovery asks this twice: a second such write proves the stopping frame had
 * been synced (see recoverTail).
 */
export function findLaterWrite(
  bytes: Uint8Array,
  from: number,
  expectedIndex: number,
  maxPayloadBytes: number,
): number | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const block = ZERO_BLOCK.length
  for (let blockStart = from; blockStart < bytes.length; blockStart += block) {
    const blockEnd = Math.min(bytes.length, blockStart + block)
    // Preallocated space is mostly zeros: skip zero blocks.
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
