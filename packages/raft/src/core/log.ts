import type { Entry, Snapshot } from './types.ts'

/** Approximate encoded size of an entry, for flow control. */
export function entryBytes(entry: Entry): number {
  return entry.kind === 'normal' ? entry.data.byteLength + 16 : 48
}

/**
 * The empty command and empty snapshot image, shared: a zero-length array
 * cannot be written to, and thousands of idle groups would each hold a copy.
 */
export const NO_BYTES: Uint8Array = new Uint8Array(0)

/**
 * Lists this short are rebuilt at their exact length rather than grown in
 * place: `push` leaves spare capacity (about 17 slots past a short list), and
 * a host with thousands of idle groups, each with a log of a few entries,
 * would carry it in every one of them. Longer lists grow in place.
 */
const EXACT_LENGTH_UP_TO = 16

/** `list` cut to its first `keep` items, then `more` appended; may return a new array. */
export function spliceTail<T>(list: T[], keep: number, more: readonly T[]): T[] {
  if (keep + more.length <= EXACT_LENGTH_UP_TO) return list.slice(0, keep).concat(more)
  list.length = keep
  for (const item of more) list.push(item)
  return list
}

/**
 * An entry whose command is empty (a new leader's first entry) with the shared
 * empty array as its data: a decoded message's empty array is a view that
 * keeps the whole received frame alive for as long as the entry stays in the log.
 */
function withSharedEmptyData(entry: Entry): Entry {
  if (entry.kind !== 'normal' || entry.data.byteLength > 0 || entry.data === NO_BYTES) return entry
  // A fresh literal, not a spread: the decoded entry's own copy of 'normal' stays behind too.
  return { kind: 'normal', term: entry.term, index: entry.index, data: NO_BYTES }
}

/** Broken invariants are bugs: fail loudly rather than continue on a corrupt log. */
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`raft invariant violated: ${message}`)
}

/**
 * The member's log in memory: a snapshot position followed by entries. The part
 * above `stableIndex` is not yet durable; the part above `persistingIndex` is
 * not yet handed out either and goes out in the next `Ready.entries`. Between
 * the two lie entries a driver is persisting in the background
 * (`RaftCore.advance` with `entriesDurable: false`). The driver keeps exactly
 * the stable part in storage, so a restart rebuilds this object from storage alone.
 */
export class RaftLog {
  snapshotIndex: number
  snapshotTerm: number
  /** entries[i] has index snapshotIndex + 1 + i. */
  entries: Entry[]
  committed: number
  applied: number
  stableIndex: number
  /** Entries up to here are durable or being persisted; never below `stableIndex`. */
  persistingIndex: number

  constructor(snapshotIndex: number, snapshotTerm: number, entries: Entry[], committed: number) {
    this.snapshotIndex = snapshotIndex
    this.snapshotTerm = snapshotTerm
    this.entries = entries
    for (let i = 0; i < entries.length; i++)
      invariant(entries[i]?.index === snapshotIndex + 1 + i, 'stored entries are contiguous')
    this.stableIndex = this.lastIndex()
    this.persistingIndex = this.stableIndex
    this.committed = Math.max(committed, snapshotIndex)
    invariant(this.committed <= this.lastIndex(), 'commit index within the stored log')
    this.applied = snapshotIndex
  }

  firstIndex(): number {
    return this.snapshotIndex + 1
  }

  lastIndex(): number {
    return this.snapshotIndex + this.entries.length
  }

  /** The term at `index`, or undefined when compacted away or beyond the end. */
  term(index: number): number | undefined {
    if (index === this.snapshotIndex) return this.snapshotTerm
    if (index < this.snapshotIndex || index > this.lastIndex()) return undefined
    return this.entries[index - this.snapshotIndex - 1]?.term
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) as number
  }

  entry(index: number): Entry | undefined {
    return this.entries[index - this.snapshotIndex - 1]
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term
  }

  /** Raft §5.4.1: a candidate's log is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm()
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex())
  }

  /**
   * Follower side of AppendEntries: when (index, logTerm) matches, appends the
   * entries (truncating from the first conflict) and returns the last new index.
   */
  maybeAppend(index: number, logTerm: number, commit: number, entries: readonly Entry[]): number | null {
    if (!this.matchTerm(index, logTerm)) return null
    const lastNew = index + entries.length
    let conflictAt = -1
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as Entry
      if (entry.index <= this.snapshotIndex) continue
      if (!this.matchTerm(entry.index, entry.term)) {
        conflictAt = i
        break
      }
    }
    if (conflictAt >= 0) {
      const first = (entries[conflictAt] as Entry).index
      invariant(first > this.committed, `conflicting entry ${first} is at or below commit ${this.committed}`)
      this.appendFrom(entries.slice(conflictAt).map(withSharedEmptyData))
    }
    this.commitTo(Math.min(commit, lastNew))
    return lastNew
  }

  /** Appends entries whose first index is at most lastIndex + 1, replacing what follows. */
  appendFrom(entries: readonly Entry[]): void {
    if (entries.length === 0) return
    const first = (entries[0] as Entry).index
    invariant(first > this.snapshotIndex && first <= this.lastIndex() + 1, 'append position')
    this.entries = spliceTail(this.entries, first - this.snapshotIndex - 1, entries)
    this.stableIndex = Math.min(this.stableIndex, first - 1)
    this.persistingIndex = Math.min(this.persistingIndex, first - 1)
  }

  /**
   * Fast back-tracking: the largest index <= `index` whose term is <= `term`
   * (etcd's findConflictByTerm), with its term.
   */
  conflictHint(index: number, term: number): { index: number; term: number } {
    let i = Math.min(index, this.lastIndex())
    while (i > this.snapshotIndex) {
      const t = this.term(i) as number
      if (t <= term) return { index: i, term: t }
      i--
    }
    return { index: this.snapshotIndex, term: this.snapshotTerm }
  }

  /** Entries in [lo, hi], at most `maxBytes` (always at least one), or null when lo is compacted. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] | null {
    if (lo <= this.snapshotIndex) return null
    const out: Entry[] = []
    let bytes = 0
    for (let i = lo; i <= Math.min(hi, this.lastIndex()); i++) {
      const entry = this.entry(i) as Entry
      bytes += entryBytes(entry)
      if (out.length > 0 && bytes > maxBytes) break
      out.push(entry)
    }
    return out
  }

  /** Entries not yet durable nor being persisted. */
  unstableEntries(): Entry[] {
    return this.entries.slice(this.persistingIndex - this.snapshotIndex)
  }

  /** Marks entries up to (index, term) durable, unless they were replaced meanwhile. */
  stableTo(index: number, term: number): void {
    if (this.matchTerm(index, term) && index > this.stableIndex) this.stableIndex = index
    this.persistingIndex = Math.max(this.persistingIndex, this.stableIndex)
  }

  /** Entries up to `index` are being persisted (not durable yet): no later Ready hands them out again. */
  persistingTo(index: number): void {
    invariant(index <= this.lastIndex(), 'persisting entries beyond the log')
    this.persistingIndex = Math.max(this.persistingIndex, index)
  }

  /** Raises both marks to `index` (a snapshot made durable covers the log up to it). */
  stableAtLeast(index: number): void {
    this.stableIndex = Math.max(this.stableIndex, index)
    this.persistingIndex = Math.max(this.persistingIndex, index)
  }

  commitTo(index: number): void {
    if (index <= this.committed) return
    invariant(index <= this.lastIndex(), `commit ${index} beyond last index ${this.lastIndex()}`)
    this.committed = index
  }

  /** Committed entries not yet handed to the application, up to `maxBytes`. */
  nextCommitted(maxBytes: number): Entry[] {
    if (this.applied >= this.committed) return []
    return this.slice(this.applied + 1, this.committed, maxBytes) ?? []
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  restore(snapshot: Snapshot): void {
    this.snapshotIndex = snapshot.meta.index
    this.snapshotTerm = snapshot.meta.term
    this.entries = []
    this.committed = snapshot.meta.index
    this.applied = snapshot.meta.index
    this.stableIndex = snapshot.meta.index
    this.persistingIndex = snapshot.meta.index
  }

  /** Whether the entries from `lo` (or the first one kept) to the last hold more than `limit` bytes. */
  bytesExceed(lo: number, limit: number): boolean {
    let bytes = 0
    for (let i = Math.max(0, lo - this.snapshotIndex - 1); i < this.entries.length; i++) {
      bytes += entryBytes(this.entries[i] as Entry)
      if (bytes > limit) return true
    }
    return false
  }

  /** Drops entries up to and including `index` (already covered by a snapshot). */
  compact(index: number): void {
    if (index <= this.snapshotIndex) return
    invariant(index <= this.applied, 'compact only applied entries')
    const term = this.term(index) as number
    this.entries = this.entries.slice(index - this.snapshotIndex)
    this.snapshotIndex = index
    this.snapshotTerm = term
  }
}
