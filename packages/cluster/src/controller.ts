import type { ClusterLogger, ClusterNode } from './cluster-node.ts'
import { type PlanNode, planMetaChange } from './controller-plan.ts'
import { ClusterConfigError } from './errors.ts'
import { type MembershipPort, sameAdvert } from './membership.ts'
import type { MetadataCommand } from './metadata/types.ts'

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
}

export const DEFAULT_CONTROLLER_CONFIG: ControllerConfig = Object.freeze({
  reconcileIntervalMs: 250,
  maxVoters: 5,
  deadVoterGraceMs: 10_000,
  caughtUpEntries: 16,
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
  readonly #options: ControllerOptions
  #timer: ReturnType<typeof setInterval> | null = null
  #running = false
  #unsubscribe: (() => void) | null = null

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
    const planNodes: PlanNode[] = Object.values(state.nodes).map((record) => {
      const member = members.get(record.id)
      const alive = node.isAlive(record.id)
      return {
        record,
        alive,
        ...(alive ? {} : { deadSinceMs: member?.stateChangedAtMs ?? record.updatedAtMs }),
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
        if (
          record === undefined ||
          !sameAdvert(record, member.advert) ||
          record.state === 'dead' ||
          record.state === 'left'
        )
          commands.push({ type: 'node.join', node: member.advert, atMs: now })
      } else if (
        record !== undefined &&
        (record.state === 'active' || record.state === 'joining' || record.state === 'draining')
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

  async #propose(command: MetadataCommand): Promise<void> {
    const outcome = await this.#options.node.propose(command, { timeoutMs: 5_000 })
    if (!outcome.ok && outcome.reason !== 'precondition_failed')
      this.#options.logger.warn({ command: command.type, reason: outcome.reason }, outcome.message)
  }

  #clusterName(): string {
    return this.#options.node.bootstrapName ?? 'shoal'
  }
}
