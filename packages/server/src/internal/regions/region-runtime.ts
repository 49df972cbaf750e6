import { createHash } from 'node:crypto'
import path from 'node:path'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { parseHttpAddr, type ServerConfig } from '../config.ts'
import { P2PNode } from '../p2p/index.ts'
import { writeFileDurably } from '../task-log.ts'
import { formatHlc } from './hlc.ts'
import { DEFAULT_INDEX_OPTIONS, type RegionIndexOptions, type RegionLinkPatch } from './region-config.ts'
import {
  conflictNotFound,
  conflictResolved,
  invalidRegionLink,
  invalidRegionPromotion,
  regionEpochUnknown,
  regionNotWriter,
} from './region-errors.ts'
import { type RegionEngine, RegionFeed } from './region-feed.ts'
import { type ConflictRecord, RegionJournal } from './region-journal.ts'
import { openLinkDir, readRegionKey, type StoredLink } from './region-link.ts'
import { RegionMetrics } from './region-metrics.ts'
import { RegionPeers } from './region-peers.ts'
import { encodeFeedEntry, type FeedEntry, feedTopic, parseRegionRequest } from './region-protocol.ts'
import { adoptClaims, claimOf, promoteIndexes, type WriterClaim } from './region-writer.ts'

export interface StartRegionOptions {
  config: ServerConfig
  engine: RegionEngine
  registry: Registry
  logger: Logger
  /** Wall-clock milliseconds. @defaultValue Date.now */
  now?: () => number
}

/** How often a region greets its seeds (heads, acknowledgements, gap detection). */
const HELLO_INTERVAL_MS = 500

/**
 * One region's end of the links to other regions (docs/multi-region.md): a libp2p node of its
 * own keyed by the inter-region key, running gossipsub with one topic per replicated index; the
 * feed (publish and apply); the greetings that exchange sequence heads and acknowledgements; the
 * conflict log; and what the HTTP routes ask.
 */
export class RegionRuntime {
  readonly name: string
  readonly #o: StartRegionOptions
  readonly #dir: string
  readonly #journal: RegionJournal
  readonly #feed: RegionFeed
  readonly metrics: RegionMetrics
  readonly #logger: Logger
  readonly #now: () => number
  #link: StoredLink
  #key: Uint8Array
  #p2p: P2PNode | undefined
  #port = 0
  #peers: RegionPeers | undefined
  #hello: ReturnType<typeof setInterval> | undefined
  #stopped = false
  /** Whether this region knows its writer epochs are current: it greeted a region, or promoted itself. */
  #epochConfirmed = false
  /** `link.json` writes, one at a time. */
  #saving: Promise<unknown> = Promise.resolve()

  private constructor(
    options: StartRegionOptions,
    dir: string,
    journal: RegionJournal,
    link: StoredLink,
    key: Uint8Array,
  ) {
    const config = options.config.regionLink
    this.name = config.name ?? ''
    this.#o = options
    this.#dir = dir
    this.#journal = journal
    this.#link = link
    this.#key = key
    this.#logger = options.logger.child({ component: 'region' })
    this.#now = options.now ?? Date.now
    this.metrics = new RegionMetrics(options.registry, () => this.#peers?.lagByRegion() ?? new Map())
    this.#feed = new RegionFeed({
      region: this.name,
      engine: options.engine,
      journal,
      replicated: (index) => this.#link.indexes[index],
      now: this.#now,
      logger: this.#logger,
      onSkipped: (reason) => this.metrics.skipped.inc({ reason }),
    })
  }

  static async start(options: StartRegionOptions): Promise<RegionRuntime> {
    const config = options.config.regionLink
    const { dir, link, stored } = await openLinkDir(options.config)
    const key = stored?.key ?? (await readRegionKey(config))
    const journal = await RegionJournal.open(path.join(dir, 'journal'), options.config.sync === 'always')
    const runtime = new RegionRuntime(options, dir, journal, link, Buffer.from(key))
    await runtime.#startTransport()
    runtime.#hello = setInterval(() => runtime.#peers?.greetAll(runtime.#link.seeds), HELLO_INTERVAL_MS)
    runtime.#peers?.greetAll(runtime.#link.seeds)
    // Commands committed while the link was down are published now.
    await runtime.afterLocalWrite()
    return runtime
  }

  async #startTransport(): Promise<void> {
    const config = this.#o.config.regionLink
    const listen = parseHttpAddr(config.p2pAddr ?? '')
    const p2p = new P2PNode({
      dataDir: this.#dir,
      clusterKey: this.#key,
      listen: this.#port === 0 ? listen : { ...listen, port: this.#port },
      pubsub: true,
      logger: this.#logger.child({ component: 'region-p2p' }),
    })
    await p2p.start()
    this.#p2p = p2p
    this.#port = Number(/\/tcp\/(\d+)/.exec(p2p.multiaddrs()[0] ?? '')?.[1] ?? 0)
    this.#peers = new RegionPeers({
      region: this.name,
      p2p,
      journal: this.#journal,
      feed: this.#feed,
      key: () => this.#key,
      replicated: (index) => this.#link.indexes[index],
      metrics: this.metrics,
      now: this.#now,
      logger: this.#logger,
      writers: () => this.#writers(),
      onGreeting: (writers) => this.#onGreeting(writers),
    })
    p2p.onRequest(async (_from, body) => this.#peers!.handle(parseRegionRequest(body)))
    const pubsub = p2p.pubsub()
    pubsub.addEventListener('message', (event) => {
      const { topic, data } = event.detail
      if (topic.startsWith('shoal/region/')) this.#peers?.received(data)
    })
    for (const index of Object.keys(this.#link.indexes)) pubsub.subscribe(feedTopic(index))
  }

  /** The p2p addresses other regions list as seeds. */
  addresses(): string[] {
    return this.#p2p?.multiaddrs() ?? []
  }

  replicated(index: string): RegionIndexOptions | undefined {
    return this.#link.indexes[index]
  }

  /**
   * After a local write on a replicated index committed: publish it (and anything before it).
   * Resolves once it is journalled and handed to gossipsub, or, for a `semi_sync` index, once a
   * remote region holds it durably.
   */
  async afterLocalWrite(): Promise<void> {
    const entries = await this.#feed.serially(() => this.#feed.publishCommitted())
    for (const entry of entries) this.#publish(entry)
    if (entries.length > 0) await this.#compact()
    const waits = entries
      .filter((e) => this.#link.indexes[e.index]?.mode === 'semi_sync')
      .map((e) => this.#peers!.awaitAck(e.index, e.seq, this.#o.config.regionLink.semiSyncTimeoutMs))
    await Promise.all(waits)
  }

  /** Compacts the journal past the retention (in the lane: no journal write runs meanwhile). */
  async #compact(): Promise<void> {
    const retain = this.#o.config.regionLink.journalRetainEntries
    if (await this.#feed.serially(() => this.#journal.compact(retain))) this.metrics.compactions.inc()
  }

  /** Runs a local write in the region's lane, so no remote command is settled while it commits. */
  write<T>(work: () => Promise<T>): Promise<T> {
    return this.#feed.serially(async () => {
      const result = await work()
      return result
    })
  }

  #publish(entry: FeedEntry): void {
    const bytes = encodeFeedEntry(entry, this.#key)
    this.metrics.published.inc()
    this.metrics.bytes.inc({ direction: 'sent' }, bytes.byteLength)
    this.#p2p
      ?.pubsub()
      .publish(feedTopic(entry.index), bytes)
      .catch((error: unknown) =>
        this.#logger.debug(
          { err: (error as Error).message },
          'region: publish failed; gap fill will carry it',
        ),
      )
  }

  status() {
    return {
      name: this.name,
      addresses: this.addresses(),
      seeds: this.#link.seeds,
      keyFingerprint: createHash('sha256').update(this.#key).digest('hex').slice(0, 16),
      indexes: Object.fromEntries(
        Object.entries(this.#link.indexes).map(([uid, { writer, writerEpoch, writerSince, ...options }]) => [
          uid,
          {
            ...options,
            ...(writer !== undefined
              ? { writer, writerEpoch: writerEpoch ?? 1, writerSince: writerSince && formatHlc(writerSince) }
              : {}),
            lastSeq: this.#journal.seqOf(uid),
          },
        ]),
      ),
      regions: this.#peers?.statusByRegion() ?? {},
      epochConfirmed: this.#epochConfirmed,
    }
  }

  /** `PATCH /admin/regions`: applied and stored durably, or refused whole. */
  async patch(patch: RegionLinkPatch) {
    if (patch.name !== undefined && patch.name !== this.name)
      throw invalidRegionLink(
        `this region is \`${this.name}\`: a region's name is its identity in every other region's feed and cannot change; start a new data folder with region_name`,
      )
    const next: StoredLink = {
      seeds: patch.seeds ?? this.#link.seeds,
      indexes: { ...this.#link.indexes },
      ...(this.#link.key !== undefined ? { key: this.#link.key } : {}),
    }
    for (const [uid, options] of Object.entries(patch.indexes ?? {})) {
      if (options === null) {
        delete next.indexes[uid]
        continue
      }
      const writer = next.indexes[uid]?.writer
      if (options.writer !== undefined && writer !== undefined && options.writer !== writer)
        throw invalidRegionLink(
          `index \`${uid}\` is written by region \`${writer}\`: a writer changes only by promotion (POST /admin/regions/{name}/promote)`,
        )
      next.indexes[uid] = { ...DEFAULT_INDEX_OPTIONS, ...next.indexes[uid], ...options }
    }
    if (patch.key !== undefined) next.key = patch.key
    const before = this.#link
    await this.#saveLink(next)
    const pubsub = this.#p2p?.pubsub()
    for (const uid of Object.keys(next.indexes))
      if (before.indexes[uid] === undefined) pubsub?.subscribe(feedTopic(uid))
    for (const uid of Object.keys(before.indexes))
      if (next.indexes[uid] === undefined) pubsub?.unsubscribe(feedTopic(uid))
    if (patch.key !== undefined && Buffer.from(patch.key).compare(Buffer.from(this.#key)) !== 0) {
      // A new key is a new private network: the transport restarts on the same port.
      this.#key = Buffer.from(patch.key)
      const old = this.#p2p
      this.#peers?.stop()
      await old?.stop()
      await this.#startTransport()
    }
    this.#peers?.greetAll(next.seeds)
    return this.status()
  }

  /** Stores the link durably, then makes it current (one write at a time). */
  #saveLink(next: StoredLink): Promise<void> {
    const run = this.#saving.then(async () => {
      await writeFileDurably(path.join(this.#dir, 'link.json'), JSON.stringify(next))
      this.#link = next
    })
    this.#saving = run.catch(() => {})
    return run
  }

  #writers(): Record<string, WriterClaim> {
    const out: Record<string, WriterClaim> = {}
    for (const [uid, options] of Object.entries(this.#link.indexes)) {
      const claim = claimOf(options)
      if (claim !== undefined) out[uid] = claim
    }
    return out
  }

  /** Another region greeted: this region's epochs are now known, and any newer writer is adopted. */
  #onGreeting(writers: Record<string, WriterClaim>): void {
    this.#epochConfirmed = true
    const { indexes, changed } = adoptClaims(this.#link.indexes, writers)
    if (changed.length === 0) return
    for (const uid of changed) {
      const was = claimOf(this.#link.indexes[uid])
      const now = claimOf(indexes[uid])
      this.#logger.warn(
        { index: uid, writer: now?.writer, epoch: now?.epoch, fenced: was?.writer === this.name },
        'region: a promotion changed the writer of a single-writer index',
      )
    }
    this.#saveLink({ ...this.#link, indexes }).catch((error: unknown) =>
      this.#logger.error({ err: (error as Error).message }, 'region: storing a new writer failed'),
    )
  }

  /** Throws when this region may not write `index` now (single-writer indexes only). */
  checkWrite(index: string): void {
    const claim = claimOf(this.#link.indexes[index])
    if (claim === undefined) return
    if (claim.writer !== this.name) throw regionNotWriter(index, claim.writer, claim.epoch)
    if (!this.#epochConfirmed) throw regionEpochUnknown(index)
  }

  /**
   * `POST /admin/regions/{name}/promote` on region `name`: this region becomes the writer of its
   * single-writer indexes (or of `only`) at the next epoch, durably, and tells the other regions.
   */
  async promote(name: string, only?: string[]) {
    if (name !== this.name)
      throw invalidRegionPromotion(
        `this region is \`${this.name}\`: send the promotion of \`${name}\` to region \`${name}\` itself`,
      )
    const since = await this.#feed.serially(async () => this.#feed.tick())
    const { indexes, promoted } = promoteIndexes(this.#link.indexes, this.name, since, only)
    if (promoted.length === 0)
      throw invalidRegionPromotion('no index is single-writer here (set `writer` with PATCH /admin/regions)')
    await this.#saveLink({ ...this.#link, indexes })
    this.#epochConfirmed = true
    this.#logger.warn({ indexes: promoted }, 'region: promoted to writer')
    this.#peers?.greetAll(this.#link.seeds)
    return { promoted: Object.fromEntries(promoted.map((uid) => [uid, showClaim(claimOf(indexes[uid])!)])) }
  }

  conflicts(filter: { status?: string }): { results: unknown[]; total: number } {
    const all = [...this.#journal.conflicts.values()].filter(
      (c) => filter.status === undefined || c.status === filter.status,
    )
    return { results: all.map(showConflict), total: all.length }
  }

  /**
   * Settles a conflict: `winner` keeps what is served; `loser` writes the losing version again as
   * a new write here, which then wins in every region.
   */
  async resolve(
    id: string,
    keep: 'winner' | 'loser',
    rewrite: (c: ConflictRecord) => Promise<void>,
  ): Promise<unknown> {
    const conflict = this.#journal.conflicts.get(id)
    if (conflict === undefined) throw conflictNotFound(id)
    if (conflict.status === 'resolved') throw conflictResolved(id)
    if (keep === 'loser') await rewrite(conflict)
    await this.#feed.serially(() =>
      this.#journal.appendResolve(id, keep === 'winner' ? 'kept_winner' : 'kept_loser'),
    )
    return showConflict(this.#journal.conflicts.get(id)!)
  }

  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    clearInterval(this.#hello)
    this.#peers?.stop()
    await this.#p2p?.stop()
    await this.#feed.serially(async () => {})
    await this.#journal.close()
  }
}

function showClaim(claim: WriterClaim) {
  return {
    writer: claim.writer,
    epoch: claim.epoch,
    ...(claim.since !== undefined ? { since: formatHlc(claim.since) } : {}),
  }
}

function showConflict(c: ConflictRecord) {
  return {
    ...c,
    winner: { ...c.winner, hlc: formatHlc(c.winner.hlc) },
    loser: { ...c.loser, hlc: formatHlc(c.loser.hlc) },
    detectedAt: new Date(c.detectedAtMs).toISOString(),
    detectedAtMs: undefined,
  }
}
