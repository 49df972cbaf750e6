import { randomUUID } from 'node:crypto'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { BackupPaths } from './backups.ts'
import type { EnginePort } from './engine-port.ts'
import { toErrorResponse } from './errors.ts'
import { nextTurn, parseJsonArrayInSlices } from './payload-file.ts'
import { type Batch, type BatchPage, getBatch, listBatches } from './task-batches.ts'
import { canBatch, runDocumentBatch, runTask } from './task-executor.ts'
import { type TaskFilter, taskMatches } from './task-filter.ts'
import { removeFile, TaskLog, writeFileDurably } from './task-log.ts'
import {
  isoDuration,
  type Operation,
  type StoredTask,
  type Task,
  type TaskSummary,
  type TaskType,
  toPublicTask,
  toSummary,
} from './task-types.ts'

/**
 * The durable write queue. A write is enqueued (its documents written to a
 * payload file and its record fsync'd in the task log) before the client gets
 * its `taskUid`; one loop then runs the tasks in uid order, so writes to one
 * index apply in the order they were accepted. Consecutive document additions
 * to the same index with the same method and primary key run as one batch.
 *
 * After a crash, `open` replays the log: tasks that were enqueued or
 * processing run again (engine writes are idempotent; see task-executor.ts),
 * finished tasks keep their status.
 */

export interface TaskQueueOptions {
  /** fsync the task log and payload files. @defaultValue true */
  sync?: boolean
  /** Largest number of documents merged into one batch. @defaultValue 100_000 */
  maxBatchDocuments?: number
  onFsync?: (seconds: number) => void
  onTaskFinished?: (task: Task) => void
  /** Once per finished batch (task cancelation and deletion included), with its tasks. */
  onBatchFinished?: (tasks: Task[]) => void
  onInternalError?: (error: unknown, task: Task) => void
  /** Where dump and snapshot tasks write; without it they fail. */
  backups?: BackupPaths
  /**
   * Awaited after a batch ran and before any of its tasks is reported finished (a semi_sync
   * primary waits there for its standby to hold the batch's commands). When it throws, every task
   * of the batch fails with that error.
   */
  beforeTasksFinish?: () => Promise<void>
}

export interface EnqueueRequest {
  type: TaskType
  indexUid: string | null
  operation: Operation
  details?: Record<string, unknown>
  /** Documents for `addDocuments`, already validated as a JSON array of objects. */
  documentsJson?: Buffer | string
  /** Kept on the task as `customMetadata`. */
  customMetadata?: string
}

/** What the HTTP routes use of a task list (a standalone node's queue, or the cluster's). */
export interface TaskQueuePort {
  start(): void
  enqueue(request: EnqueueRequest): Promise<TaskSummary>
  control(kind: 'cancel' | 'delete', filter: TaskFilter, originalFilter: string): Promise<TaskSummary>
  /** A task by uid (a cluster node may first catch up with the metadata leader). */
  get(uid: number): Task | undefined | Promise<Task | undefined>
  list(filter: TaskFilter): TaskPage
  /** `GET /batches` (see task-batches.ts). */
  listBatches(filter: TaskFilter): BatchPage
  getBatch(uid: number): Batch | undefined
  depth(): number
  close(): Promise<void>
}

export interface TaskPage {
  results: Task[]
  total: number
  limit: number
  from: number | null
  next: number | null
}

const LOG_DIR = 'log'
const PAYLOAD_DIR = 'payloads'

export class TaskQueue implements TaskQueuePort {
  private readonly tasks = new Map<number, StoredTask>()
  /** Uids of enqueued tasks, ascending. */
  private waiting: number[] = []
  private recoveredUids = new Set<number>()
  private nextUid = 0
  private nextBatchUid = 0
  private running: Promise<void> | null = null
  private stopping = false
  private started = false
  private processingUids: number[] = []
  private idleWaiters: (() => void)[] = []

  private readonly directory: string
  private readonly engine: EnginePort
  private readonly log: TaskLog<StoredTask>
  private readonly options: TaskQueueOptions

  private constructor(
    directory: string,
    engine: EnginePort,
    log: TaskLog<StoredTask>,
    options: TaskQueueOptions,
  ) {
    this.directory = directory
    this.engine = engine
    this.log = log
    this.options = options
  }

  static async open(
    directory: string,
    engine: EnginePort,
    options: TaskQueueOptions = {},
  ): Promise<TaskQueue> {
    await mkdir(path.join(directory, PAYLOAD_DIR), { recursive: true })
    const opened = await TaskLog.open<StoredTask>(path.join(directory, LOG_DIR), optionsForLog(options))
    const latest = new Map<number, StoredTask>()
    for (const record of opened.records) latest.set(record.uid, record)
    // Most records are superseded snapshots (each task writes three): keep the log small.
    if (opened.records.length > 10_000 && opened.records.length > 2 * latest.size) {
      await opened.log.compact([...latest.values()].sort((a, b) => a.uid - b.uid))
    }
    const queue = new TaskQueue(directory, engine, opened.log, options)
    await queue.recover(latest)
    return queue
  }

  private async recover(latest: Map<number, StoredTask>): Promise<void> {
    const live = new Set<string>()
    for (const task of [...latest.values()].sort((a, b) => a.uid - b.uid)) {
      this.nextUid = Math.max(this.nextUid, task.uid + 1)
      if (task.deleted === true) continue
      if (task.status === 'processing') {
        this.recoveredUids.add(task.uid)
        task.status = 'enqueued'
        task.startedAt = null
        task.batchUid = null
      }
      this.tasks.set(task.uid, task)
      if (task.status === 'enqueued') {
        this.waiting.push(task.uid)
        if (task.operation.kind === 'addDocuments') live.add(task.operation.payloadFile)
      }
      this.nextUid = Math.max(this.nextUid, task.uid + 1)
      if (task.batchUid !== null) this.nextBatchUid = Math.max(this.nextBatchUid, task.batchUid + 1)
    }
    // Payload files of finished tasks, or of enqueues that never reached the log.
    for (const name of await readdir(this.payloadDir())) {
      if (!live.has(name)) await removeFile(path.join(this.payloadDir(), name))
    }
  }

  /** Starts the processing loop (tasks recovered from the log run first); before it, tasks only queue up. */
  start(): void {
    this.started = true
    this.kick()
  }

  /** Makes a write durable and returns its summary; the task runs later. */
  async enqueue(request: EnqueueRequest): Promise<TaskSummary> {
    if (this.stopping) throw new Error('the task queue is shutting down')
    const operation = request.operation
    if (operation.kind === 'addDocuments') {
      if (request.documentsJson === undefined) throw new Error('addDocuments needs documentsJson')
      const name = `${randomUUID()}.json`
      operation.payloadFile = name
      const file = path.join(this.payloadDir(), name)
      if (this.options.sync === false) await writeFile(file, request.documentsJson)
      else await writeFileDurably(file, request.documentsJson)
    }
    // The uid is taken and the record appended in one synchronous step, so
    // log order is uid order and a task is visible only after all earlier ones.
    const task: StoredTask = {
      uid: this.nextUid++,
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
    await this.log.append([task])
    this.tasks.set(task.uid, task)
    this.insertWaiting(task.uid)
    this.kick()
    return toSummary(task)
  }

  /**
   * `POST /tasks/cancel` and `DELETE /tasks`: cancels the enqueued tasks, or
   * deletes the finished tasks, that match `filter`, at once, and records that
   * as a succeeded task of its own. A running batch is neither canceled nor deleted.
   */
  async control(kind: 'cancel' | 'delete', filter: TaskFilter, originalFilter: string): Promise<TaskSummary> {
    const uid = this.nextUid++
    const now = new Date().toISOString()
    const matched = this.matching(filter)
    const affected: StoredTask[] = []
    for (const task of matched) {
      if (kind === 'cancel' && task.status === 'enqueued') {
        Object.assign(task, {
          status: 'canceled',
          canceledBy: uid,
          finishedAt: now,
          duration: isoDuration(0),
        })
        affected.push(task)
      } else if (kind === 'delete' && ['succeeded', 'failed', 'canceled'].includes(task.status)) {
        affected.push({ ...task, deleted: true })
      }
    }
    const task: StoredTask = {
      uid,
      batchUid: this.nextBatchUid++,
      indexUid: null,
      status: 'succeeded',
      type: kind === 'cancel' ? 'taskCancelation' : 'taskDeletion',
      canceledBy: null,
      details: {
        matchedTasks: matched.length,
        [kind === 'cancel' ? 'canceledTasks' : 'deletedTasks']: affected.length,
        originalFilter,
      },
      error: null,
      duration: isoDuration(0),
      enqueuedAt: now,
      startedAt: now,
      finishedAt: now,
      operation: { kind: 'taskControl' },
    }
    const gone = new Set(affected.map((t) => t.uid))
    if (kind === 'cancel') this.waiting = this.waiting.filter((u) => !gone.has(u))
    else for (const u of gone) this.tasks.delete(u)
    await this.log.append([...affected.map((t) => ({ ...t })), task])
    this.tasks.set(uid, task)
    for (const t of affected) {
      if (kind === 'cancel' && t.operation.kind === 'addDocuments') {
        await removeFile(path.join(this.payloadDir(), t.operation.payloadFile))
      }
    }
    if (this.depth() === 0) for (const resolve of this.idleWaiters.splice(0)) resolve()
    this.options.onBatchFinished?.([toPublicTask(task)])
    return toSummary(task)
  }

  /** The uid the next task will get. */
  get nextTaskUid(): number {
    return this.nextUid
  }

  /** Uids below `uid` were given elsewhere (by the primary a standby took over from): skip them. */
  skipUidsBelow(uid: number): void {
    this.nextUid = Math.max(this.nextUid, uid)
  }

  get(uid: number): Task | undefined {
    const task = this.tasks.get(uid)
    return task === undefined ? undefined : toPublicTask(task)
  }

  list(filter: TaskFilter): TaskPage {
    return pageOfTasks(this.matching(filter), filter)
  }

  /** Every task not deleted, oldest first, as `GET /tasks` shows it (backups carry it). */
  history(): Task[] {
    return [...this.tasks.values()]
      .filter((t) => t.deleted !== true)
      .sort((a, b) => a.uid - b.uid)
      .map(toPublicTask)
  }

  /** Every stored task, tombstones included, oldest first (a conversion to a cluster carries it). */
  storedTasks(): StoredTask[] {
    return [...this.tasks.values()].sort((a, b) => a.uid - b.uid)
  }

  /** `GET /batches`: see task-batches.ts. */
  listBatches(filter: TaskFilter): BatchPage {
    return listBatches(this.tasks.values(), filter)
  }

  getBatch(uid: number): Batch | undefined {
    return getBatch(this.tasks.values(), uid)
  }

  private matching(filter: TaskFilter): StoredTask[] {
    return [...this.tasks.values()].filter((t) => taskMatches(t, filter))
  }

  /** Enqueued plus processing tasks. */
  depth(): number {
    return this.waiting.length + this.processingUids.length
  }

  /** Resolves when no task is waiting or running. */
  waitIdle(): Promise<void> {
    if (this.depth() === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  /**
   * Stops taking new tasks, lets the running batch finish and closes the log.
   * Tasks still enqueued stay durable and run after the next start.
   */
  async close(): Promise<void> {
    this.stopping = true
    if (this.running !== null) await this.running
    await this.log.close()
  }

  private payloadDir(): string {
    return path.join(this.directory, PAYLOAD_DIR)
  }

  private insertWaiting(uid: number): void {
    const last = this.waiting[this.waiting.length - 1]
    if (last === undefined || last < uid) this.waiting.push(uid)
    else {
      this.waiting.push(uid)
      this.waiting.sort((a, b) => a - b)
    }
  }

  private kick(): void {
    if (this.started && this.running === null && !this.stopping) this.running = this.loop()
  }

  private async loop(): Promise<void> {
    // Yield first: `kick` assigns `running` after this call returns, and the
    // `finally` below must not run before that assignment.
    await Promise.resolve()
    try {
      while (!this.stopping && this.waiting.length > 0) {
        const batch = this.nextBatch()
        await this.runBatch(batch)
      }
    } finally {
      this.running = null
      if (this.depth() === 0) for (const resolve of this.idleWaiters.splice(0)) resolve()
      if (!this.stopping && this.waiting.length > 0) this.kick()
    }
  }

  private nextBatch(): StoredTask[] {
    const first = this.tasks.get(this.waiting[0]!)!
    const batch = [first]
    if (first.operation.kind !== 'addDocuments') return batch
    let documents = first.operation.documentCount
    const limit = this.options.maxBatchDocuments ?? 100_000
    for (const uid of this.waiting.slice(1)) {
      const task = this.tasks.get(uid)!
      if (task.indexUid !== first.indexUid) continue
      if (!canBatch(first, task) || task.operation.kind !== 'addDocuments') break
      if (documents + task.operation.documentCount > limit) break
      documents += task.operation.documentCount
      batch.push(task)
    }
    return batch
  }

  private async runBatch(batch: StoredTask[]): Promise<void> {
    const batchUid = this.nextBatchUid++
    const startedAt = new Date()
    const uids = new Set(batch.map((t) => t.uid))
    this.waiting = this.waiting.filter((uid) => !uids.has(uid))
    this.processingUids = [...uids]
    for (const task of batch) {
      task.status = 'processing'
      task.batchUid = batchUid
      task.startedAt = startedAt.toISOString()
    }
    await this.log.append(batch.map((t) => ({ ...t })))
    const load = (name: string) => this.loadDocuments(name)
    // Outcomes are recorded first and shown together once `beforeTasksFinish` allows it, so no
    // task of the batch reads as finished before then.
    const outcomes = new Map<StoredTask, { details: Record<string, unknown> } | { error: unknown }>()
    if (batch.length > 1 && (await runDocumentBatch(this.engine, batch, load))) {
      for (const task of batch) {
        const op = task.operation
        const count = op.kind === 'addDocuments' ? op.documentCount : 0
        outcomes.set(task, { details: { receivedDocuments: count, indexedDocuments: count } })
      }
    } else {
      for (const task of batch) {
        try {
          const recovered = this.recoveredUids.has(task.uid)
          outcomes.set(task, {
            details: await runTask(this.engine, task, load, recovered, this.options.backups),
          })
        } catch (error) {
          outcomes.set(task, { error })
        }
      }
    }
    let gate: unknown
    try {
      await this.options.beforeTasksFinish?.()
    } catch (error) {
      gate = error ?? new Error('beforeTasksFinish failed')
    }
    if (gate !== undefined && this.stopping) {
      // Shutting down while the batch waited: it stays `processing` in the log and runs again
      // after the next start (engine writes are idempotent), rather than be reported failed.
      this.processingUids = []
      return
    }
    for (const [task, outcome] of outcomes) {
      if (gate !== undefined) this.fail(task, gate)
      else if ('error' in outcome) this.fail(task, outcome.error)
      else this.succeed(task, outcome.details)
    }
    const rewritten = batch.flatMap((task) => this.renameInHistory(task))
    // The finished status is durable before payload files go away.
    await this.log.append([...batch, ...rewritten].map((t) => ({ ...t })))
    for (const task of batch) {
      this.recoveredUids.delete(task.uid)
      if (task.operation.kind === 'addDocuments') {
        await removeFile(path.join(this.payloadDir(), task.operation.payloadFile))
      }
      this.options.onTaskFinished?.(toPublicTask(task))
    }
    this.options.onBatchFinished?.(batch.map(toPublicTask))
    this.processingUids = []
  }

  /**
   * After a swap or rename succeeded, the task history follows the indexes
   * (as in Meilisearch): every finished task that named one uid of a pair now
   * names the other. Enqueued tasks keep the uid they were sent to. Returns
   * the tasks changed, to be logged.
   */
  private renameInHistory(task: StoredTask): StoredTask[] {
    const op = task.operation
    if (task.status !== 'succeeded') return []
    const renames = new Map<string, string>()
    if (op.kind === 'swapIndexes') {
      for (const {
        indexes: [a, b],
        rename,
      } of op.swaps) {
        renames.set(a, b)
        if (!rename) renames.set(b, a)
      }
    } else if (op.kind === 'updateIndex' && op.newUid !== undefined && task.indexUid !== null) {
      renames.set(task.indexUid, op.newUid)
    } else return []
    const changed: StoredTask[] = []
    for (const other of this.tasks.values()) {
      if (other === task || other.indexUid === null || other.status === 'enqueued') continue
      const next = renames.get(other.indexUid)
      if (next === undefined) continue
      other.indexUid = next
      changed.push(other)
    }
    return changed
  }

  private succeed(task: StoredTask, details: Record<string, unknown>): void {
    task.status = 'succeeded'
    task.details = { ...(task.details ?? {}), ...details }
    this.finish(task)
  }

  private fail(task: StoredTask, error: unknown): void {
    const response = toErrorResponse(error)
    if (response.internal) this.options.onInternalError?.(error, toPublicTask(task))
    task.status = 'failed'
    task.error = response.body
    this.finish(task)
  }

  private finish(task: StoredTask): void {
    const finishedAt = new Date()
    task.finishedAt = finishedAt.toISOString()
    const started = task.startedAt === null ? finishedAt.getTime() : Date.parse(task.startedAt)
    task.duration = isoDuration(finishedAt.getTime() - started)
  }

  /** The task's documents, parsed a slice at a time so that requests are served meanwhile. */
  private async loadDocuments(name: string): Promise<object[]> {
    const bytes = await readFile(path.join(this.payloadDir(), name))
    return (await parseJsonArrayInSlices(bytes, nextTurn)) as object[]
  }
}

/** One page of `GET /tasks` from the tasks matching `filter` (newest first unless `reverse`). */
export function pageOfTasks(matches: StoredTask[], filter: TaskFilter): TaskPage {
  const limit = filter.limit ?? 20
  matches.sort((a, b) => (filter.reverse === true ? a.uid - b.uid : b.uid - a.uid))
  const from = filter.from
  const startAt =
    from === undefined
      ? 0
      : matches.findIndex((t) => (filter.reverse === true ? t.uid >= from : t.uid <= from))
  const page = startAt < 0 ? [] : matches.slice(startAt, startAt + limit)
  const after = startAt < 0 ? undefined : matches[startAt + limit]
  return {
    results: page.map(toPublicTask),
    total: matches.length,
    limit,
    from: page[0]?.uid ?? null,
    next: after?.uid ?? null,
  }
}

function optionsForLog(options: TaskQueueOptions) {
  return {
    sync: options.sync ?? true,
    ...(options.onFsync !== undefined ? { onFsync: options.onFsync } : {}),
  }
}
