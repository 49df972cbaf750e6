/**
 * Documents by internal id. A document is held either as its object or, when
 * it was loaded from a snapshot and not read since, as its encoded bytes in
 * the snapshot's document column: reopening decodes no document, and the
 * first read of one decodes it and keeps the object (later reads are plain
 * array loads). A column stays referenced until every document held in it
 * has been read, replaced or deleted; its bytes are smaller than the objects
 * they decode to.
 *
 * Encoding is plain MessagePack (the command log's), so a document that was
 * never decoded is written to the next snapshot with the very bytes it was
 * read from, and one that was gives the same bytes again.
 */

import type { Doc } from '../types.ts'
import { decodeValue, encodeValue } from './commands.ts'

/** Documents laid end to end: document `i` of a column is `bytes[ends[i-1] .. ends[i])`. */
export interface DocumentColumn {
  bytes: Uint8Array
  ends: Uint32Array
}

export class DocumentStore {
  #docs: (Doc | undefined)[] = []
  #column: Uint8Array | undefined
  /** Per id: where its encoded document starts in #column, and its length (0: none held). */
  #heldStart = new Uint32Array(0)
  #heldLength = new Uint32Array(0)
  #heldCount = 0

  /** The document under `id`, decoding it on first read. The caller must not mutate it. */
  get(id: number): Doc | undefined {
    const doc = this.#docs[id]
    if (doc !== undefined || id >= this.#heldLength.length) return doc
    const length = this.#heldLength[id]!
    if (length === 0) return undefined
    const start = this.#heldStart[id]!
    const decoded = decodeValue(this.#column!.subarray(start, start + length)) as Doc
    this.#docs[id] = decoded
    this.#dropHeld(id)
    return decoded
  }

  /** The document under `id` without keeping a decoded copy (for one-off reads such as snapshots). */
  peek(id: number): Doc | undefined {
    const doc = this.#docs[id]
    if (doc !== undefined || id >= this.#heldLength.length) return doc
    const length = this.#heldLength[id]!
    if (length === 0) return undefined
    const start = this.#heldStart[id]!
    return decodeValue(this.#column!.subarray(start, start + length)) as Doc
  }

  has(id: number): boolean {
    return this.#docs[id] !== undefined || (id < this.#heldLength.length && this.#heldLength[id]! > 0)
  }

  set(id: number, doc: Doc): void {
    this.#docs[id] = doc
    this.#dropHeld(id)
  }

  delete(id: number): void {
    this.#docs[id] = undefined
    this.#dropHeld(id)
  }

  /** Forgets every id at or above `length`. */
  truncate(length: number): void {
    if (this.#docs.length > length) this.#docs.length = length
    for (let id = length; id < this.#heldLength.length; id++) this.#dropHeld(id)
  }

  clear(): void {
    this.#docs = []
    this.#release()
  }

  /** The encoded documents under `ids` (each must be held), as one column. */
  column(ids: readonly number[]): DocumentColumn {
    const parts: Uint8Array[] = []
    const ends = new Uint32Array(ids.length)
    let total = 0
    ids.forEach((id, i) => {
      const part = this.#encoded(id)
      parts.push(part)
      total += part.byteLength
      ends[i] = total
    })
    const bytes = new Uint8Array(total)
    let at = 0
    for (const part of parts) {
      bytes.set(part, at)
      at += part.byteLength
    }
    return { bytes, ends }
  }

  /**
   * `column(ids)`, taken now and built later in slices: each document's object or held bytes is
   * taken in this call (neither is changed in place later: a write replaces the object, and a
   * held column is never written), then encoded and laid end to end `LOAD_CHUNK`-wise with
   * `pause` between. `visit` sees each document (decoded from its bytes if held) in order.
   */
  columnInSlices(
    ids: readonly number[],
    pause: () => Promise<void>,
    slice: number,
    visit?: (doc: Doc) => void,
  ): Promise<DocumentColumn> {
    const sources = ids.map((id) => this.#docs[id] ?? this.#encoded(id))
    return layColumn(sources, pause, slice, visit)
  }

  /** Holds the documents of `column` (in order) under `ids`, undecoded. */
  load(ids: ArrayLike<number>, column: DocumentColumn): void {
    if (ids.length !== column.ends.length) throw new TypeError('document column and ids differ in length')
    let size = 0
    for (let i = 0; i < ids.length; i++) size = Math.max(size, ids[i]! + 1)
    this.clear()
    this.#column = column.bytes
    this.#heldStart = new Uint32Array(size)
    this.#heldLength = new Uint32Array(size)
    let start = 0
    for (let i = 0; i < ids.length; i++) {
      const end = column.ends[i]!
      if (end <= start || end > column.bytes.byteLength) throw new TypeError('bad document column offsets')
      this.#heldStart[ids[i]!] = start
      this.#heldLength[ids[i]!] = end - start
      start = end
    }
    this.#heldCount = ids.length
  }

  #encoded(id: number): Uint8Array {
    const doc = this.#docs[id]
    if (doc !== undefined) return encodeValue(doc)
    const length = id < this.#heldLength.length ? this.#heldLength[id]! : 0
    if (length === 0) throw new RangeError(`no document under id ${id}`)
    const start = this.#heldStart[id]!
    return this.#column!.subarray(start, start + length)
  }

  #dropHeld(id: number): void {
    if (id >= this.#heldLength.length || this.#heldLength[id] === 0) return
    this.#heldLength[id] = 0
    if (--this.#heldCount === 0) this.#release()
  }

  #release(): void {
    this.#column = undefined
    this.#heldStart = new Uint32Array(0)
    this.#heldLength = new Uint32Array(0)
    this.#heldCount = 0
  }
}

/** Bytes of documents laid into a column between two pauses by `columnInSlices`. */
const COPY_SLICE_BYTES = 1 << 20
/**
 * Bytes of documents encoded (or decoded for `visit`) between two pauses by `columnInSlices`,
 * whatever its slice length: 1,024 documents of 1 KiB of text and 64 numbers took 15–25 ms.
 */
const ENCODE_SLICE_BYTES = 1 << 18

async function layColumn(
  sources: readonly (Doc | Uint8Array)[],
  pause: () => Promise<void>,
  slice: number,
  visit: ((doc: Doc) => void) | undefined,
): Promise<DocumentColumn> {
  const parts: Uint8Array[] = new Array(sources.length)
  const ends = new Uint32Array(sources.length)
  let total = 0
  let sliceStart = 0
  let encodedSincePause = 0
  for (let i = 0; i < sources.length; i++) {
    if (i - sliceStart >= slice || encodedSincePause >= ENCODE_SLICE_BYTES) {
      sliceStart = i
      encodedSincePause = 0
      await pause()
    }
    const source = sources[i]!
    const part = source instanceof Uint8Array ? source : encodeValue(source)
    if (visit !== undefined) visit(source instanceof Uint8Array ? (decodeValue(source) as Doc) : source)
    // Held bytes cost nothing to take unless decoded for `visit`.
    if (visit !== undefined || !(source instanceof Uint8Array)) encodedSincePause += part.byteLength
    parts[i] = part
    total += part.byteLength
    ends[i] = total
  }
  const bytes = new Uint8Array(total)
  let at = 0
  let sincePause = 0
  for (const part of parts) {
    if (sincePause >= COPY_SLICE_BYTES) {
      sincePause = 0
      await pause()
    }
    bytes.set(part, at)
    at += part.byteLength
    sincePause += part.byteLength
  }
  return { bytes, ends }
}
