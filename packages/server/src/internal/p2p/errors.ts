/**
 * Typed errors of the node-to-node transport. Every error has a stable
 * `code` so callers (the cluster's routing, forwarded proposals) can branch
 * on it without parsing messages.
 */

export type P2PErrorCode =
  | 'config'
  | 'bad_address'
  | 'unreachable'
  | 'timeout'
  | 'aborted'
  | 'stopped'
  | 'frame_too_large'
  | 'protocol'
  | 'remote'

export abstract class P2PError extends Error {
  abstract readonly code: P2PErrorCode
}

/** Options the node cannot start with, or a key file it refuses to use. */
export class P2PConfigError extends P2PError {
  override readonly name = 'P2PConfigError'
  readonly code = 'config'
}

/** A `PeerAddress` that does not name a valid peer id or multiaddr. */
export class P2PAddressError extends P2PError {
  override readonly name = 'P2PAddressError'
  readonly code = 'bad_address'
}

/**
 * The peer could not be dialled, refused the handshake (for example a
 * different cluster key), or the connection broke before an answer came.
 */
export class P2PUnreachableError extends P2PError {
  override readonly name = 'P2PUnreachableError'
  readonly code = 'unreachable'
  readonly peerId: string
  /**
   * False when nothing was sent (the stream could not be opened, the node
   * stopped): the peer never saw the request. True when the connection broke
   * after the request may have left.
   */
  readonly maybeSent: boolean

  constructor(peerId: string, message: string, options?: { cause?: unknown; maybeSent?: boolean }) {
    super(`peer ${peerId} unreachable: ${message}`, options)
    this.peerId = peerId
    this.maybeSent = options?.maybeSent ?? true
  }
}

/** No answer within the request's `timeoutMs`. */
export class P2PTimeoutError extends P2PError {
  override readonly name = 'P2PTimeoutError'
  readonly code = 'timeout'
  readonly timeoutMs: number

  constructor(peerId: string, timeoutMs: number) {
    super(`peer ${peerId} did not answer within ${timeoutMs} ms`)
    this.timeoutMs = timeoutMs
  }
}

/** The caller's `AbortSignal` fired. */
export class P2PAbortedError extends P2PError {
  override readonly name = 'P2PAbortedError'
  readonly code = 'aborted'
}

/** The node was stopped (or not started) while the operation needed it. */
export class P2PStoppedError extends P2PError {
  override readonly name = 'P2PStoppedError'
  readonly code = 'stopped'
}

/** An outgoing value encodes to more than `maxFrameBytes`. Nothing was sent. */
export class P2PFrameTooLargeError extends P2PError {
  override readonly name = 'P2PFrameTooLargeError'
  readonly code = 'frame_too_large'
  readonly bodyBytes: number
  readonly maxFrameBytes: number

  constructor(bodyBytes: number, maxFrameBytes: number) {
    super(`frame body of ${bodyBytes} bytes exceeds maxFrameBytes ${maxFrameBytes}`)
    this.bodyBytes = bodyBytes
    this.maxFrameBytes = maxFrameBytes
  }
}

/**
 * The remote end broke the protocol (bad frame, wrong frame kind, checksum
 * mismatch, stream ended early). `reason` is the label counted in
 * `shoal_p2p_streams_closed_total`.
 */
export class P2PProtocolError extends P2PError {
  override readonly name = 'P2PProtocolError'
  readonly code = 'protocol'
  readonly reason: string

  constructor(reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.reason = reason
  }
}

/**
 * The remote handler failed. `remoteCode` is the `code` property of the
 * error the remote handler threw when it was a string, `internal` otherwise.
 */
export class P2PRemoteError extends P2PError {
  override readonly name = 'P2PRemoteError'
  readonly code = 'remote'
  readonly remoteCode: string

  constructor(remoteCode: string, message: string) {
    super(message)
    this.remoteCode = remoteCode
  }
}
