import { randomUUID } from 'node:crypto'
import {
  type ConfState,
  DEFAULT_RAFT_CONFIG,
  type HostFrame,
  NotLeaderError,
  type RaftConfig,
  RaftHost,
  type RaftNode,
  RaftRejectedError,
  type RaftRng,
  type RaftStorage,
  RaftTimeoutError,
  RaftUnreachableError,
  type SnapshotMessage,
} from '@shoal/raft'
import { Controller, type ControllerConfig } from './controller.ts'
import { targetVoters } from './controller-plan.ts'
import {
  ClusterError,
  ClusterMismatchError,
  ClusterStoppedError,
  ClusterTimeoutError,
  InvalidCommandError,
  NoLeaderError,
  NotDeliveredError,
  RemoteAppError,
} from './errors.ts'
import { type ClusterHealth, computeHealth } from './health.ts'
import type { ClusterIdentity, IdentityStore } from './identity.ts'
import { decodeMember, encodeMemberMetadata, type MembershipPort, type MemberView } from './membership.ts'
import { encodeCommand } from './metadata/codec.ts'
import { MetadataStateMachine } from './metadata/state-machine.ts'
import type { ApplyOutcome, MetadataCommand, MetadataState, NodeAdvert } from './metadata/types.ts'
import { isMetadataCommand } from './metadata/validate.ts'
import type { ShardMovesPlan } from './shard-moves.ts'
import type {
  ClusterTransport,
  NodeAddress,
  RaftFrame,
  RaftSnapshot,
  RpcRequest,
  RpcResponse,
} from './transport.ts'

/** The metadata Raft group's name in the multi-raft host. */
export const META_GROUP = 'meta'

export interface ClusterLogger {
  info(fields: object, message: string): void
  warn(fields: object, message: string): void
}

export interface ClusterNodeOptions {
  readonly advert: NodeAdvert
  readonly identity: IdentityStore
  readonly transport: ClusterTransport
  readonly membership: MembershipPort
  /** Folder of the Raft logs, or a storage factory (in-memory storage in simulations). */
  readonly raftStorage: string | ((group: string, bootstrap: ConfState | undefined) => RaftStorage)
  /** Create a new cluster with this node as its first metadata voter (ignored on restart of a data dir of the same cluster). */
  readonly bootstrap?: { readonly clusterName: string; readonly clusterId?: string }
  /** Gossip seeds were given: a data dir of another cluster than theirs is refused. */
  readonly joining?: boolean
  /** Wall clock in ms. @defaultValue Date.now */
  readonly clock?: () => number
  /** Milliseconds per Raft tick. @defaultValue 100 */
  readonly tickMs?: number
  readonly raft?: Partial<Omit<RaftConfig, 'id'>>
  /** Randomness per Raft group (seeded in simulations). @defaultValue seeded from the node id, group and clock */
  readonly raftRng?: (group: string) => RaftRng
  readonly controller?: Partial<ControllerConfig>
  /** Snapshot the metadata and compact its log after this many applied entries. @defaultValue 10000 */
  readonly metaSnapshotEntries?: number
  /** How long a new node waits to learn its cluster from the seeds. @defaultValue 30000 */
  readonly discoverTimeoutMs?: number
  readonly logger?: ClusterLogger
  /**
   * A Raft group of this node (the metadata group's member or a shard replica) failed: its storage
   * or state machine threw (a failed fsync, a full disk). The group has stopped here and what it
   * wrote may not be durable; the server stops the process (fail-stop) so that a restart recovers
   * from what is. @defaultValue none: the group stays stopped
   */
  readonly onRaftFailure?: (group: string, error: Error) => void
}

/** Answers `app` requests from other nodes (the layer above the control plane registers it). */
export type AppRequestHandler = (body: unknown) => Promise<unknown>

/** Counters the server exports as metrics. */
export interface ClusterCounters {
  framesDroppedForeign: number
  framesDroppedNoAddress: number
  /** Snapshot messages from another cluster, dropped on receipt. */
  snapshotsDroppedForeign: number
  /** Snapshot messages not sent because the destination node has no known address. */
  snapshotsDroppedNoAddress: number
  leaderChanges: number
}

const silent: ClusterLogger = { info: () => {}, warn: () => {} }

/**
 * One node of the cluster's control plane: it hosts the metadata Raft group,
 * advertises itself through SWIM, runs the controller while it leads the
 * metadata group, and answers metadata reads and writes from any node (writes
 * reach the leader). It talks to the network only through its ports.
 */
export class ClusterNode {
  readonly nodeId: string
  readonly metadata = new MetadataStateMachine()
  readonly counters: ClusterCounters = {
    framesDroppedForeign: 0,
    framesDroppedNoAddress: 0,
    snapshotsDroppedForeign: 0,
    snapshotsDroppedNoAddress: 0,
    leaderChanges: 0,
  }
  readonly #options: ClusterNodeOptions
  readonly #clock: () => number
  readonly #log: ClusterLogger
  #advert: NodeAdvert
  #identity: ClusterIdentity | null = null
  #host: RaftHost | null = null
  #meta: RaftNode | null = null
  #controller: Controller | null = null
  #founder = false
  #stopped = false
  /** Aborts snapshot transfers under way when the node stops. */
  readonly #stopping = new AbortController()
  #lastLeader: string | null = null
  #unsubscribeLiveness: (() => void) | null = null
  #appHandler: AppRequestHandler | null = null
  /** Snapshot bytes accepted per hosted group since this process started hosting it. */
  readonly #snapshotBytes = new Map<string, number>()

  constructor(options: ClusterNodeOptions) {
    this.#options = options
    this.#advert = options.advert
    this.nodeId = options.advert.id
    this.#clock = options.clock ?? Date.now
    this.#log = options.logger ?? silent
  }

  get clusterId(): string | null {
    return this.#identity?.clusterId ?? null
  }

  /**
   * The longest election timeout of this node's Raft groups, in milliseconds: a member campaigns
   * after `[electionTicks, 2 × electionTicks)` ticks without news of its leader, so a new leader
   * is normally elected within `2 × electionTicks × tickMs` of the old one falling silent.
   */
  get electionTimeoutMs(): number {
    const electionTicks = this.#options.raft?.electionTicks ?? DEFAULT_RAFT_CONFIG.electionTicks
    return 2 * electionTicks * (this.#options.tickMs ?? 100)
  }

  /** The cluster name given at bootstrap (used by `init`). */
  get bootstrapName(): string | undefined {
    return this.#options.bootstrap?.clusterName
  }

  get advert(): NodeAdvert {
    return this.#advert
  }

  /** The metadata group's Raft member on this node (null before start). */
  get metaRaft(): RaftNode | null {
    return this.#meta
  }

  get host(): RaftHost | null {
    return this.#host
  }

  /** The metadata leader this node knows of. */
  get metadataLeader(): string | null {
    return this.#meta?.leader ?? null
  }

  /**
   * Finds or creates the cluster identity, then starts the metadata group and
   * the controller. Throws `ClusterMismatchError` for a data dir of another
   * cluster than the seeds', and `ClusterError` when a new node finds no
   * cluster through its seeds in time.
   */
  async start(options: { signal?: AbortSignal } = {}): Promise<void> {
    const identity = await this.#resolveIdentity(options.signal)
    this.#identity = identity
    this.#advertise()
    const host = new RaftHost({
      nodeId: this.nodeId,
      transport: {
        send: (to, frame) => this.#sendRaft(to, frame),
        ...(this.#options.transport.sendSnapshot === undefined
          ? {}
          : { sendSnapshot: (to, group, message) => this.#sendSnapshot(to, group, message) }),
      },
      ...(typeof this.#options.raftStorage === 'string'
        ? { storageRoot: this.#options.raftStorage }
        : { storage: this.#options.raftStorage }),
      tickMs: this.#options.tickMs ?? 100,
      raft: this.#options.raft,
      ...(this.#options.raftRng === undefined ? {} : { rng: this.#options.raftRng }),
      ...(this.#options.onRaftFailure === undefined ? {} : { onGroupFailure: this.#options.onRaftFailure }),
    })
    this.#host = host
    this.#meta = await host.addGroup(META_GROUP, {
      stateMachine: this.metadata,
      ...(this.#options.metaSnapshotEntries === undefined
        ? {}
        : { snapshotEntries: this.#options.metaSnapshotEntries }),
      ...(this.#founder ? { bootstrap: { voters: [this.nodeId], learners: [] } } : {}),
    })
    host.start()
    this.#unsubscribeLiveness = this.#feedLiveness(host)
    this.#options.transport.onPeerConnection?.((nodeId, connected) => {
      if (this.#stopped || this.#host !== host || nodeId === this.nodeId) return
      if (connected) host.peerReachable(nodeId)
      else host.peerUnreachable(nodeId)
    })
    // Serve nothing older than what this node had applied before it stopped:
    // replay the log up to the durable commit index first.
    const recovered = this.#meta.status().commitIndex
    await this.#waitApplied(recovered, this.#clock() + 60_000)
    this.#controller = new Controller({
      node: this,
      membership: this.#options.membership,
      clock: this.#clock,
      config: this.#options.controller,
      logger: this.#log,
    })
    this.#controller.start()
    this.#log.info({ clusterId: identity.clusterId }, 'cluster node started')
  }

  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    this.#stopping.abort(new ClusterStoppedError())
    this.#controller?.stop()
    this.#unsubscribeLiveness?.()
    await this.#host?.stop()
  }

  /**
   * The shard moves the controller would start now, as this node sees the metadata and
   * membership (the metadata leader's controller starts them; any node can show the plan).
   */
  planShardMoves(): ShardMovesPlan {
    if (this.#controller === null) throw new ClusterStoppedError()
    return this.#controller.planShardMoves()
  }

  /** Shard replica moves this node's controller started while it led the metadata, by reason. */
  shardMovesStarted(): Readonly<Record<string, number>> {
    return this.#controller?.movesStarted ?? {}
  }

  /** Runs a controller pass now (it acts only on the metadata leader). */
  pokeController(): void {
    void this.#controller?.reconcile()
  }

  /** Replaces this node's advert (addresses changed); gossip spreads it and the controller records it. */
  updateAdvert(advert: NodeAdvert): void {
    this.#advert = advert
    this.#advertise()
  }

  /** The local copy of the metadata (possibly stale on a follower; see `readLinearizable`). */
  state(): MetadataState {
    return this.metadata.state
  }

  /** SWIM's view of every member of this cluster (members advertising another cluster id are left out). */
  members(): MemberView[] {
    const clusterId = this.clusterId
    return this.#options.membership
      .members()
      .map(decodeMember)
      .filter((m) => m.clusterId === clusterId || (m.id === this.nodeId && clusterId !== null))
  }

  /** True when SWIM sees `nodeId` as alive or suspect; this node is always alive to itself. */
  isAlive(nodeId: string): boolean {
    if (nodeId === this.nodeId) return true
    const member = this.#options.membership.members().find((m) => m.id === nodeId)
    return (
      member !== undefined &&
      (member.meta.cluster ?? '') === this.clusterId &&
      (member.state === 'alive' || member.state === 'suspect')
    )
  }

  /**
   * Proposes a metadata command through the leader, wherever it is. Resolves
   * with the outcome once applied on the leader. Retries while no leader is
   * known or the contacted node is no longer the leader, until `timeoutMs`.
   */
  async propose(
    command: MetadataCommand,
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<ApplyOutcome> {
    if (!isMetadataCommand(command))
      throw new InvalidCommandError(`malformed metadata command ${JSON.stringify(command)}`)
    return this.#throughLeader(options.timeoutMs ?? 10_000, options.signal, {
      local: async (meta, signal) => (await meta.propose(encodeCommand(command), { signal })) as ApplyOutcome,
      request: () => ({ type: 'meta.propose', clusterId: this.#requireClusterId(), command }),
      remote: async (value) => value as ApplyOutcome,
      resendLost: false,
    })
  }

  /**
   * Waits until this node's copy of the metadata is at least as new as every
   * write acknowledged before the call (ReadIndex, served through the leader
   * when this node does not lead), then returns it.
   */
  async readLinearizable(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<MetadataState> {
    return this.#throughLeader(options.timeoutMs ?? 5_000, options.signal, {
      local: async (meta, signal) => {
        await meta.read({ signal })
        return this.metadata.state
      },
      request: () => ({ type: 'meta.readIndex', clusterId: this.#requireClusterId() }),
      resendLost: true,
      remote: async (value, deadline) => {
        await this.#waitApplied(value as number, deadline)
        return this.metadata.state
      },
    })
  }

  /**
   * Runs an operation on the metadata leader: here when this node leads, else
   * through a request to the leader it knows. Retries while no leader is known
   * or the one asked no longer leads, until the deadline. An answer that leaves
   * the outcome unknown (a time-out on the leader) is a retriable
   * `ClusterTimeoutError`; one that proves the request was refused is typed.
   */
  async #throughLeader<T>(
    timeoutMs: number,
    signal: AbortSignal | undefined,
    operation: {
      local: (meta: RaftNode, signal: AbortSignal) => Promise<T>
      request: () => RpcRequest
      remote: (value: unknown, deadline: number) => Promise<T>
      /**
       * Whether a request lost in transport may be sent again. Never for a
       * write: the leader may have applied it, and a second copy applied after
       * a later write would undo that write.
       */
      resendLost: boolean
    },
  ): Promise<T> {
    const deadline = this.#clock() + timeoutMs
    for (;;) {
      this.#checkRunning()
      signal?.throwIfAborted()
      const meta = this.#requireMeta()
      const leader = meta.leader
      if (leader === this.nodeId) {
        try {
          return await operation.local(meta, remaining(deadline, this.#clock, signal))
        } catch (error) {
          if (!(error instanceof NotLeaderError) && !handingOver(error)) throw mapRaftError(error)
        }
      } else if (leader !== null) {
        const response = await this.#requestLeader(leader, operation.request(), deadline)
        // Unreachable (nothing sent: a refused dial) or no answer: restart the election timer of a
        // quiesced follower, as the transport's closed connection would (RaftHost.peerUnreachable).
        if (response === 'unsent') meta.wake()
        if (response === 'lost') {
          // A quiesced group hears nothing until SWIM declares the leader
          // dead; wake it so its election timer runs now and it campaigns
          // within an election timeout if the leader is really gone.
          meta.wake()
          if (!operation.resendLost)
            throw new ClusterTimeoutError(
              'the metadata leader did not answer; the write may or may not have taken effect',
            )
        } else if (response !== 'unsent') {
          if (response.ok) return operation.remote(response.value, deadline)
          throwUnlessRetriable(response)
        }
      }
      if (this.#clock() >= deadline) throw new NoLeaderError()
      await sleep(50)
    }
  }

  /** Registers the handler of `app` requests (one per node). */
  onAppRequest(handler: AppRequestHandler): void {
    this.#appHandler = handler
  }

  /**
   * Sends an `app` request to another node and returns its answer's value. Throws
   * `NotDeliveredError` when nothing left this node, `ClusterTimeoutError` when the answer was
   * lost (the request may or may not have been handled), and `ClusterError` with code
   * `CLUSTER_REJECTED` carrying the remote handler's message when it failed there.
   */
  async requestApp(nodeId: string, body: unknown, options: { timeoutMs?: number } = {}): Promise<unknown> {
    this.#checkRunning()
    const address = this.addressOf(nodeId)
    if (address === null) throw new NotDeliveredError(`no address known for node ${nodeId}`)
    let response: RpcResponse
    try {
      response = await this.#options.transport.request(
        address,
        { type: 'app', clusterId: this.#requireClusterId(), body },
        { timeoutMs: options.timeoutMs ?? 10_000 },
      )
    } catch (error) {
      if (error instanceof NotDeliveredError) throw error
      throw new ClusterTimeoutError(`node ${nodeId} did not answer`, { cause: error })
    }
    if (response.ok) return response.value
    throw new RemoteAppError(response.code, response.message)
  }

  /**
   * Replicates `data` in a Raft group from this node: through the local member when this node
   * hosts the group, else through one of `holders` (the nodes that host it), tried in turn. The
   * data must be idempotent to apply (a request lost in transport is sent again, to the next
   * holder). Resolves with the state machine's result on the leader.
   *
   * With `ack: 'durable'` it resolves (with `undefined`) once the group leader's own log holds the
   * entry durably, before a majority need hold it: the entry is lost if that leader is lost first.
   * Only the leader can acknowledge it, so it goes to the leader itself, never through a follower.
   */
  async proposeGroup(
    group: string,
    data: Uint8Array,
    holders: readonly string[],
    options: { timeoutMs?: number; ack?: 'applied' | 'durable' } = {},
  ): Promise<unknown> {
    const host = this.#requireHost()
    const deadline = this.#clock() + (options.timeoutMs ?? 10_000)
    const durable = options.ack === 'durable'
    const local = host.group(group)
    if (local !== undefined && (!durable || local.isLeader)) {
      try {
        return await host.propose(group, data, {
          timeoutMs: Math.max(1, deadline - this.#clock()),
          ...(durable ? { ack: 'durable' as const } : {}),
        })
      } catch (error) {
        // A durable ack is the leader's alone: leadership moved, so ask the holders below.
        if (!(durable && error instanceof NotLeaderError)) throw mapRaftError(error)
      }
    }
    let lastError: unknown = new NoLeaderError()
    // The leader this node knows of first: a durable proposal is refused by anyone else.
    let hint: string | null | undefined = durable ? host.group(group)?.leader : null
    for (let attempt = 0; this.#clock() < deadline; attempt++) {
      const candidates = holders.filter((id) => id !== this.nodeId && this.isAlive(id))
      const target =
        hint !== undefined && hint !== null && candidates.includes(hint)
          ? hint
          : candidates[attempt % Math.max(1, candidates.length)]
      hint = null
      if (target !== undefined) {
        const address = this.addressOf(target)
        if (address !== null) {
          try {
            const response = await this.#options.transport.request(
              address,
              {
                type: 'group.propose',
                clusterId: this.#requireClusterId(),
                group,
                data,
                ...(durable ? { ack: 'durable' as const } : {}),
              },
              { timeoutMs: Math.max(1, deadline - this.#clock()) },
            )
            if (response.ok) return response.value
            if (durable) hint = response.leader
            lastError = new RemoteAppError(response.code, response.message)
            if (
              response.code !== 'unknown_group' &&
              response.code !== 'not_leader' &&
              response.code !== 'timeout'
            )
              throw lastError
          } catch (error) {
            if (error instanceof RemoteAppError && error.remoteCode !== 'unknown_group') throw error
            lastError = error
          }
        }
      }
      await sleep(50)
    }
    throw lastError instanceof ClusterError
      ? lastError
      : new ClusterTimeoutError(`no holder of group ${group} accepted the proposal in time`, {
          cause: lastError,
        })
  }

  /** Cluster health as this node sees it; red when it cannot confirm the metadata majority. */
  async health(options: { timeoutMs?: number } = {}): Promise<ClusterHealth> {
    let reachable = true
    let state = this.metadata.state
    try {
      state = await this.readLinearizable({ timeoutMs: options.timeoutMs ?? 5_000 })
    } catch {
      reachable = false
    }
    const conf = this.#meta?.status().confState ?? { voters: [], learners: [] }
    const eligible = Object.values(state.nodes).filter(
      (n) => n.state === 'active' || n.state === 'dead',
    ).length
    return computeHealth({
      state,
      alive: (id) => this.isAlive(id),
      metadataReachable: reachable,
      metadataLeader: reachable ? this.metadataLeader : null,
      metaVoters: conf.voters,
      targetMetaVoters: targetVoters(eligible, this.#controller?.config.maxVoters ?? 5),
    })
  }

  /** Delivers a Raft frame that arrived from another node. Frames of another cluster are dropped and counted. */
  receiveRaft(frame: RaftFrame): void {
    if (this.#stopped || this.#host === null) return
    if (frame.clusterId !== this.clusterId) {
      this.counters.framesDroppedForeign++
      return
    }
    this.#host.receive(frame.frame)
  }

  /**
   * Delivers a Raft snapshot message that arrived from `fromNode` through the
   * transport's snapshot path. Returns false when it was dropped: from another
   * cluster (counted in `snapshotsDroppedForeign`), or refused by the Raft host
   * (malformed, speaking for another node, an unknown group; counted there).
   */
  receiveSnapshot(fromNode: string, snapshot: RaftSnapshot): boolean {
    if (this.#stopped || this.#host === null) return false
    if (snapshot.clusterId !== this.clusterId) {
      this.counters.snapshotsDroppedForeign++
      return false
    }
    const accepted = this.#host.receiveSnapshot(fromNode, snapshot.group, snapshot.message)
    if (accepted) {
      const bytes = snapshot.message.chunk.byteLength
      this.#snapshotBytes.set(snapshot.group, (this.#snapshotBytes.get(snapshot.group) ?? 0) + bytes)
    }
    return accepted
  }

  /**
   * Snapshot bytes this node accepted for `group` (a replica arriving here catches up by them);
   * forgotten when the group stops being hosted (`forgetSnapshotBytes`).
   */
  snapshotBytesReceived(group: string): number {
    return this.#snapshotBytes.get(group) ?? 0
  }

  /** Forgets `group`'s snapshot byte count (its replica left this node). */
  forgetSnapshotBytes(group: string): void {
    this.#snapshotBytes.delete(group)
  }

  /** Answers a request from another node. Never throws: failures are `{ ok: false }` answers. */
  async handleRequest(body: RpcRequest): Promise<RpcResponse> {
    try {
      if (this.#stopped) return { ok: false, code: 'stopped', message: 'the node is stopping' }
      if (body.clusterId !== this.clusterId)
        return {
          ok: false,
          code: 'cluster_mismatch',
          message: `this node belongs to cluster ${this.clusterId}`,
        }
      if (body.type === 'app') {
        const handler = this.#appHandler
        if (handler === null) return { ok: false, code: 'unknown_request', message: 'no application handler' }
        return { ok: true, value: await handler(body.body) }
      }
      if (body.type === 'group.propose')
        return await this.#serveGroupPropose(body.group, body.data, body.ack === 'durable')
      const meta = this.#requireMeta()
      if (meta.leader !== this.nodeId)
        return { ok: false, code: 'not_leader', message: 'not the metadata leader', leader: meta.leader }
      switch (body.type) {
        case 'meta.propose': {
          if (!isMetadataCommand(body.command))
            return { ok: false, code: 'invalid_command', message: 'malformed metadata command' }
          return {
            ok: true,
            value: await meta.propose(encodeCommand(body.command), { signal: AbortSignal.timeout(10_000) }),
          }
        }
        case 'meta.readIndex': {
          await meta.read({ signal: AbortSignal.timeout(5_000) })
          return { ok: true, value: meta.status().appliedIndex }
        }
        default:
          return {
            ok: false,
            code: 'unknown_request',
            message: `unknown request type ${(body as { type: unknown }).type}`,
          }
      }
    } catch (error) {
      if (error instanceof NotLeaderError)
        return { ok: false, code: 'not_leader', message: error.message, leader: error.leader }
      // Refused before it was appended while leadership moves: the caller sends it again.
      if (handingOver(error)) return { ok: false, code: 'transferring', message: error.message }
      if (error instanceof RemoteAppError)
        return { ok: false, code: error.remoteCode, message: error.message }
      const code =
        typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : 'failed'
      return { ok: false, code, message: error instanceof Error ? error.message : String(error) }
    }
  }

  async #serveGroupPropose(group: string, data: unknown, durable: boolean): Promise<RpcResponse> {
    const host = this.#requireHost()
    if (typeof group !== 'string' || !(data instanceof Uint8Array))
      return { ok: false, code: 'invalid_command', message: 'malformed group proposal' }
    if (host.group(group) === undefined)
      return { ok: false, code: 'unknown_group', message: `node ${this.nodeId} does not host group ${group}` }
    try {
      return {
        ok: true,
        value: await host.propose(group, data, {
          timeoutMs: 10_000,
          ...(durable ? { ack: 'durable' as const } : {}),
        }),
      }
    } catch (error) {
      if (durable && error instanceof NotLeaderError)
        return { ok: false, code: 'not_leader', message: error.message, leader: error.leader }
      const mapped = mapRaftError(error)
      const code = mapped instanceof ClusterTimeoutError ? 'timeout' : 'failed'
      return { ok: false, code, message: mapped.message }
    }
  }

  /** Where to reach `nodeId`: its advert in the metadata, else SWIM's. */
  addressOf(nodeId: string): NodeAddress | null {
    // Gossip carries a restarted node's new addresses before the metadata records them.
    const raw = this.#options.membership
      .members()
      .find((m) => m.id === nodeId && m.state !== 'dead' && m.state !== 'left')
    const member = raw === undefined ? undefined : decodeMember(raw)
    const fromGossip = member?.clusterId === this.clusterId ? member.advert.p2pAddrs : undefined
    const addrs =
      fromGossip !== undefined && fromGossip.length > 0
        ? fromGossip
        : this.metadata.state.nodes[nodeId]?.p2pAddrs
    return addrs === undefined || addrs.length === 0 ? null : { nodeId, addrs }
  }

  /** Called by the controller on every reconcile pass: tracks leader changes. */
  observeLeader(): void {
    const leader = this.metadataLeader
    if (leader !== null && leader !== this.#lastLeader) {
      if (this.#lastLeader !== null) this.counters.leaderChanges++
      this.#log.info(
        { leader, previous: this.#lastLeader, term: this.#meta?.status().term ?? null },
        leader === this.nodeId ? 'metadata leader elected: this node' : 'metadata leader changed',
      )
      this.#lastLeader = leader
    }
  }

  async #resolveIdentity(signal: AbortSignal | undefined): Promise<ClusterIdentity> {
    const stored = await this.#options.identity.load()
    const bootstrap = this.#options.bootstrap
    if (stored !== null) {
      if (stored.nodeId !== this.nodeId)
        throw new ClusterError(
          'CLUSTER_CONFIG',
          `the data dir belongs to node ${stored.nodeId}, not ${this.nodeId}`,
        )
      if (bootstrap?.clusterId !== undefined && bootstrap.clusterId !== stored.clusterId)
        throw new ClusterMismatchError(bootstrap.clusterId, stored.clusterId, 'the data dir')
      if (this.#options.joining === true) await this.#checkSeedsCluster(stored.clusterId, signal)
      return stored
    }
    if (bootstrap !== undefined) {
      if (this.#options.joining === true) await this.#refuseBootstrapIntoCluster(signal)
      const identity = { clusterId: bootstrap.clusterId ?? randomUUID(), nodeId: this.nodeId }
      await this.#options.identity.save(identity)
      this.#founder = true
      return identity
    }
    const clusterId = await this.#discoverCluster(signal)
    const identity = { clusterId, nodeId: this.nodeId }
    await this.#options.identity.save(identity)
    return identity
  }

  /** A new node learns its cluster id from the members its seeds gossip about. */
  async #discoverCluster(signal: AbortSignal | undefined): Promise<string> {
    this.#options.membership.updateMetadata(encodeMemberMetadata(this.#advert, ''))
    const timeoutMs = this.#options.discoverTimeoutMs ?? 30_000
    const deadline = this.#clock() + timeoutMs
    for (;;) {
      signal?.throwIfAborted()
      const ids = this.#seenClusterIds()
      if (ids.size > 1)
        throw new ClusterMismatchError([...ids][0] as string, [...ids][1] as string, 'the seeds')
      const [only] = ids
      if (only !== undefined) return only
      if (this.#clock() >= deadline)
        throw new ClusterError(
          'CLUSTER_NOT_INITIALISED',
          `no cluster found through the seeds within ${timeoutMs} ms; start the first node with --bootstrap`,
        )
      await sleep(50)
    }
  }

  /** A restarting node that was given seeds refuses to go on when they belong to another cluster. */
  async #checkSeedsCluster(clusterId: string, signal: AbortSignal | undefined): Promise<void> {
    this.#options.membership.updateMetadata(encodeMemberMetadata(this.#advert, clusterId))
    const deadline = this.#clock() + Math.min(this.#options.discoverTimeoutMs ?? 30_000, 5_000)
    while (this.#clock() < deadline) {
      signal?.throwIfAborted()
      const ids = this.#seenClusterIds()
      if (ids.has(clusterId)) return
      const [foreign] = ids
      if (foreign !== undefined) throw new ClusterMismatchError(foreign, clusterId, 'the data dir')
      await sleep(50)
    }
    // No seed answered: they may all be down; the node starts and rejoins when they are back.
    this.#log.warn({ clusterId }, 'no seed answered; starting from the data dir alone')
  }

  /** Bootstrapping next to seeds that already form a cluster would make a second one: refuse. */
  async #refuseBootstrapIntoCluster(signal: AbortSignal | undefined): Promise<void> {
    this.#options.membership.updateMetadata(encodeMemberMetadata(this.#advert, ''))
    const deadline = this.#clock() + Math.min(this.#options.discoverTimeoutMs ?? 30_000, 3_000)
    while (this.#clock() < deadline) {
      signal?.throwIfAborted()
      const [existing] = this.#seenClusterIds()
      if (existing !== undefined)
        throw new ClusterError(
          'CLUSTER_CONFIG',
          `the seeds already form cluster ${existing}; start without --bootstrap to join it`,
        )
      await sleep(50)
    }
  }

  #seenClusterIds(): Set<string> {
    const ids = new Set<string>()
    for (const member of this.#options.membership.members()) {
      if (member.id === this.nodeId || member.state === 'dead' || member.state === 'left') continue
      const id = member.meta.cluster
      if (id !== undefined && id !== '') ids.add(id)
    }
    return ids
  }

  #advertise(): void {
    this.#options.membership.updateMetadata(encodeMemberMetadata(this.#advert, this.clusterId ?? ''))
  }

  #sendRaft(to: string, frame: HostFrame): void {
    const address = this.addressOf(to)
    if (address === null) {
      this.counters.framesDroppedNoAddress++
      return
    }
    this.#options.transport.sendRaft(address, { clusterId: this.#requireClusterId(), frame })
  }

  async #sendSnapshot(to: string, group: string, message: SnapshotMessage): Promise<void> {
    const address = this.addressOf(to)
    if (address === null) {
      this.counters.snapshotsDroppedNoAddress++
      throw new NotDeliveredError(`no address known for node ${to}`)
    }
    const snapshot: RaftSnapshot = { clusterId: this.#requireClusterId(), group, message }
    await this.#options.transport.sendSnapshot?.(address, snapshot, { signal: this.#stopping.signal })
  }

  /**
   * SWIM's verdicts reach the Raft host: groups with a replica on a node that
   * died wake (followers of a dead leader campaign), and a dead replica no
   * longer keeps its groups from quiescing.
   */
  #feedLiveness(host: RaftHost): () => void {
    for (const member of this.#options.membership.members()) {
      if (member.id !== this.nodeId && (member.state === 'dead' || member.state === 'left'))
        host.setNodeLiveness(member.id, 'dead')
    }
    return this.#options.membership.on((event) => {
      if (event.member.id === this.nodeId) return
      if (event.type === 'dead' || event.type === 'leave') host.setNodeLiveness(event.member.id, 'dead')
      else if (event.type === 'join' || event.type === 'alive') host.setNodeLiveness(event.member.id, 'alive')
    })
  }

  /**
   * Asks the leader. `unsent` when no address is known (nothing left this
   * node); `lost` when the transport failed, which may be before or after the
   * leader handled the request.
   */
  async #requestLeader(
    leader: string,
    body: RpcRequest,
    deadline: number,
  ): Promise<RpcResponse | 'unsent' | 'lost'> {
    const address = this.addressOf(leader)
    if (address === null) return 'unsent'
    try {
      return await this.#options.transport.request(address, body, {
        timeoutMs: Math.max(1, deadline - this.#clock()),
      })
    } catch (error) {
      return error instanceof NotDeliveredError ? 'unsent' : 'lost'
    }
  }

  /** Waits until the metadata group has applied `index` here (conf entries included, which the state machine never sees). */
  async #waitApplied(index: number, deadline: number): Promise<void> {
    for (;;) {
      this.#checkRunning()
      if (this.#requireMeta().status().appliedIndex >= index) return
      if (this.#clock() >= deadline)
        throw new ClusterTimeoutError(`metadata not applied up to ${index} in time`)
      await sleep(5)
    }
  }

  #requireHost(): RaftHost {
    if (this.#host === null) throw new ClusterStoppedError()
    return this.#host
  }

  #requireMeta(): RaftNode {
    if (this.#meta === null) throw new ClusterStoppedError()
    return this.#meta
  }

  #requireClusterId(): string {
    const id = this.clusterId
    if (id === null) throw new ClusterError('CLUSTER_NOT_INITIALISED', 'the node has no cluster yet')
    return id
  }

  #checkRunning(): void {
    if (this.#stopped) throw new ClusterStoppedError()
  }
}

function remaining(deadline: number, clock: () => number, signal: AbortSignal | undefined): AbortSignal {
  const timeout = AbortSignal.timeout(Math.max(1, deadline - clock()))
  return signal === undefined ? timeout : AbortSignal.any([signal, timeout])
}

/** A leader's refusal: `not_leader`, `no_leader` and `stopped` are worth another try; the rest are typed. */
/**
 * A proposal refused while the leader hands leadership over (the metadata leader moves to a node
 * leading fewer shard groups, or an operator's transfer): refused before it was appended, so it
 * is sent again to the next leader rather than reported as a failure.
 */
function handingOver(error: unknown): error is RaftRejectedError {
  return error instanceof RaftRejectedError && error.reason === 'transferring'
}

function throwUnlessRetriable(response: Extract<RpcResponse, { ok: false }>): void {
  switch (response.code) {
    case 'transferring':
    case 'not_leader':
    case 'no_leader':
    case 'stopped':
      return
    case 'invalid_command':
      throw new InvalidCommandError(response.message)
    case 'cluster_mismatch':
      throw new ClusterError('CLUSTER_MISMATCH', response.message)
    default:
      throw new ClusterTimeoutError(
        `the metadata leader could not finish the request (${response.message}); it may or may not have taken effect`,
      )
  }
}

function mapRaftError(error: unknown): Error {
  if (error instanceof RaftUnreachableError)
    return new ClusterTimeoutError(
      'the leader became unreachable before it answered; the operation may or may not have taken effect',
      { cause: error },
    )
  if (error instanceof RaftTimeoutError)
    return new ClusterTimeoutError(
      'the operation did not finish in time; it may or may not have taken effect',
    )
  if (error instanceof DOMException && (error.name === 'TimeoutError' || error.name === 'AbortError'))
    return new ClusterTimeoutError(
      'the metadata operation did not finish in time; it may or may not have taken effect',
    )
  return error instanceof Error ? error : new Error(String(error))
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
