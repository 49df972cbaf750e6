import { InvalidDocumentError } from '../errors.ts'
import type { Doc } from '../types.ts'
import { valuesAt } from './document-path.ts'

/**
 * Picks the primary key for a first batch the way Meilisearch does: the
 * attributes of the first document whose name ends in `id`
 * (case-insensitive); exactly one candidate is taken, none or several is an
 * error the caller must resolve by naming the key.
 */
export function inferPrimaryKey(docs: readonly Doc[]): string {
  const first = docs[0]
  const candidates =
    first === undefined ? [] : Object.keys(first).filter((k) => k.toLowerCase().endsWith('id'))
  if (candidates.length === 1) return candidates[0]!
  if (candidates.length === 0) {
    throw new InvalidDocumentError(
      'The primary key inference failed as the engine did not find any field ending with `id` in its name. Please specify the primary key manually using the `primaryKey` query parameter.',
      'primary_key_inference_failed',
      0,
    )
  }
  throw new InvalidDocumentError(
    `The primary key inference failed as the engine found ${candidates.length} fields ending with \`id\` in their names: ${candidates.map((c) => `'${c}'`).join(' and ')}. Please specify the primary key manually using the \`primaryKey\` query parameter.`,
    'index_primary_key_multiple_candidates_found',
    0,
  )
}

const ID_PATTERN = /^[A-Za-z0-9_-]{1,511}$/

/**
 * The canonical string form of `doc`'s primary key value (what documents are
 * keyed by): an integer, or a string of `[A-Za-z0-9_-]`, at most 511 bytes.
 */
export function documentKey(doc: Doc, primaryKey: string, position: number): string {
  const values = primaryKey.includes('.') ? valuesAt(doc, primaryKey) : [doc[primaryKey]]
  const value = values.length === 1 ? values[0] : undefined
  if (value === undefined || (values.length > 1 && primaryKey.includes('.'))) {
    throw new InvalidDocumentError(
      `Document at position ${position} doesn't have a \`${primaryKey}\` attribute: \`${preview(doc)}\`.`,
      'missing_document_id',
      position,
    )
  }
  const key = externalIdKey(value)
  if (key === undefined) {
    throw new InvalidDocumentError(
      `Document at position ${position} has an invalid identifier \`${JSON.stringify(value)}\`: a document identifier can be of type integer or string, only composed of alphanumeric characters (a-z A-Z 0-9), hyphens (-) and underscores (_), and can not be more than 511 bytes.`,
      'invalid_document_id',
      position,
    )
  }
  return key
}

/** The key of an id as given to get/delete, or undefined when it cannot be a document id. */
export function externalIdKey(value: unknown): string | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? String(value) : undefined
  if (typeof value === 'string') return ID_PATTERN.test(value) ? value : undefined
  return undefined
}

function preview(doc: Doc): string {
  const text = JSON.stringify(doc)
  return text.length > 200 ? `${text.slice(0, 200)}…` : text
}
