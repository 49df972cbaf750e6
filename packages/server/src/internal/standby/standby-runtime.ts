import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { type ServerConfig, standbyOfPeerId } from '../config.ts'
import { ApiError } from '../errors.ts'
import type { P2PNode, PeerAddress } from '../p2p/index.ts'
import type { ReadOptions } from '../read-options.ts'
import {
  notAStandby,
  primaryFenced,
  staleReadRequired,
  standbyEpochUnknown,
  standbyReadOnly,
  standbyUnavailable,
  witnessLeaseExpired,
} from './standby-errors.ts'
import { type FeedEngine, StandbyFeed } from './standby-feed.ts'
import { type FollowerEngine, StandbyFollower } from './standby-follower.ts'
import { registerStandbyMetrics } from './standby-metrics.ts'
import { isStatusResponse, parseStandbyRequest, type StandbyRequest } from './standby-protocol.ts'
import { type StandbyState, writeStandbyState } from './standby-state.ts'
import { WitnessLease } from './witness-lease.ts'

/** The engine calls the standby link makes (`@shoal/engine`'s `Engine` has them all). */
export type StandbyEngine = FeedEngine &
  FollowerEngine & {
    exportSnapshot(): AsyncIterable<Uint8Array>
    listIndexes(): unknown[]
  }

/** What the link changes of the task queue. */
export interface StandbyQueue {
  readonly nextTaskUid: number
  skipUidsBelow(uid: number): void
}

export interface StartStandbyOptions {
  config: ServerConfig
  engine: StandbyEngine
  queue: StandbyQueue
  registry: Registry
  logger: Logger
  /** Milliseconds on a monotonic clock. @defaultValue performance.now */
  now?: () => number
}

const PROBE_INTERVAL_MS = 500
/** A primary asks its standby for its epoch when it has not fetched for this long. */
const SILENT_STANDBY_MS = 2000

/**
 * A primary's or a standby's end of the hot standby link (docs/standby.md): the role and epoch,
 * the feed or the follower, promotion and fencing, and what the HTTP layer asks of them.
 */
export class StandbyRuntime {
  readonly p2p: P2PNode
  readonly #config: ServerConfig
  readonly #engine: StandbyEngine
  readonly #queue: StandbyQueue
  readonly #logger: Logger
  readonly #now: () => number
  #state: StandbyState
  readonly #feed: StandbyFeed | undefined
  #follower: StandbyFollower | undefined
  readonly #primary: PeerAddress | undefined
  /** A primary may take writes once it knows no standby was promoted past it. */
  #confirmed: boolean
  #onConfirmed: Array<() => void> = []
  #probe: ReturnType<typeof setInterval> | undefined
  #probing = false
  #promoting: Promise<unknown> | undefined
  #saving: Promise<void> = Promise.resolve()
  #stopped = false
  readonly #witness: PeerAddress | undefined
  #lease: WitnessLease | undefined
  #autoPromote: ReturnType<typeof setInterval> | undefined

  constructor(options: StartStandbyOptions, p2p: P2PNode, state: StandbyState) {
    this.p2p = p2p
    this.#config = options.config
    this.#engine = options.engine
    this.#queue = options.queue
    this.#logger = options.logger.child({ component: 'standby' })
    this.#now = options.now ?? (() => performance.now())
    this.#state = state
    this.#confirmed = state.role !== 'primary' || state.peer === null
    const of = options.config.standby.of
    if (of !== undefined) this.#primary = { peerId: standbyOfPeerId(of), addrs: [of] }
    const witness = options.config.standby.witness
    if (witness !== undefined) this.#witness = { peerId: standbyOfPeerId(witness), addrs: [witness] }
    if (state.role === 'primary') this.#queue.skipUidsBelow(state.nextTaskUid)
    if (options.config.standby.mode !== 'off') {
      this.#feed = new StandbyFeed({
        engine: options.engine,
        now: this.#now,
        epoch: () => this.#state.epoch,
        nextTaskUid: () => this.#queue.nextTaskUid,
      })
    }
    p2p.onRequest((from, body) => this.#handle(from, body))
    p2p.onSnapshot(async (_from, meta, chunks) => {
      if (this.#follower === undefined)
        throw Object.assign(new Error('not a standby'), { code: 'not_standby' })
      await this.#follower.receiveSnapshot(meta, chunks)
    })
    registerStandbyMetrics(options.registry, this)
  }

  start(): void {
    if (this.#state.role === 'standby' && this.#primary !== undefined) {
      this.#follower = new StandbyFollower({
        p2p: this.p2p,
        primary: this.#primary,
        engine: this.#engine,
        state: () => this.#state,
        saveState: (change) => this.#save(change),
        now: this.#now,
        logger: this.#logger,
      })
      this.#follower.start()
    }
    if (this.#feed !== undefined) {
      this.#probe = setInterval(() => this.#probeStandby(), PROBE_INTERVAL_MS)
      this.#probeStandby()
    }
    if (this.#state.role === 'primary') this.#startLease()
    if (this.#state.role === 'standby' && this.#witness !== undefined) {
      const leaseMs = this.#config.standby.witnessLeaseMs
      this.#autoPromote = setInterval(() => this.#maybePromote(leaseMs), Math.max(100, leaseMs / 2))
    }
  }

  #startLease(): void {
    if (this.#witness === undefined || this.#lease !== undefined) return
    this.#lease = new WitnessLease({
      p2p: this.p2p,
      witness: this.#witness,
      leaseMs: this.#config.standby.witnessLeaseMs,
      now: this.#now,
      epoch: () => this.#state.epoch,
      onFenced: (epoch) => void this.#fence(epoch),
    })
    this.#lease.start()
  }

  /** With a witness: a standby that has not heard from its primary for a lease asks to take over. */
  #maybePromote(leaseMs: number): void {
    const follower = this.#follower
    if (this.#state.role !== 'standby' || follower === undefined || this.#promoting !== undefined) return
    if (follower.status().sinceContactMs <= leaseMs) return
    this.promote().then(
      (status) => this.#logger.warn({ epoch: status.epoch }, 'standby: promoted by the witness'),
      (error: unknown) =>
        this.#logger.debug(
          { err: (error as Error).message },
          'standby: automatic promotion not possible now',
        ),
    )
  }

  get role(): StandbyState['role'] {
    return this.#state.role
  }

  get epoch(): number {
    return this.#state.epoch
  }

  /** The engine made `lastIndex` durable. */
  logAppended(lastIndex: number): void {
    this.#feed?.logAppended(lastIndex)
  }

  /** Throws the typed error a write gets on this node now; `retryAfter` sets the header of a 503. */
  checkWrite(retryAfter: (seconds: number) => void): void {
    const state = this.#state
    if (state.role === 'standby') throw standbyReadOnly(this.#config.standby.of ?? 'its primary')
    if (state.role === 'fenced') throw primaryFenced(state.epoch, state.fencedByEpoch ?? state.epoch + 1)
    if (!this.#confirmed) {
      retryAfter(1)
      throw standbyEpochUnknown()
    }
    if (this.#lease !== undefined && !this.#lease.valid()) {
      retryAfter(1)
      throw witnessLeaseExpired()
    }
    const { mode, semiSyncOnTimeout, semiSyncTimeoutMs } = this.#config.standby
    if (mode === 'semi_sync' && semiSyncOnTimeout === 'fail' && this.#standbyLost()) {
      retryAfter(Math.max(1, Math.ceil(semiSyncTimeoutMs / 1000)))
      throw standbyUnavailable(semiSyncTimeoutMs)
    }
  }

  /** A search on a standby or fenced primary must accept stale answers. */
  checkSearch(read: ReadOptions): void {
    if (this.#state.role !== 'primary' && read.consistency !== 'eventual') throw staleReadRequired()
  }

  /** How far this node's answers may lag its primary (a standby), else undefined. */
  searchLag(): { entries: number; seconds: number } | undefined {
    if (this.#follower === undefined || this.#state.role !== 'standby') return undefined
    const status = this.#follower.status()
    return { entries: status.lagEntries, seconds: status.lagSeconds }
  }

  /**
   * Awaited before a task batch is reported finished: a primary that has not yet confirmed its
   * epoch waits until it has; in semi_sync it then waits until the standby holds everything the
   * batch logged. A fenced primary fails the batch.
   */
  async beforeTasksFinish(): Promise<void> {
    const index = this.#engine.appliedIndex
    if (!this.#confirmed && this.#state.role === 'primary')
      await new Promise<void>((resolve) => this.#onConfirmed.push(resolve))
    this.#throwIfNotPrimary()
    if (this.#config.standby.mode === 'semi_sync' && this.#feed !== undefined)
      await this.#feed.awaitAcknowledged(index)
    if (this.#lease !== undefined) {
      // With a witness, a write is acknowledged only under a valid lease: past it, the standby
      // may have been promoted.
      await this.#lease.waitValid()
      this.#throwIfNotPrimary()
      if (!this.#lease.valid()) throw new Error('the node is stopping')
    }
    this.#throwIfNotPrimary()
  }

  #throwIfNotPrimary(): void {
    const state = this.#state
    if (state.role === 'fenced') throw primaryFenced(state.epoch, state.fencedByEpoch ?? state.epoch + 1)
    if (state.role === 'standby') throw standbyReadOnly(this.#config.standby.of ?? 'its primary')
  }

  /**
   * Makes this standby the primary: stops following, records the next epoch durably, then takes
   * writes (task uids continue after the old primary's). Tells the old primary, when it can be
   * reached, so that it steps down at once.
   */
  promote(): Promise<ReturnType<StandbyRuntime['status']>> {
    this.#promoting ??= this.#promote().finally(() => {
      this.#promoting = undefined
    })
    return this.#promoting as Promise<ReturnType<StandbyRuntime['status']>>
  }

  async #promote(): Promise<ReturnType<StandbyRuntime['status']>> {
    if (this.#state.role !== 'standby') throw notAStandby(this.#state.role)
    if (this.#state.epoch === 0)
      throw new ApiError(
        409,
        'standby_never_synced',
        'This standby has never reached its primary: it holds nothing to promote.',
        'system',
      )
    let epoch = this.#state.epoch + 1
    const sentAt = this.#now()
    if (this.#witness !== undefined) epoch = await this.#grantFromWitness(this.#witness)
    await this.#follower?.stop()
    await this.#save({ role: 'primary', epoch, peer: null })
    this.#queue.skipUidsBelow(this.#state.nextTaskUid)
    this.#startLease()
    this.#lease?.granted(sentAt)
    this.#confirm()
    this.#logger.warn({ epoch }, 'standby: promoted to primary')
    if (this.#primary !== undefined) {
      const body: StandbyRequest = ['standby.fence', { epoch }]
      this.p2p.request(this.#primary, body, { timeoutMs: 2000 }).catch(() => {})
    }
    return this.status()
  }

  /** Asks the witness for the next epoch; it grants it only once the primary's lease ran out. */
  async #grantFromWitness(witness: PeerAddress): Promise<number> {
    const body = ['witness.promote', { epoch: this.#state.epoch }]
    let answer: { granted?: unknown; epoch?: unknown; reason?: unknown }
    try {
      answer = (await this.p2p.request(witness, body, { timeoutMs: 3000 })) as typeof answer
    } catch (error) {
      throw new ApiError(
        503,
        'witness_unavailable',
        `The witness could not be reached, and with a witness configured a promotion needs its grant: ${(error as Error).message}`,
        'system',
      )
    }
    if (answer.granted !== true || typeof answer.epoch !== 'number')
      throw new ApiError(
        409,
        'promotion_refused',
        `The witness refused the promotion: ${String(answer.reason ?? 'no reason given')}`,
        'system',
      )
    return answer.epoch
  }

  status() {
    const { standby } = this.#config
    const state = this.#state
    const base = {
      role: state.role,
      epoch: state.epoch,
      p2p: this.p2p.multiaddrs(),
      witness: standby.witness ?? null,
      ...(this.#lease !== undefined && state.role === 'primary'
        ? { leaseValid: this.#lease.valid(), leaseRemainingMs: Math.round(this.#lease.remainingMs()) }
        : {}),
      ...(state.fencedByEpoch !== undefined ? { fencedByEpoch: state.fencedByEpoch } : {}),
    }
    if (this.#follower !== undefined && state.role === 'standby') {
      return { ...base, primary: standby.of ?? null, ...this.#follower.status() }
    }
    const feed = this.#feed
    if (feed === undefined) return { ...base, mode: 'off' as const }
    const sinceFetch = feed.sinceLastFetchMs()
    return {
      ...base,
      mode: standby.mode,
      ...(standby.mode === 'semi_sync'
        ? { semiSyncOnTimeout: standby.semiSyncOnTimeout, semiSyncTimeoutMs: standby.semiSyncTimeoutMs }
        : {}),
      epochConfirmed: this.#confirmed,
      standby: state.peer,
      standbyConnected: sinceFetch < SILENT_STANDBY_MS,
      standbyLost: this.#standbyLost(),
      sinceStandbyFetchMs: Number.isFinite(sinceFetch) ? Math.round(sinceFetch) : null,
      lastIndex: this.#engine.logRange().lastIndex,
      acknowledgedIndex: feed.ackedIndex,
      lagEntries: feed.lagEntries(),
      lagSeconds: feed.lagSeconds(),
      writesWaitingForStandby: feed.waitingWrites,
    }
  }

  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    if (this.#probe !== undefined) clearInterval(this.#probe)
    if (this.#autoPromote !== undefined) clearInterval(this.#autoPromote)
    this.#lease?.stop()
    await this.#follower?.stop()
    this.#feed?.failWaiters(new Error('the node is stopping'))
    this.#feed?.wakeAll()
    for (const resolve of this.#onConfirmed.splice(0)) resolve()
    await this.#saving
    await this.p2p.stop()
  }

  #standbyLost(): boolean {
    const feed = this.#feed
    if (feed === undefined) return false
    const timeoutMs = this.#config.standby.semiSyncTimeoutMs
    return feed.sinceLastFetchMs() > timeoutMs || feed.lagSeconds() * 1000 > timeoutMs
  }

  #confirm(): void {
    this.#confirmed = true
    for (const resolve of this.#onConfirmed.splice(0)) resolve()
  }

  /** Records a change of the state durably; changes are written one at a time, in call order. */
  #save(change: Partial<StandbyState>): Promise<void> {
    this.#state = { ...this.#state, ...change }
    const snapshot = this.#state
    const write = this.#saving.then(() => writeStandbyState(this.#config.dataDir, snapshot))
    this.#saving = write.catch(() => {})
    return write
  }

  async #fence(byEpoch: number): Promise<void> {
    if (this.#state.role !== 'primary' || byEpoch <= this.#state.epoch) return
    await this.#save({ role: 'fenced', fencedByEpoch: byEpoch })
    this.#lease?.stop()
    this.#logger.warn(
      { epoch: this.#state.epoch, byEpoch },
      'standby: a standby was promoted past this primary; refusing writes from now on',
    )
    this.#feed?.failWaiters(primaryFenced(this.#state.epoch, byEpoch))
    this.#confirm()
  }

  /** A primary asks its standby's epoch while unconfirmed or while the standby is silent. */
  #probeStandby(): void {
    const peer = this.#state.peer
    const feed = this.#feed
    if (this.#probing || this.#stopped || peer === null || feed === undefined) return
    if (this.#state.role !== 'primary') return
    if (this.#confirmed && feed.sinceLastFetchMs() < SILENT_STANDBY_MS) return
    this.#probing = true
    const body: StandbyRequest = ['standby.status', {}]
    this.p2p
      .request(peer, body, { timeoutMs: 1000 })
      .then(async (answer) => {
        if (!isStatusResponse(answer)) return
        if (answer.epoch > this.#state.epoch) await this.#fence(answer.epoch)
        else if (answer.role === 'standby') this.#confirm()
      })
      .catch(() => {})
      .finally(() => {
        this.#probing = false
      })
  }

  async #handle(from: string, body: unknown): Promise<unknown> {
    const request = parseStandbyRequest(body)
    if (request === undefined) throw coded('bad_request', 'not a standby link request')
    switch (request[0]) {
      case 'standby.status':
        return { role: this.#state.role, epoch: this.#state.epoch }
      case 'standby.fence':
        await this.#fence(request[1].epoch)
        return { role: this.#state.role, epoch: this.#state.epoch }
      case 'standby.fetch': {
        const feed = this.#primaryFeed(request[1].epoch)
        const peer = request[1].peer
        if (peer.peerId !== from) throw coded('bad_request', 'a standby speaks only for itself')
        if (!samePeer(this.#state.peer, peer)) await this.#save({ peer })
        this.#confirm()
        return feed.fetch(request[1])
      }
      case 'standby.snapshot': {
        this.#primaryFeed(request[1].epoch)
        const meta = { standbySnapshot: 1, epoch: this.#state.epoch, nextTaskUid: this.#queue.nextTaskUid }
        await this.p2p.sendSnapshot(request[1].peer, meta, this.#engine.exportSnapshot())
        return { ok: true }
      }
    }
  }

  /** The feed, when this node is a primary a standby at `epoch` may follow. */
  #primaryFeed(epoch: number): StandbyFeed {
    if (epoch > this.#state.epoch && this.#state.role === 'primary') {
      void this.#fence(epoch)
      throw coded('primary_fenced', `this primary's epoch ${this.#state.epoch} is behind ${epoch}`)
    }
    if (this.#state.role === 'fenced') throw coded('primary_fenced', 'this primary is fenced')
    if (this.#state.role !== 'primary' || this.#feed === undefined)
      throw coded('not_primary', 'this node feeds no standby (start it with --standby-mode)')
    return this.#feed
  }

  /** Entries the standby lacks and for how long (see the metrics' help). */
  lag(): { entries: number; seconds: number } {
    const standby = this.searchLag()
    if (standby !== undefined) return standby
    if (this.#feed === undefined) return { entries: 0, seconds: 0 }
    return { entries: this.#feed.lagEntries(), seconds: this.#feed.lagSeconds() }
  }
}

function samePeer(a: PeerAddress | null, b: PeerAddress): boolean {
  return a !== null && a.peerId === b.peerId && a.addrs.join(' ') === b.addrs.join(' ')
}

function coded(code: string, message: string): Error {
  return Object.assign(new Error(message), { code })
}
