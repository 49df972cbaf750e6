/**
 * An index as stored in a snapshot body (see `snapshot-file.ts` for the frame).
 *
 * Format 2 is written today; format 1 is still read. Format 2 stores what
 * reopening needs without rebuilding or decoding documents:
 *
 *   ids           u32 LE column: the live internal ids, ascending
 *   keys          the primary-key strings of those documents, same order
 *   documents     each document's MessagePack bytes laid end to end, and
 *   documentEnds  a u32 LE column of end offsets (document i is [ends[i-1], ends[i]))
 *   filterable    per document, only its attributes the filter and facet indexes
 *                 walk (null when there are no filterable attributes): the field
 *                 indexes are rebuilt from these small maps, not from documents
 *   fieldCounts   [attribute, number of documents holding it] (the field distribution)
 *   text          the text index as held (`@shoal/bm25` held format)
 *   vectors       [embedder, graph memory image (`@shoal/hnsw` serialize)]
 *   vectorBacklog [embedder, not-yet-indexed graph operations (`vector-backlog.ts`)]
 *
 * Format 1 stored the documents as a MessagePack array of objects, so opening
 * decoded every document (vectors included, as arrays of doubles) and re-ran
 * the field indexes and field distribution over them.
 *
 * Columns are MessagePack `bin` values of little-endian numbers; they are read
 * as typed-array views over the snapshot's bytes where aligned, copied
 * otherwise.
 */

import type { Doc, Settings } from '../types.ts'

interface IndexHeader {
  uid: string
  primaryKey: string | null
  createdAt: string
  updatedAt: string
  settings: Settings
  nextId: number
  textFields: string[]
  text: Uint8Array | null
  vectors: [string, Uint8Array][]
}

export interface IndexImageV1 extends IndexHeader {
  ids: number[]
  docs: Doc[]
}

export interface IndexImageV2 extends IndexHeader {
  ids: Uint8Array
  keys: string[]
  documents: Uint8Array
  documentEnds: Uint8Array
  filterable: Doc[] | null
  fieldCounts: [string, number][]
  vectorBacklog: [string, Uint8Array][]
}

export type IndexImage = IndexImageV1 | IndexImageV2

/** The bytes of a u32 column (little-endian hosts: the typed array's own bytes). */
export function u32Bytes(values: Uint32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength)
}

export function f32Bytes(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength)
}

/** A u32 column read from `bytes`: a view when aligned, else a copy. Throws on a ragged length. */
export function u32Column(bytes: Uint8Array, what: string): Uint32Array {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength % 4 !== 0) throw new TypeError(`bad ${what} column`)
  if (bytes.byteOffset % 4 === 0) return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)
  return new Uint32Array(copyOf(bytes).buffer)
}

export function f32Column(bytes: Uint8Array, what: string): Float32Array {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength % 4 !== 0) throw new TypeError(`bad ${what} column`)
  if (bytes.byteOffset % 4 === 0)
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)
  return new Float32Array(copyOf(bytes).buffer)
}

/** A copy in a buffer of its own (a Node Buffer's `slice` is a view, not a copy). */
function copyOf(bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(bytes.byteLength)
  copy.set(bytes)
  return copy
}

/** Whether `image` is a format 2 index image; throws on anything that is neither format. */
export function isImageV2(image: IndexImage): image is IndexImageV2 {
  if (image === null || typeof image !== 'object') throw new TypeError('not an index image')
  if ('documents' in image) {
    if (!Array.isArray(image.keys) || !Array.isArray(image.fieldCounts))
      throw new TypeError('bad index image')
    return true
  }
  if (!Array.isArray(image.ids) || !Array.isArray(image.docs)) throw new TypeError('bad index image')
  return false
}
