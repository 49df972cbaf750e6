/**
 * Typed errors of `@shoal/wal`. Every error has a stable `code` so callers can
 * branch without matching messages.
 */
export type WalErrorCode =
  | 'WAL_CORRUPTION'
  | 'WAL_FAILED'
  | 'WAL_CLOSED'
  | 'WAL_INDEX_OUT_OF_RANGE'
  | 'WAL_PAYLOAD_TOO_LARGE'
  | 'WAL_CONFIG'
  | 'WAL_INVALID_ARGUMENT'

export class WalError extends Error {
  readonly code: WalErrorCode
  constructor(code: WalErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    this.name = 'WalError'
  }
}

/**
 * Stored bytes that fail their checksum or framing anywhere other than the
 * torn tail of the last segment. `offset` is the byte offset of the bad frame
 * in `segment`; `index` the record index expected there.
 */
export class WalCorruptionError extends WalError {
  readonly segment: string
  readonly offset: number
  readonly index: number
  constructor(segment: string, offset: number, index: number, reason: string) {
    super('WAL_CORRUPTION', `corrupt WAL segment ${segment} at offset ${offset} (index ${index}): ${reason}`)
    this.name = 'WalCorruptionError'
    this.segment = segment
    this.offset = offset
    this.index = index
  }
}

/**
 * A write or fsync failed. The WAL stops: a failed fsync is never retried,
 * since the kernel may already have dropped the dirty pages, so nothing after
 * it could be trusted as durable. Reopen the WAL to recover.
 */
export class WalFailedError extends WalError {
  constructor(message: string, options?: ErrorOptions) {
    super('WAL_FAILED', message, options)
    this.name = 'WalFailedError'
  }
}

export class WalClosedError extends WalError {
  constructor() {
    super('WAL_CLOSED', 'the WAL is closed')
    this.name = 'WalClosedError'
  }
}

export class WalIndexError extends WalError {
  constructor(message: string) {
    super('WAL_INDEX_OUT_OF_RANGE', message)
    this.name = 'WalIndexError'
  }
}

export class WalPayloadTooLargeError extends WalError {
  constructor(bytes: number, maxBytes: number) {
    super('WAL_PAYLOAD_TOO_LARGE', `payload of ${bytes} bytes exceeds maxPayloadBytes ${maxBytes}`)
    this.name = 'WalPayloadTooLargeError'
  }
}

export class WalConfigError extends WalError {
  constructor(message: string) {
    super('WAL_CONFIG', message)
    this.name = 'WalConfigError'
  }
}

/** A call with an argument of the wrong type or shape. */
export class WalArgumentError extends WalError {
  constructor(message: string) {
    super('WAL_INVALID_ARGUMENT', message)
    this.name = 'WalArgumentError'
  }
}
