import { WalConfigError } from './errors.ts'
import type { FileSystem } from './file-system.ts'
import { MAX_PAYLOAD_LIMIT, SEGMENT_HEADER_BYTES } from './internal/format.ts'
import { NodeFileSystem } from './node-file-system.ts'

export interface WalOptions {
  /** Where segment files live. @defaultValue `new NodeFileSystem()` */
  fs?: FileSystem
  /**
   * A new segment starts when the next write would take the current one past
   * this size. A single write larger than this still goes into one segment.
   * @defaultValue 64 MiB
   */
  segmentBytes?: number
  /**
   * `'always'`: every write is followed by fdatasync before its appends
   * resolve. `'none'`: appends resolve once written to the OS (lost on power
   * failure, kept on a process crash). @defaultValue 'always'
   */
  sync?: 'always' | 'none'
  /**
   * How `sync: 'always'` makes a write durable: `'fdatasync'` writes, then
   * calls fdatasync; `'dsync'` opens the active segment with O_DSYNC so the
   * write itself returns once durable (one I/O round trip instead of two).
   * @defaultValue 'fdatasync'
   */
  syncMethod?: 'fdatasync' | 'dsync'
  /** The largest payload `append` accepts. @defaultValue 16 MiB */
  maxPayloadBytes?: number
  /**
   * Pipelining threshold in bytes. With no write in flight, a write starts as
   * soon as this much is pending (rather than at the end of the turn), so the
   * disk works on the first part of a burst of appends while the rest are
   * encoded. With one write in flight, a second starts once this much is
   * pending, overlapping the first one's fdatasync; there are never more than
   * two. Below it, appends wait and share the next single write+fdatasync
   * (group commit). `Infinity`: one write+fdatasync at a time.
   * @defaultValue 512 KiB
   */
  pipelineBytes?: number
  /** Size new segment files to `segmentBytes` up front (zero-filled). @defaultValue false */
  preallocate?: boolean
  /**
   * How many segment files `compactBefore` keeps (renamed aside) for later
   * segments to reuse instead of deleting them. Writing over blocks a file
   * already has avoids the filesystem's (and a thin-provisioned disk's)
   * allocation on every sync. 0 deletes compacted segments at once. Kept
   * files are deleted by `close` and by the next open. @defaultValue 2
   */
  recycleSegments?: number
  /**
   * `'full'`: open checks the checksum of every record in every segment and
   * refuses to open on corruption. `'tail'`: open checks only the last
   * segment; earlier segments are checked when first read. @defaultValue 'full'
   */
  verify?: 'full' | 'tail'
  /**
   * On corruption, truncate the log at the first bad frame (dropping every
   * later segment) instead of refusing to open. What was dropped is reported
   * in `wal.recovery`. @defaultValue false
   */
  repair?: boolean
  /** Bytes read per sequential read while replaying. @defaultValue 8 MiB */
  readChunkBytes?: number
}

export interface ResolvedWalOptions {
  fs: FileSystem
  segmentBytes: number
  sync: 'always' | 'none'
  syncMethod: 'fdatasync' | 'dsync'
  maxPayloadBytes: number
  pipelineBytes: number
  preallocate: boolean
  recycleSegments: number
  verify: 'full' | 'tail'
  repair: boolean
  readChunkBytes: number
}

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024
export const DEFAULT_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024
export const DEFAULT_READ_CHUNK_BYTES = 8 * 1024 * 1024
export const DEFAULT_PIPELINE_BYTES = 512 * 1024

/** Fills in defaults and validates; throws `WalConfigError`. */
export function resolveOptions(options: WalOptions = {}): ResolvedWalOptions {
  const resolved: ResolvedWalOptions = {
    fs: options.fs ?? new NodeFileSystem(),
    segmentBytes: options.segmentBytes ?? DEFAULT_SEGMENT_BYTES,
    sync: options.sync ?? 'always',
    syncMethod: options.syncMethod ?? 'fdatasync',
    maxPayloadBytes: options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
    pipelineBytes: options.pipelineBytes ?? DEFAULT_PIPELINE_BYTES,
    preallocate: options.preallocate ?? false,
    recycleSegments: options.recycleSegments ?? 2,
    verify: options.verify ?? 'full',
    repair: options.repair ?? false,
    readChunkBytes: options.readChunkBytes ?? DEFAULT_READ_CHUNK_BYTES,
  }
  const { segmentBytes, maxPayloadBytes, readChunkBytes } = resolved
  if (!Number.isSafeInteger(segmentBytes) || segmentBytes < SEGMENT_HEADER_BYTES + 16) {
    throw new WalConfigError(`segmentBytes must be an integer >= 48, got ${segmentBytes}`)
  }
  if (!Number.isSafeInteger(maxPayloadBytes) || maxPayloadBytes < 0 || maxPayloadBytes > MAX_PAYLOAD_LIMIT) {
    throw new WalConfigError(`maxPayloadBytes must be an integer in [0, 2^30 - 1], got ${maxPayloadBytes}`)
  }
  if (!Number.isSafeInteger(readChunkBytes) || readChunkBytes < 64) {
    throw new WalConfigError(`readChunkBytes must be an integer >= 64, got ${readChunkBytes}`)
  }
  if (
    !(resolved.pipelineBytes === Number.POSITIVE_INFINITY || Number.isSafeInteger(resolved.pipelineBytes)) ||
    resolved.pipelineBytes < 1
  ) {
    throw new WalConfigError(
      `pipelineBytes must be an integer >= 1 or Infinity, got ${resolved.pipelineBytes}`,
    )
  }
  if (!Number.isSafeInteger(resolved.recycleSegments) || resolved.recycleSegments < 0) {
    throw new WalConfigError(`recycleSegments must be an integer >= 0, got ${resolved.recycleSegments}`)
  }
  if (resolved.sync !== 'always' && resolved.sync !== 'none') {
    throw new WalConfigError(`sync must be 'always' or 'none', got ${String(resolved.sync)}`)
  }
  if (resolved.syncMethod !== 'fdatasync' && resolved.syncMethod !== 'dsync') {
    throw new WalConfigError(`syncMethod must be 'fdatasync' or 'dsync', got ${String(resolved.syncMethod)}`)
  }
  if (resolved.verify !== 'full' && resolved.verify !== 'tail') {
    throw new WalConfigError(`verify must be 'full' or 'tail', got ${String(resolved.verify)}`)
  }
  return resolved
}
