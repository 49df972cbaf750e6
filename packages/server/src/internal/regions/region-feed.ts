import type { Command } from '@shoal/engine'
import { Packr } from 'msgpackr'
import type { Logger } from 'pino'
import { compareStamps, HLC_ZERO, type Hlc, hlcReceive, hlcTick, type Stamp } from './hlc.ts'
import type { RegionIndexOptions } from './region-config.ts'
import type { ConflictRecord, RegionJournal } from './region-journal.ts'
import type { FeedEntry, IndexSnapshot } from './region-protocol.ts'
import { claimOf, isFencedWrite } from './region-writer.ts'

/** What the feed reads and writes of the engine (`@shoal/engine`'s `Engine` has it all). */
export interface RegionEngine {
  logRange(): { firstIndex: number; lastIndex: number }
  readLog(
    fromIndex: number,
    maxBytes: number,
  ): Promise<{ ok: true; entries: Uint8Array[] } | { ok: false; reason: 'compacted' }>
  appendFollowed(payloads: Uint8Array[]): Promise<number>
  hasIndex(uid: string): boolean
  getIndex(uid: string): { primaryKey: string | null }
  index(uid: string): { getDocument(id: string | number): unknown }
}

/** The version key of an index's settings (no document id is empty). */
export const SETTINGS_KEY = ''

type Doc = Record<string, unknown>
/** The engine commands a replicated index carries (engine/src/internal/commands.ts). */
type ReplicatedCommand =
  | { type: 'addDocuments'; uid: string; documents: Doc[]; primaryKey: string | null; merge: boolean }
  | { type: 'deleteDocuments'; uid: string; ids: (string | number)[] }
  | { type: 'updateSettings'; uid: string; settings: unknown }
  | { type: 'createIndex'; uid: string; primaryKey: string | null }

/**
 * The documents (or settings, under `SETTINGS_KEY`) a command writes, with the command as other
 * regions replay it (its primary key filled in); undefined when they cannot replay it. `keyOf`
 * names a document (by default its primary key's value as a string).
 */
export function replayKeysOf(
  command: Command,
  primaryKeyOf: (uid: string) => string | null,
  keyOf: (doc: Doc, primaryKey: string, position: number) => string = (doc, primaryKey) =>
    String(doc[primaryKey]),
): { keys: string[]; command: Command } | undefined {
  switch (command.type) {
    case 'addDocuments': {
      const primaryKey = command.primaryKey ?? primaryKeyOf(command.uid)
      if (primaryKey === null) return undefined
      return {
        keys: command.documents.map((d, i) => keyOf(d, primaryKey, i)),
        command: { ...command, primaryKey },
      }
    }
    case 'deleteDocuments':
      return { keys: command.ids.map(String), command }
    case 'updateSettings':
      return { keys: [SETTINGS_KEY], command }
    case 'createIndex':
      return { keys: [], command }
    default:
      return undefined
  }
}

const packr = new Packr({ useRecords: false, moreTypes: false })

/** Field a command applied from another region carries in the local log, so it is not published again. */
const ORIGIN_FIELD = 'regionOrigin'

export interface RegionFeedOptions {
  region: string
  engine: RegionEngine
  journal: RegionJournal
  replicated: (index: string) => RegionIndexOptions | undefined
  /** Wall-clock milliseconds (the physical part of the clock). */
  now: () => number
  logger: Logger
  onSkipped: (reason: string) => void
}

/**
 * The two halves of replication inside one region, run one at a time (`serially`), so that a
 * remote command is compared against every local write the engine committed before it:
 *
 * - `publishCommitted` reads the engine's command log past what was published, and turns each
 *   command written here on a replicated index into a `FeedEntry` (next seq, a new HLC, the
 *   version each document had), journalled before it is handed out;
 * - `applyRemoteMany` settles remote entries document by document with last-writer-wins, applies
 *   the winners through the engine's log, and journals the entries and their conflicts.
 */
export class RegionFeed {
  readonly #o: RegionFeedOptions
  #clock: Hlc
  #chain: Promise<unknown> = Promise.resolve()

  constructor(options: RegionFeedOptions) {
    this.#o = options
    this.#clock = options.journal.clock
    if (options.journal.lastEngineIndex === 0)
      options.journal.lastEngineIndex = options.engine.logRange().lastIndex
  }

  /** Runs `work` after every earlier one finished (the region's one lane). */
  serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(work)
    this.#chain = run.catch(() => {})
    return run
  }

  /** Advances the clock and returns it (a promotion's `since`). Call inside `serially`. */
  tick(): Hlc {
    this.#clock = hlcTick(this.#clock, this.#o.now())
    return this.#clock
  }

  /** Publishes what the engine committed since the last call; resolves with the new entries. Call inside `serially`. */
  async publishCommitted(): Promise<FeedEntry[]> {
    const { engine, journal } = this.#o
    const fresh: Array<{ engineIndex: number; entry: FeedEntry; keys: string[] }> = []
    while (journal.lastEngineIndex < engine.logRange().lastIndex) {
      const from = journal.lastEngineIndex + 1
      const read = await engine.readLog(from, 4 * 1024 * 1024)
      if (!read.ok) {
        // Compaction overtook the publisher (it had stopped for long): what is gone cannot be sent.
        this.#o.logger.error({ from }, 'region: the engine log was compacted past what was published')
        this.#o.onSkipped('compacted')
        journal.lastEngineIndex = engine.logRange().firstIndex - 1
        continue
      }
      read.entries.forEach((payload, i) => {
        const made = this.#entryOf(payload, from + i, fresh)
        if (made !== undefined) fresh.push(made)
      })
      journal.lastEngineIndex = from + read.entries.length - 1
    }
    await journal.appendOut(fresh)
    return fresh.map((f) => f.entry)
  }

  #entryOf(
    payload: Uint8Array,
    engineIndex: number,
    earlier: Array<{ entry: FeedEntry; keys: string[] }>,
  ): { engineIndex: number; entry: FeedEntry; keys: string[] } | undefined {
    const command = packr.unpack(payload) as Record<string, unknown>
    const uid = command.uid
    if (command[ORIGIN_FIELD] !== undefined || typeof uid !== 'string' || !this.#o.replicated(uid))
      return undefined
    const keyed = replayKeysOf(command as unknown as Command, (id) => this.#primaryKey(id))
    if (keyed === undefined) {
      this.#o.onSkipped(String(command.type))
      this.#o.logger.warn(
        { index: uid, type: command.type },
        'region: a command other regions cannot replay was not published',
      )
      return undefined
    }
    const { journal } = this.#o
    const pending = earlier.filter((e) => e.entry.index === uid)
    const versionOf = (key: string): Stamp | null => {
      for (let i = pending.length - 1; i >= 0; i--)
        if (pending[i]!.keys.includes(key)) return { hlc: pending[i]!.entry.hlc, region: this.#o.region }
      return journal.versionOf(uid, key) ?? null
    }
    this.#clock = hlcTick(this.#clock, this.#o.now())
    const entry: FeedEntry = {
      origin: this.#o.region,
      index: uid,
      seq: journal.seqOf(uid) + pending.length + 1,
      hlc: this.#clock,
      prev: keyed.keys.map(versionOf),
      command: packr.pack(keyed.command),
    }
    return { engineIndex, entry, keys: keyed.keys }
  }

  #primaryKey(uid: string): string | null {
    return this.#o.engine.hasIndex(uid) ? this.#o.engine.getIndex(uid).primaryKey : null
  }

  /**
   * Applies consecutive remote entries of one origin and index, in order, each with
   * last-writer-wins per document (the next in its origin's sequence first), with one engine append and one journal append for the lot (two syncs, not two per
   * entry). Each entry is settled against the versions the earlier ones of the lot set. A fenced
   * entry is applied on its own, after what precedes it. Returns each entry's conflicts. Call
   * inside `serially`, after `publishCommitted`.
   */
  async applyRemoteMany(
    entries: readonly FeedEntry[],
    options: RegionIndexOptions,
  ): Promise<ConflictRecord[][]> {
    const { engine, journal } = this.#o
    const results: ConflictRecord[][] = []
    let commands: Uint8Array[] = []
    let settled: Array<{ entry: FeedEntry; keys: string[]; conflicts: ConflictRecord[] }> = []
    // Versions the entries settled so far set, before the journal records them.
    const versions = new Map<string, Stamp>()
    const created = new Set<string>()
    const flush = async (): Promise<void> => {
      if (commands.length > 0) await engine.appendFollowed(commands)
      if (settled.length > 0) await journal.appendInMany(settled)
      commands = []
      settled = []
      versions.clear()
      created.clear()
    }
    for (const entry of entries) {
      const fenced = isFencedWrite(claimOf(options), entry.origin, entry.hlc)
      if (fenced) await flush()
      const versionOf = (key: string) =>
        versions.get(`${entry.index}\u0000${key}`) ?? journal.versionOf(entry.index, key)
      const outcome = this.#settle(entry, options, fenced, versionOf, created)
      if (outcome.command !== undefined) commands.push(outcome.command)
      const stamp: Stamp = { hlc: entry.hlc, region: entry.origin }
      for (const key of outcome.keys) versions.set(`${entry.index}\u0000${key}`, stamp)
      settled.push({ entry, keys: outcome.keys, conflicts: outcome.conflicts })
      results.push(outcome.conflicts)
      if (fenced) {
        if (commands.length > 0) await engine.appendFollowed(commands)
        commands = []
        if (claimOf(options)?.writer === this.#o.region) await this.#rewrite(entry.index, outcome.fencedIds)
        await flush()
      }
    }
    await flush()
    return results
  }

  /** What one remote entry changes here: the command of its winning documents, the keys it wins, its conflicts. */
  #settle(
    entry: FeedEntry,
    options: RegionIndexOptions,
    fenced: boolean,
    versionOf: (key: string) => Stamp | undefined,
    created: Set<string>,
  ): {
    command: Uint8Array | undefined
    keys: string[]
    conflicts: ConflictRecord[]
    fencedIds: Array<string | number>
  } {
    const { engine } = this.#o
    this.#clock = hlcReceive(this.#clock, entry.hlc, this.#o.now())
    const command = packr.unpack(entry.command) as ReplicatedCommand
    const stamp: Stamp = { hlc: entry.hlc, region: entry.origin }
    const conflicts: ConflictRecord[] = []
    const keys: string[] = []
    let applied: ReplicatedCommand | undefined
    // A write its origin took after a promotion replaced it as the writer loses, every document.
    const fencedIds: Array<string | number> = []
    const settle = (key: string, i: number, remoteDoc: unknown, id: string | number): boolean => {
      if (fenced && key !== SETTINGS_KEY) fencedIds.push(id)
      const local = versionOf(key)
      const remoteWins = !fenced && (local === undefined || compareStamps(stamp, local) > 0)
      const concurrent = fenced || (local !== undefined && !sameStamp(entry.prev[i] ?? null, local))
      if (concurrent) {
        const localDoc = key === SETTINGS_KEY ? null : this.#currentDoc(entry.index, id)
        const remote = { region: entry.origin, hlc: entry.hlc, document: remoteDoc }
        const mine =
          local === undefined
            ? { region: this.#o.region, hlc: HLC_ZERO, document: null }
            : { region: local.region, hlc: local.hlc, document: localDoc }
        conflicts.push({
          id: `${entry.index}.${entry.origin}.${entry.seq}.${i}`,
          index: entry.index,
          documentId: key === SETTINGS_KEY ? '(settings)' : key,
          status: options.conflictResolution === 'manual' && !fenced ? 'open' : 'resolved',
          resolution: fenced ? 'fenced' : options.conflictResolution === 'manual' ? null : 'lww',
          winner: remoteWins ? remote : mine,
          loser: remoteWins ? mine : remote,
          detectedAtMs: this.#o.now(),
        })
      }
      if (remoteWins) keys.push(key)
      return remoteWins
    }
    switch (command.type) {
      case 'addDocuments': {
        const pk = command.primaryKey ?? 'id'
        const winners = command.documents.filter((doc, i) =>
          settle(String(doc[pk]), i, doc, doc[pk] as string),
        )
        if (winners.length > 0) applied = { ...command, documents: winners }
        break
      }
      case 'deleteDocuments': {
        const winners = command.ids.filter((id, i) => settle(String(id), i, null, id))
        if (winners.length > 0) applied = { ...command, ids: winners }
        break
      }
      case 'updateSettings':
        if (settle(SETTINGS_KEY, 0, command.settings, SETTINGS_KEY)) applied = command
        break
      case 'createIndex':
        if (!fenced && !engine.hasIndex(command.uid) && !created.has(command.uid)) {
          applied = command
          created.add(command.uid)
        }
        break
    }
    const packed =
      applied === undefined ? undefined : packr.pack({ ...applied, [ORIGIN_FIELD]: entry.origin })
    return { command: packed, keys, conflicts, fencedIds }
  }

  /**
   * The writer region's answer to a fenced entry: its own current version of each document the
   * entry wrote, as a new write here (no origin mark, so it is published with a new clock), which
   * then replaces the fenced version in the region that wrote it.
   */
  async #rewrite(uid: string, ids: Array<string | number>): Promise<void> {
    const documents: Doc[] = []
    const gone: Array<string | number> = []
    for (const id of ids) {
      const doc = this.#currentDoc(uid, id) as Doc | null
      if (doc === null) gone.push(id)
      else documents.push(doc)
    }
    const commands: Uint8Array[] = []
    if (documents.length > 0)
      commands.push(
        packr.pack({ type: 'addDocuments', uid, documents, primaryKey: this.#primaryKey(uid), merge: false }),
      )
    if (gone.length > 0) commands.push(packr.pack({ type: 'deleteDocuments', uid, ids: gone }))
    if (commands.length > 0) await this.#o.engine.appendFollowed(commands)
  }

  /**
   * This region's view of `index` for a region whose gap was compacted: every document with a
   * version (the index settings are not carried). Call inside `serially`, after `publishCommitted`.
   */
  snapshotOf(index: string): IndexSnapshot {
    const { journal } = this.#o
    const documents: IndexSnapshot['documents'] = []
    for (const [key, v] of journal.versions.get(index) ?? []) {
      if (key === SETTINGS_KEY) continue
      const doc = this.#currentDoc(index, key) as Record<string, unknown> | null
      documents.push([key, v.hlc.wallMs, v.hlc.logical, v.region, doc ?? null])
    }
    return { index, primaryKey: this.#primaryKey(index), head: journal.seqOf(index), documents }
  }

  /**
   * Applies `origin`'s snapshot: each document whose version is later than ours replaces ours
   * (last-writer-wins; one of our own writes replaced goes to the conflict log, since the snapshot
   * does not say whether its writer knew it), then `origin`'s feed counts as applied up to its
   * head. Call inside `serially`, after `publishCommitted`.
   */
  async applySnapshot(origin: string, snapshot: IndexSnapshot, options: RegionIndexOptions): Promise<number> {
    const { engine, journal } = this.#o
    const uid = snapshot.index
    const upserts: Doc[] = []
    const deletes: string[] = []
    const versions: Array<[string, Stamp]> = []
    const conflicts: ConflictRecord[] = []
    for (const [key, wallMs, logical, region, doc] of snapshot.documents) {
      const stamp: Stamp = { hlc: { wallMs, logical }, region }
      this.#clock = hlcReceive(this.#clock, stamp.hlc, this.#o.now())
      const local = journal.versionOf(uid, key)
      if (local !== undefined && compareStamps(stamp, local) <= 0) continue
      if (local !== undefined && local.region === this.#o.region)
        conflicts.push({
          id: `${uid}.${origin}.snapshot${snapshot.head}.${key}`,
          index: uid,
          documentId: key,
          status: options.conflictResolution === 'manual' ? 'open' : 'resolved',
          resolution: options.conflictResolution === 'manual' ? null : 'lww',
          winner: { region, hlc: stamp.hlc, document: doc },
          loser: { region: local.region, hlc: local.hlc, document: this.#currentDoc(uid, key) },
          detectedAtMs: this.#o.now(),
        })
      versions.push([key, stamp])
      if (doc === null) deletes.push(key)
      else upserts.push(doc)
    }
    const commands: Uint8Array[] = []
    const tag = (command: ReplicatedCommand) => packr.pack({ ...command, [ORIGIN_FIELD]: origin })
    const primaryKey = this.#primaryKey(uid) ?? snapshot.primaryKey
    if (!engine.hasIndex(uid)) commands.push(tag({ type: 'createIndex', uid, primaryKey }))
    if (upserts.length > 0)
      commands.push(tag({ type: 'addDocuments', uid, documents: upserts, primaryKey, merge: false }))
    if (deletes.length > 0) commands.push(tag({ type: 'deleteDocuments', uid, ids: deletes }))
    if (commands.length > 0) await engine.appendFollowed(commands)
    await journal.appendSnapshot(origin, uid, snapshot.head, versions, conflicts)
    return conflicts.length
  }

  #currentDoc(index: string, id: string | number): unknown {
    try {
      return this.#o.engine.index(index).getDocument(id)
    } catch {
      return null
    }
  }
}

function sameStamp(a: Stamp | null, b: Stamp): boolean {
  return a !== null && compareStamps(a, b) === 0
}
