import type { FileHandle } from 'node:fs/promises'
import { open, rename, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { crc32 } from 'node:zlib'
import { TaskLogCorruptionError } from './errors.ts'

/**
 * The task log: an append-only file of task snapshots, each checksummed; the
 * last snapshot of a task wins. It is what makes an enqueued task durable:
 * the HTTP answer with a `taskUid` is sent only after the record is fsync'd.
 *
 * File layout (little endian):
 *
 *   header:  "SHOALTQ1" (8 bytes)
 *   record:  | length u32 | crc32(body) u32 | body: UTF-8 JSON, `length` bytes |
 *
 * Recovery rules: records are read in order until the end. A record that is
 * cut short, or the LAST record failing its checksum, is a torn tail from a
 * crash mid-append: it is dropped and the file truncated there (it was never
 * acknowledged). A checksum failure with more records after it means the file
 * was damaged: `TaskLogCorruptionError`, and the server refuses to start.
 *
 * Appends are group-committed: every `append` waiting while a write+fsync is
 * in flight goes into the next single write+fsync.
 */

const MAGIC = Buffer.from('SHOALTQ1', 'latin1')
const RECORD_HEADER_BYTES = 8

export interface TaskLogOptions {
  /** fsync after every group of appends. @defaultValue true */
  sync?: boolean
  /** Called with the duration of every fsync, in seconds (for metrics). */
  onFsync?: (seconds: number) => void
}

export interface OpenedTaskLog<T> {
  log: TaskLog<T>
  /** Every intact record, in file order. */
  records: T[]
  /** Bytes of torn tail dropped during recovery (0 after a clean shutdown). */
  droppedTailBytes: number
}

interface Pending<T> {
  records: T[]
  resolve: () => void
  reject: (error: unknown) => void
}

export class TaskLog<T> {
  private pending: Pending<T>[] = []
  private flushing: Promise<void> | null = null
  private closed = false

  private readonly file: FileHandle
  private readonly options: TaskLogOptions & { sync: boolean }

  private constructor(file: FileHandle, options: TaskLogOptions & { sync: boolean }) {
    this.file = file
    this.options = options
  }

  static async open<T>(filePath: string, options: TaskLogOptions = {}): Promise<OpenedTaskLog<T>> {
    const exists = await stat(filePath).then(
      () => true,
      () => false,
    )
    if (!exists) {
      const created = await open(filePath, 'w')
      await created.write(MAGIC)
      await created.sync()
      await created.close()
      await syncDirectory(path.dirname(filePath))
    }
    const file = await open(filePath, 'r+')
    const bytes = await file.readFile()
    const { records, validBytes } = decodeRecords<T>(bytes, filePath)
    const droppedTailBytes = bytes.length - validBytes
    if (droppedTailBytes > 0) {
      await file.truncate(validBytes)
      await file.sync()
    }
    await file.close()
    const appendHandle = await open(filePath, 'a')
    const log = new TaskLog<T>(appendHandle, { sync: options.sync ?? true, ...options })
    return { log, records, droppedTailBytes }
  }

  /**
   * Rewrites the log with only `records` (the latest snapshot of each task),
   * atomically: a new file is written and fsync'd, then renamed over the old.
   */
  static async rewrite<T>(filePath: string, records: T[]): Promise<void> {
    const tmp = `${filePath}.rewrite`
    const file = await open(tmp, 'w')
    try {
      await file.write(Buffer.concat([MAGIC, ...records.map(encodeRecord)]))
      await file.sync()
    } finally {
      await file.close()
    }
    await rename(tmp, filePath)
    await syncDirectory(path.dirname(filePath))
  }

  /** Resolves once every record is written and (unless `sync: false`) fsync'd. */
  append(records: T[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('task log is closed'))
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ records, resolve, reject })
      if (this.flushing === null) this.flushing = this.flushLoop()
    })
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.flushing !== null) await this.flushing
    await this.file.close()
  }

  private async flushLoop(): Promise<void> {
    while (this.pending.length > 0) {
      const group = this.pending
      this.pending = []
      try {
        const buffer = Buffer.concat(group.flatMap((p) => p.records.map(encodeRecord)))
        await this.file.write(buffer)
        if (this.options.sync) {
          const started = performance.now()
          await this.file.datasync()
          this.options.onFsync?.((performance.now() - started) / 1000)
        }
        for (const p of group) p.resolve()
      } catch (error) {
        for (const p of group) p.reject(error)
      }
    }
    this.flushing = null
  }
}

function encodeRecord(record: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(record), 'utf8')
  const header = Buffer.alloc(RECORD_HEADER_BYTES)
  header.writeUInt32LE(body.length, 0)
  header.writeUInt32LE(crc32(body), 4)
  return Buffer.concat([header, body])
}

function decodeRecords<T>(bytes: Buffer, filePath: string): { records: T[]; validBytes: number } {
  if (bytes.length < MAGIC.length || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new TaskLogCorruptionError(filePath, 0, 'missing SHOALTQ1 header')
  }
  const records: T[] = []
  let offset = MAGIC.length
  while (offset < bytes.length) {
    if (bytes.length - offset < RECORD_HEADER_BYTES) break
    const length = bytes.readUInt32LE(offset)
    const checksum = bytes.readUInt32LE(offset + 4)
    const end = offset + RECORD_HEADER_BYTES + length
    if (end > bytes.length) break
    const body = bytes.subarray(offset + RECORD_HEADER_BYTES, end)
    if (crc32(body) !== checksum) {
      if (end === bytes.length) break
      throw new TaskLogCorruptionError(filePath, offset, 'checksum mismatch before the end of the log')
    }
    records.push(JSON.parse(body.toString('utf8')) as T)
    offset = end
  }
  return { records, validBytes: offset }
}

/** fsync a directory so that a created or renamed entry survives a crash. */
export async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Writes a whole file durably: temporary file, fsync, rename, fsync the directory. */
export async function writeFileDurably(filePath: string, contents: string | Buffer): Promise<void> {
  const tmp = `${filePath}.tmp`
  const file = await open(tmp, 'w')
  try {
    await file.write(typeof contents === 'string' ? Buffer.from(contents) : contents)
    await file.sync()
  } finally {
    await file.close()
  }
  await rename(tmp, filePath)
  await syncDirectory(path.dirname(filePath))
}

export async function removeFile(filePath: string): Promise<void> {
  await rm(filePath, { force: true })
}
