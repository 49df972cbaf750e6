/** Base class of every error @shoal/bm25 throws on bad input or damaged data; `code` is stable. */
export class Bm25Error extends Error {
  readonly code: string
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'Bm25Error'
    this.code = code
  }
}

/** Invalid index or analyzer configuration (unknown field, bad k1/b, too many fields). */
export class Bm25ConfigError extends Bm25Error {
  constructor(message: string) {
    super('BM25_CONFIG', message)
    this.name = 'Bm25ConfigError'
  }
}

/** A document or query argument that the index rejects; the index is left unchanged. */
export class Bm25InputError extends Bm25Error {
  constructor(message: string) {
    super('BM25_INPUT', message)
    this.name = 'Bm25InputError'
  }
}

/** `add` of an id that is already in the index (only with `onDuplicate: 'error'`). */
export class Bm25DuplicateIdError extends Bm25Error {
  readonly id: number
  constructor(id: number) {
    super('BM25_DUPLICATE_ID', `document id ${id} is already in the index`)
    this.name = 'Bm25DuplicateIdError'
    this.id = id
  }
}

/** Serialized bytes that are truncated, of another format or version, or fail their checksum. */
export class Bm25CorruptionError extends Bm25Error {
  constructor(message: string) {
    super('BM25_CORRUPT', message)
    this.name = 'Bm25CorruptionError'
  }
}
