import { crc32 } from 'node:zlib'
import type { FileSystem } from '@shoal/wal'
import type { Packr } from 'msgpackr'
import type { Snapshot, SnapshotMeta } from './core/index.ts'
import { RaftStorageCorruptionError } from './errors.ts'

/*
 * A snapshot file of `SharedWal`, written through the `FileSystem` port:
 *   "RSNP" | u32 version=1 | u32 crc32(payload) | u32 payload length | payload
 * (little endian), payload = msgpack [index, term, data]. Written to a
 * temporary name, synced, renamed, and the directory synced: after a crash
 * the file is either absent or whole.
 */

const SNAPSHOT_MAGIC = 0x504e5352 // "RSNP" read as little-endian u32

/** Writes `snapshot` durably as `dir/name`. */
export async function writeSnapshotFile(
  fs: FileSystem,
  packr: Packr,
  dir: string,
  name: string,
  snapshot: Snapshot,
): Promise<void> {
  const payload = packr.pack([snapshot.meta.index, snapshot.meta.term, snapshot.data])
  const bytes = new Uint8Array(16 + payload.byteLength)
  const view = new DataView(bytes.buffer)
  view.setUint32(0, SNAPSHOT_MAGIC, true)
  view.setUint32(4, 1, true)
  view.setUint32(8, crc32(payload), true)
  view.setUint32(12, payload.byteLength, true)
  bytes.set(payload, 16)
  const temporary = `${dir}/${name}.tmp`
  await fs.remove(temporary).catch(() => undefined)
  const handle = await fs.openWrite(temporary, { create: true })
  try {
    await handle.write(bytes, 0, bytes.byteLength, 0)
    await handle.sync()
  } finally {
    await handle.close()
  }
  await fs.rename(temporary, `${dir}/${name}`)
  await fs.syncDir(dir)
}

/** Reads and checks the snapshot file at `path`, which the log says holds `meta`. */
export async function readSnapshotFile(
  fs: FileSystem,
  packr: Packr,
  path: string,
  meta: SnapshotMeta,
): Promise<Uint8Array> {
  let bytes: Uint8Array
  try {
    const handle = await fs.openRead(path)
    try {
      bytes = new Uint8Array(await handle.size())
      let read = 0
      while (read < bytes.byteLength) {
        const n = await handle.read(bytes, read, bytes.byteLength - read, read)
        if (n === 0) break
        read += n
      }
    } finally {
      await handle.close()
    }
  } catch (error) {
    throw new RaftStorageCorruptionError(`snapshot ${path} named by the log is unreadable`, { cause: error })
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (bytes.byteLength < 16 || view.getUint32(0, true) !== SNAPSHOT_MAGIC || view.getUint32(4, true) !== 1)
    throw new RaftStorageCorruptionError(`snapshot ${path}: bad header`)
  const payload = bytes.subarray(16, 16 + view.getUint32(12, true))
  if (payload.byteLength !== view.getUint32(12, true) || crc32(payload) !== view.getUint32(8, true))
    throw new RaftStorageCorruptionError(`snapshot ${path}: checksum mismatch`)
  const [index, term, data] = packr.unpack(payload) as [number, number, Uint8Array]
  if (index !== meta.index || term !== meta.term)
    throw new RaftStorageCorruptionError(
      `snapshot ${path} holds ${index}/${term}, the log names ${meta.index}/${meta.term}`,
    )
  return new Uint8Array(data)
}
