import {
  type ClusterNode,
  ENDED_TASK_STATUSES,
  type MetadataCommand,
  type ShardHosting,
} from '@shoal/cluster'
import type { Logger } from 'pino'
import { isClusterOperation, isoDuration, type StoredTask } from '../task-types.ts'
import {
  followOperation,
  type OperationDetails,
  type OperationInput,
  startOperation,
  undoOperation,
} from './cluster-operation-progress.ts'
import { movesInFlight } from './moves-in-flight.ts'

export interface ClusterOperationsOptions {
  readonly node: ClusterNode
  readonly hosting: ShardHosting
  readonly logger: Logger
  /** How often the metadata leader looks at the operations under way (each look asks the replicas of the shards on the move for their status). @defaultValue 1000 */
  readonly intervalMs?: number
  /** Details are recorded at most this often while nothing but progress changes. @defaultValue 1000 */
  readonly recordEveryMs?: number
  /** A drain or replacement with no node to take a replica fails after being stuck this long. @defaultValue 10000 */
  readonly stuckMs?: number
  /**
   * A drain or replacement held up by a shard group without a live majority waits this long for
   * the group's voters to come back (a partition healing, a node restarting) before it fails.
   * @defaultValue 300000
   */
  readonly majorityWaitMs?: number
}

/**
 * Runs the cluster operation tasks on the metadata leader: `clusterRebalance`, `nodeDrain` and
 * `nodeReplace`. An enqueued task is started (its metadata commands proposed, then it is marked
 * processing with its plan in `details`); a processing one is followed, its progress recorded in
 * `details`, until it succeeds or fails. Every step is a metadata proposal that follows from the
 * metadata and the task's own details, so when the leader changes the new one simply carries on.
 * The replica moves themselves are the controller's and the shard stewards' (`@shoal/cluster`).
 */
export class ClusterOperations {
  readonly #options: ClusterOperationsOptions
  readonly #node: ClusterNode
  #timer: ReturnType<typeof setInterval> | null = null
  #running: Promise<void> | null = null
  #unsubscribe: (() => void) | null = null
  /** Per task uid: when its details were last recorded, and since when it has been stuck. */
  readonly #seen = new Map<number, { recordedAtMs: number; stuckSinceMs: number | null }>()

  constructor(options: ClusterOperationsOptions) {
    this.#options = options
    this.#node = options.node
  }

  start(): void {
    if (this.#timer !== null) return
    this.#timer = setInterval(() => this.#kick(), this.#options.intervalMs ?? 1000)
    this.#timer.unref?.()
    // A new task is started at once rather than on the next tick.
    let next = this.#node.metadata.nextTaskUid
    this.#unsubscribe = this.#node.metadata.onChange(() => {
      if (this.#node.metadata.nextTaskUid === next) return
      next = this.#node.metadata.nextTaskUid
      this.#kick()
    })
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    this.#unsubscribe?.()
    await this.#running
  }

  #kick(): void {
    if (this.#timer === null || this.#running !== null) return
    if (this.#node.metadataLeader !== this.#node.nodeId) {
      this.#seen.clear()
      return
    }
    this.#running = this.#pass()
      .catch((error: unknown) =>
        this.#options.logger.warn({ err: error }, 'cluster operation pass failed; retrying on the next tick'),
      )
      .finally(() => {
        this.#running = null
      })
  }

  async #pass(): Promise<void> {
    const open: StoredTask[] = []
    for (const record of this.#node.metadata.tasks()) {
      const task = record as unknown as StoredTask
      if (!ENDED_TASK_STATUSES.includes(task.status) && isClusterOperation(task.operation)) open.push(task)
    }
    for (const uid of this.#seen.keys()) if (!open.some((t) => t.uid === uid)) this.#seen.delete(uid)
    for (const task of open) {
      if (this.#node.metadataLeader !== this.#node.nodeId || this.#timer === null) return
      if (task.status === 'enqueued') await this.#start(task)
      else await this.#follow(task)
    }
  }

  #input(): OperationInput {
    const members = new Map(this.#node.members().map((m) => [m.id, m]))
    return {
      state: this.#node.state(),
      alive: (id) => this.#node.isAlive(id),
      downSinceMs: (id) => (this.#node.isAlive(id) ? undefined : members.get(id)?.stateChangedAtMs),
      plan: this.#node.planShardMoves(),
      nowMs: Date.now(),
      majorityWaitMs: this.#options.majorityWaitMs ?? 300_000,
    }
  }

  async #start(task: StoredTask): Promise<void> {
    if (!isClusterOperation(task.operation)) return
    const startedAt = new Date().toISOString()
    const begun = startOperation(task.operation, task.uid, this.#input())
    if (begun.kind === 'failed') {
      await this.#end(task, 'enqueued', startedAt, begun.details, begun.error)
      return
    }
    // The commands are idempotent (a setting put, a compare-and-set of the node's state): a new
    // leader that finds the task still enqueued proposes them again.
    for (const command of begun.commands) await this.#propose(command)
    await this.#propose({
      type: 'task.update',
      uid: task.uid,
      ifStatus: ['enqueued'],
      patch: { status: 'processing', startedAt, details: { ...task.details, ...begun.details } },
    })
    this.#options.logger.info({ task: task.uid, type: task.type }, 'cluster operation started')
    this.#node.pokeController()
  }

  async #follow(task: StoredTask): Promise<void> {
    if (!isClusterOperation(task.operation)) return
    const previous = task.details as unknown as OperationDetails
    const scope = task.operation
    const moves = await movesInFlight(this.#options, (index, shard) => {
      if (scope.kind === 'clusterRebalance') return true
      const nodeId = scope.kind === 'nodeDrain' ? scope.nodeId : scope.oldNodeId
      return (
        this.#node
          .state()
          .shards[index]?.find((s) => s.shard === shard)
          ?.replicas.some((r) => r.nodeId === nodeId) === true
      )
    })
    const input = this.#input()
    const step = followOperation(task.operation, previous, input, moves)
    const seen = this.#seen.get(task.uid) ?? { recordedAtMs: 0, stuckSinceMs: null }
    this.#seen.set(task.uid, seen)
    if (step.kind === 'succeeded') {
      await this.#end(task, 'processing', task.startedAt ?? new Date().toISOString(), step.details, null)
      return
    }
    if (step.kind === 'failed') {
      seen.stuckSinceMs ??= input.nowMs
      if (!step.stuck || input.nowMs - seen.stuckSinceMs >= (this.#options.stuckMs ?? 10_000)) {
        for (const command of undoOperation(task.operation, step.details, input.nowMs))
          await this.#propose(command)
        await this.#end(
          task,
          'processing',
          task.startedAt ?? new Date().toISOString(),
          step.details,
          step.error,
        )
        return
      }
    } else seen.stuckSinceMs = null
    const moved =
      step.details.movesDone !== previous.movesDone || step.details.movesInFlight !== previous.movesInFlight
    if (!moved && input.nowMs - seen.recordedAtMs < (this.#options.recordEveryMs ?? 1_000)) return
    if (JSON.stringify(step.details) === JSON.stringify(previous)) return
    seen.recordedAtMs = input.nowMs
    await this.#propose({
      type: 'task.update',
      uid: task.uid,
      ifStatus: ['processing'],
      patch: { details: { ...task.details, ...step.details } },
    })
  }

  async #end(
    task: StoredTask,
    from: 'enqueued' | 'processing',
    startedAt: string,
    details: OperationDetails,
    error: unknown,
  ): Promise<void> {
    const finishedAt = new Date()
    await this.#propose({
      type: 'task.update',
      uid: task.uid,
      ifStatus: [from],
      patch: {
        status: error === null ? 'succeeded' : 'failed',
        details: { ...task.details, ...details },
        error,
        startedAt,
        finishedAt: finishedAt.toISOString(),
        duration: isoDuration(finishedAt.getTime() - Date.parse(startedAt)),
      },
    })
    this.#seen.delete(task.uid)
    this.#options.logger.info(
      { task: task.uid, type: task.type, failed: error !== null },
      error === null ? 'cluster operation succeeded' : 'cluster operation failed',
    )
  }

  async #propose(command: MetadataCommand): Promise<void> {
    const outcome = await this.#node.propose(command, { timeoutMs: 5_000 })
    if (!outcome.ok && outcome.reason !== 'precondition_failed')
      this.#options.logger.warn({ command: command.type, reason: outcome.reason }, outcome.message)
  }
}
