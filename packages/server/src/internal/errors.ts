import { ClusterError } from '@shoal/cluster'
import { RaftError } from '@shoal/raft'
/**
 * HTTP errors in Meilisearch's shape: `{ message, code, type, link }` with the
 * status Meilisearch uses for that code. Engine errors already carry `code`,
 * `type` and `httpStatus`, so they pass through without a lookup table.
 */

export type ErrorType = 'invalid_request' | 'internal' | 'auth' | 'system'

export interface ErrorBody {
  message: string
  code: string
  type: ErrorType
  link: string
}

/** The documentation page for an error code (the codes are Meilisearch's). */
export function errorLink(code: string): string {
  return `https://docs.meilisearch.com/errors#${code}`
}

export class ApiError extends Error {
  override readonly name = 'ApiError'
  readonly httpStatus: number
  readonly code: string
  readonly type: ErrorType

  constructor(httpStatus: number, code: string, message: string, type: ErrorType = 'invalid_request') {
    super(message)
    this.httpStatus = httpStatus
    this.code = code
    this.type = type
  }

  toBody(): ErrorBody {
    return { message: this.message, code: this.code, type: this.type, link: errorLink(this.code) }
  }
}

/** Shorthand for the common 400 `invalid_request` error. */
export function badRequest(code: string, message: string): ApiError {
  return new ApiError(400, code, message)
}

/** Configuration the server cannot start with (bad flag, bad TOML, unsafe bind). */
export class ConfigError extends Error {
  override readonly name = 'ConfigError'
}

/** The task log failed a checksum before its tail: the file was damaged, not torn. */
export class TaskLogCorruptionError extends Error {
  override readonly name = 'TaskLogCorruptionError'
  readonly code = 'internal'
  readonly path: string
  readonly offsetBytes: number

  constructor(path: string, offsetBytes: number, reason: string, options?: { cause?: unknown }) {
    super(`task log ${path} is corrupt at byte ${offsetBytes}: ${reason}`, options)
    this.path = path
    this.offsetBytes = offsetBytes
  }
}

interface CodedError {
  code: string
  type: ErrorType
  httpStatus: number
  message: string
}

/**
 * An error of the replication layer (`@shoal/raft`, `@shoal/cluster`): a leader change, no
 * majority, a time-out, a stopped node. Not the client's fault and worth retrying.
 */
export function isReplicationFault(error: unknown): boolean {
  return error instanceof RaftError || error instanceof ClusterError
}

function isCodedError(error: unknown): error is CodedError {
  if (typeof error !== 'object' || error === null) return false
  const e = error as Record<string, unknown>
  return typeof e.code === 'string' && typeof e.type === 'string' && typeof e.httpStatus === 'number'
}

/**
 * Turns anything thrown while serving a request or running a task into the
 * status and body to answer with. Unknown errors become `internal` (500) and
 * keep their message; the caller logs them.
 */
export function toErrorResponse(error: unknown): { status: number; body: ErrorBody; internal: boolean } {
  if (error instanceof ApiError) return { status: error.httpStatus, body: error.toBody(), internal: false }
  if (isReplicationFault(error)) {
    // The cluster could not finish now (a leader changed, no majority, a time-out): retriable.
    const message = error instanceof Error ? error.message : String(error)
    return {
      status: 503,
      body: { message, code: 'cluster_unavailable', type: 'system', link: errorLink('cluster_unavailable') },
      internal: false,
    }
  }
  if (isCodedError(error)) {
    const body = { message: error.message, code: error.code, type: error.type, link: errorLink(error.code) }
    return { status: error.httpStatus, body, internal: error.httpStatus >= 500 }
  }
  const message = error instanceof Error ? error.message : String(error)
  if (outOfSpace(error)) {
    // Nothing was written that the request could count on; it may be sent again once space returns.
    const code = 'no_space_left_on_device'
    return {
      status: 507,
      body: {
        message: `There is no space left on the device: ${message}`,
        code,
        type: 'system',
        link: errorLink(code),
      },
      internal: false,
    }
  }
  return {
    status: 500,
    body: { message, code: 'internal', type: 'internal', link: errorLink('internal') },
    internal: true,
  }
}

/** Whether `error`, or an error it was caused by, is a file system out of space (ENOSPC, EDQUOT). */
function outOfSpace(error: unknown): boolean {
  for (let at = error, depth = 0; at instanceof Error && depth < 8; at = at.cause, depth++) {
    const code = (at as { code?: unknown }).code
    if (code === 'ENOSPC' || code === 'EDQUOT') return true
  }
  return false
}

/** 403 `invalid_api_key`: the key is unknown, expired, or lacks the action or index. */
export function invalidApiKey(): ApiError {
  return new ApiError(403, 'invalid_api_key', 'The provided API key is invalid.', 'auth')
}
