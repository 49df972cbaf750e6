import { randomUUID } from 'node:crypto'
import { type ClusterNode, ENDED_TASK_STATUSES, type TaskRecord } from '@shoal/cluster'
import type { Logger } from 'pino'
import { ApiError, toErrorResponse } from '../errors.ts'
import { type Batch, type BatchPage, getBatch, listBatches } from '../task-batches.ts'
import { canBatch, runDocumentBatch, runTask } from '../task-executor.ts'
import { type TaskFilter, taskMatches } from '../task-filter.ts'
import { type EnqueueRequest, pageOfTasks, type TaskPage, type TaskQueuePort } from '../task-queue.ts'
import {
  isClusterOperation,
  isoDuration,
  type StoredTask,
  type Task,
  type TaskSummary,
  toPublicTask,
  toSummary,
} from '../task-types.ts'
import type { ClusterEngine } from './cluster-engine.ts'
import { commitMetadata } from './metadata-commit.ts'
import { isNodeRun } from './node-task.ts'

/**
 * The task list of a cluster node: tasks live in the metadata Raft group, so their uids are
 * unique and increasing cluster-wide and every node shows the same list. A write is enqueued
 * (with its documents) by a metadata commit before the client gets its `taskUid`.
 */
export class ClusterTaskQueue implements TaskQueuePort {
  readonly #engine: ClusterEngine
  readonly #node: ClusterNode

  constructor(engine: ClusterEngine) {
    this.#engine = engine
    this.#node = engine.node
  }

  start(): void {}

  async enqueue(request: EnqueueRequest): Promise<TaskSummary> {
    const operation = request.operation
    // Names the batch's documents in the task (they travel with it in the metadata log).
    if (operation.kind === 'addDocuments') operation.payloadFile = randomUUID()
    if (operation.kind === 'addDocuments' && operation.writeConcern === 'async' && request.indexUid !== null)
      refuseAsyncByField(this.#engine, request.indexUid)
    if (operation.kind === 'createIndex' && request.indexUid !== null)
      this.#engine.planSharding(request.indexUid, operation.sharding)
    const task: Omit<StoredTask, 'uid'> = {
      batchUid: null,
      indexUid: request.indexUid,
      status: 'enqueued',
      type: request.type,
      canceledBy: null,
      details: request.details ?? null,
      error: null,
      duration: null,
      enqueuedAt: new Date().toISOString(),
      startedAt: null,
      finishedAt: null,
      ...(request.customMetadata !== undefined ? { customMetadata: request.customMetadata } : {}),
      operation,
    }
    const payload =
      request.documentsJson === undefined
        ? undefined
        : typeof request.documentsJson === 'string'
          ? Buffer.from(request.documentsJson)
          : request.documentsJson
    // Read-your-writes on this node: its copy of the task list holds the task before the answer.
    const outcome = await commitMetadata(
      this.#node,
      {
        type: 'task.enqueue',
        task: task as unknown as Omit<TaskRecord, 'uid'>,
        ...(payload === undefined ? {} : { payload }),
        atMs: Date.now(),
      },
      { refused: 'unavailable', what: 'the task' },
    )
    const uid = outcome.value as number
    return toSummary({ ...(task as StoredTask), uid })
  }

  async control(kind: 'cancel' | 'delete', filter: TaskFilter, originalFilter: string): Promise<TaskSummary> {
    const matched = this.#matching(filter)
    const now = new Date().toISOString()
    let affected = 0
    if (kind === 'cancel') {
      for (const task of matched) {
        if (task.status !== 'enqueued') continue
        const outcome = await this.#node.propose({
          type: 'task.update',
          uid: task.uid,
          ifStatus: ['enqueued'],
          patch: { status: 'canceled', finishedAt: now, duration: isoDuration(0) },
          dropPayload: true,
        })
        if (outcome.ok) affected++
      }
    } else {
      const uids = matched.filter((t) => ENDED_TASK_STATUSES.includes(t.status)).map((t) => t.uid)
      const outcome = await this.#node.propose({ type: 'task.delete', uids })
      affected = outcome.ok ? (outcome.value as number) : 0
    }
    const record: Omit<StoredTask, 'uid'> = {
      batchUid: null,
      indexUid: null,
      status: 'succeeded',
      type: kind === 'cancel' ? 'taskCancelation' : 'taskDeletion',
      canceledBy: null,
      details: {
        matchedTasks: matched.length,
        [kind === 'cancel' ? 'canceledTasks' : 'deletedTasks']: affected,
        originalFilter,
      },
      error: null,
      duration: isoDuration(0),
      enqueuedAt: now,
      startedAt: now,
      finishedAt: now,
      operation: { kind: 'taskControl' },
    }
    const outcome = await commitMetadata(
      this.#node,
      { type: 'task.enqueue', task: record as unknown as Omit<TaskRecord, 'uid'>, atMs: Date.now() },
      { refused: 'unavailable', what: 'the task' },
    )
    return toSummary({ ...(record as StoredTask), uid: outcome.value as number })
  }

  /**
   * A task by uid. A uid this node has not seen yet may have been enqueued through another node:
   * it catches up with the metadata leader first (ReadIndex), so a task is found on every node as
   * soon as its uid was returned by any.
   */
  async get(uid: number): Promise<Task | undefined> {
    if (this.#node.metadata.task(uid) === undefined && uid >= this.#node.metadata.nextTaskUid) {
      try {
        await this.#node.readLinearizable({ timeoutMs: 5_000 })
      } catch {
        // No metadata majority: answer from what this node has.
      }
    }
    const task = this.#node.metadata.task(uid) as unknown as StoredTask | undefined
    return task === undefined ? undefined : toPublicTask(task)
  }

  list(filter: TaskFilter): TaskPage {
    return pageOfTasks(this.#matching(filter), filter)
  }

  /** Cluster tasks run one by one without batch uids, so this lists no batch (yet). */
  listBatches(filter: TaskFilter): BatchPage {
    return listBatches(this.#node.metadata.tasks() as unknown as StoredTask[], filter)
  }

  getBatch(uid: number): Batch | undefined {
    return getBatch(this.#node.metadata.tasks() as unknown as StoredTask[], uid)
  }

  #matching(filter: TaskFilter): StoredTask[] {
    const out: StoredTask[] = []
    for (const task of this.#node.metadata.tasks()) {
      const stored = task as unknown as StoredTask
      if (taskMatches(stored, filter)) out.push(stored)
    }
    return out
  }

  depth(): number {
    let count = 0
    for (const task of this.#node.metadata.tasks()) if (!ENDED_TASK_STATUSES.includes(task.status)) count++
    return count
  }

  async close(): Promise<void> {}
}

/**
 * Runs the cluster's tasks, one at a time in uid order, on the node that leads the metadata group
 * (a single scheduler, so writes to an index apply in the order they were accepted). A task is
 * marked processing, run against the shards (each shard command carries the task uid and applies
 * once), then marked succeeded or failed with its payload dropped — all through the metadata log.
 * When the leader changes mid-task, the new leader runs the task again from the start: shards that
 * already applied their part answer with the first outcome, so the task completes or fails as a
 * whole and is never left half-applied without a trace.
 */
export class TaskScheduler {
  readonly #engine: ClusterEngine
  readonly #node: ClusterNode
  readonly #logger: Logger
  readonly #onFinished: (tasks: Task[]) => void
  #timer: ReturnType<typeof setTimeout> | null = null
  #running: Promise<void> | null = null
  #stopped = false
  #unsubscribe: (() => void) | null = null

  /** `onFinished` is called with the tasks of each run that ended them (webhooks deliver them). */
  constructor(engine: ClusterEngine, logger: Logger, onFinished: (tasks: Task[]) => void = () => {}) {
    this.#engine = engine
    this.#node = engine.node
    this.#logger = logger
    this.#onFinished = onFinished
  }

  start(): void {
    this.#unsubscribe = this.#node.metadata.onChange(() => this.#kick())
    this.#kick()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    this.#unsubscribe?.()
    if (this.#timer !== null) clearTimeout(this.#timer)
    await this.#running
  }

  #kick(): void {
    if (this.#stopped || this.#running !== null) return
    if (this.#node.metadataLeader !== this.#node.nodeId) {
      // Poll rarely while another node leads: leadership changes do not always touch the state.
      this.#timer ??= setTimeout(() => {
        this.#timer = null
        this.#kick()
      }, 500)
      return
    }
    this.#running = this.#loop().finally(() => {
      this.#running = null
      if (!this.#stopped && this.#next() !== undefined) setTimeout(() => this.#kick(), 100)
    })
  }

  /** The oldest task still to run; cluster operations run beside the writes (cluster-operations.ts). */
  #next(): TaskRecord | undefined {
    // A backup, dump or export is run by the node that received it (node-task.ts), not by the scheduler.
    for (const task of this.#node.metadata.tasks())
      if (
        !ENDED_TASK_STATUSES.includes(task.status) &&
        !isNodeRun(task) &&
        !isClusterOperation((task as unknown as StoredTask).operation)
      )
        return task
    return undefined
  }

  async #loop(): Promise<void> {
    while (!this.#stopped && this.#node.metadataLeader === this.#node.nodeId) {
      const next = this.#next()
      if (next === undefined) return
      try {
        await this.#run(next as unknown as StoredTask)
      } catch (error) {
        this.#logger.warn({ err: error, task: next.uid }, 'task run interrupted; it will be run again')
        return
      }
    }
  }

  async #run(first: StoredTask): Promise<void> {
    const recovered = first.status === 'processing'
    const startedAt = first.startedAt ?? new Date().toISOString()
    let batch = [first]
    if (!recovered) {
      const candidates = this.#batchFrom(first)
      const marked = await Promise.all(
        candidates.map((task) =>
          this.#node.propose({
            type: 'task.update',
            uid: task.uid,
            ifStatus: ['enqueued'],
            patch: { status: 'processing', startedAt },
          }),
        ),
      )
      // A task canceled meanwhile stays out; the batch ends before it (tasks apply in uid order).
      const kept = marked.findIndex((outcome) => !outcome.ok)
      batch = kept === -1 ? candidates : candidates.slice(0, kept)
      if (batch.length === 0) return
    }
    const finished: { task: StoredTask; patch: Record<string, unknown> }[] = []
    if (
      batch.length > 1 &&
      (await runDocumentBatch(
        this.#engine.forTasks(
          batch.map((t) => t.uid),
          startedAt,
        ),
        batch,
        batchLoader(batch, (uid) => this.#documents(uid)),
      ))
    ) {
      for (const task of batch) {
        const count = task.operation.kind === 'addDocuments' ? task.operation.documentCount : 0
        finished.push({
          task,
          patch: {
            status: 'succeeded',
            details: { ...(task.details ?? {}), receivedDocuments: count, indexedDocuments: count },
          },
        })
      }
    } else {
      for (const task of batch) {
        try {
          const details = await runTask(
            this.#engine.forTasks([task.uid], startedAt),
            task,
            async () => this.#documents(task.uid),
            recovered,
          )
          finished.push({
            task,
            patch: { status: 'succeeded', details: { ...(task.details ?? {}), ...details } },
          })
        } catch (error) {
          const response = toErrorResponse(error)
          // Unavailable shards, a leader change, a time-out (503): the task stays processing and
          // runs again later. The request's own fault (4xx) or a defect (500) fails it.
          if (response.status === 503 || isRetriable(error)) {
            await this.#finish(finished, startedAt)
            throw error
          }
          if (response.internal)
            this.#logger.error({ err: error, task: task.uid }, 'task failed with an internal error')
          finished.push({ task, patch: { status: 'failed', error: response.body } })
        }
      }
    }
    await this.#finish(finished, startedAt)
  }

  /** Consecutive document additions to `first`'s index with the same method and key, as one write. */
  #batchFrom(first: StoredTask): StoredTask[] {
    const batch = [first]
    if (first.operation.kind !== 'addDocuments') return batch
    let documents = first.operation.documentCount
    for (const record of this.#node.metadata.tasks()) {
      const task = record as unknown as StoredTask
      if (task.uid <= first.uid || ENDED_TASK_STATUSES.includes(task.status)) continue
      if (task.indexUid !== first.indexUid) continue
      if (task.status !== 'enqueued' || !canBatch(first, task) || task.operation.kind !== 'addDocuments')
        break
      if (documents + task.operation.documentCount > MAX_BATCH_DOCUMENTS) break
      documents += task.operation.documentCount
      batch.push(task)
    }
    return batch
  }

  async #finish(
    finished: readonly { task: StoredTask; patch: Record<string, unknown> }[],
    startedAt: string,
  ) {
    const finishedAt = new Date()
    const outcomes = await Promise.all(
      finished.map(({ task, patch }) =>
        this.#node.propose({
          type: 'task.update',
          uid: task.uid,
          ifStatus: ['processing'],
          patch: {
            ...patch,
            finishedAt: finishedAt.toISOString(),
            duration: isoDuration(finishedAt.getTime() - Date.parse(startedAt)),
          },
          dropPayload: true,
        }),
      ),
    )
    const ended: Task[] = []
    for (const outcome of outcomes)
      if (outcome.ok && outcome.value !== undefined) ended.push(toPublicTask(outcome.value as StoredTask))
    for (const task of ended)
      this.#logger.debug(
        {
          task: task.uid,
          index: task.indexUid,
          type: task.type,
          status: task.status,
          duration: task.duration,
        },
        'task finished',
      )
    if (ended.length > 0) this.#onFinished(ended)
  }

  #documents(uid: number): object[] {
    const payload = this.#node.metadata.taskPayload(uid)
    if (payload === undefined) throw new Error(`task ${uid} has no documents`)
    return JSON.parse(Buffer.from(payload).toString('utf8')) as object[]
  }
}

/** Largest number of documents merged into one batch of document additions. */
const MAX_BATCH_DOCUMENTS = 100_000

/** Loads each batched task's documents by the payload file name the executor asks for. */
function batchLoader(batch: readonly StoredTask[], documents: (uid: number) => object[]) {
  return async (file: string): Promise<object[]> => {
    const task = batch.find((t) => t.operation.kind === 'addDocuments' && t.operation.payloadFile === file)
    if (task === undefined) throw new Error(`no task of the batch has payload ${file}`)
    return documents(task.uid)
  }
}

/** Cluster errors that say "try again later" (no leader, a time-out): the task is not failed for them. */
function isRetriable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { retriable?: unknown }).retriable === true
}

/**
 * A `field`-sharded index moves a document whose key changed in two steps, the second only once
 * the first is committed everywhere, so that a reader never finds it in neither shard: an `async`
 * write, acknowledged before its first step is committed, would break that. Refused up front.
 */
function refuseAsyncByField(engine: ClusterEngine, uid: string): void {
  if (!engine.hasIndex(uid) || engine.getSharding(uid).strategy !== 'field') return
  throw new ApiError(
    400,
    'invalid_write_concern',
    `Index \`${uid}\` is sharded by field: its writes may move documents between shards and take the \`quorum\` write concern only.`,
  )
}
