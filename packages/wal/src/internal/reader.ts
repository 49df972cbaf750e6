import type { ResolvedWalOptions } from '../config.ts'
import { WalCorruptionError } from '../errors.ts'
import { SEGMENT_HEADER_BYTES } from './format.ts'
import { SAMPLE_EVERY, type ScanState, scanSegment, type WalRecord } from './scan.ts'
import type { Segment } from './segment.ts'

/** Byte offset of the frame carrying `index` in `segment` (its data end when `index` is one past its last). */
export async function locate(options: ResolvedWalOptions, segment: Segment, index: number): Promise<number> {
  if (index === segment.firstIndex) return SEGMENT_HEADER_BYTES
  const file = await options.fs.openRead(segment.path)
  try {
    const start = startFor(segment, index - 1)
    const state: ScanState = { offset: 0, nextIndex: 0, samples: undefined, stop: undefined }
    const scan = scanSegment(
      {
        file,
        offset: start.offset,
        index: start.index,
        segmentFirstIndex: segment.firstIndex,
        end: segment.dataEnd ?? (await file.size()),
        verify: !segment.verified,
        maxPayloadBytes: options.maxPayloadBytes,
        chunkBytes: 64 * 1024,
        reuseBuffers: true,
        from: Number.POSITIVE_INFINITY,
        to: index - 1,
        collect: false,
      },
      state,
    )
    for await (const _ of scan) {
      // Only the final position matters.
    }
    if (state.nextIndex !== index) {
      const reason = state.stop?.kind === 'bad' ? state.stop.reason : `record ${state.nextIndex} is missing`
      throw new WalCorruptionError(segment.name, state.offset, state.nextIndex, reason)
    }
    return state.offset
  } finally {
    await file.close()
  }
}

/** Where a scan for `index` can start: the nearest sampled frame at or before it. */
export function startFor(segment: Segment, index: number): { offset: number; index: number } {
  const samples = segment.samples
  if (samples === undefined || samples.length === 0 || index <= segment.firstIndex) {
    return { offset: SEGMENT_HEADER_BYTES, index: segment.firstIndex }
  }
  const k = Math.min(Math.floor((index - segment.firstIndex) / SAMPLE_EVERY), samples.length - 1)
  return { offset: samples[k]!, index: segment.firstIndex + k * SAMPLE_EVERY }
}

/** Reads `from..to` across `segments` (a snapshot of the WAL's list), yielding a batch per chunk. */
export async function* readRange(
  options: ResolvedWalOptions,
  segments: readonly Segment[],
  from: number,
  to: number,
  reuseBuffers: boolean,
): AsyncGenerator<WalRecord[]> {
  for (let i = 0; i < segments.length && from <= to; i++) {
    const segment = segments[i]!
    const segmentLast = i + 1 < segments.length ? segments[i + 1]!.firstIndex - 1 : to
    if (segmentLast < from) continue
    if (segment.firstIndex > to) break
    const complete = i + 1 < segments.length && to >= segmentLast
    yield* readSegment(options, segment, from, Math.min(to, segmentLast), complete, reuseBuffers)
    from = segmentLast + 1
  }
}

/** Reads `from..to` of one segment; a `complete` read of a whole segment also verifies and samples it once. */
async function* readSegment(
  options: ResolvedWalOptions,
  segment: Segment,
  from: number,
  to: number,
  complete: boolean,
  reuseBuffers: boolean,
): AsyncGenerator<WalRecord[]> {
  const file = await options.fs.openRead(segment.path)
  try {
    const start = startFor(segment, from)
    const wholePass = start.index === segment.firstIndex && segment.samples === undefined
    const state: ScanState = {
      offset: 0,
      nextIndex: 0,
      samples: wholePass ? [] : undefined,
      stop: undefined,
    }
    yield* scanSegment(
      {
        file,
        offset: start.offset,
        index: start.index,
        segmentFirstIndex: segment.firstIndex,
        // The durable end at the time this read starts; later writes are past `to` anyway.
        end: segment.dataEnd ?? (await file.size()),
        verify: !segment.verified,
        maxPayloadBytes: options.maxPayloadBytes,
        chunkBytes: options.readChunkBytes,
        reuseBuffers,
        from,
        to,
        collect: true,
      },
      state,
    )
    if (state.nextIndex <= to) {
      const reason =
        state.stop?.kind === 'bad' ? state.stop.reason : `segment ends before record ${state.nextIndex}`
      throw new WalCorruptionError(segment.name, state.offset, state.nextIndex, reason)
    }
    if (wholePass && complete) {
      segment.samples = state.samples
      segment.verified = true
      segment.dataEnd = state.offset
    }
  } finally {
    await file.close()
  }
}
