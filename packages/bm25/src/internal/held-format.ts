import { crc32 } from 'node:zlib'
import { Bm25CorruptionError } from '../errors.ts'
import { runSteps, type Steps } from './steps.ts'

/**
 * Serialized index, version 3 (version 2 is read too): the index as it is held, so that loading copies arrays instead
 * of rebuilding them (version 1, in format.ts, is still read). All integers little-endian;
 * every section starts on an 8-byte boundary of the body (zero padding).
 *
 *   magic "SHBM" | version u32 = 2 | bodyBytes u32 | body | crc32(body) u32
 *   body:
 *     headerBytes u32 | header (UTF-8 JSON: fields, boosts, k1, b, delta, analyzer)
 *     docCount u32 | termCount u32 | postingCount u32 | arenaBytes u32 | termChars u32 |
 *       termBytes u32
 *     ext          u32 x docCount           external id per internal document
 *     lens         u32 x docCount x F       field lengths
 *     termLengths  u32 x termCount          UTF-16 length of each term, in term-id order
 *     terms        termBytes                the terms concatenated, UTF-8
 *     postOffsets  u32 x (termCount + 1)    term t's postings are [postOffsets[t], postOffsets[t+1])
 *     postDocs     u32 x postingCount       internal document numbers, ascending per term
 *     postTfs      u8 x postingCount x F    term frequency per field
 *     encodedAt    u32 x termCount          address of the term's encoded postings in linear memory
 *     encodedBytes u32 x termCount
 *     encodedAvg   f64 x termCount x F      average field lengths its block bounds were computed with
 *     arena        arenaBytes               linear memory from the arena's start: encoded postings
 *     sortedTerms  u32 x termCount          version 3 only: term ids in sorted term order (the
 *                                            dictionary's sorted view, so loading need not sort)
 *
 * Only live documents are written (the index compacts first), and the postings are freshly
 * encoded, so the bytes depend on the index's contents alone, not on when it was searched.
 * Readers reject another magic, a length that runs past the end, a checksum mismatch, and
 * postings or encodings that point outside their sections.
 */
export interface HeldImage {
  header: { fields: string[]; boosts: number[]; k1: number; b: number; delta: number; analyzer: object }
  ext: Uint32Array
  lens: Uint32Array
  terms: string[]
  postOffsets: Uint32Array
  postDocs: Uint32Array
  postTfs: Uint8Array
  encodedAt: Uint32Array
  encodedBytes: Uint32Array
  encodedAvg: Float64Array
  arena: Uint8Array
  /** Term ids in sorted term order (absent in version 2 bytes). */
  sortedTerms?: Uint32Array
}

const MAGIC = 0x4d424853 // "SHBM" read as little-endian u32
export const HELD_VERSION = 3
/** Held-format versions `decodeHeld` reads. */
export const HELD_VERSIONS: readonly number[] = [2, 3]
const COUNTS = 6

function align8(n: number): number {
  return (n + 7) & ~7
}

/** The held-format bytes of `image` (`version` 2 leaves out the sorted term order). */
export function encodeHeld(image: HeldImage, version = HELD_VERSION): Uint8Array {
  const { out, body, sections } = heldLayout(image, version)
  for (const { bytes, at } of sections) body.set(bytes, at)
  new DataView(out.buffer).setUint32(12 + body.length, crc32(body), true)
  return out
}

/**
 * `encodeHeld`'s bytes, the sections copied and the body checksummed a MiB at a time with `pause`
 * awaited between slices. The caller keeps `image`'s arrays unchanged until this settles.
 */
export async function encodeHeldInSlices(
  image: HeldImage,
  pause: () => Promise<void>,
  version = HELD_VERSION,
): Promise<Uint8Array> {
  const { out, body, sections } = heldLayout(image, version)
  let copied = 0
  for (const { bytes, at } of sections) {
    for (let from = 0; from < bytes.length; from += CHECK_SLICE_BYTES) {
      const part = bytes.subarray(from, from + CHECK_SLICE_BYTES)
      body.set(part, at + from)
      copied += part.length
      if (copied >= CHECK_SLICE_BYTES) {
        copied = 0
        await pause()
      }
    }
  }
  let crc = 0
  for (let at = 0; at < body.length; at += CHECK_SLICE_BYTES) {
    if (at > 0) await pause()
    crc = crc32(body.subarray(at, at + CHECK_SLICE_BYTES), crc)
  }
  new DataView(out.buffer).setUint32(12 + body.length, crc, true)
  return out
}

/**
 * The frame of `image`'s bytes with magic, version, header and counts written, and where each
 * section goes in the body (the section bytes and the checksum still to write).
 */
function heldLayout(
  image: HeldImage,
  version: number,
): { out: Uint8Array; body: Uint8Array; sections: { bytes: Uint8Array; at: number }[] } {
  const header = new TextEncoder().encode(JSON.stringify(image.header))
  const termText = new TextEncoder().encode(image.terms.join(''))
  const termLengths = Uint32Array.from(image.terms, (term) => term.length)
  const parts: Uint8Array[] = [
    bytesOf(image.ext),
    bytesOf(image.lens),
    bytesOf(termLengths),
    termText,
    bytesOf(image.postOffsets),
    bytesOf(image.postDocs),
    image.postTfs,
    bytesOf(image.encodedAt),
    bytesOf(image.encodedBytes),
    bytesOf(image.encodedAvg),
    image.arena,
  ]
  if (version >= 3) parts.push(bytesOf(image.sortedTerms ?? new Uint32Array(0)))
  let bodyBytes = align8(4 + header.length) + COUNTS * 4
  for (const part of parts) bodyBytes = align8(bodyBytes) + part.length
  bodyBytes = align8(bodyBytes)
  // Zeroed: the padding between sections is part of the checksummed bytes.
  const out = new Uint8Array(12 + bodyBytes + 4)
  const view = new DataView(out.buffer)
  view.setUint32(0, MAGIC, true)
  view.setUint32(4, version, true)
  view.setUint32(8, bodyBytes, true)
  const body = out.subarray(12, 12 + bodyBytes)
  const bodyView = new DataView(out.buffer, 12, bodyBytes)
  bodyView.setUint32(0, header.length, true)
  body.set(header, 4)
  let at = align8(4 + header.length)
  const counts = [
    image.ext.length,
    image.terms.length,
    image.postDocs.length,
    image.arena.length,
    termLengths.length,
    termText.length,
  ]
  for (let i = 0; i < COUNTS; i++) bodyView.setUint32(at + i * 4, counts[i]!, true)
  at += COUNTS * 4
  const sections: { bytes: Uint8Array; at: number }[] = []
  for (const bytes of parts) {
    at = align8(at)
    sections.push({ bytes, at })
    at += bytes.length
  }
  return { out, body, sections }
}

function bytesOf(array: Uint32Array | Float64Array): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength)
}

/** Body bytes checksummed between two pauses by `checkHeldInSlices`. */
const CHECK_SLICE_BYTES = 1 << 20

/** The body of version 2 or 3 bytes, its length checked against the header. */
function heldBody(bytes: Uint8Array): { body: Uint8Array; expected: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const bodyBytes = view.getUint32(8, true)
  if (12 + bodyBytes + 4 !== bytes.length) throw new Bm25CorruptionError('serialized index length mismatch')
  return { body: bytes.subarray(12, 12 + bodyBytes), expected: view.getUint32(12 + bodyBytes, true) }
}

/**
 * Checks version 2 or 3 bytes' length and checksum a MiB at a time, calling `pause` between
 * slices; throws Bm25CorruptionError as `decodeHeld` would.
 */
export async function checkHeldInSlices(bytes: Uint8Array, pause: () => Promise<void>): Promise<void> {
  const { body, expected } = heldBody(bytes)
  let crc = 0
  for (let at = 0; at < body.length; at += CHECK_SLICE_BYTES) {
    if (at > 0) await pause()
    crc = crc32(body.subarray(at, at + CHECK_SLICE_BYTES), crc)
  }
  if (crc !== expected) throw new Bm25CorruptionError('serialized index checksum mismatch')
}

/**
 * Decodes version 2 or 3 bytes (magic and version already checked by the caller); `checked`:
 * `checkHeldInSlices` already verified the checksum.
 */
export function decodeHeld(bytes: Uint8Array, checked = false): HeldImage {
  return runSteps(decodeHeldSteps(bytes, checked))
}

/** Postings or terms checked (or terms cut out of their text) between two yields of `decodeHeldSteps`. */
const DECODE_SLICE_ITEMS = 1 << 17

/** `decodeHeld` as steps: it yields between slices of the long checks and copies. */
export function* decodeHeldSteps(bytes: Uint8Array, checked = false): Steps<HeldImage> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const version = view.getUint32(4, true)
  const { body, expected } = heldBody(bytes)
  if (!checked && expected !== crc32(body)) {
    throw new Bm25CorruptionError('serialized index checksum mismatch')
  }
  const bodyView = new DataView(body.buffer, body.byteOffset, body.byteLength)
  const need = (end: number) => {
    if (end > body.length) throw new Bm25CorruptionError('serialized index is truncated')
  }
  need(4)
  const headerBytes = bodyView.getUint32(0, true)
  need(4 + headerBytes)
  const header = JSON.parse(
    new TextDecoder().decode(body.subarray(4, 4 + headerBytes)),
  ) as HeldImage['header']
  if (!Array.isArray(header.fields)) throw new Bm25CorruptionError('serialized index header has no fields')
  const F = header.fields.length
  let at = align8(4 + headerBytes)
  need(at + COUNTS * 4)
  const [docCount, termCount, postingCount, arenaBytes, , termBytes] = Array.from(
    { length: COUNTS },
    (_, i) => bodyView.getUint32(at + i * 4, true),
  ) as [number, number, number, number, number, number]
  at += COUNTS * 4
  const take = (length: number): Uint8Array => {
    at = align8(at)
    need(at + length)
    const part = body.subarray(at, at + length)
    at += length
    return part
  }
  const u32 = (count: number) => new Uint32Array(copy(take(count * 4)))
  const ext = u32(docCount)
  const lens = u32(docCount * F)
  const termLengths = u32(termCount)
  const termText = new TextDecoder().decode(take(termBytes))
  const postOffsets = u32(termCount + 1)
  const postDocs = u32(postingCount)
  const postTfs = take(postingCount * F).slice()
  const encodedAt = u32(termCount)
  const encodedBytes = u32(termCount)
  const encodedAvg = new Float64Array(copy(take(termCount * F * 8)))
  const arena = take(arenaBytes)
  const sortedTerms = version >= 3 ? u32(termCount) : undefined
  yield
  const terms: string[] = new Array(termCount)
  let offset = 0
  for (let t = 0; t < termCount; t++) {
    if (t > 0 && t % DECODE_SLICE_ITEMS === 0) yield
    terms[t] = termText.slice(offset, offset + termLengths[t]!)
    offset += termLengths[t]!
  }
  if (offset !== termText.length) throw new Bm25CorruptionError('serialized index terms do not add up')
  yield* checkPostings(postOffsets, postDocs, docCount)
  if (sortedTerms !== undefined) yield* checkSortedTerms(sortedTerms, terms)
  return {
    header,
    ext,
    lens,
    terms,
    postOffsets,
    postDocs,
    postTfs,
    encodedAt,
    encodedBytes,
    encodedAvg,
    arena,
    ...(sortedTerms === undefined ? {} : { sortedTerms }),
  }
}

/** `order` must list every term id once, in ascending order of the terms. */
function* checkSortedTerms(order: Uint32Array, terms: readonly string[]): Steps<void> {
  const seen = new Uint8Array(terms.length)
  for (let i = 0; i < order.length; i++) {
    if (i > 0 && i % DECODE_SLICE_ITEMS === 0) yield
    const id = order[i]!
    if (id >= terms.length || seen[id] === 1)
      throw new Bm25CorruptionError('serialized term order is not a permutation')
    seen[id] = 1
    if (i > 0 && !(terms[order[i - 1]!]! < terms[id]!))
      throw new Bm25CorruptionError('serialized term order is not sorted')
  }
}

function copy(bytes: Uint8Array): ArrayBuffer {
  const out = new ArrayBuffer(bytes.length)
  new Uint8Array(out).set(bytes)
  return out
}

function* checkPostings(offsets: Uint32Array, docs: Uint32Array, docCount: number): Steps<void> {
  if (offsets[0] !== 0 || offsets[offsets.length - 1] !== docs.length) {
    throw new Bm25CorruptionError('serialized index posting offsets do not cover the postings')
  }
  let checked = 0
  for (let t = 0; t + 1 < offsets.length; t++) {
    const start = offsets[t]!
    const end = offsets[t + 1]!
    if (checked >= DECODE_SLICE_ITEMS) {
      checked = 0
      yield
    }
    checked += end - start + 1
    if (end < start) throw new Bm25CorruptionError('serialized index posting offsets go backwards')
    for (let i = start; i < end; i++) {
      if (docs[i]! >= docCount || (i > start && docs[i]! <= docs[i - 1]!)) {
        throw new Bm25CorruptionError(`posting of term ${t} names a document out of order or range`)
      }
    }
  }
}
