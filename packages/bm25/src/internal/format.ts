import { crc32 } from 'node:zlib'
import { Bm25CorruptionError } from '../errors.ts'

/**
 * Serialized index, version 1 (all integers little-endian):
 *
 *   magic "SHBM" | version u32 = 1 | bodyBytes u32 | body | crc32(body) u32
 *   body:
 *     headerBytes u32 | header (UTF-8 JSON: fields, boosts, k1, b, delta, analyzer {locale, stemming})
 *     docCount u32 | external id u32 x docCount | field length u32 x docCount x F
 *     termCount u32 | per term: termBytes u16 | UTF-8 term | postings u32 |
 *       LEB128 doc delta x postings | tf u8 x postings x F
 *
 * Only live documents are written, numbered 0..docCount-1 in index order. Readers reject
 * another magic or version, a length that runs past the end, and a checksum mismatch.
 */
export interface IndexImage {
  fields: string[]
  boosts: number[]
  k1: number
  b: number
  delta: number
  analyzer: { locale: string; stemming: boolean }
  ext: number[]
  lens: number[]
  terms: string[]
  docs: Uint32Array[]
  tfs: Uint8Array[]
}

const MAGIC = 0x4d424853 // "SHBM" read as little-endian u32
const VERSION = 1

class Writer {
  bytes = new Uint8Array(1 << 16)
  view = new DataView(this.bytes.buffer)
  pos = 0

  reserve(n: number): void {
    if (this.pos + n <= this.bytes.length) return
    const next = new Uint8Array(Math.max(this.bytes.length * 2, this.pos + n))
    next.set(this.bytes.subarray(0, this.pos))
    this.bytes = next
    this.view = new DataView(next.buffer)
  }
  u32(v: number): void {
    this.reserve(4)
    this.view.setUint32(this.pos, v, true)
    this.pos += 4
  }
  u16(v: number): void {
    this.reserve(2)
    this.view.setUint16(this.pos, v, true)
    this.pos += 2
  }
  raw(src: Uint8Array): void {
    this.reserve(src.length)
    this.bytes.set(src, this.pos)
    this.pos += src.length
  }
  varint(v: number): void {
    this.reserve(5)
    while (v >= 0x80) {
      this.bytes[this.pos++] = (v & 0x7f) | 0x80
      v >>>= 7
    }
    this.bytes[this.pos++] = v
  }
}

export function encodeIndex(image: IndexImage): Uint8Array {
  const text = new TextEncoder()
  const body = new Writer()
  const { fields, boosts, k1, b, delta, analyzer } = image
  const header = text.encode(JSON.stringify({ fields, boosts, k1, b, delta, analyzer }))
  body.u32(header.length)
  body.raw(header)
  body.u32(image.ext.length)
  for (const id of image.ext) body.u32(id)
  for (const len of image.lens) body.u32(len)
  body.u32(image.terms.length)
  image.terms.forEach((term, i) => {
    const encoded = text.encode(term)
    body.u16(encoded.length)
    body.raw(encoded)
    const docs = image.docs[i]!
    body.u32(docs.length)
    let previous = 0
    for (const doc of docs) {
      body.varint(doc - previous)
      previous = doc
    }
    body.raw(image.tfs[i]!)
  })
  const content = body.bytes.subarray(0, body.pos)
  const out = new Writer()
  out.u32(MAGIC)
  out.u32(VERSION)
  out.u32(content.length)
  out.raw(content)
  out.u32(crc32(content))
  return out.bytes.slice(0, out.pos)
}

class Reader {
  pos = 0
  readonly bytes: Uint8Array
  readonly view: DataView
  constructor(bytes: Uint8Array) {
    this.bytes = bytes
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }
  need(n: number): void {
    if (this.pos + n > this.bytes.length) throw new Bm25CorruptionError('serialized index is truncated')
  }
  u32(): number {
    this.need(4)
    const v = this.view.getUint32(this.pos, true)
    this.pos += 4
    return v
  }
  u16(): number {
    this.need(2)
    const v = this.view.getUint16(this.pos, true)
    this.pos += 2
    return v
  }
  raw(n: number): Uint8Array {
    this.need(n)
    const out = this.bytes.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }
  varint(): number {
    let result = 0
    for (let shift = 0; shift < 35; shift += 7) {
      this.need(1)
      const byte = this.bytes[this.pos++]!
      result += (byte & 0x7f) * 2 ** shift
      if ((byte & 0x80) === 0) return result
    }
    throw new Bm25CorruptionError('malformed varint in serialized index')
  }
}

export function decodeIndex(bytes: Uint8Array): IndexImage {
  if (!(bytes instanceof Uint8Array)) throw new Bm25CorruptionError('serialized index must be a Uint8Array')
  const outer = new Reader(bytes)
  if (bytes.length < 16 || outer.u32() !== MAGIC) throw new Bm25CorruptionError('not a serialized BM25 index')
  const version = outer.u32()
  if (version !== VERSION) throw new Bm25CorruptionError(`unsupported serialized index version ${version}`)
  const length = outer.u32()
  const content = outer.raw(length)
  if (outer.u32() !== crc32(content)) throw new Bm25CorruptionError('serialized index checksum mismatch')
  if (outer.pos !== bytes.length) throw new Bm25CorruptionError('trailing bytes after serialized index')
  const body = new Reader(content)
  const text = new TextDecoder()
  const header = JSON.parse(text.decode(body.raw(body.u32()))) as Pick<
    IndexImage,
    'fields' | 'boosts' | 'k1' | 'b' | 'delta' | 'analyzer'
  >
  const F = header.fields.length
  const docCount = body.u32()
  body.need(docCount * 4 * (1 + F))
  const ext: number[] = []
  for (let d = 0; d < docCount; d++) ext.push(body.u32())
  const lens: number[] = []
  for (let i = 0; i < docCount * F; i++) lens.push(body.u32())
  const termCount = body.u32()
  const terms: string[] = []
  const docs: Uint32Array[] = []
  const tfs: Uint8Array[] = []
  for (let t = 0; t < termCount; t++) {
    terms.push(text.decode(body.raw(body.u16())))
    const count = body.u32()
    const termDocs = new Uint32Array(count)
    let doc = 0
    for (let i = 0; i < count; i++) {
      doc += body.varint()
      if (doc >= docCount) throw new Bm25CorruptionError(`posting names document ${doc} of ${docCount}`)
      termDocs[i] = doc
    }
    docs.push(termDocs)
    tfs.push(body.raw(count * F).slice())
  }
  if (body.pos !== content.length) throw new Bm25CorruptionError('serialized index body has trailing bytes')
  return { ...header, ext, lens, terms, docs, tfs }
}
