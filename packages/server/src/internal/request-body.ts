import { parse as parseCsv } from 'csv-parse/sync'
import { ApiError, badRequest } from './errors.ts'

/**
 * Request bodies arrive as raw bytes (one catch-all content-type parser); the
 * route decides how to read them, so that each kind of bad input gets the
 * error code Meilisearch gives it.
 */

export function mediaType(contentType: string | undefined): string | undefined {
  return contentType?.split(';')[0]?.trim().toLowerCase() || undefined
}

/** A JSON body for a non-document route; an empty body reads as `undefined`. */
export function readJsonBody(raw: unknown, contentType: string | undefined): unknown {
  const bytes = asBuffer(raw)
  if (bytes === undefined || bytes.length === 0) return undefined
  const type = mediaType(contentType)
  if (type === undefined) {
    throw new ApiError(
      415,
      'missing_content_type',
      'A Content-Type header is missing. Accepted values are: `application/json`',
    )
  }
  if (type !== 'application/json') {
    throw new ApiError(
      415,
      'invalid_content_type',
      `The Content-Type \`${type}\` is invalid. Accepted values are: \`application/json\``,
    )
  }
  try {
    return JSON.parse(bytes.toString('utf8'))
  } catch (error) {
    throw badRequest('bad_request', `The JSON payload is invalid: ${(error as Error).message}`)
  }
}

const DOCUMENT_TYPES = ['application/json', 'application/x-ndjson', 'text/csv']

export interface DocumentsBody {
  documents: object[]
  /** The documents as a JSON array, as the task's payload file stores them. */
  json: Buffer | string
}

/**
 * Documents in JSON (an array or one object), NDJSON or CSV. Every element
 * must be an object; anything else is `malformed_payload` with its position.
 */
export function readDocumentsBody(
  raw: unknown,
  contentType: string | undefined,
  csvDelimiter = ',',
): DocumentsBody {
  const bytes = asBuffer(raw) ?? Buffer.alloc(0)
  const type = mediaType(contentType)
  if (type === undefined) {
    throw new ApiError(
      415,
      'missing_content_type',
      `A Content-Type header is missing. Accepted values are: ${DOCUMENT_TYPES.map((t) => `\`${t}\``).join(', ')}`,
    )
  }
  if (!DOCUMENT_TYPES.includes(type)) {
    throw new ApiError(
      415,
      'invalid_content_type',
      `The Content-Type \`${type}\` is invalid. Accepted values are: ${DOCUMENT_TYPES.map((t) => `\`${t}\``).join(', ')}`,
    )
  }
  if (bytes.length === 0) throw badRequest('missing_payload', 'A document payload is missing.')
  const text = bytes.toString('utf8')
  if (type === 'application/json') {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (error) {
      throw badRequest(
        'malformed_payload',
        `The \`json\` payload provided is malformed. ${(error as Error).message}`,
      )
    }
    const documents = Array.isArray(parsed) ? parsed : [parsed]
    checkObjects(documents, 'json')
    return {
      documents: documents as object[],
      json: Array.isArray(parsed) ? bytes : JSON.stringify(documents),
    }
  }
  const documents = type === 'text/csv' ? parseCsvDocuments(text, csvDelimiter) : parseNdjson(text)
  return { documents, json: JSON.stringify(documents) }
}

function parseNdjson(text: string): object[] {
  const documents: object[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim()
    if (line === '') continue
    let parsed: unknown
    try {
      parsed = JSON.parse(line)
    } catch (error) {
      throw badRequest(
        'malformed_payload',
        `The \`ndjson\` payload provided is malformed at line ${i + 1}. ${(error as Error).message}`,
      )
    }
    if (!isPlainObject(parsed)) {
      throw badRequest(
        'malformed_payload',
        `The \`ndjson\` payload provided is malformed at line ${i + 1}: expected an object.`,
      )
    }
    documents.push(parsed)
  }
  return documents
}

/**
 * CSV with a header row. A header may name a type as `field:number` or
 * `field:boolean`; other columns are strings; an empty cell is null.
 */
export function parseCsvDocuments(text: string, delimiter = ','): object[] {
  let rows: string[][]
  try {
    rows = parseCsv(text, { delimiter, relax_column_count: false, skip_empty_lines: true }) as string[][]
  } catch (error) {
    throw badRequest(
      'malformed_payload',
      `The \`csv\` payload provided is malformed. ${(error as Error).message}`,
    )
  }
  const header = rows[0]
  if (header === undefined) return []
  const columns = header.map((h) => {
    const [name, kind] = h.split(':') as [string, string | undefined]
    return { name, kind: kind === 'number' || kind === 'boolean' ? kind : 'string' }
  })
  return rows.slice(1).map((row, r) => {
    const doc: Record<string, unknown> = {}
    columns.forEach((column, c) => {
      const cell = row[c] ?? ''
      if (cell === '') doc[column.name] = null
      else if (column.kind === 'number') {
        const value = Number(cell)
        if (Number.isNaN(value)) {
          throw badRequest(
            'malformed_payload',
            `The \`csv\` payload provided is malformed at line ${r + 2}: \`${cell}\` in column \`${column.name}\` is not a number.`,
          )
        }
        doc[column.name] = value
      } else if (column.kind === 'boolean') doc[column.name] = cell === 'true'
      else doc[column.name] = cell
    })
    return doc
  })
}

function checkObjects(documents: unknown[], format: string): void {
  documents.forEach((doc, i) => {
    if (!isPlainObject(doc)) {
      throw badRequest(
        'malformed_payload',
        `The \`${format}\` payload provided is malformed: document ${i} is not an object.`,
      )
    }
  })
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function asBuffer(raw: unknown): Buffer | undefined {
  if (raw === undefined || raw === null) return undefined
  if (Buffer.isBuffer(raw)) return raw
  if (typeof raw === 'string') return Buffer.from(raw)
  return undefined
}
