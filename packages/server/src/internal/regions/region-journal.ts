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
 * - `['conflict', record]`, `['resolve', id, resolution]`;
 * - `['snapshot', origin, index, head, versions]`: a snapshot of a remote region's index applied
 *   (catch-up past its retention): `versions` are `[key, wallMs, logical, region]` it set;
 * - `['checkpoint', state]`: everything below, written before the journal is compacted.
 *
 * Everything the link keeps in memory (sequence numbers, per-document versions, what each
 * origin's feed has been applied up to, the conflict log) is rebuilt by reading it on start: a
 * checkpoint replaces what was read before it. `compact` keeps the last `retain` own entries
 * of each index (older ones are served by snapshot only).
 */
export class RegionJournal {
  readonly #wal: Wal
  /** Own commands per index: `at[seq - first]` is the journal index of entry `seq` (older ones were compacted). */
  outAt = new Map<string, { first: number; at: number[] }>()
  /** Per index and origin region: the last seq applied. */
  applied = new Map<string, Map<string, number>>()
  /** Per index and document key: the version this region holds. */
  versions = new Map<string, Map<string, Stamp>>()
  conflicts = new Map<string, ConflictRecord>()
  /** Journal index of the last checkpoint (0: none). */
  #checkpointAt = 0
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
    const out = this.outAt.get(index)
    return out === undefined ? 0 : out.first - 1 + out.at.length
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

  /** Records applied remote entries, in order, with the conflicts each found, durably, in one append. */
  async appendInMany(
    applied: ReadonlyArray<{ entry: FeedEntry; keys: string[]; conflicts: ConflictRecord[] }>,
  ): Promise<void> {
    if (applied.length === 0) return
    const payloads: Uint8Array[] = []
    for (const { entry, keys, conflicts } of applied) {
      payloads.push(
        packr.pack(['in', entry.origin, entry.index, entry.seq, entry.hlc.wallMs, entry.hlc.logical, keys]),
      )
      for (const c of conflicts) payloads.push(packr.pack(['conflict', c]))
    }
    await this.#wal.appendBatch(payloads)
    for (const { entry, keys, conflicts } of applied) {
      this.#in(entry.origin, entry.index, entry.seq, entry.hlc, keys)
      for (const c of conflicts) this.conflicts.set(c.id, c)
    }
  }

  async appendResolve(id: string, resolution: 'kept_winner' | 'kept_loser'): Promise<void> {
    await this.#wal.append(packr.pack(['resolve', id, resolution]))
    this.#resolve(id, resolution)
  }

  /** Own entries of `index` from `fromSeq`, at most `max`, in seq order; `compacted` when `fromSeq` is gone. */
  async readOut(index: string, fromSeq: number, max: number): Promise<FeedEntry[] | 'compacted'> {
    const { first, at } = this.outAt.get(index) ?? { first: 1, at: [] }
    if (fromSeq < first) return 'compacted'
    const out: FeedEntry[] = []
    for (let seq = fromSeq; seq - first < at.length && out.length < max; seq++) {
      const walIndex = at[seq - first]!
      for await (const record of this.#wal.read(walIndex, walIndex)) {
        const fields = packr.unpack(record.payload) as unknown[]
        out.push(fieldsEntry(fields.slice(3)))
      }
    }
    return out
  }

  /** Records a remote region's snapshot of `index` applied up to its `head`, with the versions it set. */
  async appendSnapshot(
    origin: string,
    index: string,
    head: number,
    versions: Array<[string, Stamp]>,
    conflicts: ConflictRecord[],
  ): Promise<void> {
    const flat = versions.map(([key, v]) => [key, v.hlc.wallMs, v.hlc.logical, v.region])
    await this.#wal.appendBatch([
      packr.pack(['snapshot', origin, index, head, flat]),
      ...conflicts.map((c) => packr.pack(['conflict', c])),
    ])
    this.#snapshot(origin, index, head, flat as SnapshotVersion[])
    for (const c of conflicts) this.conflicts.set(c.id, c)
  }

  /**
   * When `2 × retain` records were written since the last checkpoint: writes a checkpoint and
   * drops what is before it, except each index's last `retain` own entries. Returns whether it did.
   */
  async compact(retain: number): Promise<boolean> {
    const checkpointAt = this.#wal.lastIndex + 1
    if (checkpointAt - Math.max(this.#checkpointAt, this.#wal.firstIndex) < 2 * retain) return false
    let cut = checkpointAt
    for (const { at } of this.outAt.values())
      if (at.length > 0) cut = Math.min(cut, at[Math.max(0, at.length - retain)]!)
    const outAt = new Map<string, { first: number; at: number[] }>()
    for (const [index, { first, at }] of this.outAt) {
      const keep = at.filter((walIndex) => walIndex >= cut)
      outAt.set(index, { first: first + at.length - keep.length, at: keep })
    }
    this.outAt = outAt
    const state = {
      out: [...outAt].map(([index, o]) => [index, o.first, o.at]),
      applied: [...this.applied].map(([index, m]) => [index, [...m]]),
      versions: [...this.versions].map(([index, m]) => [
        index,
        [...m].map(([key, v]) => [key, v.hlc.wallMs, v.hlc.logical, v.region]),
      ]),
      conflicts: [...this.conflicts.values()],
      lastEngineIndex: this.lastEngineIndex,
      clock: [this.clock.wallMs, this.clock.logical],
    }
    this.#checkpointAt = await this.#wal.append(packr.pack(['checkpoint', state]))
    await this.#wal.compactBefore(cut)
    return true
  }

  #restore(walIndex: number, state: CheckpointState): void {
    this.outAt = new Map(state.out.map(([index, first, at]) => [index, { first, at }]))
    this.applied = new Map(state.applied.map(([index, pairs]) => [index, new Map(pairs)]))
    this.versions = new Map(
      state.versions.map(([index, list]) => [
        index,
        new Map(list.map(([key, wallMs, logical, region]) => [key, { hlc: { wallMs, logical }, region }])),
      ]),
    )
    this.conflicts = new Map(state.conflicts.map((c) => [c.id, c]))
    this.lastEngineIndex = state.lastEngineIndex
    this.clock = { wallMs: state.clock[0], logical: state.clock[1] }
    this.#checkpointAt = walIndex
  }

  #snapshot(origin: string, index: string, head: number, versions: SnapshotVersion[]): void {
    let byOrigin = this.applied.get(index)
    if (byOrigin === undefined) {
      byOrigin = new Map()
      this.applied.set(index, byOrigin)
    }
    byOrigin.set(origin, Math.max(byOrigin.get(origin) ?? 0, head))
    for (const [key, wallMs, logical, region] of versions) {
      this.#setVersions(index, [key], { hlc: { wallMs, logical }, region })
      this.#see({ wallMs, logical })
    }
  }

  #replay(walIndex: number, record: unknown[]): void {
    switch (record[0]) {
      case 'checkpoint':
        this.#restore(walIndex, record[1] as CheckpointState)
        break
      case 'snapshot':
        this.#snapshot(
          record[1] as string,
          record[2] as string,
          record[3] as number,
          record[4] as SnapshotVersion[],
        )
        break
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
    let out = this.outAt.get(entry.index)
    if (out === undefined) {
      out = { first: 1, at: [] }
      this.outAt.set(entry.index, out)
    }
    out.at.push(walIndex)
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

type SnapshotVersion = [string, number, number, string]

interface CheckpointState {
  out: Array<[string, number, number[]]>
  applied: Array<[string, Array<[string, number]>]>
  versions: Array<[string, SnapshotVersion[]]>
  conflicts: ConflictRecord[]
  lastEngineIndex: number
  clock: [number, number]
}

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
