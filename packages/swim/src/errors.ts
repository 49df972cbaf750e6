/** Errors thrown by @shoal/swim's adapters. Each has a stable `code`. */
export class SwimError extends Error {
  readonly code: string
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = 'SwimError'
  }
}

/** A packet or frame that does not decode to protocol messages. */
export class MalformedMessageError extends SwimError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SWIM_MALFORMED', message, options)
    this.name = 'MalformedMessageError'
  }
}

/** A transport that cannot start or send (bad address, socket failure). */
export class TransportError extends SwimError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SWIM_TRANSPORT', message, options)
    this.name = 'TransportError'
  }
}
