/**
 * Typed errors of the engine. Every error thrown for bad input or a missing
 * thing is a `ShoalError` carrying Meilisearch's error `code`, its `type` and
 * the HTTP status Meilisearch answers with, so an HTTP layer can render
 * `{ message, code, type, link }` without a lookup table.
 */

export type ErrorType = 'invalid_request' | 'internal' | 'auth' | 'system'

export class ShoalError extends Error {
  readonly code: string
  readonly type: ErrorType
  readonly httpStatus: number

  constructor(message: string, code: string, type: ErrorType, httpStatus: number, options?: ErrorOptions) {
    super(message, options)
    this.name = new.target.name
    this.code = code
    this.type = type
    this.httpStatus = httpStatus
  }

  /** Meilisearch's documentation anchor for this code. */
  get link(): string {
    return `https://docs.meilisearch.com/errors#${this.code}`
  }
}

export class IndexNotFoundError extends ShoalError {
  constructor(uid: string) {
    super(`Index \`${uid}\` not found.`, 'index_not_found', 'invalid_request', 404)
  }
}

export class IndexAlreadyExistsError extends ShoalError {
  constructor(uid: string) {
    super(`Index \`${uid}\` already exists.`, 'index_already_exists', 'invalid_request', 409)
  }
}

export class InvalidIndexUidError extends ShoalError {
  constructor(uid: unknown) {
    super(
      `\`${String(uid)}\` is not a valid index uid. Index uid can be an integer or a string containing only alphanumeric characters, hyphens (-) and underscores (_), and can not be more than 400 bytes.`,
      'invalid_index_uid',
      'invalid_request',
      400,
    )
  }
}

export class DocumentNotFoundError extends ShoalError {
  constructor(id: string | number) {
    super(`Document \`${String(id)}\` not found.`, 'document_not_found', 'invalid_request', 404)
  }
}

/**
 * A document that cannot be stored. `code` is one of `missing_document_id`,
 * `invalid_document_id`, `invalid_document_fields`, `invalid_vector_dimensions`
 * or `primary_key_inference_failed`, `index_primary_key_multiple_candidates_found`,
 * `index_primary_key_already_exists`; `documentIndex` names the offending
 * document's position in its batch when there is one.
 */
export class InvalidDocumentError extends ShoalError {
  readonly documentIndex: number | undefined

  constructor(message: string, code: string, documentIndex?: number) {
    super(message, code, 'invalid_request', 400)
    this.documentIndex = documentIndex
  }
}

/** The span of a filter expression an error points at, as 0-based character offsets. */
export interface FilterPosition {
  start: number
  end: number
}

export class InvalidFilterError extends ShoalError {
  readonly position: FilterPosition | undefined

  constructor(
    message: string,
    position?: FilterPosition,
    code: 'invalid_search_filter' | 'invalid_document_filter' = 'invalid_search_filter',
  ) {
    super(message, code, 'invalid_request', 400)
    this.position = position
  }

  /** The same error under another code (the documents route uses `invalid_document_filter`). */
  withCode(code: 'invalid_search_filter' | 'invalid_document_filter'): InvalidFilterError {
    return code === this.code ? this : new InvalidFilterError(this.message, this.position, code)
  }
}

export class InvalidSettingsError extends ShoalError {
  /** `setting` is the Meilisearch setting name, e.g. `filterableAttributes`. */
  constructor(setting: string, message: string) {
    super(message, `invalid_settings_${snakeCase(setting)}`, 'invalid_request', 400)
  }
}

/** A search request parameter that is out of range or malformed (`invalid_search_*`). */
export class InvalidSearchError extends ShoalError {
  constructor(parameter: string, message: string) {
    super(message, `invalid_search_${snakeCase(parameter)}`, 'invalid_request', 400)
  }
}

/**
 * A search a sharded index cannot answer exactly yet (`parameter` names what): refused rather
 * than answered differently from one unsharded index. HTTP 400, code
 * `invalid_search_sharded_<parameter>`. Every parameter that shapes the answer is exact across
 * shards (docs/distributed-search.md); only `showPerformanceDetails` is refused, since a
 * partition can time only its own part.
 */
export class ShardedSearchUnsupportedError extends ShoalError {
  readonly parameter: string

  constructor(parameter: string) {
    super(
      `\`${parameter}\` is not supported by a search over a sharded index yet.`,
      `invalid_search_sharded_${snakeCase(parameter)}`,
      'invalid_request',
      400,
    )
    this.parameter = parameter
  }
}

/**
 * Shard answers that cannot be merged: they were computed for different requests or settings
 * (a settings change that reached some shards only), or from statistics of another query.
 * HTTP 500, code `sharded_search_mismatch`: the coordinator should retry with fresh statistics.
 */
export class ShardedSearchMismatchError extends ShoalError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'sharded_search_mismatch', 'internal', 500, options)
  }
}

/** A documents-route parameter that is out of range or malformed (`invalid_document_*`). */
export class InvalidDocumentsQueryError extends ShoalError {
  constructor(parameter: string, message: string) {
    super(message, `invalid_document_${snakeCase(parameter)}`, 'invalid_request', 400)
  }
}

/** A snapshot whose checksum or framing is wrong; surfaced with code `internal`. */
export class SnapshotCorruptionError extends ShoalError {
  readonly file: string

  constructor(file: string, reason: string) {
    super(`Snapshot ${file} is corrupt: ${reason}`, 'internal', 'internal', 500)
    this.file = file
  }
}

/** A command-log record that does not decode into a command; surfaced with code `internal`. */
export class CommandLogCorruptionError extends ShoalError {
  constructor(index: number, reason: string) {
    super(`Command log record ${index} is corrupt: ${reason}`, 'internal', 'internal', 500)
  }
}

/** The database was closed, or failed and refuses further writes. */
export class EngineClosedError extends ShoalError {
  constructor(reason = 'The database is closed.') {
    super(reason, 'internal', 'internal', 500)
  }
}

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
}

/** An anti-entropy request naming a Merkle level, node or bucket the tree does not have. */
export class InvalidMerkleRequestError extends ShoalError {
  constructor(message: string) {
    super(message, 'invalid_merkle_request', 'invalid_request', 400)
  }
}

/**
 * A facet search that cannot run: `code` is Meilisearch's (`missing_facet_search_facet_name`,
 * `invalid_facet_search_facet_name`, `invalid_facet_search_facet_query`,
 * `facet_search_disabled`, `bad_request`). HTTP 400.
 */
export class InvalidFacetSearchError extends ShoalError {
  constructor(code: string, message: string) {
    super(message, code, 'invalid_request', 400)
  }
}

/**
 * A similar-documents request that cannot run: `code` is Meilisearch's (`invalid_similar_id`,
 * `not_found_similar_id`, `invalid_similar_embedder`, `invalid_similar_*` for the search fields).
 * HTTP 400, or 404 for `not_found_similar_id`.
 */
export class InvalidSimilarError extends ShoalError {
  constructor(code: string, message: string) {
    super(message, code, 'invalid_request', code === 'not_found_similar_id' ? 404 : 400)
  }
}
