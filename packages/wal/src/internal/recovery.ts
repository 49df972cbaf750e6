import type { ResolvedWalOptions } from '../config.ts'
import { WalCorruptionError } from '../errors.ts'
import { joinPath, type WalFile } from '../file-system.ts'
import {
  decodeSegmentHeader,
  FRAME_HEADER_BYTES,
  OVERLAPPED_FLAG,
  parseSegmentName,
  readIndex,
  SEGMENT_HEADER_BYTES,
  TEMP_SUFFIX,
} from './format.ts'
import { findLaterWrite, isZero, type ScanState, scanSegment } from './scan.ts'
import { createSegment, isRecycledName, type Segment, SPARE_NAME } from './segment.ts'

/** What open found and changed. Nothing is dropped without being listed here. */
export interface RecoverySummary {
  /** Segment files found (after removing leftovers). */
  segments: number
  firstIndex: number
  lastIndex: number
  /** Segments whose every record was checksummed during open. */
  verifiedSegments: number
  /** Temporary files of interrupted segment creations that were removed. */
  removedTempFiles: string[]
  /** A torn tail (an unfinished, never acknowledged write) cut from the last segment. */
  tornTail: { segment: string; offset: number; bytes: number; reason: string } | undefined
  /** With `repair: true`: the corruption that was cut away, and the later segments removed with it. */
  repaired:
    | { segment: string; offset: number; index: number; reason: string; removedSegments: string[] }
    | undefined
}

export interface Recovered {
  segments: Segment[]
  lastIndex: number
  writeOffset: number
  summary: RecoverySummary
}

type Fault = { segment: number; offset: number; index: number; reason: string }

export async function recover(dir: string, options: ResolvedWalOptions): Promise<Recovered> {
  const { fs } = options
  await fs.mkdirp(dir)
  const names = await fs.list(dir)
  const removedTempFiles: string[] = []
  for (const name of names) {
    const leftover =
      name === SPARE_NAME ||
      isRecycledName(name) ||
      (name.endsWith(TEMP_SUFFIX) && parseSegmentName(name.slice(0, -TEMP_SUFFIX.length)) !== undefined)
    if (leftover) {
      await fs.remove(joinPath(dir, name))
      removedTempFiles.push(name)
    }
  }
  if (removedTempFiles.length > 0) await fs.syncDir(dir)
  const segments: Segment[] = names
    .map((name) => ({ name, firstIndex: parseSegmentName(name) }))
    .filter((s): s is { name: string; firstIndex: number } => s.firstIndex !== undefined)
    .sort((a, b) => a.firstIndex - b.firstIndex)
    .map(({ name, firstIndex }) => ({
      name,
      path: joinPath(dir, name),
      firstIndex,
      verified: false,
      samples: undefined,
      dataEnd: undefined,
    }))
  if (segments.length === 0) segments.push(await createSegment(dir, 1, options))

  const summary: RecoverySummary = {
    segments: segments.length,
    firstIndex: segments[0]!.firstIndex,
    lastIndex: 0,
    verifiedSegments: 0,
    removedTempFiles,
    tornTail: undefined,
    repaired: undefined,
  }
  const fault = await checkSegments(segments, options)
  if (fault !== undefined) await repairAt(dir, segments, fault, options, summary)

  const last = segments[segments.length - 1]!
  const tail = await recoverTail(last, options, summary)
  if (tail.fault !== undefined) {
    await repairAt(dir, segments, tail.fault, options, summary)
    tail.nextIndex = tail.fault.index
  }
  summary.verifiedSegments = segments.filter((s) => s.verified).length
  summary.firstIndex = segments[0]!.firstIndex
  summary.lastIndex = tail.nextIndex - 1
  return { segments, lastIndex: tail.nextIndex - 1, writeOffset: last.dataEnd!, summary }
}

/**
 * Checks every segment's header and, with `verify: 'full'`, checksums every
 * record of every segment but the last; each must end right before the next
 * begins. Returns the first fault.
 */
async function checkSegments(segments: Segment[], options: ResolvedWalOptions): Promise<Fault | undefined> {
  const header = new Uint8Array(SEGMENT_HEADER_BYTES)
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!
    const file = await options.fs.openRead(segment.path)
    try {
      const got = await file.read(header, 0, header.length, 0)
      const decoded = decodeSegmentHeader(header.subarray(0, got))
      const reason =
        'error' in decoded
          ? decoded.error
          : decoded.firstIndex !== segment.firstIndex
            ? `header names first index ${decoded.firstIndex}`
            : undefined
      if (reason !== undefined) return { segment: i, offset: 0, index: segment.firstIndex, reason }
      if (options.verify !== 'full' || i + 1 === segments.length) continue
      const expectedNext = segments[i + 1]!.firstIndex
      const state = await scanWhole(file, segment, options)
      const stop = state.stop!
      if (stop.kind === 'bad')
        return { segment: i, offset: state.offset, index: state.nextIndex, reason: stop.reason }
      if (state.nextIndex !== expectedNext) {
        const reason = `segment ends at index ${state.nextIndex - 1}, the next segment starts at ${expectedNext}`
        return { segment: i, offset: state.offset, index: state.nextIndex, reason }
      }
      segment.verified = true
      segment.samples = state.samples
      segment.dataEnd = state.offset
    } finally {
      await file.close()
    }
  }
  return undefined
}

export async function scanWhole(
  file: WalFile,
  segment: Segment,
  options: ResolvedWalOptions,
): Promise<ScanState> {
  const state: ScanState = { offset: 0, nextIndex: 0, samples: [], stop: undefined }
  const scan = scanSegment(
    {
      file,
      offset: SEGMENT_HEADER_BYTES,
      index: segment.firstIndex,
      segmentFirstIndex: segment.firstIndex,
      end: await file.size(),
      verify: true,
      maxPayloadBytes: options.maxPayloadBytes,
      chunkBytes: options.readChunkBytes,
      // Nothing is collected, so no view outlives its chunk.
      reuseBuffers: true,
      from: Number.POSITIVE_INFINITY,
      to: Number.POSITIVE_INFINITY,
      collect: false,
    },
    state,
  )
  for await (const _ of scan) {
    // Nothing is collected; the scan only fills `state`.
  }
  return state
}

/**
 * The last segment: everything up to the first frame that is not a valid
 * continuation is kept. What follows is a torn tail, unless a later write's
 * first frame is intact there, which means the bad frame had been synced.
 */
async function recoverTail(
  segment: Segment,
  options: ResolvedWalOptions,
  summary: RecoverySummary,
): Promise<{ nextIndex: number; fault: Fault | undefined }> {
  const file = await options.fs.openWrite(segment.path, { create: false })
  try {
    const state = await scanWhole(file, segment, options)
    const size = await file.size()
    const stopAt = state.offset
    let torn = false
    if (stopAt < size) {
      const rest = new Uint8Array(size - stopAt)
      await file.read(rest, 0, rest.length, stopAt)
      // An intact later write proves the bad frame had been synced (corruption, not a
      // torn tail), unless that write overlapped the previous one's sync (pipelining):
      // then only a second later write proves it.
      const next = findLaterWrite(rest, 0, state.nextIndex, options.maxPayloadBytes)
      let later = next
      if (next !== undefined) {
        const view = new DataView(rest.buffer, rest.byteOffset + next, FRAME_HEADER_BYTES)
        if ((view.getUint32(4, true) & OVERLAPPED_FLAG) !== 0) {
          later = findLaterWrite(rest, next + FRAME_HEADER_BYTES, readIndex(view, 8), options.maxPayloadBytes)
        }
      }
      if (later !== undefined) {
        const stop = state.stop!
        const reason = `${stop.kind === 'bad' ? stop.reason : 'zero-filled frame'}, yet a later write is intact at offset ${stopAt + later}`
        return {
          nextIndex: state.nextIndex,
          fault: { segment: -1, offset: stopAt, index: state.nextIndex, reason },
        }
      }
      torn = !isZero(rest, 0, rest.length)
      if (torn) {
        const stop = state.stop!
        summary.tornTail = {
          segment: segment.name,
          offset: stopAt,
          bytes: size - stopAt,
          reason:
            stop.kind === 'bad'
              ? stop.reason
              : 'bytes after the end marker (an unfinished write, or the old records of a reused segment file)',
        }
        await file.truncate(stopAt)
        if (options.preallocate) await file.truncate(Math.max(options.segmentBytes, stopAt))
        await file.sync()
      }
    }
    segment.verified = true
    segment.samples = state.samples
    segment.dataEnd = stopAt
    return { nextIndex: state.nextIndex, fault: undefined }
  } finally {
    await file.close()
  }
}

/** Refuses (throws WalCorruptionError) unless `repair` is set; then cuts the log at the fault. */
async function repairAt(
  dir: string,
  segments: Segment[],
  fault: Fault,
  options: ResolvedWalOptions,
  summary: RecoverySummary,
): Promise<void> {
  const at = fault.segment < 0 ? segments.length - 1 : fault.segment
  const segment = segments[at]!
  if (!options.repair) throw new WalCorruptionError(segment.name, fault.offset, fault.index, fault.reason)
  const { fs } = options
  const removed = segments.splice(at + 1)
  for (const later of removed.reverse()) {
    await fs.remove(later.path)
    await fs.syncDir(dir)
  }
  summary.repaired = {
    segment: segment.name,
    offset: fault.offset,
    index: fault.index,
    reason: fault.reason,
    removedSegments: removed.map((s) => s.name).reverse(),
  }
  if (fault.offset === 0) {
    // The header itself is bad: the segment holds nothing we can trust.
    await fs.remove(segment.path)
    await fs.syncDir(dir)
    segments.splice(at, 1)
    if (segments.length === 0) segments.push(await createSegment(dir, segment.firstIndex, options))
    return
  }
  const file = await fs.openWrite(segment.path, { create: false })
  try {
    await file.truncate(fault.offset)
    if (options.preallocate) await file.truncate(Math.max(options.segmentBytes, fault.offset))
    await file.sync()
  } finally {
    await file.close()
  }
  // Frames before the cut were checked by the scan that found the fault.
  segment.verified = true
  segment.samples = undefined
  segment.dataEnd = fault.offset
}
