import { BackgroundWrites } from './background-writes.ts'
import {
  type ConfChange,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type NormalEntry,
  type RaftConfig,
  RaftCore,
  type RaftRng,
  type RaftStatus,
  type Ready,
  resolveRaftConfig,
  type SoftState,
} from './core/index.ts'
import { NotLeaderError, ProposalDroppedError, RaftRejectedError, RaftStoppedError } from './errors.ts'
import type { PersistBatch, RaftStorage } from './storage.ts'
import type { Transport } from './transport.ts'

/**
 * The replicated application. `apply` must be deterministic: every member applies the same entries
 * in order. Each method may return a promise: the node waits for it before the next step of the
 * group, so an asynchronous state machine still sees its entries one at a time, in log order.
 */
export interface StateMachine {
  /** Applies a committed command; the (awaited) return value resolves the proposer's promise on the member that proposed it. */
  apply(entry: NormalEntry): unknown
  /** An image of the state as of the last applied entry (consistent: no apply runs meanwhile). */
  snapshot(): Uint8Array | Promise<Uint8Array>
  /** Replaces the whole state with a snapshot's image (empty bytes: the initial, empty state). */
  restore(data: Uint8Array): void | Promise<void>
}

export interface RaftNodeOptions {
  /** Core configuration; `id` is required. */
  raft: Partial<RaftConfig> & { id: NodeId }
  storage: RaftStorage
  transport: Transport
  stateMachine: StateMachine
  /**
   * Milliseconds per logical tick; 0 means the owner calls `tick()` (a
   * multi-raft host ticks all its groups from one clock). @defaultValue 100
   */
  tickMs?: number
  /**
   * Milliseconds between two `tick()` calls when the owner runs the clock
   * (`tickMs` 0): with follower read leases (`RaftConfig.followerLeaseTicks`)
   * the node compares its ticks with real time and drops the lease when they
   * fall more than one tick behind over a lease's life (`RaftCore.clockSlipped`), and serves no
   * local read while they are. Without it (and with `tickMs` 0) no local read
   * is ever served. @defaultValue `tickMs`
   */
  leaseClockMs?: number
  /** Take a snapshot and compact the log after this many applied entries. @defaultValue 10000 */
  snapshotEntries?: number
  /** Randomness for election timeouts. @defaultValue a generator seeded from the id and the clock */
  rng?: RaftRng
  /** Called on every role, leader or term change. */
  onSoftState?: (state: SoftState) => void
  /** Called on every input (message, request, tick): a multi-raft host keeps such a group ticking. */
  onInput?: () => void
  /**
   * Called once when the node fails: its storage or state machine threw (a failed fsync, a full
   * disk). The node has stopped and failed every request; what it wrote may not be durable, so its
   * state must be recovered by a restart (the owner may stop the process: fail-stop).
   */
  onFailure?: (error: Error) => void
}

export interface RequestOptions {
  signal?: AbortSignal
}

/**
 * When a proposal resolves: `applied` (the default) once committed by a majority and applied
 * here, with the state machine's result; `durable` once the leader has made the entry durable in
 * its own log, with `undefined`, before any follower need hold it. A `durable` entry is
 * replicated and applied as any other, but it is lost if the leader is lost before a majority
 * holds it, and a later leader may replace it.
 */
export type ProposalAck = 'applied' | 'durable'

export interface ProposeOptions extends RequestOptions {
  ack?: ProposalAck
}

interface ProposalWaiter {
  term: number
  resolve: (value: unknown) => void
  reject: (error: Error) => void
  /** Resolves when the entry is durable here (`ProposalAck` `durable`) rather than applied. */
  durable?: true
}

interface QueuedProposal {
  data: Uint8Array
  resolve: (value: unknown) => void
  reject: (error: Error) => void
  durable?: true
}

interface ReadWaiter {
  resolve: () => void
  reject: (error: Error) => void
}

/**
 * Runs one Raft member: ticks from a clock, persists every Ready before it
 * sends (the order Raft requires), applies committed entries to the state
 * machine, and resolves `propose()` and `read()` calls. All calls into the
 * core happen on one loop; requests arriving while a Ready is being persisted
 * queue up and go into the next Ready together (batching).
 */
export class RaftNode {
  readonly id: NodeId
  readonly #options: RaftNodeOptions
  readonly #config: RaftConfig
  #core: RaftCore | null = null
  #timer: ReturnType<typeof setInterval> | null = null
  // Queues and waiters exist only while they hold something (null when empty),
  // so an idle group costs little memory: a host keeps thousands of them.
  #inbox: Message[] | null = null
  #proposals: QueuedProposal[] | null = null
  #confChanges: Array<{ change: ConfChange; waiter: Omit<ProposalWaiter, 'term'> }> | null = null
  #reads: ReadWaiter[] | null = null
  #ticks = 0
  #actions: Array<(core: RaftCore) => void> | null = null
  #waiting: Map<number, ProposalWaiter> | null = null
  #readContexts: Map<string, ReadWaiter[]> | null = null
  #confirmedReads: Array<{ index: number; waiters: ReadWaiter[] }> | null = null
  #readSeq = 0
  #running = false
  #stopped = false
  #failure: Error | null = null
  #sinceSnapshot = 0
  #idle: Array<() => void> | null = null
  /** Applied proposals waiting for `Ready.acknowledgedIndex` (follower read leases), in log order. */
  #unacknowledged: Array<{ index: number; waiter: ProposalWaiter; result: unknown }> | null = null
  /** Reads waiting for a follower read lease (`awaitLeaseRead`). */
  #leaseWaiters: Set<(ready: boolean) => void> | null = null
  /**
   * Follower read leases: the real times of this node's last ticks, oldest first (the last is the
   * current tick); empty until the first tick, or since the clock last slipped.
   */
  #tickTimes: number[] = []
  /** The member was quiesced when last seen (see `#noteQuiescence`). */
  #clockQuiet = false
  #savedHard: HardState = { term: 0, vote: null, commit: 0 }
  #latestHard: HardState = { term: 0, vote: null, commit: 0 }
  /** Whether the Ready being handled changes the term or vote (see `#toSave`). */
  #voteOrTermMoved = false
  /** A leader's own appends, written while the loop goes on (see `#handleReady`). */
  readonly #background = new BackgroundWrites()

  constructor(options: RaftNodeOptions) {
    this.#options = options
    this.#config = sharedConfig(options.raft)
    this.id = this.#config.id
  }

  /** Loads durable state and starts the clock. */
  async start(): Promise<void> {
    const stored = await this.#options.storage.load()
    const rng = this.#options.rng ?? seededRng(`${this.id}:${Date.now()}:${process.pid}`)
    this.#core = new RaftCore({ config: this.#config, rng, ...stored })
    this.#savedHard = stored.hardState
    this.#latestHard = stored.hardState
    await this.#options.stateMachine.restore(stored.snapshot.data)
    const tickMs = this.#options.tickMs ?? 100
    if (tickMs > 0) {
      this.#timer = setInterval(() => this.tick(), tickMs)
      this.#timer.unref?.()
    }
    this.#schedule()
  }

  /** Stops the clock and fails outstanding requests with `RaftStoppedError`. Does not close the storage. */
  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    if (this.#timer !== null) clearInterval(this.#timer)
    if (this.#running)
      await new Promise<void>((resolve) => {
        if (this.#idle === null) this.#idle = []
        this.#idle.push(resolve)
      })
    // The owner closes the storage next: no write may still be running then.
    await this.#background.drain().catch(() => {})
    this.#failAll(new RaftStoppedError())
  }

  /** One logical tick (for owners that run the clock themselves). */
  tick(): void {
    this.#ticks++
    this.#checkClock()
    this.#schedule()
  }

  /**
   * Follower read leases (`RaftConfig.followerLeaseTicks`): whether a read of
   * the state machine here, now, sees every write acknowledged anywhere in
   * the group before it (this member holds a valid lease, has applied its
   * index, and its clock keeps time). False: read through the leader. Either
   * way it counts as a read, which asks for the lease and keeps it renewed.
   */
  leaseRead(): boolean {
    const core = this.#core
    if (core === null || this.#stopped || this.#config.followerLeaseTicks === 0) return false
    this.#act((c) => c.noteLocalRead())
    this.#schedule()
    const index = core.followerReadIndex()
    if (index === null || core.log.applied < index) return false
    return this.#clockBehindTicks(performance.now()) <= 1
  }

  /**
   * Leader leases (`RaftConfig.leaseReads`): whether a read of the state
   * machine here, now, is linearizable without waiting for `read()` — this
   * member leads and holds its lease (`RaftCore.leaderReadIndex`), has applied
   * that read point, its clock keeps time, and no tick or message waits to be
   * fed to it (either could end the lease). It answers what `read()` would
   * resolve at once, without the promise and the turns of the loop in between.
   * True counts as a read (keeps the leader awake); false: use `read()`.
   */
  leaderLeaseRead(): boolean {
    const core = this.#core
    if (core === null || this.#stopped || this.#failure !== null) return false
    if (this.#ticks > 0 || this.#inbox !== null) return false
    const index = core.leaderReadIndex()
    if (index === null || core.log.applied < index) return false
    if (this.#clockBehindTicks(performance.now()) > 1) return false
    this.#act((c) => c.noteLeaderRead())
    this.#schedule()
    return true
  }

  /**
   * Resolves true as soon as `leaseRead()` would answer true here (a follower read lease granted
   * and its index applied), false when that does not come within `waitMs` or the node stops. It
   * asks for the lease at once (as `leaseRead()` does): a read that finds its lease lapsed can wait
   * one round trip to the leader for the renewal instead of reading through the leader.
   */
  awaitLeaseRead(waitMs: number): Promise<boolean> {
    if (this.leaseRead()) return Promise.resolve(true)
    if (this.#core === null || this.#stopped || this.#config.followerLeaseTicks === 0 || waitMs <= 0)
      return Promise.resolve(false)
    return new Promise<boolean>((resolve) => {
      const waiter = (ready: boolean): void => {
        clearTimeout(timer)
        resolve(ready)
      }
      const timer = setTimeout(() => {
        this.#leaseWaiters?.delete(waiter)
        if (this.#leaseWaiters?.size === 0) this.#leaseWaiters = null
        resolve(this.leaseRead())
      }, waitMs)
      if (this.#leaseWaiters === null) this.#leaseWaiters = new Set()
      this.#leaseWaiters.add(waiter)
    })
  }

  /** Settles the `awaitLeaseRead` waiters once the lease serves reads (or the node stopped). */
  #releaseLeaseWaiters(core: RaftCore): void {
    const waiters = this.#leaseWaiters
    if (waiters === null) return
    if (!this.#stopped) {
      const index = core.followerReadIndex()
      if (index === null || core.log.applied < index) return
      if (this.#clockBehindTicks(performance.now()) > 1) return
    }
    this.#leaseWaiters = null
    for (const waiter of waiters) waiter(!this.#stopped)
  }

  /**
   * How many ticks this node's clock lags real time (Infinity: unknown): the most, over the ticks
   * it remembers, that real time since one of them exceeds the ticks counted since. Only the last
   * `followerLeaseTicks + 2` ticks are remembered, which a lease's life never outlasts (it runs
   * from the tick it was asked at): a repeating timer re-armed from each late run lags a little
   * more with every tick, and over a whole run of the process that adds up to a tick behind within
   * seconds on a busy machine, which says nothing about the lease held now.
   */
  #clockBehindTicks(nowMs: number): number {
    const tickMs = this.#options.leaseClockMs ?? this.#options.tickMs ?? 100
    const times = this.#tickTimes
    if (tickMs <= 0 || times.length === 0) return Number.POSITIVE_INFINITY
    let behind = Number.NEGATIVE_INFINITY
    for (let i = 0; i < times.length; i++)
      behind = Math.max(behind, (nowMs - (times[i] as number)) / tickMs - (times.length - 1 - i))
    return behind
  }

  /**
   * A quiesced member's clock stands still (its owner stops ticking it, and it holds no lease):
   * when it wakes, the check of its clock against real time starts again from then, as at a tick,
   * so the pause is not taken for a stalled clock (which would drop the lease it asks for now).
   */
  #noteQuiescence(core: RaftCore): void {
    if (core.quiesced) this.#clockQuiet = true
    else if (this.#clockQuiet) {
      this.#clockQuiet = false
      if (this.#config.followerLeaseTicks === 0) return
      this.#tickTimes = [performance.now()]
    }
  }

  #checkClock(): void {
    if (this.#config.followerLeaseTicks === 0) return
    const now = performance.now()
    const times = this.#tickTimes
    times.push(now)
    if (times.length > this.#config.followerLeaseTicks + 2) times.shift()
    if (times.length > 1 && this.#clockBehindTicks(now) > 1) {
      this.#act((core) => core.clockSlipped())
      this.#tickTimes = [now]
    }
  }

  /** Delivers a message from the transport. */
  receive(message: Message): void {
    if (this.#stopped) return
    if (this.#inbox === null) this.#inbox = []
    this.#inbox.push(message)
    this.#schedule()
  }

  /**
   * Replicates `data`; resolves with the state machine's result once the entry
   * is committed and applied here. Rejects with `NotLeaderError` on a
   * follower, `ProposalDroppedError` when a new leader replaced it.
   */
  propose(data: Uint8Array, options: ProposeOptions = {}): Promise<unknown> {
    const durable = options.ack === 'durable'
    if (options.ack !== undefined && options.ack !== 'applied' && !durable)
      return Promise.reject(new TypeError(`unknown proposal ack ${String(options.ack)}`))
    return this.#request(options, (resolve, reject) => {
      if (this.#proposals === null) this.#proposals = []
      this.#proposals.push({ data, resolve, reject, ...(durable ? { durable: true as const } : {}) })
    })
  }

  /** Proposes a membership change; resolves once it is applied. */
  proposeConfChange(change: ConfChange, options: RequestOptions = {}): Promise<void> {
    return this.#request(options, (resolve, reject) => {
      if (this.#confChanges === null) this.#confChanges = []
      this.#confChanges.push({ change, waiter: { resolve: () => resolve(), reject } })
    })
  }

  /** Resolves when a linearizable read of the state machine may proceed here (ReadIndex). */
  read(options: RequestOptions = {}): Promise<void> {
    return this.#request(options, (resolve, reject) => {
      if (this.#reads === null) this.#reads = []
      this.#reads.push({ resolve: () => resolve(), reject })
    })
  }

  /** Asks this member, when it leads, to hand leadership to `to` (Raft thesis §3.10). */
  transferLeadership(to: NodeId): void {
    this.#act((core) => core.transferLeadership(to))
    this.#schedule()
  }

  /** Ends quiescence because of local work (see `RaftCore.wake`). */
  wake(): void {
    this.#act((core) => core.wake())
    this.#schedule()
  }

  /** Node-level liveness of a peer, from a failure detector such as SWIM (see `RaftCore.setPeerLiveness`). */
  setPeerLiveness(id: NodeId, alive: boolean): void {
    this.#act((core) => core.setPeerLiveness(id, alive))
    this.#schedule()
  }

  /** The transport lost its connection to `id` (see `RaftCore.peerUnreachable`). */
  peerUnreachable(id: NodeId): void {
    this.#act((core) => core.peerUnreachable(id))
    this.#schedule()
  }

  /** True while the group is quiesced here: ticks are no-ops and nothing is sent. */
  get quiesced(): boolean {
    return this.#core?.quiesced ?? false
  }

  /** Messages ignored because their sender is outside the configuration (see `RaftStatus`). */
  get outsiderMessagesIgnored(): number {
    return this.#core?.status().outsiderMessagesIgnored ?? 0
  }

  /** Starts an election at once (for tests and operators). */
  campaign(): void {
    this.#act((core) => core.campaign())
    this.#schedule()
  }

  status(): RaftStatus {
    if (this.#core === null) throw new RaftStoppedError('raft node not started')
    return this.#core.status()
  }

  get isLeader(): boolean {
    return this.#core?.role === 'leader'
  }

  get leader(): NodeId | null {
    return this.#core?.leader ?? null
  }

  /** Whether `id` is a voter or a learner of this member's group. */
  isMember(id: NodeId): boolean {
    return this.#core?.isMember(id) ?? false
  }

  #request<T>(
    options: RequestOptions,
    enqueue: (resolve: (v: T) => void, reject: (e: Error) => void) => void,
  ): Promise<T> {
    if (this.#failure !== null) return Promise.reject(this.#failure)
    if (this.#stopped) return Promise.reject(new RaftStoppedError())
    const signal = options.signal
    if (signal?.aborted) return Promise.reject(signal.reason)
    if (signal === undefined) {
      // Nothing can settle it but the node: no wrappers, no listener (one request per write).
      return new Promise<T>((resolve, reject) => {
        enqueue(resolve, reject)
        this.#schedule()
      })
    }
    return new Promise<T>((resolve, reject) => {
      let settled = false
      const onAbort = (): void => {
        if (settled) return
        settled = true
        reject(signal.reason)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      enqueue(
        (value) => {
          if (settled) return
          settled = true
          signal.removeEventListener('abort', onAbort)
          resolve(value)
        },
        (error) => {
          if (settled) return
          settled = true
          signal.removeEventListener('abort', onAbort)
          reject(error)
        },
      )
      this.#schedule()
    })
  }

  #schedule(): void {
    this.#options.onInput?.()
    if (this.#running || this.#stopped || this.#core === null) return
    this.#running = true
    queueMicrotask(() => {
      this.#loop().catch((error: unknown) => this.#fail(error))
    })
  }

  /** The single loop: feed queued input, then handle Readys until there is nothing left to do. */
  async #loop(): Promise<void> {
    const core = this.#core as RaftCore
    try {
      while (!this.#stopped) {
        this.#feed(core)
        this.#noteQuiescence(core)
        if (!core.hasReady()) break
        const rd = core.ready()
        await this.#handleReady(core, rd)
        this.#releaseLeaseWaiters(core)
      }
      this.#releaseLeaseWaiters(core)
    } finally {
      this.#running = false
      const idle = this.#idle
      this.#idle = null
      for (const resolve of idle ?? []) resolve()
    }
    if (!this.#stopped && this.#hasInput()) this.#schedule()
  }

  #hasInput(): boolean {
    return (
      this.#ticks > 0 ||
      this.#background.hasDurable ||
      this.#actions !== null ||
      this.#inbox !== null ||
      this.#proposals !== null ||
      this.#confChanges !== null ||
      this.#reads !== null
    )
  }

  #feed(core: RaftCore): void {
    this.#notePersisted(core)
    for (; this.#ticks > 0; this.#ticks--) core.tick()
    const inbox = this.#inbox
    this.#inbox = null
    if (inbox !== null) for (const message of inbox) core.step(message)
    const actions = this.#actions
    this.#actions = null
    if (actions !== null) for (const action of actions) action(core)
    if (this.#proposals !== null) this.#feedProposals(core, this.#proposals)
    const changes = this.#confChanges
    this.#confChanges = null
    for (const { change, waiter } of changes ?? []) {
      const result = core.proposeConfChange(change)
      if (result.ok) this.#wait(result.index, { ...waiter, term: result.term })
      else if (result.reason === 'notLeader') waiter.reject(new NotLeaderError(result.leader))
      else waiter.reject(new RaftRejectedError(result.reason))
    }
    if (this.#reads !== null) {
      const waiters = this.#reads
      this.#reads = null
      const context = `${this.id}:${++this.#readSeq}`
      if (!core.readIndex(context)) for (const w of waiters) w.reject(new NotLeaderError(core.leader))
      else {
        if (this.#readContexts === null) this.#readContexts = new Map()
        this.#readContexts.set(context, waiters)
      }
    }
  }

  #feedProposals(core: RaftCore, batch: QueuedProposal[]): void {
    this.#proposals = null
    const result = core.proposeBatch(batch.map((p) => p.data))
    if (!result.ok) {
      const error =
        result.reason === 'notLeader'
          ? new NotLeaderError(result.leader)
          : new RaftRejectedError(result.reason)
      for (const p of batch) p.reject(error)
      return
    }
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i] as QueuedProposal
      const waiter: ProposalWaiter = { term: result.term, resolve: p.resolve, reject: p.reject }
      if (p.durable === true) waiter.durable = true
      this.#wait(result.index + i, waiter)
    }
  }

  /**
   * Send the leader's replication traffic, persist, then send the rest, then
   * apply, then advance (see `Ready`): the leader's fsync overlaps the
   * followers' (Raft thesis §10.2.1), a follower still acknowledges only what
   * it has made durable. A Ready whose entries nothing promises (no
   * `messages`, no snapshot, no new term or vote: a leader's own appends) is
   * written in the background, so the loop goes on stepping the followers'
   * acknowledgements, which commit the entries without waiting for the
   * leader's own fsync; its own match moves once that write is durable
   * (`RaftCore.entriesPersisted`). Any other write, and any message that
   * promises durable state, waits for the background writes first.
   */
  async #handleReady(core: RaftCore, rd: Ready): Promise<void> {
    this.#send(rd.earlyMessages)
    const batch = this.#toSave(rd)
    const background = batch !== null && this.#mayWriteInBackground(rd)
    if (background) this.#writeInBackground(rd, batch)
    else if (batch !== null || rd.messages.length > 0) {
      await this.#background.drain()
      if (batch !== null) await this.#save(batch)
      this.#releaseDurable(rd.entries)
    }
    this.#send(rd.messages)
    const sm = this.#options.stateMachine
    if (rd.snapshot !== null) {
      await sm.restore(rd.snapshot.data)
      this.#sinceSnapshot = 0
      this.#dropWaitersUpTo(rd.snapshot.meta.index)
    }
    for (const entry of rd.committedEntries) {
      let result = entry.kind === 'normal' && entry.data.byteLength > 0 ? sm.apply(entry) : undefined
      if (result instanceof Promise) result = await result
      const waiter = this.#waiting?.get(entry.index)
      // A `durable` proposal waits for the leader's own write, which may end after the apply.
      if (waiter !== undefined && waiter.durable !== true) {
        this.#unwait(entry.index)
        if (waiter.term !== entry.term) waiter.reject(new ProposalDroppedError(entry.index))
        else if (entry.index <= rd.acknowledgedIndex) waiter.resolve(result)
        else {
          if (this.#unacknowledged === null) this.#unacknowledged = []
          this.#unacknowledged.push({ index: entry.index, waiter, result })
        }
      }
    }
    this.#sinceSnapshot += rd.committedEntries.length
    for (const read of rd.readStates) {
      const waiters = this.#readContexts?.get(read.context)
      if (waiters === undefined) continue
      this.#readContexts?.delete(read.context)
      if (this.#readContexts?.size === 0) this.#readContexts = null
      if (this.#confirmedReads === null) this.#confirmedReads = []
      this.#confirmedReads.push({ index: read.index, waiters })
    }
    core.advance(rd, { entriesDurable: !background })
    this.#releaseReads(core.log.applied)
    this.#releaseAcknowledged(core.acknowledgedIndex)
    if (rd.softState !== null) this.#onSoftState(rd.softState)
    if (this.#sinceSnapshot >= (this.#options.snapshotEntries ?? 10_000)) {
      // Compaction replaces the log up to the applied index: every entry of it is durable first.
      await this.#background.drain()
      this.#notePersisted(core)
      await this.#takeSnapshot(core)
    } else if (rd.snapshotRequested) await this.#offerSnapshot(core)
  }

  /**
   * Stores what the Ready asks for. A change of the commit index alone is not
   * worth an fsync (etcd does the same): a restarted member relearns it from
   * the leader, so it rides along with the next write that must be durable.
   */
  #toSave(rd: Ready): PersistBatch | null {
    const previous = this.#latestHard
    if (rd.hardState !== null) this.#latestHard = rd.hardState
    const saved = this.#savedHard
    const latest = this.#latestHard
    const voteOrTermChanged = latest.term !== saved.term || latest.vote !== saved.vote
    this.#voteOrTermMoved = latest.term !== previous.term || latest.vote !== previous.vote
    if (rd.entries.length === 0 && rd.snapshot === null && !voteOrTermChanged) return null
    const hardState = latest.commit === saved.commit && !voteOrTermChanged ? null : latest
    return { hardState, entries: rd.entries, snapshot: rd.snapshot }
  }

  async #save(batch: PersistBatch): Promise<void> {
    await this.#options.storage.save(batch)
    if (batch.hardState !== null) this.#savedHard = batch.hardState
  }

  /** See `#handleReady` and `RaftCore.advance`. */
  #mayWriteInBackground(rd: Ready): boolean {
    return rd.entries.length > 0 && rd.messages.length === 0 && rd.snapshot === null && !this.#voteOrTermMoved
  }

  #writeInBackground(rd: Ready, batch: PersistBatch): void {
    this.#background.enqueue(
      rd.entries[rd.entries.length - 1] as Entry,
      () => this.#save(batch),
      () => {
        this.#releaseDurable(rd.entries)
        this.#schedule()
      },
      (error) => this.#fail(error),
    )
  }

  /** Tells the core which background writes are durable (outside a Ready). */
  #notePersisted(core: RaftCore): void {
    const durable = this.#background.takeDurable()
    if (durable !== null) core.entriesPersisted(durable.index, durable.term)
  }

  #send(messages: readonly Message[]): void {
    if (messages.length === 0) return
    const byDestination = new Map<NodeId, Message[]>()
    for (const m of messages) {
      const list = byDestination.get(m.to)
      if (list === undefined) byDestination.set(m.to, [m])
      else list.push(m)
    }
    for (const [to, list] of byDestination) this.#options.transport.send(to, list)
  }

  /** Resolves the `durable` proposals among `entries`, which are now durable here. */
  #releaseDurable(entries: Ready['entries']): void {
    if (this.#waiting === null) return
    for (const entry of entries) {
      const waiter = this.#waiting.get(entry.index)
      if (waiter?.durable !== true) continue
      this.#unwait(entry.index)
      if (waiter.term === entry.term) waiter.resolve(undefined)
      else waiter.reject(new ProposalDroppedError(entry.index))
    }
  }

  /** Applied proposals a follower read lease held back (see `Ready.acknowledgedIndex`). */
  #releaseAcknowledged(acknowledged: number): void {
    const parked = this.#unacknowledged
    if (parked === null) return
    let released = 0
    while (released < parked.length && (parked[released]?.index ?? Infinity) <= acknowledged) {
      const { waiter, result } = parked[released] as (typeof parked)[number]
      waiter.resolve(result)
      released++
    }
    if (released === parked.length) this.#unacknowledged = null
    else if (released > 0) parked.splice(0, released)
  }

  #releaseReads(applied: number): void {
    if (this.#confirmedReads === null) return
    const pending = this.#confirmedReads.filter((read) => {
      if (read.index > applied) return true
      for (const w of read.waiters) w.resolve()
      return false
    })
    this.#confirmedReads = pending.length === 0 ? null : pending
  }

  #onSoftState(state: SoftState): void {
    if (state.role !== 'leader') {
      // Confirmations in flight are void once leadership is lost.
      const error = new NotLeaderError(state.leader)
      this.#failReads(error)
    }
    this.#options.onSoftState?.(state)
  }

  /** A snapshot install skipped entries: proposals at those positions have an unknown outcome. */
  #dropWaitersUpTo(index: number): void {
    for (const [at, waiter] of this.#waiting ?? []) {
      if (at > index) continue
      this.#unwait(at)
      waiter.reject(new RaftStoppedError(`outcome of proposal at ${at} unknown: replaced by a snapshot`))
    }
  }

  async #takeSnapshot(core: RaftCore): Promise<void> {
    const data = await this.#options.stateMachine.snapshot()
    const snapshot = core.compact(core.log.applied, data)
    await this.#options.storage.saveSnapshot(snapshot)
    this.#sinceSnapshot = 0
  }

  /** A snapshot for a new replica to catch up from; the log stays (see `catchUpSnapshotBytes`). */
  async #offerSnapshot(core: RaftCore): Promise<void> {
    const data = await this.#options.stateMachine.snapshot()
    core.offerSnapshot(core.log.applied, data)
  }

  #fail(error: unknown): void {
    // Once only: a failed background write is also thrown at the loop's next wait for it.
    if (this.#failure !== null) return
    this.#failure = new RaftStoppedError(
      'raft node failed; its durable state must be recovered by a restart',
      {
        cause: error,
      },
    )
    this.#stopped = true
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#failAll(this.#failure)
    this.#options.onFailure?.(this.#failure)
  }

  #failAll(error: Error): void {
    const proposals = this.#proposals
    const changes = this.#confChanges
    const reads = this.#reads
    const waiting = this.#waiting
    const parked = this.#unacknowledged
    this.#unacknowledged = null
    this.#proposals = null
    this.#confChanges = null
    this.#reads = null
    this.#waiting = null
    for (const p of proposals ?? []) p.reject(error)
    for (const c of changes ?? []) c.waiter.reject(error)
    for (const r of reads ?? []) r.reject(error)
    for (const w of waiting?.values() ?? []) w.reject(error)
    for (const p of parked ?? []) p.waiter.reject(error)
    this.#failReads(error)
    const leaseWaiters = this.#leaseWaiters
    this.#leaseWaiters = null
    for (const waiter of leaseWaiters ?? []) waiter(false)
  }

  /** Fails the reads waiting for a leadership confirmation or for their index to be applied. */
  #failReads(error: Error): void {
    const contexts = this.#readContexts
    const confirmed = this.#confirmedReads
    this.#readContexts = null
    this.#confirmedReads = null
    for (const waiters of contexts?.values() ?? []) for (const w of waiters) w.reject(error)
    for (const read of confirmed ?? []) for (const w of read.waiters) w.reject(error)
  }

  #act(action: (core: RaftCore) => void): void {
    if (this.#actions === null) this.#actions = []
    this.#actions.push(action)
  }

  #wait(index: number, waiter: ProposalWaiter): void {
    if (this.#waiting === null) this.#waiting = new Map()
    this.#waiting.set(index, waiter)
  }

  #unwait(index: number): void {
    this.#waiting?.delete(index)
    if (this.#waiting?.size === 0) this.#waiting = null
  }
}

/**
 * Resolved configurations by the frozen options object they came from: the
 * groups of a multi-raft host pass one frozen options object, so they share
 * one resolved configuration instead of a copy each (a frozen object cannot
 * change after it was resolved). The core never writes to its configuration.
 */
const resolvedConfigs = new WeakMap<object, RaftConfig>()

function sharedConfig(raft: Partial<RaftConfig> & { id: NodeId }): RaftConfig {
  if (!Object.isFrozen(raft)) return resolveRaftConfig(raft)
  let config = resolvedConfigs.get(raft)
  if (config === undefined) {
    config = Object.freeze(resolveRaftConfig(raft))
    resolvedConfigs.set(raft, config)
  }
  return config
}

/** A small seeded generator (mulberry32) for election jitter outside simulations. */
export function seededRng(seedText: string): RaftRng {
  let h = 2166136261
  for (let i = 0; i < seedText.length; i++) h = Math.imul(h ^ seedText.charCodeAt(i), 16777619)
  return new Mulberry32(h >>> 0)
}

/** A class rather than a closure: one small object per group of a host. */
class Mulberry32 implements RaftRng {
  #state: number

  constructor(seed: number) {
    this.#state = seed
  }

  int(bound: number): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0
    let t = this.#state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * bound)
  }
}
