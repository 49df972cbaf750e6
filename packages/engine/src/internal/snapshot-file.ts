/**
 * Snapshot files.
 *
 *   offset  size  field
 *        0     8  magic "SHOALSNP"
 *        8     4  format version, u32 LE (2; 1 is still read)
 *       12     4  reserved, zero
 *       16     8  log index the snapshot covers, u64 LE (commands 1..index are in it)
 *       24     8  body length in bytes, u64 LE
 *       32     n  body: the database image, msgpack (index-image.ts: format 2
 *                  holds documents, ids and vectors as columns)
 *     32+n     4  CRC-32 of bytes [0, 32+n), u32 LE
 *
 * A file is named `snapshot-<index, 20 digits>.snap` in `<dir>/snapshots`.
 * Writing is atomic: the bytes go to `<name>.tmp`, which is fsync'd, renamed
 * into place, and the directory fsync'd; a crash leaves either the old set
 * of snapshots or the new one (a stray `.tmp` is deleted on open). The two
 * newest snapshots are kept, so a corrupt newest one falls back to the one
 * before it plus a longer log replay.
 */

import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises'
import path from 'node:path'
import { crc32 } from 'node:zlib'
import { SnapshotCorruptionError } from '../errors.ts'

const MAGIC = Buffer.from('SHOALSNP', 'latin1')
/** The version written; versions 1 and 2 are read. */
export const SNAPSHOT_VERSION = 2
const READABLE_VERSIONS: readonly number[] = [1, 2]
const HEADER_BYTES = 32
const TRAILER_BYTES = 4

export interface SnapshotFrame {
  /** The frame's format version; the body's image has the same format number. */
  version: number
  index: number
  body: Uint8Array
}

/** Bytes copied and checksummed between two pauses by the `InSlices` variants. */
const SLICE_BYTES = 1 << 20

/** The framed bytes of a snapshot (`version`: the body's format, when re-framing an older body). */
export function frameSnapshot(index: number, body: Uint8Array, version = SNAPSHOT_VERSION): Uint8Array {
  const out = frameHeader(index, body.byteLength, version)
  out.set(body, HEADER_BYTES)
  out.writeUInt32LE(crc32(out.subarray(0, HEADER_BYTES + body.byteLength)), HEADER_BYTES + body.byteLength)
  return out
}

/**
 * `frameSnapshot`'s bytes, the body copied and checksummed a MiB at a time with `pause` between
 * slices, so a large image does not hold the event loop for the whole copy and checksum.
 */
export async function frameSnapshotInSlices(
  index: number,
  body: Uint8Array,
  pause: () => Promise<void>,
  version = SNAPSHOT_VERSION,
): Promise<Uint8Array> {
  const out = frameHeader(index, body.byteLength, version)
  let crc = crc32(out.subarray(0, HEADER_BYTES))
  for (let at = 0; at < body.byteLength; at += SLICE_BYTES) {
    if (at > 0) await pause()
    const slice = body.subarray(at, at + SLICE_BYTES)
    out.set(slice, HEADER_BYTES + at)
    crc = crc32(slice, crc)
  }
  out.writeUInt32LE(crc, HEADER_BYTES + body.byteLength)
  return out
}

/** A frame's buffer with its header written (body and checksum still to fill). */
function frameHeader(index: number, bodyBytes: number, version: number): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + bodyBytes + TRAILER_BYTES)
  MAGIC.copy(out, 0)
  out.writeUInt32LE(version, 8)
  out.writeUInt32LE(0, 12)
  out.writeBigUInt64LE(BigInt(index), 16)
  out.writeBigUInt64LE(BigInt(bodyBytes), 24)
  return out
}

/** Verifies and unframes snapshot bytes; throws SnapshotCorruptionError naming `source`. */
export function unframeSnapshot(bytes: Uint8Array, source: string): SnapshotFrame {
  const { buf, end } = checkFrame(bytes, source)
  if (crc32(buf.subarray(0, end)) !== buf.readUInt32LE(end)) {
    throw new SnapshotCorruptionError(source, 'checksum mismatch')
  }
  return frameOf(buf, end)
}

/** As `unframeSnapshot`, the checksum worked out a MiB at a time with `pause` between slices. */
export async function unframeSnapshotInSlices(
  bytes: Uint8Array,
  source: string,
  pause: () => Promise<void>,
): Promise<SnapshotFrame> {
  const { buf, end } = checkFrame(bytes, source)
  let crc = 0
  for (let at = 0; at < end; at += SLICE_BYTES) {
    if (at > 0) await pause()
    crc = crc32(buf.subarray(at, Math.min(end, at + SLICE_BYTES)), crc)
  }
  if (crc !== buf.readUInt32LE(end)) throw new SnapshotCorruptionError(source, 'checksum mismatch')
  return frameOf(buf, end)
}

function frameOf(buf: Buffer, end: number): SnapshotFrame {
  return {
    version: buf.readUInt32LE(8),
    index: Number(buf.readBigUInt64LE(16)),
    body: buf.subarray(HEADER_BYTES, end),
  }
}

/** The frame's header checked (magic, version, length); where its checksum starts. */
function checkFrame(bytes: Uint8Array, source: string): { buf: Buffer; end: number } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (buf.byteLength < HEADER_BYTES + TRAILER_BYTES) throw new SnapshotCorruptionError(source, 'too short')
  if (!buf.subarray(0, 8).equals(MAGIC)) throw new SnapshotCorruptionError(source, 'bad magic')
  const version = buf.readUInt32LE(8)
  if (!READABLE_VERSIONS.includes(version)) {
    throw new SnapshotCorruptionError(
      source,
      `unknown format version ${version} (this version reads ${READABLE_VERSIONS.join(' and ')})`,
    )
  }
  const length = buf.readBigUInt64LE(24)
  if (length !== BigInt(buf.byteLength - HEADER_BYTES - TRAILER_BYTES)) {
    throw new SnapshotCorruptionError(source, `body length ${length} does not match the file size`)
  }
  return { buf, end: buf.byteLength - TRAILER_BYTES }
}

const NAME = /^snapshot-(\d{20})\.snap$/

export class SnapshotStore {
  readonly dir: string

  constructor(dir: string) {
    this.dir = dir
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    for (const name of await readdir(this.dir)) {
      if (name.endsWith('.tmp')) await rm(path.join(this.dir, name), { force: true })
    }
  }

  /** Snapshot files, newest first. */
  async list(): Promise<{ index: number; file: string }[]> {
    const out: { index: number; file: string }[] = []
    for (const name of await readdir(this.dir)) {
      const match = NAME.exec(name)
      if (match !== null) out.push({ index: Number(match[1]), file: path.join(this.dir, name) })
    }
    return out.sort((a, b) => b.index - a.index)
  }

  async read(file: string): Promise<SnapshotFrame> {
    return unframeSnapshot(await readFile(file), file)
  }

  /** Writes a framed snapshot atomically; returns its path. */
  async write(index: number, framed: Uint8Array): Promise<string> {
    const file = path.join(this.dir, `snapshot-${String(index).padStart(20, '0')}.snap`)
    const tmp = `${file}.tmp`
    const handle = await open(tmp, 'w')
    try {
      await handle.writeFile(framed)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(tmp, file)
    await syncDir(this.dir)
    return file
  }

  /** Deletes all but the `keep` newest snapshots; returns the index of the oldest kept one. */
  async prune(keep: number): Promise<number | undefined> {
    const all = await this.list()
    for (const old of all.slice(keep)) await rm(old.file, { force: true })
    if (all.length > keep) await syncDir(this.dir)
    return all.slice(0, keep).at(-1)?.index
  }
}

export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
