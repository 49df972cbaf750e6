import { type Command, documentKey } from '@shoal/engine'
import { compareHlc, compareStamps, HLC_ZERO, type Hlc, type Stamp } from '../regions/hlc.ts'
import { replayKeysOf, SETTINGS_KEY } from '../regions/region-feed.ts'
import type { ConflictRecord } from '../regions/region-journal.ts'

/**
 * What a shard entry of a replicated index carries for the region feed (docs/multi-region.md,
 * "Regions made of clusters"):
 *
 * - `local`: a write taken in this region, with the proposing node's clock;
 * - `remote`: a write of another region's shard `originShard`, with its sequence number there,
 *   its clock and, per document of `command` in order, the version its region held before
 *   (`[wallMs, logical, region]` or null). `manual`: its conflicts wait for an operator.
 */
export type ShardRegionTag =
  | { readonly kind: 'local'; readonly region: string; readonly wallMs: number; readonly logical: number }
  | {
      readonly kind: 'remote'
      readonly origin: string
      readonly originShard: string
      readonly seq: number
      readonly wallMs: number
      readonly logical: number
      readonly prev: ReadonlyArray<readonly [number, number, string] | null>
      readonly manual?: true
    }

/** One feed entry a shard produced: a local write of a replicated index, as other regions get it. */
export interface LedgerFeedEntry {
  /** The Raft index of the shard entry: increasing per shard, not contiguous. */
  readonly seq: number
  /** The sequence number of this shard's previous entry of the same index (0: none). */
  readonly after: number
  readonly index: string
  readonly hlc: Hlc
  readonly region: string
  readonly prev: ReadonlyArray<Stamp | null>
  readonly command: Command
  /** The size of the shard entry that carried it (what retention by bytes counts; 0 if unknown). */
  readonly bytes?: number
}

/** What a tagged entry changes: the command the engine applies (null: nothing), then `commit()` once it applied. */
export interface SettledEntry {
  readonly command: Command | null
  /** Records the entry in the ledger; call only after the engine applied `command` (or when it is null). */
  commit(): void
  /** Records what holds even though the engine refused `command`: a remote shard's position moves past it. */
  refused(): void
}

/** What the ledger reads of the shard's engine partition. */
export interface LedgerEngineView {
  primaryKeyOf(uid: string): string | null
  hasIndex(uid: string): boolean
  /** The stored document, or null. */
  documentOf(uid: string, id: string | number): unknown
}

type Doc = Record<string, unknown>

/**
 * The region state of one shard replica: every document version of its replicated indexes, its
 * conflict log, the feed entries it produced (the last `retainEntries`), and how far it applied
 * each remote shard's feed. It is deterministic: it changes only by `settle`/`commit` of the
 * shard's committed entries, in log order, and reads no clock (a local write's clock is raised
 * above every version seen here; a conflict's detection time is its command's `at`), so every
 * replica of a shard holds the same ledger, and the shard's snapshot image carries it.
 */
export class ShardRegionLedger {
  readonly #retainEntries: number
  readonly #retainBytes: number
  /** The sum of `bytes` over the retained feed. */
  #feedBytes = 0
  #versions = new Map<string, Map<string, Stamp>>()
  #conflicts: ConflictRecord[] = []
  #feed: LedgerFeedEntry[] = []
  /** Per index, the sequence number of the newest feed entry (0: none). */
  #heads = new Map<string, number>()
  /** Per index, the sequence number of the newest feed entry dropped past retention (0: none). */
  #trimmed = new Map<string, number>()
  /** Per `origin \0 index \0 originShard`, the highest sequence number applied. */
  #applied = new Map<string, number>()
  /** The highest clock of any version recorded. */
  #clock: Hlc = HLC_ZERO

  /**
   * Own feed entries are kept for gap fills while there are at most `retainEntries` of them and
   * their shard entries add up to at most `retainBytes` (the newest one is always kept).
   */
  constructor(retainEntries: number, retainBytes: number) {
    if (!Number.isSafeInteger(retainEntries) || retainEntries < 1)
      throw new RangeError('retainEntries must be a positive integer')
    if (!Number.isSafeInteger(retainBytes) || retainBytes < 1)
      throw new RangeError('retainBytes must be a positive integer')
    this.#retainEntries = retainEntries
    this.#retainBytes = retainBytes
  }

  /** The entries and bytes of the retained feed. */
  retained(): { entries: number; bytes: number } {
    return { entries: this.#feed.length, bytes: this.#feedBytes }
  }

  versionOf(uid: string, key: string): Stamp | undefined {
    return this.#versions.get(uid)?.get(key)
  }

  conflicts(): readonly ConflictRecord[] {
    return this.#conflicts
  }

  /** The sequence number of the shard's newest feed entry of `uid` (0: none). */
  headOf(uid: string): number {
    return this.#heads.get(uid) ?? 0
  }

  /** The highest sequence number of `origin`'s shard `originShard` applied here for `uid` (0: none). */
  appliedOf(origin: string, uid: string, originShard: string): number {
    return this.#applied.get(appliedKey(origin, uid, originShard)) ?? 0
  }

  /**
   * The feed entries of `uid` past `after`, oldest first, at most `max`; `compacted` when some of
   * them are no longer retained (the receiver catches up by snapshot).
   */
  feedAfter(
    uid: string,
    after: number,
    max: number,
  ): { ok: true; entries: LedgerFeedEntry[] } | { ok: false; reason: 'compacted' } {
    if (after < (this.#trimmed.get(uid) ?? 0)) return { ok: false, reason: 'compacted' }
    const entries: LedgerFeedEntry[] = []
    for (const entry of this.#feed) {
      if (entries.length >= max) break
      if (entry.index === uid && entry.seq > after) entries.push(entry)
    }
    return { ok: true, entries }
  }

  /**
   * Settles the tagged entry at Raft index `seq` against the versions held: a local write
   * applies whole and becomes a feed entry; a remote one applies the documents whose version is
   * later than the one held (last-writer-wins), logging a conflict where its `prev` is not the
   * version held, and is skipped when its shard's feed was applied past it already.
   */
  settle(
    seq: number,
    tag: ShardRegionTag,
    command: Command,
    engine: LedgerEngineView,
    bytes = 0,
  ): SettledEntry {
    const keyed = replayKeysOf(command, (uid) => engine.primaryKeyOf(uid), keyOf)
    if (tag.kind === 'local') {
      // Not replayable elsewhere (no primary key yet, or a command regions refuse): applied, not fed.
      if (keyed === undefined) return { command, commit: () => {}, refused: () => {} }
      return this.#settleLocal(seq, tag, keyed.command, keyed.keys, bytes)
    }
    const position = appliedKey(
      tag.origin,
      command.type === 'swapIndexes' ? '' : command.uid,
      tag.originShard,
    )
    const moved = () => this.#applied.set(position, tag.seq)
    if (tag.seq <= (this.#applied.get(position) ?? 0))
      return { command: null, commit: () => {}, refused: () => {} }
    // A command regions do not replay is never published; one that arrives still moves the position.
    if (keyed === undefined) return { command: null, commit: moved, refused: moved }
    const stamp: Stamp = { hlc: { wallMs: tag.wallMs, logical: tag.logical }, region: tag.origin }
    const uid = keyed.command.type === 'swapIndexes' ? '' : keyed.command.uid
    const won: string[] = []
    const conflicts: ConflictRecord[] = []
    const wins = (key: string, i: number, remoteDoc: unknown, id: string | number): boolean => {
      const local = this.versionOf(uid, key)
      const remoteWins = local === undefined || compareStamps(stamp, local) > 0
      const held = tag.prev[i] ?? null
      const concurrent =
        local !== undefined &&
        (held === null ||
          compareStamps({ hlc: { wallMs: held[0], logical: held[1] }, region: held[2] }, local) !== 0)
      if (concurrent) {
        const mine = {
          region: local.region,
          hlc: local.hlc,
          document: key === SETTINGS_KEY ? null : engine.documentOf(uid, id),
        }
        const remote = { region: tag.origin, hlc: stamp.hlc, document: remoteDoc }
        conflicts.push({
          id: `${uid}.${tag.origin}.${tag.originShard}.${tag.seq}.${key === SETTINGS_KEY ? '(settings)' : key}`,
          index: uid,
          documentId: key === SETTINGS_KEY ? '(settings)' : key,
          status: tag.manual === true ? 'open' : 'resolved',
          resolution: tag.manual === true ? null : 'lww',
          winner: remoteWins ? remote : mine,
          loser: remoteWins ? mine : remote,
          detectedAtMs: atMsOf(command),
        })
      }
      if (remoteWins) won.push(key)
      return remoteWins
    }
    const applied = winnersOf(keyed.command, wins, engine)
    return {
      command: applied,
      commit: () => {
        for (const key of won) this.#setVersion(uid, key, stamp)
        this.#conflicts.push(...conflicts)
        moved()
      },
      refused: moved,
    }
  }

  #settleLocal(
    seq: number,
    tag: Extract<ShardRegionTag, { kind: 'local' }>,
    command: Command,
    keys: string[],
    bytes: number,
  ): SettledEntry {
    const uid = command.type === 'swapIndexes' ? '' : command.uid
    const proposed: Hlc = { wallMs: tag.wallMs, logical: tag.logical }
    // Above every version this shard holds, so a write made here after another replaces it in
    // every region too, whatever the proposing node's clock said.
    const hlc =
      compareHlc(proposed, this.#clock) > 0
        ? proposed
        : { wallMs: this.#clock.wallMs, logical: this.#clock.logical + 1 }
    const prev = keys.map((key) => this.versionOf(uid, key) ?? null)
    return {
      command,
      commit: () => {
        const stamp: Stamp = { hlc, region: tag.region }
        for (const key of keys) this.#setVersion(uid, key, stamp)
        this.#feed.push({
          seq,
          after: this.headOf(uid),
          index: uid,
          hlc,
          region: tag.region,
          prev,
          command,
          bytes,
        })
        this.#feedBytes += bytes
        this.#heads.set(uid, seq)
        while (
          this.#feed.length > this.#retainEntries ||
          (this.#feedBytes > this.#retainBytes && this.#feed.length > 1)
        ) {
          const dropped = this.#feed.shift()!
          this.#feedBytes -= dropped.bytes ?? 0
          this.#trimmed.set(dropped.index, dropped.seq)
        }
      },
      refused: () => {},
    }
  }

  #setVersion(uid: string, key: string, stamp: Stamp): void {
    let versions = this.#versions.get(uid)
    if (versions === undefined) {
      versions = new Map()
      this.#versions.set(uid, versions)
    }
    versions.set(key, stamp)
    if (compareHlc(stamp.hlc, this.#clock) > 0) this.#clock = stamp.hlc
  }

  /** The ledger as plain data, for the shard's snapshot image. */
  toImage(): LedgerImage {
    return {
      versions: [...this.#versions].map(([uid, versions]) => [
        uid,
        [...versions].map(([key, s]) => [key, s.hlc.wallMs, s.hlc.logical, s.region] as const),
      ]),
      conflicts: this.#conflicts.map((c) => ({ ...c })),
      feed: [...this.#feed],
      heads: [...this.#heads],
      trimmed: [...this.#trimmed],
      applied: [...this.#applied],
      clock: [this.#clock.wallMs, this.#clock.logical],
    }
  }

  /** Replaces the ledger with an image's (an absent image, from before ledgers existed, empties it). */
  restore(image: LedgerImage | undefined): void {
    this.#versions = new Map(
      (image?.versions ?? []).map(([uid, versions]) => [
        uid,
        new Map(
          versions.map(([key, wallMs, logical, region]) => [key, { hlc: { wallMs, logical }, region }]),
        ),
      ]),
    )
    this.#conflicts = [...(image?.conflicts ?? [])]
    this.#feed = [...(image?.feed ?? [])]
    this.#feedBytes = this.#feed.reduce((sum, entry) => sum + (entry.bytes ?? 0), 0)
    this.#heads = new Map(image?.heads ?? [])
    this.#trimmed = new Map(image?.trimmed ?? [])
    this.#applied = new Map(image?.applied ?? [])
    this.#clock = image === undefined ? HLC_ZERO : { wallMs: image.clock[0], logical: image.clock[1] }
  }
}

/** A ledger in a snapshot image (MessagePack-friendly: arrays and plain objects). */
export interface LedgerImage {
  versions: Array<[string, Array<readonly [string, number, number, string]>]>
  conflicts: ConflictRecord[]
  feed: LedgerFeedEntry[]
  heads: Array<[string, number]>
  trimmed: Array<[string, number]>
  applied: Array<[string, number]>
  clock: [number, number]
}

/**
 * A document's key as the engine keys it (a number and its decimal text alike); for an id the
 * engine refuses, its text (the engine then refuses the command, which records nothing).
 */
export function keyOf(doc: Doc, primaryKey: string, position: number): string {
  try {
    return documentKey(doc, primaryKey, position)
  } catch {
    return String(doc[primaryKey])
  }
}

function appliedKey(origin: string, uid: string, originShard: string): string {
  return `${origin}\u0000${uid}\u0000${originShard}`
}

function atMsOf(command: Command): number {
  const ms = Date.parse(command.at)
  return Number.isFinite(ms) ? ms : 0
}

/** The part of a remote command whose documents won (`wins` decides and records), or null. */
function winnersOf(
  command: Command,
  wins: (key: string, i: number, remoteDoc: unknown, id: string | number) => boolean,
  engine: LedgerEngineView,
): Command | null {
  switch (command.type) {
    case 'addDocuments': {
      const pk = command.primaryKey as string
      const documents = command.documents.filter((doc: Doc, i) => {
        const key = keyOf(doc, pk, i)
        return wins(key, i, doc, key)
      })
      return documents.length === 0 ? null : { ...command, documents }
    }
    case 'deleteDocuments': {
      const ids = command.ids.filter((id, i) => wins(String(id), i, null, id))
      return ids.length === 0 ? null : { ...command, ids }
    }
    case 'updateSettings':
      return wins(SETTINGS_KEY, 0, command.settings, SETTINGS_KEY) ? command : null
    case 'createIndex':
      return engine.hasIndex(command.uid) ? null : command
    default:
      return null
  }
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const isName = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 256

/** Whether a decoded shard entry's `region` field is a well-formed tag. */
export function isRegionTag(value: unknown): value is ShardRegionTag {
  if (typeof value !== 'object' || value === null) return false
  const tag = value as Record<string, unknown>
  if (!isCount(tag.wallMs) || !isCount(tag.logical)) return false
  if (tag.kind === 'local') return isName(tag.region)
  if (tag.kind !== 'remote') return false
  return (
    isName(tag.origin) &&
    isName(tag.originShard) &&
    isCount(tag.seq) &&
    tag.seq > 0 &&
    (tag.manual === undefined || tag.manual === true) &&
    Array.isArray(tag.prev) &&
    tag.prev.every(
      (p) =>
        p === null || (Array.isArray(p) && p.length === 3 && isCount(p[0]) && isCount(p[1]) && isName(p[2])),
    )
  )
}
