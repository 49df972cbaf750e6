import type { TaskRecord } from '@shoal/cluster'
import { toErrorResponse } from '../errors.ts'
import { isoDuration, type Operation, type StoredTask, type TaskSummary, toSummary } from '../task-types.ts'
import { commitMetadata } from './metadata-commit.ts'
import type { ClusterRuntime } from './runtime.ts'

/**
 * A task of the cluster-wide list run by the node that received it, not by the scheduler: a dump
 * or an export (this file), like a backup (cluster-backup.ts). It is committed to the metadata
 * log as `processing`, with `details.node` naming this node, so `GET /tasks` on every node shows
 * it and its progress. It ends `succeeded` with the run's details or `failed` with its error; if
 * this node stops first, its next start fails it (`failInterruptedTasks` in cluster-backup.ts).
 */

/** The operations a node runs itself; the scheduler leaves their tasks alone. */
export const NODE_RUN_OPERATIONS: ReadonlySet<Operation['kind']> = new Set([
  'createBackup',
  'createDump',
  'export',
])

export function isNodeRun(task: TaskRecord): boolean {
  const kind = (task as unknown as StoredTask).operation?.kind
  return kind !== undefined && NODE_RUN_OPERATIONS.has(kind)
}

export interface NodeTaskSpec {
  readonly type: StoredTask['type']
  readonly operation: Operation
  readonly details: Record<string, unknown>
  /** Names the task in "could not enqueue" errors. */
  readonly what: string
}

/** Reports progress: merged into the task's details. */
export type NodeTaskProgress = (details: Record<string, unknown>) => Promise<void>

export async function startNodeTask(
  runtime: ClusterRuntime,
  spec: NodeTaskSpec,
  run: (taskUid: number, progress: NodeTaskProgress) => Promise<Record<string, unknown>>,
): Promise<TaskSummary> {
  const now = new Date().toISOString()
  const details = { ...spec.details, node: runtime.node.nodeId }
  const task: Omit<StoredTask, 'uid'> = {
    batchUid: null,
    indexUid: null,
    status: 'processing',
    type: spec.type,
    canceledBy: null,
    details,
    error: null,
    duration: null,
    enqueuedAt: now,
    startedAt: now,
    finishedAt: null,
    operation: spec.operation,
  }
  const outcome = await commitMetadata(
    runtime.node,
    { type: 'task.enqueue', task: task as unknown as Omit<TaskRecord, 'uid'>, atMs: Date.now() },
    { refused: 'unavailable', what: spec.what },
  )
  const uid = outcome.value as number
  void runNodeTask(runtime, spec.type, uid, details, run)
  return toSummary({ ...(task as StoredTask), uid })
}

/** How long the end of a task may take to be committed (a metadata election in between). */
const FINISH_MS = 60_000

/** The task was canceled or ended by another hand while it ran: its run stops. */
class TaskNoLongerRunningError extends Error {
  override readonly name = 'TaskNoLongerRunningError'
  constructor(uid: number) {
    super(`task ${uid} is no longer processing`)
  }
}

async function runNodeTask(
  runtime: ClusterRuntime,
  type: StoredTask['type'],
  taskUid: number,
  details: Record<string, unknown>,
  run: (taskUid: number, progress: NodeTaskProgress) => Promise<Record<string, unknown>>,
): Promise<void> {
  const started = Date.now()
  const update = (patch: Record<string, unknown>) =>
    runtime.node.propose({ type: 'task.update', uid: taskUid, ifStatus: ['processing'], patch })
  // The end is committed even across a metadata election: retried until FINISH_MS.
  const finish = async (status: 'succeeded' | 'failed', patch: Record<string, unknown>) => {
    const deadline = Date.now() + FINISH_MS
    for (;;) {
      try {
        await update({
          ...patch,
          status,
          finishedAt: new Date().toISOString(),
          duration: isoDuration(Date.now() - started),
        })
        break
      } catch (error) {
        if (Date.now() > deadline) throw error
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    }
    runtime.durations.taskSeconds.observe({ type, status }, (Date.now() - started) / 1000)
  }
  let current = details
  try {
    const result = await run(taskUid, async (progress) => {
      current = { ...current, ...progress }
      // A progress report lost to a metadata election is not worth failing the run for.
      const outcome = await update({ details: current }).catch(() => null)
      // Canceled meanwhile: the run stops here (a dump's partial file is removed as it unwinds).
      if (outcome !== null && !outcome.ok) throw new TaskNoLongerRunningError(taskUid)
    })
    await finish('succeeded', { details: { ...current, ...result } })
  } catch (error) {
    await finish('failed', { details: current, error: toErrorResponse(error).body }).catch(() => {})
  }
}
