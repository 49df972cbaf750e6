import type { Logger } from 'pino'
import type { P2PNode, PeerAddress } from '../p2p/index.ts'
import { standbyOfPeerId } from '../standby/standby-config.ts'
import type { RegionIndexOptions } from './region-config.ts'
import { regionAckTimeout } from './region-errors.ts'
import type { RegionFeed } from './region-feed.ts'
import type { RegionJournal } from './region-journal.ts'
import type { RegionMetrics } from './region-metrics.ts'
import {
  decodeFeedEntry,
  encodeFeedEntry,
  type FeedEntry,
  type FeedRejection,
  type HelloRequest,
  type IndexSnapshot,
  parseRegionRequest,
  type RegionRequest,
} from './region-protocol.ts'
import type { WriterClaim } from './region-writer.ts'

export interface RegionPeersOptions {
  region: string
  p2p: P2PNode
  journal: RegionJournal
  feed: RegionFeed
  key: () => Uint8Array
  replicated: (index: string) => RegionIndexOptions | undefined
  metrics: RegionMetrics
  now: () => number
  logger: Logger
  /** The writers of this region's single-writer indexes, sent in every greeting. */
  writers: () => Record<string, WriterClaim>
  /** A greeting from another region arrived (or was answered), with the writers it knows. */
  onGreeting: (writers: Record<string, WriterClaim>) => void
}

/** A timestamp further ahead of this node's clock than this is refused (`clock_skew`). */
const MAX_CLOCK_AHEAD_MS = 60_000
/** Out-of-order entries held per origin and index while the gap before them is fetched. */
const MAX_PENDING = 10_000
/** Remote entries applied in one lot at most (`#drain`). */
const APPLY_LOT = 256
const FETCH_BATCH = 256

interface AckWaiter {
  index: string
  seq: number
  resolve: () => void
  reject: (e: Error) => void
}

interface Remote {
  peer: PeerAddress
  /** Per index: the last seq the remote region published. */
  heads: Record<string, number>
  /** Per index: what the remote region applied of ours. */
  acked: Record<string, number>
  lastContactAtMs: number
}

/** A remote entry this region knows exists (from a greeting's head or the entry itself), and since when. */
interface Mark {
  seq: number
  atMs: number
}

/**
 * The receiving half of the feed and the greetings between regions: takes feed messages from
 * gossipsub or from a gap fill, refuses bad ones (counted by reason), holds the out-of-order ones
 * until the gap before them is fetched directly (`region.fetch` over `/shoal/rpc/1`), and applies
 * each origin's entries strictly in sequence. Greetings (`region.hello`) carry every region's
 * heads and acknowledgements: a lost last message shows up there as a gap, and a semi_sync write
 * completes when a remote region acknowledges it.
 */
export class RegionPeers {
  readonly #o: RegionPeersOptions
  readonly #remotes = new Map<string, Remote>()
  readonly #pending = new Map<string, Map<number, FeedEntry>>()
  readonly #draining = new Set<string>()
  readonly #fetching = new Set<string>()
  /** Per origin and index: entries known to exist and not applied yet, oldest first (lag in seconds). */
  readonly #marks = new Map<string, Mark[]>()
  #ackWaiters: AckWaiter[] = []
  /** The seeds greeted last, by peer id: a region listed there is always reached at that address. */
  #seeds = new Map<string, PeerAddress>()
  #stopped = false

  constructor(options: RegionPeersOptions) {
    this.#o = options
  }

  stop(): void {
    this.#stopped = true
  }

  /** Greets every seed (errors are expected while a region is away). */
  greetAll(seeds: string[]): void {
    if (this.#stopped) return
    this.#seeds = new Map(
      seeds.map((seed) => [standbyOfPeerId(seed), { peerId: standbyOfPeerId(seed), addrs: [seed] }]),
    )
    for (const peer of this.#seeds.values()) {
      this.#o.p2p
        .request(peer, ['region.hello', this.#hello()], { timeoutMs: 5000 })
        .then((answer) => {
          const parsed = parseRegionRequest(['region.hello', answer])
          if (parsed?.[0] === 'region.hello') this.#greeted(parsed[1])
        })
        .catch(() => {})
    }
  }

  #hello(): HelloRequest {
    const { journal } = this.#o
    const heads: Record<string, number> = {}
    const applied: Record<string, Record<string, number>> = {}
    for (const [index] of journal.outAt) heads[index] = journal.seqOf(index)
    for (const [index, byOrigin] of journal.applied) applied[index] = Object.fromEntries(byOrigin)
    return { region: this.#o.region, peer: this.#o.p2p.address(), heads, applied, writers: this.#o.writers() }
  }

  /** Answers a request from another region. */
  async handle(request: RegionRequest | undefined): Promise<unknown> {
    if (request === undefined) throw Object.assign(new Error('not a region request'), { code: 'bad_request' })
    const [kind, body] = request
    switch (kind) {
      case 'region.hello':
        this.#greeted(body)
        return this.#hello()
      case 'region.fetch': {
        if (this.#o.replicated(body.index) === undefined) return { entries: [] }
        const entries = await this.#o.journal.readOut(
          body.index,
          body.fromSeq,
          Math.min(body.maxEntries, FETCH_BATCH),
        )
        if (entries === 'compacted') return { entries: [], compacted: true }
        const bytes = entries.map((e) => encodeFeedEntry(e, this.#o.key()))
        for (const b of bytes) this.#o.metrics.bytes.inc({ direction: 'sent' }, b.byteLength)
        return { entries: bytes }
      }
      case 'region.ack':
        this.#acked(body.region, body.index, body.seq)
        return {}
      case 'region.snapshot': {
        if (this.#o.replicated(body.index) === undefined) return { snapshot: null }
        const { feed } = this.#o
        const snapshot = await feed.serially(async () => {
          await feed.publishCommitted()
          return feed.snapshotOf(body.index)
        })
        this.#o.metrics.snapshotsServed.inc()
        return { snapshot }
      }
    }
  }

  #greeted(hello: HelloRequest): void {
    if (hello.region === this.#o.region) return
    this.#o.onGreeting(hello.writers ?? {})
    const now = this.#o.now()
    const remote: Remote = {
      // The address the operator listed wins over the one the region reports for itself (its listen
      // address, which may be unreachable from here, or bypass a proxy or gateway in between).
      peer: this.#seeds.get(hello.peer.peerId) ?? hello.peer,
      heads: hello.heads,
      acked: {},
      lastContactAtMs: now,
    }
    this.#remotes.set(hello.region, remote)
    for (const [index, byOrigin] of Object.entries(hello.applied)) {
      const seq = byOrigin[this.#o.region]
      if (seq !== undefined) this.#acked(hello.region, index, seq)
    }
    for (const [index, head] of Object.entries(hello.heads)) {
      if (this.#o.replicated(index) === undefined) continue
      if (head > this.#o.journal.appliedOf(index, hello.region)) {
        this.#mark(hello.region, index, head, now)
        this.#fill(hello.region, index)
      }
    }
  }

  /** A feed message from gossipsub. */
  received(bytes: Uint8Array): void {
    this.#o.metrics.bytes.inc({ direction: 'received' }, bytes.byteLength)
    const decoded = decodeFeedEntry(bytes, this.#o.key())
    if (decoded.ok) this.#accept(decoded.entry)
    else this.#reject(decoded.reason)
  }

  #reject(reason: FeedRejection): void {
    this.#o.metrics.rejected.inc({ reason })
  }

  /** Why `entry` is refused, or undefined when it is taken. */
  #refusal(entry: FeedEntry): FeedRejection | undefined {
    if (entry.origin === this.#o.region) return 'own_region'
    if (!this.#remotes.has(entry.origin)) return 'unknown_region'
    if (this.#o.replicated(entry.index) === undefined) return 'unreplicated_index'
    if (entry.hlc.wallMs > this.#o.now() + MAX_CLOCK_AHEAD_MS) return 'clock_skew'
    const head = this.#o.journal.appliedOf(entry.index, entry.origin)
    const pending = this.#pending.get(`${entry.origin}\u0000${entry.index}`)
    if (entry.seq <= head || pending?.has(entry.seq) === true) return 'duplicate'
    return undefined
  }

  #accept(entry: FeedEntry): void {
    const refusal = this.#refusal(entry)
    if (refusal !== undefined) {
      this.#reject(refusal)
      return
    }
    // Known since it was written (its clock), or since now if that is earlier (clock skew).
    this.#mark(entry.origin, entry.index, entry.seq, Math.min(this.#o.now(), entry.hlc.wallMs))
    const key = `${entry.origin}\u0000${entry.index}`
    let pending = this.#pending.get(key)
    if (pending === undefined) {
      pending = new Map()
      this.#pending.set(key, pending)
    }
    const head = this.#o.journal.appliedOf(entry.index, entry.origin)
    if (pending.size >= MAX_PENDING) return // Dropped: the gap fill fetches it again.
    pending.set(entry.seq, entry)
    if (entry.seq > head + 1) this.#fill(entry.origin, entry.index)
    void this.#drain(entry.origin, entry.index)
  }

  /**
   * Applies the origin's pending entries in sequence while the next is there: every consecutive
   * entry already received goes in one lot (`applyRemoteMany`: two syncs for the lot), so a burst
   * of remote writes costs a few syncs, not two per write.
   */
  async #drain(origin: string, index: string): Promise<void> {
    const key = `${origin}\u0000${index}`
    if (this.#draining.has(key)) return
    this.#draining.add(key)
    try {
      const pending = this.#pending.get(key)
      while (pending !== undefined && !this.#stopped) {
        const options = this.#o.replicated(index)
        if (options === undefined) break
        const lot: FeedEntry[] = []
        let seq = this.#o.journal.appliedOf(index, origin) + 1
        for (
          let next = pending.get(seq);
          next !== undefined && lot.length < APPLY_LOT;
          next = pending.get(++seq)
        )
          lot.push(next)
        if (lot.length === 0) break
        const { feed } = this.#o
        const conflicts = await feed.serially(async () => {
          await feed.publishCommitted()
          const found = await feed.applyRemoteMany(lot, options)
          // A fenced entry's rewrite (region-feed.ts) is journalled now; greetings announce it.
          await feed.publishCommitted()
          return found
        })
        const now = this.#o.now()
        lot.forEach((entry, i) => {
          pending.delete(entry.seq)
          this.#o.metrics.applied.inc({ region: origin })
          this.#o.metrics.delay.observe({ region: origin }, Math.max(0, now - entry.hlc.wallMs) / 1000)
          const found = conflicts[i]!.length
          if (found > 0) this.#o.metrics.conflicts.inc({ index }, found)
        })
        this.#ack(origin, index, lot[lot.length - 1]!.seq)
      }
    } catch (error) {
      this.#o.logger.error(
        { err: (error as Error).message, origin, index },
        'region: applying a remote command failed',
      )
    } finally {
      this.#draining.delete(key)
    }
  }

  #ack(origin: string, index: string, seq: number): void {
    const remote = this.#remotes.get(origin)
    if (remote === undefined) return
    this.#o.p2p
      .request(remote.peer, ['region.ack', { region: this.#o.region, index, seq }], { timeoutMs: 5000 })
      .catch(() => {})
  }

  /** Fetches the origin's entries past what was applied, until none is missing. */
  #fill(origin: string, index: string): void {
    const key = `${origin}\u0000${index}`
    const remote = this.#remotes.get(origin)
    if (remote === undefined || this.#fetching.has(key) || this.#stopped) return
    this.#fetching.add(key)
    void (async () => {
      try {
        for (;;) {
          const pending = this.#pending.get(key)
          let from = this.#o.journal.appliedOf(index, origin) + 1
          while (pending?.has(from)) from++
          const head = remote.heads[index] ?? 0
          const firstPending =
            pending === undefined || pending.size === 0 ? Infinity : Math.min(...pending.keys())
          if (from > head && from > firstPending) break
          if (from > head && firstPending === Infinity) break
          const answer = (await this.#o.p2p.request(
            remote.peer,
            ['region.fetch', { index, fromSeq: from, maxEntries: FETCH_BATCH }],
            { timeoutMs: 10_000 },
          )) as { entries?: unknown; compacted?: unknown }
          if (answer?.compacted === true) {
            await this.#catchUpBySnapshot(origin, index, remote.peer)
            continue
          }
          const entries = Array.isArray(answer?.entries) ? (answer.entries as Uint8Array[]) : []
          if (entries.length === 0) break
          this.#o.metrics.gapFills.inc({ region: origin })
          for (const bytes of entries) {
            if (bytes instanceof Uint8Array) this.received(bytes)
          }
          await this.#drain(origin, index)
        }
      } catch (error) {
        this.#o.logger.debug(
          { err: (error as Error).message, origin, index },
          'region: gap fill failed; retried on the next greeting',
        )
      } finally {
        this.#fetching.delete(key)
      }
    })()
  }

  /** The entries a gap needs were compacted at the origin: take its snapshot of the index instead. */
  async #catchUpBySnapshot(origin: string, index: string, peer: PeerAddress): Promise<void> {
    const answer = (await this.#o.p2p.request(peer, ['region.snapshot', { index }], {
      timeoutMs: 60_000,
    })) as {
      snapshot?: IndexSnapshot | null
    }
    const snapshot = answer?.snapshot
    const options = this.#o.replicated(index)
    if (!isSnapshot(snapshot, index) || options === undefined)
      throw new Error(`region ${origin} answered no snapshot of ${index}`)
    const { feed } = this.#o
    const conflicts = await feed.serially(async () => {
      await feed.publishCommitted()
      return feed.applySnapshot(origin, snapshot, options)
    })
    const pending = this.#pending.get(`${origin}\u0000${index}`)
    for (const seq of pending?.keys() ?? []) if (seq <= snapshot.head) pending!.delete(seq)
    this.#o.metrics.snapshotCatchUps.inc({ region: origin })
    if (conflicts > 0) this.#o.metrics.conflicts.inc({ index }, conflicts)
    this.#o.logger.warn(
      { origin, index, head: snapshot.head, documents: snapshot.documents.length },
      'region: caught up past the origin’s journal retention by snapshot',
    )
    this.#ack(origin, index, snapshot.head)
    await this.#drain(origin, index)
  }

  #acked(region: string, index: string, seq: number): void {
    const remote = this.#remotes.get(region)
    if (remote !== undefined) remote.acked[index] = Math.max(remote.acked[index] ?? 0, seq)
    const still: AckWaiter[] = []
    for (const w of this.#ackWaiters) {
      if (w.index === index && w.seq <= seq) w.resolve()
      else still.push(w)
    }
    this.#ackWaiters = still
  }

  /** Resolves once one remote region applied `index`'s own entry `seq` durably; rejects after `timeoutMs`. */
  awaitAck(index: string, seq: number, timeoutMs: number): Promise<void> {
    for (const remote of this.#remotes.values())
      if ((remote.acked[index] ?? 0) >= seq) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#ackWaiters = this.#ackWaiters.filter((w) => w !== waiter)
        reject(regionAckTimeout(index, seq, timeoutMs))
      }, timeoutMs)
      const waiter = {
        index,
        seq,
        resolve: () => {
          clearTimeout(timer)
          resolve()
        },
        reject,
      }
      this.#ackWaiters.push(waiter)
    })
  }

  /** Records that `origin`'s entry `seq` on `index` exists, known since `atMs`. */
  #mark(origin: string, index: string, seq: number, atMs: number): void {
    const key = `${origin}\u0000${index}`
    let marks = this.#marks.get(key)
    if (marks === undefined) {
      marks = []
      this.#marks.set(key, marks)
    }
    const last = marks[marks.length - 1]
    if (last === undefined || seq > last.seq) marks.push({ seq, atMs })
    else if (last.seq === seq && atMs < last.atMs) last.atMs = atMs
  }

  /** Since when `origin`'s oldest entry on `index` not applied here has been known, if any. */
  #behindSince(origin: string, index: string): number | undefined {
    const marks = this.#marks.get(`${origin}\u0000${index}`)
    if (marks === undefined) return undefined
    const applied = this.#o.journal.appliedOf(index, origin)
    while (marks.length > 0 && marks[0]!.seq <= applied) marks.shift()
    return marks[0]?.atMs
  }

  /** Per remote region: how far behind its feed this region is. */
  lagByRegion(): Map<string, { seconds: number; entries: number }> {
    const now = this.#o.now()
    const lag = new Map<string, { seconds: number; entries: number }>()
    for (const [region, remote] of this.#remotes) {
      let entries = 0
      let since = now
      for (const [index, head] of Object.entries(remote.heads)) {
        if (this.#o.replicated(index) === undefined) continue
        entries += Math.max(0, head - this.#o.journal.appliedOf(index, region))
        since = Math.min(since, this.#behindSince(region, index) ?? now)
      }
      lag.set(region, { entries, seconds: Math.max(0, (now - since) / 1000) })
    }
    return lag
  }

  statusByRegion(): Record<string, unknown> {
    const lag = this.lagByRegion()
    const now = this.#o.now()
    return Object.fromEntries(
      [...this.#remotes].map(([region, remote]) => [
        region,
        {
          peer: remote.peer.addrs[0] ?? remote.peer.peerId,
          sinceContactMs: now - remote.lastContactAtMs,
          lagEntries: lag.get(region)?.entries ?? 0,
          lagSeconds: lag.get(region)?.seconds ?? 0,
          heads: remote.heads,
          acknowledged: remote.acked,
        },
      ]),
    )
  }
}

function isSnapshot(value: unknown, index: string): value is IndexSnapshot {
  if (typeof value !== 'object' || value === null) return false
  const v = value as Record<string, unknown>
  return (
    v.index === index &&
    typeof v.head === 'number' &&
    Number.isSafeInteger(v.head) &&
    Array.isArray(v.documents) &&
    v.documents.every(
      (d) =>
        Array.isArray(d) &&
        typeof d[0] === 'string' &&
        typeof d[1] === 'number' &&
        typeof d[2] === 'number' &&
        typeof d[3] === 'string' &&
        (d[4] === null || (typeof d[4] === 'object' && !Array.isArray(d[4]))),
    )
  )
}
