import type { RaftStatus } from '@shoal/raft'
import type { ClusterLogger, ClusterNode } from './cluster-node.ts'
import { type PlanNode, planMetaChange } from './controller-plan.ts'
import { ClusterConfigError } from './errors.ts'
import { type MembershipPort, sameAdvert } from './membership.ts'
import type { MetadataCommand } from './metadata/types.ts'
import { metadataLeaderTarget } from './metadata-leader-placement.ts'
import { SHARD_GROUP_PREFIX } from './shard-hosting.ts'
import { type MoveReason, planShardMoves, type ShardMovesPlan } from './shard-moves.ts'

/** The shard plan is made again at least this often even when nothing it reads changed. */
const SHARD_PLAN_REFRESH_MS = 2_000

/** Cluster settings `shoal.replace.<old node id>` = new node id: a replacement under way. */
export const REPLACE_SETTING_PREFIX = 'shoal.replace.'

/** Cluster setting present while an operator-requested rebalance runs (with `autoRebalance` off). */
export const REBALANCE_SETTING = 'shoal.rebalance'

/** The replacements under way, old node id → new node id. */
export function replacementsOf(settings: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(settings))
    if (key.startsWith(REPLACE_SETTING_PREFIX)) out[key.slice(REPLACE_SETTING_PREFIX.length)] = value
  return out
}

/** The controller's settings. */
export interface ControllerConfig {
  /** How often the controller compares membership with the metadata. @defaultValue 250 */
  readonly reconcileIntervalMs: number
  /** Most metadata voters; the rest of the nodes follow as learners. @defaultValue 5 */
  readonly maxVoters: number
  /** A dead metadata voter is replaced after this long. @defaultValue 10000 */
  readonly deadVoterGraceMs: number
  /** A learner is promoted once it lags the leader by at most this many entries. @defaultValue 16 */
  readonly caughtUpEntries: number
  /**
   * A node down this long loses its shard replicas to other nodes (re-replication); back sooner,
   * it catches up from its own log. @defaultValue 60000
   */
  readonly replicaGraceMs: number
  /** Most shard replicas arriving on one node at a time. @defaultValue 2 */
  readonly maxIncomingMoves: number
  /** Most shard replicas leaving one node at a time. @defaultValue 2 */
  readonly maxOutgoingMoves: number
  /** 1: move replicas to even out the load (after joins); 0: only repairs (lost nodes, drains, replacements). @defaultValue 1 */
  readonly autoRebalance: number
  /**
   * The metadata leader hands its leadership to a live, caught-up voter leading fewer shard
   * groups than itself at most this often (metadata-leader-placement.ts); 0 turns it off.
   * @defaultValue 30000
   */
  readonly metadataLeaderMoveIntervalMs: number
}

export const DEFAULT_CONTROLLER_CONFIG: ControllerConfig = Object.freeze({
  reconcileIntervalMs: 250,
  maxVoters: 5,
  deadVoterGraceMs: 10_000,
  caughtUpEntries: 16,
  replicaGraceMs: 60_000,
  maxIncomingMoves: 2,
  maxOutgoingMoves: 2,
  autoRebalance: 1,
  metadataLeaderMoveIntervalMs: 0,
})

export function resolveControllerConfig(partial: Partial<ControllerConfig> = {}): ControllerConfig {
  const config = { ...DEFAULT_CONTROLLER_CONFIG, ...partial }
  for (const [key, value] of Object.entries(config)) {
    if (!Number.isInteger(value) || value < 0)
      throw new ClusterConfigError(`${key} must be a non-negative integer, got ${value}`)
  }
  if (config.maxVoters < 1 || config.maxVoters > 7)
    throw new ClusterConfigError(`maxVoters must be 1 to 7, got ${config.maxVoters}`)
  if (config.reconcileIntervalMs < 10) throw new ClusterConfigError('reconcileIntervalMs must be at least 10')
  if (config.maxIncomingMoves < 1 || config.maxOutgoingMoves < 1)
    throw new ClusterConfigError('maxIncomingMoves and maxOutgoingMoves must be at least 1')
  if (config.autoRebalance > 1) throw new ClusterConfigError('autoRebalance must be 0 or 1')
  if (!Number.isInteger(config.metadataLeaderMoveIntervalMs) || config.metadataLeaderMoveIntervalMs < 0)
    throw new ClusterConfigError('metadataLeaderMoveIntervalMs must be a non-negative integer')
  return Object.freeze(config)
}

export interface ControllerOptions {
  readonly node: ClusterNode
  readonly membership: MembershipPort
  readonly clock: () => number
  readonly config?: Partial<ControllerConfig> | undefined
  readonly logger: ClusterLogger
}

/**
 * Keeps the metadata in line with what SWIM sees, on the metadata leader only:
 * records joining nodes and changed adverts, marks nodes dead and alive again,
 * and keeps the metadata group's membership (every live node a member, up to
 * `maxVoters` voters spread across zones). One pass at a time; every change is
 * a Raft proposal, so a new leader simply carries on from the metadata.
 */
export class Controller {
  readonly config: ControllerConfig
  /** Shard replica moves this node's controller started (while it led the metadata), by reason. */
  readonly movesStarted: Record<MoveReason, number> = {
    lost: 0,
    drain: 0,
    replace: 0,
    rebalance: 0,
    rollback: 0,
    repair: 0,
    capability: 0,
  }
  readonly #options: ControllerOptions
  #timer: ReturnType<typeof setInterval> | null = null
  #running = false
  /** When this node last handed the metadata leadership away (see `metadataLeaderMoveIntervalMs`). */
  #leaderMovedAtMs = Number.NEGATIVE_INFINITY
  #unsubscribe: (() => void) | null = null
  /** The last shard plan and what it was made from (see `planShardMoves`). */
  #lastPlan: {
    shards: unknown
    nodes: unknown
    settings: unknown
    alive: string
    atMs: number
    plan: ShardMovesPlan
  } | null = null
  /** The plan the last pass acted on. */
  #actedOn: ShardMovesPlan | null = null

  constructor(options: ControllerOptions) {
    this.#options = options
    this.config = resolveControllerConfig(options.config)
  }

  start(): void {
    if (this.#timer !== null) return
    this.#timer = setInterval(() => void this.reconcile(), this.config.reconcileIntervalMs)
    this.#timer.unref?.()
    // Membership events speed the next pass up; the timer is the backstop.
    this.#unsubscribe = this.#options.membership.on(() => setTimeout(() => void this.reconcile(), 0))
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    this.#unsubscribe?.()
  }

  /** One pass; a pass already running makes this a no-op. Errors are logged and retried on the next pass. */
  async reconcile(): Promise<void> {
    if (this.#running || this.#timer === null) return
    this.#running = true
    try {
      await this.#pass()
    } catch (error) {
      this.#options.logger.warn(
        { err: error instanceof Error ? error.message : String(error) },
        'controller pass failed',
      )
    } finally {
      this.#running = false
    }
  }

  async #pass(): Promise<void> {
    const node = this.#options.node
    node.observeLeader()
    const raft = node.metaRaft
    if (raft === null || !raft.isLeader) return
    const now = this.#options.clock()
    let state = node.state()
    if (state.clusterId === null) {
      const clusterId = node.clusterId
      if (clusterId === null) return
      await this.#propose({ type: 'init', clusterId, name: this.#clusterName(), atMs: now })
      state = node.state()
    }
    for (const command of this.#membershipCommands(now)) await this.#propose(command)
    state = node.state()
    const status = raft.status()
    const members = new Map(node.members().map((m) => [m.id, m]))
    const holding = new Set<string>()
    for (const shards of Object.values(state.shards))
      for (const shard of shards) for (const r of shard.replicas) holding.add(r.nodeId)
    const planNodes: PlanNode[] = Object.values(state.nodes).map((record) => {
      const member = members.get(record.id)
      const alive = node.isAlive(record.id)
      const deadSinceMs = member?.stateChangedAtMs ?? record.updatedAtMs
      const departed = !alive && !holding.has(record.id) && now - deadSinceMs >= this.config.replicaGraceMs
      return {
        record,
        alive,
        ...(alive ? {} : { deadSinceMs }),
        ...(departed ? { departed } : {}),
      }
    })
    const change = planMetaChange({
      conf: status.confState,
      nodes: planNodes,
      followers: status.followers,
      leaderId: node.nodeId,
      nowMs: now,
      maxVoters: this.config.maxVoters,
      deadVoterGraceMs: this.config.deadVoterGraceMs,
      caughtUpEntries: this.config.caughtUpEntries,
    })
    if (change !== null) {
      this.#options.logger.info({ change }, 'metadata group membership change')
      await raft.proposeConfChange(change, { signal: AbortSignal.timeout(10_000) })
    }
    await this.#moveShards(now)
    this.#placeMetadataLeader(now, status)
  }

  /** Moves the metadata leadership off this node when it leads more shard groups than a voter that could take over. */
  #placeMetadataLeader(now: number, status: RaftStatus): void {
    const interval = this.config.metadataLeaderMoveIntervalMs
    const node = this.#options.node
    const host = node.host
    if (interval === 0 || host === null || now - this.#leaderMovedAtMs < interval) return
    const shardLeaders = host.groups
      .filter((group) => group.startsWith(SHARD_GROUP_PREFIX))
      .map((group) => host.group(group)?.leader ?? null)
    const lag = new Map(status.followers.map((f) => [f.id, f.lag]))
    const candidates = status.confState.voters.filter(
      (id) => node.isAlive(id) && (lag.get(id) ?? Number.POSITIVE_INFINITY) <= this.config.caughtUpEntries,
    )
    const target = metadataLeaderTarget({ self: node.nodeId, shardLeaders, candidates })
    if (target === null) return
    this.#leaderMovedAtMs = now
    this.#options.logger.info(
      { to: target },
      'metadata leadership moves to a node leading fewer shard groups',
    )
    node.metaRaft?.transferLeadership(target)
  }

  /**
   * The shard moves a controller pass starts now (re-replication, drains, replacements,
   * rebalancing). Placement costs a hash ring per index, run on the event loop that also drives
   * every Raft group of this node, so a plan is made again only when what it reads changed (the
   * shard map, the nodes, the settings, who is alive) or once it is `SHARD_PLAN_REFRESH_MS` old
   * (grace periods expire); until then the same plan object is returned. Whoever polls the plan
   * (the controller every pass, cluster operation progress, the admin overview) shares one.
   */
  planShardMoves(now: number = this.#options.clock()): ShardMovesPlan {
    const node = this.#options.node
    const state = node.state()
    const alive = Object.keys(state.nodes)
      .filter((id) => node.isAlive(id))
      .join(',')
    const last = this.#lastPlan
    if (
      last !== null &&
      last.shards === state.shards &&
      last.nodes === state.nodes &&
      last.settings === state.settings &&
      last.alive === alive &&
      now >= last.atMs &&
      now - last.atMs < SHARD_PLAN_REFRESH_MS
    )
      return last.plan
    const members = new Map(node.members().map((m) => [m.id, m]))
    const plan = planShardMoves({
      state,
      alive: (id) => node.isAlive(id),
      downSinceMs: (id) => (node.isAlive(id) ? undefined : members.get(id)?.stateChangedAtMs),
      nowMs: now,
      replicaGraceMs: this.config.replicaGraceMs,
      maxIncomingMoves: this.config.maxIncomingMoves,
      maxOutgoingMoves: this.config.maxOutgoingMoves,
      rebalance: this.config.autoRebalance === 1 || state.settings[REBALANCE_SETTING] !== undefined,
      replacements: replacementsOf(state.settings),
    })
    this.#lastPlan = {
      shards: state.shards,
      nodes: state.nodes,
      settings: state.settings,
      alive,
      atMs: now,
      plan,
    }
    return plan
  }

  async #moveShards(now: number): Promise<void> {
    // A pass acts on each plan once: the same plan object means nothing it reads changed.
    const node = this.#options.node
    const state = node.state()
    const plan = this.planShardMoves(now)
    if (plan === this.#actedOn) return
    this.#actedOn = plan
    for (const move of plan.start) {
      this.#options.logger.info(
        { index: move.index, shard: move.shard, to: move.to, from: move.from, reason: move.reason },
        'shard replica move',
      )
      if (await this.#propose(move.command)) this.movesStarted[move.reason]++
    }
    // A requested rebalance ends once nothing is left to move.
    if (
      state.settings[REBALANCE_SETTING] !== undefined &&
      plan.start.length === 0 &&
      plan.waiting === 0 &&
      plan.inFlight === 0
    )
      await this.#propose({ type: 'setting.delete', key: REBALANCE_SETTING })
    // A draining node without replicas has left; so has a dead node once replaced (a replaced
    // live node is draining). Either rejoins as a new active member if it is started again.
    const after = node.state()
    const holding = new Set<string>()
    for (const shards of Object.values(after.shards))
      for (const shard of shards) for (const r of shard.replicas) holding.add(r.nodeId)
    const replacements = replacementsOf(after.settings)
    for (const record of Object.values(after.nodes)) {
      if (holding.has(record.id)) continue
      if (record.state === 'draining')
        await this.#propose({
          type: 'node.state',
          nodeId: record.id,
          state: 'left',
          ifState: ['draining'],
          atMs: now,
        })
      if (replacements[record.id] === undefined) continue
      if (record.state === 'dead')
        await this.#propose({
          type: 'node.state',
          nodeId: record.id,
          state: 'left',
          ifState: ['dead'],
          atMs: now,
        })
      await this.#propose({ type: 'setting.delete', key: `${REPLACE_SETTING_PREFIX}${record.id}` })
    }
  }

  /** Joins, advert changes, deaths and returns that SWIM shows and the metadata does not yet record. */
  #membershipCommands(now: number): MetadataCommand[] {
    const node = this.#options.node
    const state = node.state()
    const commands: MetadataCommand[] = []
    const seen = new Set<string>()
    const self = node.advert
    const selfRecord = state.nodes[self.id]
    if (selfRecord === undefined || !sameAdvert(selfRecord, self) || selfRecord.state === 'dead')
      commands.push({ type: 'node.join', node: self, atMs: now })
    seen.add(self.id)
    for (const member of node.members()) {
      if (member.id === self.id) continue
      seen.add(member.id)
      const record = state.nodes[member.id]
      const alive = member.state === 'alive' || member.state === 'suspect'
      if (alive) {
        // A drained node stays left while it keeps running; it rejoins once it was started again
        // after it was recorded as left.
        const rejoined = record?.state === 'left' && (member.advert.startedAtMs ?? 0) > record.updatedAtMs
        if (
          record === undefined ||
          (!sameAdvert(record, member.advert) && record.state !== 'left') ||
          record.state === 'dead' ||
          rejoined
        )
          commands.push({ type: 'node.join', node: member.advert, atMs: now })
      } else if (
        // A draining node SWIM reports dead stays draining: recorded dead, it would come back
        // active and its drain would be forgotten (the task waiting for ever). Its replicas move
        // off it all the same; a move needs nothing from the node it leaves.
        record !== undefined &&
        (record.state === 'active' ||
          record.state === 'joining' ||
          (record.state === 'draining' && member.state === 'left'))
      ) {
        commands.push({
          type: 'node.state',
          nodeId: member.id,
          state: member.state === 'left' ? 'left' : 'dead',
          ifState: [record.state],
          atMs: now,
        })
      }
    }
    return commands
  }

  /** Proposes a command; true when it applied. */
  async #propose(command: MetadataCommand): Promise<boolean> {
    const outcome = await this.#options.node.propose(command, { timeoutMs: 5_000 })
    if (!outcome.ok && outcome.reason !== 'precondition_failed')
      this.#options.logger.warn({ command: command.type, reason: outcome.reason }, outcome.message)
    return outcome.ok
  }

  #clusterName(): string {
    return this.#options.node.bootstrapName ?? 'shoal'
  }
}
