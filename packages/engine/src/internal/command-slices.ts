/**
 * Encoding and decoding a large document write in slices, so that neither holds the event loop
 * for the whole batch (msgpackr packs 1000 small documents with 64-d vectors in about 9 ms, and a
 * 36k-document task in a third of a second).
 *
 * The bytes are exactly `encodeCommand(command)`'s: a MessagePack map written key by key in the
 * command's own key order, whose `documents` value is an array header followed by the documents'
 * encodings, `SLICE_DOCUMENTS` at a time (msgpackr without records encodes a value the same way
 * whatever array holds it). So the log, replay and replicas see no difference; the encoder also
 * returns where each slice of documents lies in the payload, and `decodeCommandInSlices` decodes
 * the documents slice by slice from there.
 *
 *     map16 header (0xde, u16 key count)
 *     for each key: key string, then its value
 *       documents: array header (fixarray 0x90|n, array16 0xdc u16 n, array32 0xdd u32 n)
 *                  document 0 … document n-1   (slices: [start, end) byte ranges of whole documents)
 *
 * A slice is decoded by framing its bytes with an array32 header of its document count.
 */

import type { Command } from './commands.ts'
import { decodeCommand, decodeValue, encodeCommand, encodeValue } from './commands.ts'

/** Documents encoded (or decoded) between two pauses. */
export const SLICE_DOCUMENTS = 128

/** A command's payload and, for a document write encoded in slices, where its documents lie. */
export interface EncodedCommand {
  payload: Uint8Array
  /** Byte ranges `[start, end)` of the payload, each holding `count` consecutive whole documents. */
  documentSlices?: [start: number, end: number, count: number][]
}

type Pause = () => Promise<void>

/** Encodes `command` as `encodeCommand` does; a large document write pauses between slices. */
export async function encodeCommandInSlices(
  command: Command,
  pause: Pause | undefined,
): Promise<EncodedCommand> {
  if (command.type !== 'addDocuments' || pause === undefined || !Array.isArray(command.documents)) {
    return { payload: encodeCommand(command) }
  }
  const documents = command.documents
  if (documents.length <= SLICE_DOCUMENTS) return { payload: encodeCommand(command) }
  const entries = Object.entries(command)
  if (entries.length > 0xffff) return { payload: encodeCommand(command) }
  const parts: Uint8Array[] = [Uint8Array.of(0xde, entries.length >> 8, entries.length & 0xff)]
  let offset = 3
  const push = (bytes: Uint8Array) => {
    parts.push(bytes)
    offset += bytes.byteLength
  }
  const slices: [number, number, number][] = []
  for (const [key, value] of entries) {
    push(encodeValue(key))
    if (key !== 'documents') {
      push(encodeValue(value))
      continue
    }
    push(arrayHeader(documents.length))
    for (let at = 0; at < documents.length; at += SLICE_DOCUMENTS) {
      if (at > 0) await pause()
      const slice = documents.slice(at, at + SLICE_DOCUMENTS)
      const packed = encodeValue(slice)
      const body = packed.subarray(arrayHeader(slice.length).byteLength)
      slices.push([offset, offset + body.byteLength, slice.length])
      push(body)
    }
  }
  return { payload: Buffer.concat(parts, offset), documentSlices: slices }
}

/**
 * The command `decodeCommand(encoded.payload)` gives, its documents decoded a slice at a time
 * with a pause between slices. `command` is the command that was encoded: its other fields are
 * taken from a decoded copy of it without documents (small).
 */
export async function decodeCommandInSlices(
  encoded: EncodedCommand,
  command: Command,
  pause: Pause | undefined,
): Promise<Command> {
  const slices = encoded.documentSlices
  if (slices === undefined || pause === undefined || command.type !== 'addDocuments') {
    return decodeCommand(encoded.payload)
  }
  const head = decodeValue(encodeValue({ ...command, documents: [] })) as Command & { type: 'addDocuments' }
  const documents: unknown[] = []
  for (let i = 0; i < slices.length; i++) {
    if (i > 0) await pause()
    const [start, end, count] = slices[i]!
    const decoded = unpackMany(encoded.payload.subarray(start, end), count)
    for (const doc of decoded) documents.push(doc)
  }
  return { ...head, documents: documents as typeof head.documents }
}

/** The MessagePack header of an array of `length` items, as msgpackr writes it. */
function arrayHeader(length: number): Uint8Array {
  if (length < 16) return Uint8Array.of(0x90 | length)
  if (length <= 0xffff) return Uint8Array.of(0xdc, length >> 8, length & 0xff)
  return Uint8Array.of(0xdd, length >>> 24, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff)
}

/** Decodes `count` values laid end to end (a slice of an array's items, without its header). */
function unpackMany(bytes: Uint8Array, count: number): unknown[] {
  const framed = new Uint8Array(5 + bytes.byteLength)
  framed[0] = 0xdd
  new DataView(framed.buffer).setUint32(1, count)
  framed.set(bytes, 5)
  return decodeValue(framed) as unknown[]
}

/** Array items encoded between two pauses by `encodeValueInSlices`. */
export const SLICE_ITEMS = 1024

/**
 * `encodeValue(value)`'s bytes, encoded with pauses: plain objects (also inside short arrays, and
 * short arrays inside short arrays) are written key by key, byte arrays of `LONG_BIN_BYTES` or
 * more copied a MiB at a time, and an array of more than `SLICE_ITEMS` items `SLICE_ITEMS` at a time; other values (byte arrays,
 * strings, small arrays) are encoded whole. For a snapshot image: its long columns (keys,
 * filterable attributes) are the part of its encoding that grows with the documents.
 */
export async function encodeValueInSlices(value: unknown, pause: Pause): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  await writeInSlices(value, pause, parts)
  return concatInSlices(parts, pause)
}

/** Byte arrays of at least this many bytes are not copied by the encoder but laid out by `concatInSlices`. */
const LONG_BIN_BYTES = 1 << 16
/** Bytes copied between two pauses by `concatInSlices`. */
const CONCAT_SLICE_BYTES = 1 << 20

/** `parts` laid end to end, a MiB at a time with `pause` between. */
async function concatInSlices(parts: readonly Uint8Array[], pause: Pause): Promise<Uint8Array> {
  let total = 0
  for (const part of parts) total += part.byteLength
  const out = Buffer.allocUnsafe(total)
  let at = 0
  let sincePause = 0
  for (const part of parts) {
    for (let from = 0; from < part.byteLength; from += CONCAT_SLICE_BYTES) {
      if (sincePause >= CONCAT_SLICE_BYTES) {
        sincePause = 0
        await pause()
      }
      const piece = part.subarray(from, from + CONCAT_SLICE_BYTES)
      out.set(piece, at)
      at += piece.byteLength
      sincePause += piece.byteLength
    }
  }
  return out
}

async function writeInSlices(value: unknown, pause: Pause, parts: Uint8Array[]): Promise<void> {
  if (value instanceof Uint8Array && value.byteLength >= LONG_BIN_BYTES && value.byteLength <= 0xffffffff) {
    // MessagePack bin 32: 0xc6, the length as u32 big-endian, the bytes (copied by concatInSlices).
    const header = new Uint8Array(5)
    header[0] = 0xc6
    new DataView(header.buffer).setUint32(1, value.byteLength)
    parts.push(header, value)
    return
  }
  if (Array.isArray(value) && value.length > SLICE_ITEMS) {
    parts.push(arrayHeader(value.length))
    for (let at = 0; at < value.length; at += SLICE_ITEMS) {
      await pause()
      const slice = value.slice(at, at + SLICE_ITEMS)
      parts.push(encodeValue(slice).subarray(arrayHeader(slice.length).byteLength))
    }
    return
  }
  if (Array.isArray(value) && value.some(mayHoldLongParts)) {
    // A short array of records (a snapshot's indexes) or of tuples (an index's graphs, each
    // `[embedder, bytes]`): each item may hold long columns or long byte arrays.
    parts.push(arrayHeader(value.length))
    for (const item of value) await writeInSlices(item, pause, parts)
    return
  }
  const entries = isPlainRecord(value) ? Object.entries(value) : undefined
  if (entries === undefined || entries.length > 0xffff || entries.some(([, v]) => v === undefined)) {
    parts.push(encodeValue(value))
    return
  }
  parts.push(Uint8Array.of(0xde, entries.length >> 8, entries.length & 0xff))
  for (const [key, entry] of entries) {
    parts.push(encodeValue(key))
    await writeInSlices(entry, pause, parts)
  }
}

function mayHoldLongParts(value: unknown): boolean {
  return (
    isPlainRecord(value) ||
    Array.isArray(value) ||
    (value instanceof Uint8Array && value.byteLength >= LONG_BIN_BYTES)
  )
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}
