// @shoal/wal: segmented, checksummed write-ahead log with group commit and crash recovery.
export type { WalOptions } from './config.ts'
export {
  DEFAULT_MAX_PAYLOAD_BYTES,
  DEFAULT_PIPELINE_BYTES,
  DEFAULT_READ_CHUNK_BYTES,
  DEFAULT_SEGMENT_BYTES,
} from './config.ts'
export type { SegmentDump } from './dump.ts'
export { dumpWal } from './dump.ts'
export type { WalErrorCode } from './errors.ts'
export {
  WalArgumentError,
  WalClosedError,
  WalConfigError,
  WalCorruptionError,
  WalError,
  WalFailedError,
  WalIndexError,
  WalPayloadTooLargeError,
} from './errors.ts'
export type { FileSystem, WalFile } from './file-system.ts'
export type { RecoverySummary } from './internal/recovery.ts'
export type { WalRecord } from './internal/scan.ts'
export { NodeFileSystem } from './node-file-system.ts'
export type { ReadOptions } from './wal.ts'
export { Wal } from './wal.ts'
