/** Base class of every error `@shoal/hnsw` throws on purpose; `code` is stable. */
export class HnswError extends Error {
  readonly code: string
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** Options out of range or inconsistent. */
export class HnswConfigError extends HnswError {
  constructor(message: string) {
    super('invalid_config', message)
  }
}

/** A vector of the wrong length, with NaN or Infinity, or of zero length under cosine. */
export class InvalidVectorError extends HnswError {
  constructor(message: string) {
    super('invalid_vector', message)
  }
}

/** An argument other than a vector is out of range (k, efSearch, an id that is not a u32, a filter). */
export class InvalidArgumentError extends HnswError {
  constructor(message: string) {
    super('invalid_argument', message)
  }
}

/** `add` of an id the index already holds. */
export class DuplicateIdError extends HnswError {
  readonly id: number
  constructor(id: number) {
    super('duplicate_id', `id ${id} is already in the index`)
    this.id = id
  }
}

/** `remove` of an id the index does not hold (never added, or already removed). */
export class UnknownIdError extends HnswError {
  readonly id: number
  constructor(id: number) {
    super('unknown_id', `id ${id} is not in the index`)
    this.id = id
  }
}

/** `deserialize` met bytes that are not a sound serialised index (bad magic, version, checksum or structure). */
export class CorruptIndexError extends HnswError {
  constructor(message: string) {
    super('corrupt_index', message)
  }
}

/** The WASM linear memory cannot grow further (4 GiB at most); the index is unchanged. */
export class HnswMemoryError extends HnswError {
  constructor(message: string) {
    super('out_of_memory', message)
  }
}

/** A change to the index while `serializeInSlices` runs; the index is unchanged. */
export class IndexBusyError extends HnswError {
  constructor(what: string) {
    super('index_busy', `${what} while the index is being serialised in slices: wait until that settles`)
  }
}
