import {
  type Message,
  type NodeId,
  type RaftConfig,
  RaftConfigError,
  resolveRaftConfig,
  type SnapshotMessage,
} from './core/index.ts'
import {
  NotLeaderError,
  RaftRejectedError,
  RaftStoppedError,
  RaftTimeoutError,
  UnknownGroupError,
} from './errors.ts'
import { Forwarder, type ForwardOutcome } from './forwarder.ts'
import {
  type ForwardItem,
  failureItem,
  type HostFrame,
  type HostFrameItem,
  isFrameItem,
  isMessageFor,
} from './host-frame.ts'
import type {
  AddGroupOptions,
  HostProposeOptions,
  NodeLiveness,
  RaftHostMetrics,
  RaftHostOptions,
} from './host-options.ts'
import { SnapshotStreams } from './host-snapshots.ts'
import { type GroupSink, HostedGroup } from './hosted-group.ts'
import type { ProposalAck, RaftNode } from './node.ts'
import { SharedWal } from './shared-wal.ts'

const now = (): number => performance.now()

/**
 * Many Raft groups in one process: one clock ticks the groups that are awake,
 * one transport carries every group's traffic in one frame per destination
 * node per flush, followers forward proposals to their leader, and idle groups
 * quiesce while a node-level failure detector (`setNodeLiveness`) stands in for
 * their heartbeats.
 */
export class RaftHost {
  readonly nodeId: NodeId
  readonly #options: RaftHostOptions
  /** Every group's core options: one frozen object, so the groups share one resolved configuration. */
  readonly #raft: Readonly<Partial<RaftConfig> & { id: NodeId }>
  /** The same settings with lease reads on, shared by the groups that ask for them. */
  #raftLease: Readonly<Partial<RaftConfig> & { id: NodeId }> | null = null
  #raftFollowerLease: Readonly<Partial<RaftConfig> & { id: NodeId }> | null = null
  readonly #groups = new Map<string, HostedGroup>()
  /** Groups the clock ticks; a quiesced group leaves at the next tick and returns on any input. */
  readonly #awake = new Set<HostedGroup>()
  readonly #dead = new Set<NodeId>()
  /** Nodes whose connection the transport reported closed, until it reopens or a frame arrives from them. */
  readonly #unreachable = new Set<NodeId>()
  readonly #forwarder: Forwarder
  readonly #sink: GroupSink
  #outbox = new Map<NodeId, HostFrameItem[]>()
  #flushScheduled = false
  #timer: ReturnType<typeof setInterval> | null = null
  #stopped = false
  #shared: Promise<SharedWal> | null = null
  readonly #counts = {
    flushes: 0,
    framesSent: 0,
    itemsSent: 0,
    raftMessagesSent: 0,
    groupTicks: 0,
    framesReceived: 0,
    itemsReceived: 0,
    itemsDropped: 0,
    forwardsSent: 0,
    forwardsServed: 0,
    snapshotsSent: 0,
    snapshotsFailed: 0,
    snapshotsSuperseded: 0,
    snapshotsReceived: 0,
    snapshotsDropped: 0,
    peerSuspicions: 0,
    suspicionWakes: 0,
    forwardsFailedUnreachable: 0,
  }
  /** The stream path for snapshot messages, when the transport has one. */
  readonly #snapshots: SnapshotStreams | null
  readonly #byPeer = new Map<NodeId, { frames: number; items: number }>()
  readonly #byType = new Map<string, number>()

  constructor(options: RaftHostOptions) {
    if ((options.storage === undefined) === (options.storageRoot === undefined))
      throw new RaftConfigError('RaftHost needs exactly one of storageRoot and storage')
    if (options.sharedWal !== undefined && options.storageRoot === undefined)
      throw new RaftConfigError('RaftHost option sharedWal applies to a storageRoot only')
    for (const key of ['tickMs', 'proposeTimeoutMs', 'leaderWaitMs'] as const) {
      const value = options[key]
      if (value !== undefined && !(Number.isFinite(value) && value >= (key === 'tickMs' ? 0 : 1)))
        throw new RaftConfigError(
          `RaftHost option ${key} must be a ${key === 'tickMs' ? 'non-negative' : 'positive'} number`,
        )
    }
    // Every group uses these settings: refuse impossible ones now rather than at the first addGroup.
    this.#raft = Object.freeze({ quiesce: true, ...options.raft, id: options.nodeId })
    resolveRaftConfig(this.#raft)
    this.#options = options
    this.nodeId = options.nodeId
    this.#sink = {
      sendRaft: (group, to, messages) => this.#enqueueRaft(group, to, messages),
      awaken: (hosted) => {
        if (this.#groups.get(hosted.name) === hosted) this.#awake.add(hosted)
      },
    }
    this.#forwarder = new Forwarder((to, item) => {
      this.#counts.forwardsSent++
      this.#enqueue(to, item)
    })
    const transport = options.transport
    this.#snapshots =
      transport.sendSnapshot === undefined
        ? null
        : new SnapshotStreams(
            (to, group, message) => transport.sendSnapshot?.(to, group, message) ?? Promise.resolve(),
            this.#counts,
          )
  }

  /** Starts the shared clock (unless `tickMs` is 0). */
  start(): void {
    const tickMs = this.#options.tickMs ?? 100
    if (this.#timer !== null || tickMs === 0) return
    this.#timer = setInterval(() => this.tick(), tickMs)
    this.#timer.unref?.()
  }

  /** Stops the clock and every group, fails pending forwards, and closes the groups' storage. */
  async stop(): Promise<void> {
    this.#stopped = true
    this.#snapshots?.stop()
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    this.#forwarder.failAll(
      new RaftStoppedError('raft host stopped; outcome of the forwarded proposal unknown'),
    )
    for (const name of [...this.#groups.keys()]) await this.removeGroup(name)
    const shared = this.#shared
    this.#shared = null
    if (shared !== null) await (await shared.catch(() => null))?.close()
  }

  /** One tick of every awake group; quiesced groups cost nothing. */
  tick(): void {
    for (const hosted of this.#awake) {
      if (hosted.node.quiesced) this.#awake.delete(hosted)
      else {
        this.#counts.groupTicks++
        hosted.node.tick()
      }
    }
  }

  /** Starts hosting `group` (recovering it from storage when it exists). */
  async addGroup(group: string, options: AddGroupOptions): Promise<RaftNode> {
    if (this.#stopped) throw new RaftStoppedError('raft host stopped')
    if (this.#groups.has(group)) throw new Error(`group ${group} is already hosted`)
    const factory = this.#options.storage
    const storage =
      factory !== undefined
        ? factory(group, options.bootstrap)
        : (await this.#sharedWal()).storage(group, options.bootstrap)
    const hosted = new HostedGroup(
      this.#sink,
      group,
      this.#groupConfig(options),
      storage,
      options.stateMachine,
      options.snapshotEntries,
      this.#options.rng?.(group),
      this.#options.tickMs ?? 100,
    )
    const node = hosted.node
    this.#groups.set(group, hosted)
    this.#awake.add(hosted)
    await node.start()
    for (const dead of this.#dead) if (node.isMember(dead)) node.setPeerLiveness(dead, false)
    return node
  }

  #groupConfig(options: AddGroupOptions): Readonly<Partial<RaftConfig> & { id: NodeId }> {
    if (options.followerLeases === true) {
      if (options.leaseReads !== true) throw new RaftConfigError('followerLeases requires leaseReads')
      if (this.#raftFollowerLease === null) {
        const electionTicks = resolveRaftConfig(this.#raft).electionTicks
        this.#raftFollowerLease = Object.freeze({
          followerLeaseTicks: Math.max(5, Math.floor(electionTicks / 2)),
          ...this.#raft,
          leaseReads: true,
        })
        resolveRaftConfig(this.#raftFollowerLease)
      }
      return this.#raftFollowerLease
    }
    return options.leaseReads === true ? this.#leaseConfig() : this.#raft
  }

  #leaseConfig(): Readonly<Partial<RaftConfig> & { id: NodeId }> {
    if (this.#raftLease === null) {
      this.#raftLease = Object.freeze({ ...this.#raft, leaseReads: true })
      resolveRaftConfig(this.#raftLease)
    }
    return this.#raftLease
  }

  #sharedWal(): Promise<SharedWal> {
    this.#shared ??= SharedWal.open(this.#options.storageRoot as string, this.#options.sharedWal)
    return this.#shared
  }

  /**
   * Stops hosting `group`. Its storage stays on disk unless `destroy` is set (the replica was
   * removed for good): then its log, hard state and snapshot are forgotten durably, and adding
   * the group again starts it empty.
   */
  async removeGroup(group: string, options: { destroy?: boolean } = {}): Promise<void> {
    const hosted = this.#groups.get(group)
    if (hosted === undefined) return
    this.#groups.delete(group)
    this.#awake.delete(hosted)
    for (const wake of hosted.leaderWaiters ?? []) wake()
    await hosted.node.stop()
    await hosted.storage.close()
    if (options.destroy === true) await hosted.storage.destroy?.()
  }

  group(name: string): RaftNode | undefined {
    return this.#groups.get(name)?.node
  }

  get groups(): string[] {
    return [...this.#groups.keys()]
  }

  /**
   * Replicates `data` in `group` from any member: on the leader it is proposed
   * here; on a follower it is forwarded to the leader and the result (or the
   * leader's typed error) comes back. Bounded by `timeoutMs` and `signal`.
   * Refusals that prove the entry was never appended (the node asked was no
   * longer leader, or was handing leadership over) are retried with the next
   * leader within the deadline; nothing is resent once a leader accepted it.
   * A `RaftTimeoutError`, `RaftStoppedError` or an abort leaves the outcome
   * unknown: the entry may still commit, and a retry may apply it twice unless
   * the command is idempotent. Rejects with `NotLeaderError` when no leader
   * becomes known within `leaderWaitMs`.
   */
  async propose(group: string, data: Uint8Array, options: HostProposeOptions = {}): Promise<unknown> {
    const hosted = this.#groups.get(group)
    if (hosted === undefined) throw new UnknownGroupError(group, this.nodeId)
    const { signal } = options
    signal?.throwIfAborted()
    const deadline = now() + (options.timeoutMs ?? this.#options.proposeTimeoutMs ?? 10_000)
    hosted.node.wake()
    let avoid: NodeId | null = null
    let hint: NodeId | null = null
    for (;;) {
      const leader: NodeId = hint ?? (await this.#leaderOf(hosted, avoid, deadline, signal))
      hint = null
      signal?.throwIfAborted()
      const remaining = deadline - now()
      if (remaining <= 0) throw new RaftTimeoutError(`proposal to group ${group} timed out`)
      // Only the leader knows when its own log holds the entry: a durable ack is not forwarded.
      if (options.ack === 'durable' && leader !== this.nodeId) throw new NotLeaderError(leader)
      const outcome: ForwardOutcome =
        leader === this.nodeId
          ? await this.#proposeHere(hosted, data, remaining, signal, options.ack)
          : await this.#forwarder.forward(leader, group, data, remaining, signal)
      if (outcome.ok) return outcome.value
      if (!outcome.retriable) throw outcome.error
      avoid = leader
      if (outcome.leader !== null && outcome.leader !== leader) hint = outcome.leader
    }
  }

  /**
   * Node-level liveness from a failure detector. A change wakes every group
   * with a replica on `node`: followers whose leader died campaign, leaders
   * stop waiting for a dead follower, so it does not keep them awake.
   */
  setNodeLiveness(node: NodeId, liveness: NodeLiveness): void {
    if (liveness !== 'alive' && liveness !== 'dead')
      throw new TypeError(`unknown liveness ${String(liveness)}`)
    if (node === this.nodeId) return
    const alive = liveness === 'alive'
    if (alive !== this.#dead.has(node)) return
    if (alive) this.#dead.delete(node)
    else this.#dead.add(node)
    for (const hosted of this.#groups.values())
      if (hosted.node.isMember(node)) hosted.node.setPeerLiveness(node, alive)
  }

  /**
   * The transport lost its connection to `node` (a reset socket: its process
   * died, or the link broke). A suspicion, not a verdict, that stands in for
   * the heartbeats a quiesced group no longer sends:
   * - each group whose leader here is `node` wakes (if quiesced) and
   *   campaigns (pre-vote first) within `leaderLossCampaignTicks` instead of an
   *   election timeout; until a frame from `node` arrives, its member here
   *   grants the campaigns of members that lost `node` too
   *   (`RaftCore.leaderUnreachable`). While the leader lives, the pre-vote is
   *   refused by every member that still hears it and wakes the leader, whose
   *   heartbeats end the campaign: no term changes, nothing committed is lost;
   * - proposals forwarded to `node` and not answered fail at once with
   *   `RaftUnreachableError` (outcome unknown) instead of at their deadline;
   * - `propose()` forwards nothing to `node` while the suspicion lasts; it
   *   waits for another leader (up to `leaderWaitMs`).
   * The suspicion ends with `peerReachable(node)` or any frame from `node`.
   */
  peerUnreachable(node: NodeId): void {
    if (node === this.nodeId || this.#stopped) return
    this.#counts.forwardsFailedUnreachable += this.#forwarder.failTo(node)
    if (this.#unreachable.has(node)) return
    this.#unreachable.add(node)
    this.#counts.peerSuspicions++
    for (const hosted of this.#groups.values()) {
      const member = hosted.node
      // A leader here stops counting what `node` acknowledged toward its lease (RaftCore.peerUnreachable).
      if (member.leader === node && member.quiesced) this.#counts.suspicionWakes++
      member.peerUnreachable(node)
    }
  }

  /** The transport reaches `node` again: its suspicion (see `peerUnreachable`) ends. */
  peerReachable(node: NodeId): void {
    if (!this.#unreachable.delete(node)) return
    // Proposals waiting for a usable leader may use this one again.
    for (const hosted of this.#groups.values()) {
      if (hosted.leaderWaiters === null || hosted.node.leader !== node) continue
      for (const check of [...hosted.leaderWaiters]) check()
    }
  }

  /**
   * Delivers a frame that arrived from another node. Items that are malformed,
   * addressed elsewhere or for a group this host does not have are dropped
   * and counted (`itemsDropped`); nothing in a frame can fail a group.
   */
  receive(frame: HostFrame): void {
    if (this.#stopped) return
    this.#counts.framesReceived++
    const items: unknown = (frame as { items?: unknown } | null)?.items
    const from: unknown = (frame as { from?: unknown } | null)?.from
    if (!Array.isArray(items) || typeof from !== 'string') {
      this.#counts.itemsDropped++
      return
    }
    // A frame is proof of a working link.
    if (this.#unreachable.size > 0) this.peerReachable(from)
    for (const item of items) {
      this.#counts.itemsReceived++
      if (!isFrameItem(item)) {
        this.#counts.itemsDropped++
        continue
      }
      if (item.kind === 'raft') {
        const hosted = this.#groups.get(item.group)
        if (hosted === undefined || !isMessageFor(item.message, this.nodeId)) this.#counts.itemsDropped++
        else hosted.node.receive(item.message)
      } else if (item.kind === 'forward') this.#serveForward(from, item)
      else this.#forwarder.settle(item)
    }
  }

  /**
   * Delivers a snapshot message that came through the transport's snapshot
   * path from `fromNode`. Returns false, and counts it in `snapshotsDropped`,
   * when it is malformed, not from `fromNode`, addressed elsewhere or for a
   * group this host does not have; nothing in it can fail a group.
   */
  receiveSnapshot(fromNode: NodeId, group: string, message: SnapshotMessage): boolean {
    if (this.#stopped) return false
    const hosted = typeof group === 'string' ? this.#groups.get(group) : undefined
    if (
      hosted === undefined ||
      !isMessageFor(message, this.nodeId) ||
      message.type !== 'snapshot' ||
      message.from !== fromNode
    ) {
      this.#counts.snapshotsDropped++
      return false
    }
    this.#counts.snapshotsReceived++
    hosted.node.receive(message)
    return true
  }

  metrics(): RaftHostMetrics {
    let quiesced = 0
    let outsiderMessagesIgnored = 0
    for (const hosted of this.#groups.values()) {
      if (hosted.node.quiesced) quiesced++
      outsiderMessagesIgnored += hosted.node.outsiderMessagesIgnored
    }
    const sentByPeer: Record<NodeId, { frames: number; items: number }> = {}
    for (const [peer, counts] of this.#byPeer) sentByPeer[peer] = { ...counts }
    const raftMessagesByType: Record<string, number> = {}
    for (const [type, count] of this.#byType) raftMessagesByType[type] = count
    return {
      groups: this.#groups.size,
      quiescedGroups: quiesced,
      deadNodes: this.#dead.size,
      unreachableNodes: this.#unreachable.size,
      ...this.#counts,
      outsiderMessagesIgnored,
      forwardsPending: this.#forwarder.pending,
      snapshotsInFlight: this.#snapshots?.inFlight ?? 0,
      sentByPeer,
      raftMessagesByType,
    }
  }

  // ---- forwarding -------------------------------------------------------

  async #proposeHere(
    hosted: HostedGroup,
    data: Uint8Array,
    timeoutMs: number,
    signal?: AbortSignal,
    ack?: ProposalAck,
  ): Promise<ForwardOutcome> {
    const controller = new AbortController()
    const timer = setTimeout(
      () =>
        controller.abort(
          new RaftTimeoutError(`proposal to group ${hosted.name} timed out (outcome unknown)`),
        ),
      timeoutMs,
    )
    const signals = signal === undefined ? controller.signal : AbortSignal.any([signal, controller.signal])
    try {
      return {
        ok: true,
        value: await hosted.node.propose(data, { signal: signals, ...(ack === undefined ? {} : { ack }) }),
      }
    } catch (error) {
      const retriable =
        error instanceof NotLeaderError ||
        (error instanceof RaftRejectedError && error.reason === 'transferring')
      if (!retriable) throw error
      return {
        ok: false,
        error: error as Error,
        retriable,
        leader: error instanceof NotLeaderError ? error.leader : null,
      }
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * The leader to try: the known one unless it just refused, is reported
   * dead or is unreachable; else waits for news, then rejects with `NotLeaderError`.
   */
  #leaderOf(
    hosted: HostedGroup,
    avoid: NodeId | null,
    deadline: number,
    signal?: AbortSignal,
  ): Promise<NodeId> {
    const usable = (): NodeId | null => {
      const leader = hosted.node.leader
      return leader !== null && leader !== avoid && !this.#dead.has(leader) && !this.#unreachable.has(leader)
        ? leader
        : null
    }
    const known = usable()
    if (known !== null) return Promise.resolve(known)
    const waitMs = Math.max(0, Math.min(deadline - now(), this.#options.leaderWaitMs ?? 2000))
    return new Promise<NodeId>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer)
        hosted.leaderWaiters?.delete(check)
        if (hosted.leaderWaiters?.size === 0) hosted.leaderWaiters = null
        signal?.removeEventListener('abort', onAbort)
      }
      const check = (): void => {
        if (!this.#groups.has(hosted.name)) {
          done()
          reject(new RaftStoppedError(`group ${hosted.name} was removed`))
          return
        }
        const leader = usable()
        if (leader === null) return
        done()
        resolve(leader)
      }
      const onAbort = (): void => {
        done()
        reject(signal?.reason)
      }
      const timer = setTimeout(() => {
        done()
        reject(new NotLeaderError(hosted.node.leader))
      }, waitMs)
      if (hosted.leaderWaiters === null) hosted.leaderWaiters = new Set()
      hosted.leaderWaiters.add(check)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  /** Proposes a forwarded command here and sends the outcome back to `from`. */
  #serveForward(from: NodeId, item: ForwardItem): void {
    const hosted = this.#groups.get(item.group)
    if (hosted === undefined) {
      this.#enqueue(from, failureItem(item.id, new UnknownGroupError(item.group, this.nodeId)))
      return
    }
    this.#counts.forwardsServed++
    hosted.node.propose(item.data).then(
      (value) => this.#enqueue(from, { kind: 'forwardResult', id: item.id, ok: true, value }),
      (error: unknown) => this.#enqueue(from, failureItem(item.id, error)),
    )
  }

  // ---- batching ---------------------------------------------------------

  #enqueueRaft(group: string, to: NodeId, messages: readonly Message[]): void {
    for (const message of messages) {
      const type = message.type === 'heartbeat' && message.quiesce ? 'quiesce' : message.type
      this.#byType.set(type, (this.#byType.get(type) ?? 0) + 1)
      if (message.type === 'snapshot' && this.#snapshots !== null && !this.#stopped)
        this.#snapshots.send(to, group, message)
      else this.#enqueue(to, { kind: 'raft', group, message })
    }
    this.#counts.raftMessagesSent += messages.length
  }

  #enqueue(to: NodeId, item: HostFrameItem): void {
    if (this.#stopped) return
    let queue = this.#outbox.get(to)
    if (queue === undefined) {
      queue = []
      this.#outbox.set(to, queue)
    }
    queue.push(item)
    if (this.#flushScheduled) return
    this.#flushScheduled = true
    // Every group that runs in this turn of the event loop joins the same frame.
    setImmediate(() => this.#flush())
  }

  #flush(): void {
    this.#flushScheduled = false
    const outbox = this.#outbox
    this.#outbox = new Map()
    this.#counts.flushes++
    for (const [to, items] of outbox) {
      this.#counts.framesSent++
      this.#counts.itemsSent += items.length
      let peer = this.#byPeer.get(to)
      if (peer === undefined) {
        peer = { frames: 0, items: 0 }
        this.#byPeer.set(to, peer)
      }
      peer.frames++
      peer.items += items.length
      this.#options.transport.send(to, { from: this.nodeId, items })
    }
  }
}
