import type { ResolvedWalOptions } from '../config.ts'
import { joinPath, type WalFile } from '../file-system.ts'
import {
  encodeSegmentHeader,
  FRAME_HEADER_BYTES,
  SEGMENT_HEADER_BYTES,
  segmentName,
  TEMP_SUFFIX,
} from './format.ts'

/** What the WAL keeps in memory about one segment file. */
export interface Segment {
  name: string
  path: string
  firstIndex: number
  /** Every frame has had its checksum checked (or was written by this process). */
  verified: boolean
  /** Byte offsets of every SAMPLE_EVERY-th record, complete for the segment when defined. */
  samples: number[] | undefined
  /** Byte offset where the segment's data ends, when known. */
  dataEnd: number | undefined
  /** The file was a compacted segment's: old records lie after the end marker. */
  recycled?: boolean
}

/** The zero-filled file prepared ahead for the next segment (with `preallocate`). */
export const SPARE_NAME = `spare${TEMP_SUFFIX}`

/** Names of compacted segment files kept for reuse (see `recycleSegments`). */
export function recycledName(serial: number): string {
  return `recycled-${serial}${TEMP_SUFFIX}`
}

export function isRecycledName(name: string): boolean {
  return /^recycled-\d+\.tmp$/.test(name)
}
const ZERO_FILL_BYTES = 1024 * 1024

/** Writes zeros over the first `bytes` of `file` so its blocks are allocated before appends reach them. */
async function zeroFill(file: WalFile, bytes: number): Promise<void> {
  const zeros = new Uint8Array(Math.min(ZERO_FILL_BYTES, bytes))
  for (let position = 0; position < bytes; position += zeros.length) {
    await file.write(zeros, 0, Math.min(zeros.length, bytes - position), position)
  }
}

/**
 * Prepares the next segment's file ahead of time: a zero-filled, synced
 * temporary file of `segmentBytes`, so that appends into it overwrite
 * allocated blocks instead of extending the file (an extending write makes
 * fdatasync commit metadata too, several times slower on common
 * filesystems). Resolves with its path, or undefined when it could not be
 * made (the rollover then creates the segment itself and reports any error).
 */
export async function prepareSpare(dir: string, options: ResolvedWalOptions): Promise<string | undefined> {
  const { fs } = options
  const path = joinPath(dir, SPARE_NAME)
  try {
    await fs.remove(path).catch(() => undefined)
    const file = await fs.openWrite(path, { create: true })
    try {
      await zeroFill(file, options.segmentBytes)
      await file.sync()
    } finally {
      await file.close()
    }
    return path
  } catch {
    return undefined
  }
}

/**
 * Creates a segment durably: header and an end marker (a zeroed frame
 * header) written to a temporary file (a prepared spare, a recycled segment
 * file, or a new file zero-filled now when preallocating), synced, renamed
 * into place, directory synced. A crash leaves either no segment or a whole
 * one (plus a temporary file that open removes). The end marker matters in a
 * recycled file: the old records after it are never read as this segment's.
 */
export async function createSegment(
  dir: string,
  firstIndex: number,
  options: ResolvedWalOptions,
  sparePath?: string,
): Promise<Segment> {
  const { fs } = options
  const name = segmentName(firstIndex)
  const path = joinPath(dir, name)
  const tempPath = sparePath ?? `${path}${TEMP_SUFFIX}`
  const file = await fs.openWrite(tempPath, { create: sparePath === undefined })
  try {
    if (sparePath === undefined && options.preallocate) await zeroFill(file, options.segmentBytes)
    const header = new Uint8Array(SEGMENT_HEADER_BYTES + FRAME_HEADER_BYTES)
    header.set(encodeSegmentHeader(firstIndex))
    await file.write(header, 0, header.length, 0)
    await file.sync()
  } finally {
    await file.close()
  }
  await fs.rename(tempPath, path)
  await fs.syncDir(dir)
  return { name, path, firstIndex, verified: true, samples: [], dataEnd: SEGMENT_HEADER_BYTES }
}
