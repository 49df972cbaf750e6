import { type ResolvedWalOptions, resolveOptions, type WalOptions } from './config.ts'
import { joinPath } from './file-system.ts'
import { decodeSegmentHeader, parseSegmentName, SEGMENT_HEADER_BYTES } from './internal/format.ts'
import { scanWhole } from './internal/recovery.ts'

/** One segment as `dumpWal` found it. */
export interface SegmentDump {
  name: string
  /** First index named by the file name. */
  firstIndex: number
  /** Size of the file in bytes. */
  fileBytes: number
  /** Whole, valid records found from the start. */
  records: number
  /** Byte offset where the valid records end. */
  dataEnd: number
  /** Why the scan stopped before the end of the file, when it did. */
  stop: { offset: number; index: number; reason: string } | undefined
}

/**
 * Inspects a WAL directory without changing anything: every segment's
 * header, its whole records (each checksum checked) and where and why its
 * valid data ends. For debugging and for operators; it never repairs.
 */
export async function dumpWal(
  dir: string,
  options: Pick<WalOptions, 'fs' | 'maxPayloadBytes'> = {},
): Promise<SegmentDump[]> {
  const resolved: ResolvedWalOptions = resolveOptions(options)
  const { fs } = resolved
  const names = (await fs.list(dir))
    .filter((name) => parseSegmentName(name) !== undefined)
    .sort((a, b) => parseSegmentName(a)! - parseSegmentName(b)!)
  const dumps: SegmentDump[] = []
  for (const name of names) {
    const firstIndex = parseSegmentName(name)!
    const file = await fs.openRead(joinPath(dir, name))
    try {
      const fileBytes = await file.size()
      const header = new Uint8Array(SEGMENT_HEADER_BYTES)
      const decoded = decodeSegmentHeader(header.subarray(0, await file.read(header, 0, header.length, 0)))
      if ('error' in decoded || decoded.firstIndex !== firstIndex) {
        const reason = 'error' in decoded ? decoded.error : `header names first index ${decoded.firstIndex}`
        dumps.push({
          name,
          firstIndex,
          fileBytes,
          records: 0,
          dataEnd: 0,
          stop: { offset: 0, index: firstIndex, reason },
        })
        continue
      }
      const segment = { name, path: '', firstIndex, verified: false, samples: undefined, dataEnd: undefined }
      const state = await scanWhole(file, segment, resolved)
      const stop = state.stop!
      const ended =
        stop.kind === 'end' || (stop.kind === 'zero' && (await restIsZero(file, state.offset, fileBytes)))
      dumps.push({
        name,
        firstIndex,
        fileBytes,
        records: state.nextIndex - firstIndex,
        dataEnd: state.offset,
        stop: ended
          ? undefined
          : {
              offset: state.offset,
              index: state.nextIndex,
              reason: stop.kind === 'bad' ? stop.reason : 'non-zero bytes after a zero frame header',
            },
      })
    } finally {
      await file.close()
    }
  }
  return dumps
}

async function restIsZero(
  file: { read(b: Uint8Array, o: number, l: number, p: number): Promise<number> },
  from: number,
  to: number,
): Promise<boolean> {
  const block = new Uint8Array(64 * 1024)
  for (let position = from; position < to; position += block.length) {
    const got = await file.read(block, 0, Math.min(block.length, to - position), position)
    for (let i = 0; i < got; i++) if (block[i] !== 0) return false
  }
  return true
}
