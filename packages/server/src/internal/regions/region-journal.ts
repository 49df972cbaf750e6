import { Wal } from '@shoal/wal'
import { Packr } from 'msgpackr'
import { compareHlc, HLC_ZERO, type Hlc, type Stamp } from './hlc.ts'
import type { FeedEntry } from './region-protocol.ts'

/** One write that lost under last-writer-wins, or waits for an operator (`manual`). */
export interface ConflictRecord {
  id: string
  index: string
  /** The document's primary key value as a string (`settings` for the index settings). */
  documentId: string
  /** `resolved` once last-writer-wins or an operator settled it; `open` waits (manual). */
  status: 'open' | 'resolved'
  resolution: 'lww' | 'fenced' | 'kept_winner' | 'kept_loser' | null
  winner: { region: string; hlc: Hlc; document: unknown }
  loser: { region: string; hlc: Hlc; document: unknown }
  detectedAtMs: number
}

/**
 * The region link's durable journal, `<data-dir>/region/journal` (a `@shoal/wal` log). Each
 * record is MessagePack of one of:
 *
 * - `['out', engineIndex, keys, origin, index, seq, wallMs, logical, prev, command]`: a command written
 *   here, as published (the feed a `region.fetch` serves again);
 * - `['in', origin, index, seq, wallMs, logical, keys]`: a remote command applied; `keys` are
 *   the documents (and `settings`) whose version it set;
 * - `['conflict', record]`, `['resolve', id, resolution]`.
 *
 * Everything the link keeps in memory (sequence numbers, per-document versions, what each
 * origin's feed has been applied up to, the conflict log) is rebuilt by reading it on start.
 * It is never compacted in this version (docs/multi-region.md, "Limits").
 */
export class RegionJournal {
  readonly #wal: Wal
  /** Own commands per index: `outAt.get(index)[seq - 1]` is the journal index of that entry. */
  readonly outAt = new Map<string, number[]>()
  /** Per index and origin region: the last seq applied. */
  readonly applied = new Map<string, Map<string, number>>()
  /** Per index and document key: the version this region holds. */
  readonly versions = new Map<string, Map<string, Stamp>>()
  readonly conflicts = new Map<string, ConflictRecord>()
  /** The last engine log index published (0: none). */
  lastEngineIndex = 0
  /** The highest timestamp recorded: the clock restarts above it. */
  clock: Hlc = HLC_ZERO

  private constructor(wal: Wal) {
    this.#wal = wal
  }

  static async open(dir: string, sync: boolean): Promise<RegionJournal> {
    const wal = await Wal.open(dir, { sync: sync ? 'always' : 'none' })
    const journal = new RegionJournal(wal)
    for await (const record of wal.read(wal.firstIndex))
      journal.#replay(record.index, packr.unpack(record.payload) as unknown[])
    return journal
  }

  close(): Promise<void> {
    return this.#wal.close()
  }

  seqOf(index: string): number {
    return this.outAt.get(index)?.length ?? 0
  }

  appliedOf(index: string, origin: string): number {
    return this.applied.get(index)?.get(origin) ?? 0
  }

  versionOf(index: string, key: string): Stamp | undefined {
    return this.versions.get(index)?.get(key)
  }

  /** Records own entries (with the engine log index each came from), durably, in one append. */
  async appendOut(entries: Array<{ engineIndex: number; entry: FeedEntry; keys: string[] }>): Promise<void> {
    if (entries.length === 0) return
    const payloads = entries.map(({ engineIndex, entry, keys }) =>
      packr.pack(['out', engineIndex, keys, ...entryFields(entry)]),
    )
    const last = await this.#wal.appendBatch(payloads)
    entries.forEach(({ engineIndex, entry, keys }, i) => {
      this.#out(last - entries.length + 1 + i, engineIndex, entry)
      this.#setVersions(entry.index, keys, { hlc: entry.hlc, region: entry.origin })
    })
  }

  /** Records one applied remote entry and the conflicts it found, durably. */
  async appendIn(entry: FeedEntry, keys: string[], conflicts: ConflictRecord[]): Promise<void> {
    const payloads = [
      packr.pack(['in', entry.origin, entry.index, entry.seq, entry.hlc.wallMs, entry.hlc.logical, keys]),
      ...conflicts.map((c) => packr.pack(['conflict', c])),
    ]
    await this.#wal.appendBatch(payloads)
    this.#in(entry.origin, entry.index, entry.seq, entry.hlc, keys)
    for (const c of conflicts) this.conflicts.set(c.id, c)
  }

  async appendResolve(id: string, resolution: 'kept_winner' | 'kept_loser'): Promise<void> {
    await this.#wal.append(packr.pack(['resolve', id, resolution]))
    this.#resolve(id, resolution)
  }

  /** Own entries of `index` from `fromSeq`, at most `max`, in seq order. */
  async readOut(index: string, fromSeq: number, max: number): Promise<FeedEntry[]> {
    const at = this.outAt.get(index) ?? []
    const out: FeedEntry[] = []
    for (let seq = fromSeq; seq <= at.length && out.length < max; seq++) {
      const walIndex = at[seq - 1]!
      for await (const record of this.#wal.read(walIndex, walIndex)) {
        const fields = packr.unpack(record.payload) as unknown[]
        out.push(fieldsEntry(fields.slice(3)))
      }
    }
    return out
  }

  #replay(walIndex: number, record: unknown[]): void {
    switch (record[0]) {
      case 'out': {
        const entry = fieldsEntry(record.slice(3))
        this.#out(walIndex, record[1] as number, entry)
        this.#setVersions(entry.index, record[2] as string[], { hlc: entry.hlc, region: entry.origin })
        break
      }
      case 'in':
        this.#in(
          record[1] as string,
          record[2] as string,
          record[3] as number,
          { wallMs: record[4] as number, logical: record[5] as number },
          record[6] as string[],
        )
        break
      case 'conflict': {
        const c = record[1] as ConflictRecord
        this.conflicts.set(c.id, c)
        break
      }
      case 'resolve':
        this.#resolve(record[1] as string, record[2] as 'kept_winner' | 'kept_loser')
        break
    }
  }

  #out(walIndex: number, engineIndex: number, entry: FeedEntry): void {
    let at = this.outAt.get(entry.index)
    if (at === undefined) {
      at = []
      this.outAt.set(entry.index, at)
    }
    at.push(walIndex)
    this.lastEngineIndex = Math.max(this.lastEngineIndex, engineIndex)
    this.#see(entry.hlc)
  }

  #in(origin: string, index: string, seq: number, hlc: Hlc, keys: string[]): void {
    let byOrigin = this.applied.get(index)
    if (byOrigin === undefined) {
      byOrigin = new Map()
      this.applied.set(index, byOrigin)
    }
    byOrigin.set(origin, seq)
    this.#setVersions(index, keys, { hlc, region: origin })
    this.#see(hlc)
  }

  #setVersions(index: string, keys: string[], stamp: Stamp): void {
    let map = this.versions.get(index)
    if (map === undefined) {
      map = new Map()
      this.versions.set(index, map)
    }
    for (const key of keys) map.set(key, stamp)
  }

  #resolve(id: string, resolution: 'kept_winner' | 'kept_loser'): void {
    const c = this.conflicts.get(id)
    if (c !== undefined) this.conflicts.set(id, { ...c, status: 'resolved', resolution })
  }

  #see(hlc: Hlc): void {
    if (compareHlc(hlc, this.clock) > 0) this.clock = hlc
  }
}

const packr = new Packr({ useRecords: false, moreTypes: false })

function entryFields(entry: FeedEntry): unknown[] {
  return [
    entry.origin,
    entry.index,
    entry.seq,
    entry.hlc.wallMs,
    entry.hlc.logical,
    entry.prev.map((p) => (p === null ? null : [p.hlc.wallMs, p.hlc.logical, p.region])),
    entry.command,
  ]
}

function fieldsEntry(fields: unknown[]): FeedEntry {
  const [origin, index, seq, wallMs, logical, prev, command] = fields as [
    string,
    string,
    number,
    number,
    number,
    Array<[number, number, string] | null>,
    Uint8Array,
  ]
  return {
    origin,
    index,
    seq,
    hlc: { wallMs, logical },
    prev: prev.map((p) => (p === null ? null : { hlc: { wallMs: p[0], logical: p[1] }, region: p[2] })),
    command,
  }
}
