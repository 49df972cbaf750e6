import type { Wal } from '@shoal/wal'
import { WalCorruptionError } from '@shoal/wal'
import type { Packr } from 'msgpackr'
import { type ConfChange, type Entry, type HardState, type SnapshotMeta, spliceTail } from './core/index.ts'
import { RaftStorageCorruptionError } from './errors.ts'
import { foundingEntry } from './storage.ts'

// The records of `SharedWal` and their replay; the format is described in shared-wal.ts.

export const ENTRY = 1
export const HARD_STATE = 2
export const SNAPSHOT = 3
export const DROP = 4

/** What the shared log holds for one group, with the WAL index of each live record. */
export interface GroupLog {
  hardState: HardState
  hardWal: number
  meta: SnapshotMeta
  file: string | null
  snapWal: number
  /** Entries after the snapshot, contiguous, with the WAL index of each. */
  entries: Entry[]
  entryWal: number[]
}

export const EMPTY_META: SnapshotMeta = { index: 0, term: 0, confState: { voters: [], learners: [] } }

/** The WAL index of the group's oldest live record (Infinity when it has none). */
export function oldestLive(log: GroupLog): number {
  let oldest = Number.POSITIVE_INFINITY
  if (log.hardWal > 0) oldest = log.hardWal
  if (log.snapWal > 0) oldest = Math.min(oldest, log.snapWal)
  const first = log.entryWal[0]
  if (first !== undefined) oldest = Math.min(oldest, first)
  return oldest
}

export function corruption(dir: string, error: unknown): unknown {
  if (error instanceof WalCorruptionError)
    return new RaftStorageCorruptionError(`shared WAL in ${dir} is corrupt: ${error.message}`, {
      cause: error,
    })
  return error
}

interface Replayed {
  log: GroupLog
  /** Index of entries[0] while replaying (records before a compaction point may leave gaps). */
  base: number
}

/** One pass over the log, routing records to groups (see the format comment above). */
export async function replay(wal: Wal, packr: Packr, dir: string): Promise<Map<string, GroupLog>> {
  const replayed = new Map<string, Replayed>()
  const get = (group: string): Replayed => {
    let r = replayed.get(group)
    if (r === undefined) {
      const log: GroupLog = {
        hardState: { term: 0, vote: null, commit: 0 },
        hardWal: 0,
        meta: EMPTY_META,
        file: null,
        snapWal: 0,
        entries: [],
        entryWal: [],
      }
      r = { log, base: 1 }
      replayed.set(group, r)
    }
    return r
  }
  try {
    for await (const batch of wal.readBatches(wal.firstIndex)) {
      for (const record of batch) {
        let fields: unknown[]
        try {
          fields = packr.unpack(record.payload) as unknown[]
        } catch (error) {
          throw new RaftStorageCorruptionError(`shared WAL record ${record.index} does not decode`, {
            cause: error,
          })
        }
        // A drop forgets the group: its earlier records are dead, later ones start it afresh.
        if (fields[0] === DROP) replayed.delete(fields[1] as string)
        else replayRecord(get(fields[1] as string), fields, record.index)
      }
    }
  } catch (error) {
    throw corruption(dir, error)
  }
  const groups = new Map<string, GroupLog>()
  for (const [group, r] of replayed) groups.set(group, finish(group, r))
  return groups
}

function replayRecord(r: Replayed, fields: unknown[], walIndex: number): void {
  const log = r.log
  switch (fields[0]) {
    case HARD_STATE:
      log.hardState = {
        term: fields[2] as number,
        vote: (fields[3] as string | null) ?? null,
        commit: fields[4] as number,
      }
      log.hardWal = walIndex
      return
    case SNAPSHOT: {
      const index = fields[2] as number
      log.meta = {
        index,
        term: fields[3] as number,
        confState: { voters: fields[4] as string[], learners: fields[5] as string[] },
      }
      log.file = fields[6] as string
      log.snapWal = walIndex
      const length = log.entries.length
      const keep = fields[7] === 1 ? 0 : Math.min(length, Math.max(0, r.base + length - 1 - index))
      log.entries = log.entries.slice(length - keep)
      log.entryWal = log.entryWal.slice(length - keep)
      r.base = keep === 0 ? index + 1 : r.base + length - keep
      return
    }
    case ENTRY: {
      const entry = decodeEntry(fields)
      const position = entry.index - r.base
      if (log.entries.length === 0 || position < 0 || position > log.entries.length) {
        // Whatever preceded this record was compacted away: it starts the log here.
        r.base = entry.index
        log.entries = [entry]
        log.entryWal = [walIndex]
        return
      }
      log.entries = spliceTail(log.entries, position, [entry])
      log.entryWal = spliceTail(log.entryWal, position, [walIndex])
      return
    }
    default:
      throw new RaftStorageCorruptionError(
        `shared WAL record ${walIndex} has unknown type ${String(fields[0])}`,
      )
  }
}

/** Keeps the entries after the snapshot; they must start right after it. */
function finish(group: string, r: Replayed): GroupLog {
  const log = r.log
  const skip = log.meta.index + 1 - r.base
  if (skip > 0) {
    log.entries = log.entries.slice(skip)
    log.entryWal = log.entryWal.slice(skip)
  } else if (skip < 0 && log.entries.length > 0) {
    throw new RaftStorageCorruptionError(
      `group ${group}: entries resume at ${r.base}, after its snapshot at ${log.meta.index}`,
    )
  }
  return log
}

function decodeEntry(fields: unknown[]): Entry {
  const index = fields[2] as number
  const term = fields[3] as number
  if (fields[4] === 0) return { kind: 'normal', index, term, data: fields[5] as Uint8Array }
  const change: ConfChange = { type: fields[5] as ConfChange['type'], node: fields[6] as string }
  if (term === 1 && change.type !== 'remove') return foundingEntry(index, change.type, change.node)
  return { kind: 'conf', index, term, change }
}
