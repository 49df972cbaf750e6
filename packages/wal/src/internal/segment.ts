import type { ResolvedWalOptions } from '../config.ts'
import { joinPath } from '../file-system.ts'
import { encodeSegmentHeader, SEGMENT_HEADER_BYTES, segmentName, TEMP_SUFFIX } from './format.ts'

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
}

/**
 * Creates a segment durably: header written to a temporary file, synced
 * (with the zero-filled preallocation), renamed into place, directory synced.
 * A crash leaves either no segment or a whole one (plus a temporary file that
 * open removes).
 */
export async function createSegment(
  dir: string,
  firstIndex: number,
  options: ResolvedWalOptions,
): Promise<Segment> {
  const { fs } = options
  const name = segmentName(firstIndex)
  const path = joinPath(dir, name)
  const tempPath = `${path}${TEMP_SUFFIX}`
  const file = await fs.openWrite(tempPath, { create: true })
  try {
    const header = encodeSegmentHeader(firstIndex)
    await file.write(header, 0, header.length, 0)
    if (options.preallocate) await file.truncate(options.segmentBytes)
    await file.sync()
  } finally {
    await file.close()
  }
  await fs.rename(tempPath, path)
  await fs.syncDir(dir)
  return { name, path, firstIndex, verified: true, samples: [], dataEnd: SEGMENT_HEADER_BYTES }
}
