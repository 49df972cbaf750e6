import { open, rename, rm } from 'node:fs/promises'
import path from 'node:path'
import { type RecoverySummary, Wal, WalCorruptionError } from '@shoal/wal'
import { TaskLogCorruptionError } from './errors.ts'

/**
 * The task log: task snapshots appended to a `@shoal/wal` log (segmented,
 * checksummed, group-committed); the last snapshot of a task wins. It is
 * what makes an enqueued task durable: the HTTP answer with a `taskUid` is
 * sent only after its record is fsync'd.
 *
 * Record payload: the task snapshot as UTF-8 JSON.
 *
 * Recovery is the WAL's: a torn tail (a write cut by a crash, never
 * acknowledged) is dropped and reported; corruption before the tail refuses
 * to open, surfaced as `TaskLogCorruptionError`.
 */

export interface TaskLogOptions {
  /** fsync every group of appends. @defaultValue true */
  sync?: boolean
  /** Called with the duration of every append group until durable, in seconds (for metrics). */
  onFsync?: (seconds: number) => void
}

export interface OpenedTaskLog<T> {
  log: TaskLog<T>
  /** Every record, in append order. */
  records: T[]
  /** What opening the WAL found and repaired (torn tail, leftovers). */
  recovery: RecoverySummary
}

/** The largest task snapshot (a delete-batch of many ids is the big one). */
const MAX_RECORD_BYTES = 64 * 1024 * 1024

export class TaskLog<T> {
  private readonly wal: Wal
  private readonly options: TaskLogOptions

  private constructor(wal: Wal, options: TaskLogOptions) {
    this.wal = wal
    this.options = options
  }

  static async open<T>(directory: string, options: TaskLogOptions = {}): Promise<OpenedTaskLog<T>> {
    let wal: Wal
    try {
      wal = await Wal.open(directory, {
        sync: options.sync === false ? 'none' : 'always',
        maxPayloadBytes: MAX_RECORD_BYTES,
        segmentBytes: 16 * 1024 * 1024,
      })
    } catch (error) {
      if (error instanceof WalCorruptionError) {
        throw new TaskLogCorruptionError(error.segment, error.offset, error.message, { cause: error })
      }
      throw error
    }
    const records: T[] = []
    const decoder = new TextDecoder()
    if (wal.lastIndex >= wal.firstIndex) {
      for await (const batch of wal.readBatches(wal.firstIndex)) {
        for (const record of batch) records.push(JSON.parse(decoder.decode(record.payload)) as T)
      }
    }
    return { log: new TaskLog<T>(wal, options), records, recovery: wal.recovery }
  }

  /** Resolves once every record is durable (one group commit with other appends waiting). */
  async append(records: T[]): Promise<void> {
    const started = performance.now()
    await this.wal.appendBatch(records.map((r) => Buffer.from(JSON.stringify(r), 'utf8')))
    this.options.onFsync?.((performance.now() - started) / 1000)
  }

  /**
   * Appends `latest` (the current snapshot of every task) and drops the
   * segments that only hold older snapshots. Safe at any point: until the
   * old segments are gone, replay still ends with the same latest snapshots.
   */
  async compact(latest: T[]): Promise<void> {
    const before = this.wal.lastIndex + 1
    await this.append(latest)
    await this.wal.compactBefore(before)
  }

  /** Records currently stored (for deciding when to compact). */
  get storedRecords(): number {
    return this.wal.lastIndex - this.wal.firstIndex + 1
  }

  async close(): Promise<void> {
    await this.wal.close()
  }
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
