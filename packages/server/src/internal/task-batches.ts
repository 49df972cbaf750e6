import { type TaskFilter, taskMatches } from './task-filter.ts'
import { isoDuration, type Task, type TaskStatus } from './task-types.ts'

/**
 * `GET /batches`: the batches the task queue ran, seen through their tasks.
 * A batch has no record of its own: its tasks carry its uid (`batchUid`), so
 * it is as durable as they are, and it disappears when every one of its
 * tasks has been deleted (as in Meilisearch).
 */

/** A batch as Meilisearch shapes it. */
export interface Batch {
  uid: number
  /** While the batch runs: how many of its tasks have finished; `null` once it has. */
  progress: { steps: { currentStep: string; finished: number; total: number }[]; percentage: number } | null
  /** Its tasks' details merged: counts summed, other values from the last task that has them. */
  details: Record<string, unknown>
  stats: {
    totalNbTasks: number
    status: Partial<Record<TaskStatus, number>>
    types: Record<string, number>
    indexUids: Record<string, number>
    progressTrace: Record<string, string>
  }
  duration: string | null
  startedAt: string
  finishedAt: string | null
  /** Why the batch holds the tasks it holds. */
  batchStrategy: string
}

export interface BatchPage {
  results: Batch[]
  total: number
  limit: number
  from: number | null
  next: number | null
}

/**
 * Lists batches, newest first (`reverse`: oldest first). `uids` and
 * `batchUids` both select batch uids; the other filters select the batches
 * holding at least one task that passes them.
 */
export function listBatches(tasks: Iterable<Task>, filter: TaskFilter): BatchPage {
  const wanted = intersect(filter.uids, filter.batchUids)
  const taskFilter: TaskFilter = { ...filter }
  delete taskFilter.uids
  delete taskFilter.batchUids
  const groups = groupByBatch(tasks)
  const uids = [...groups.keys()].filter(
    (uid) =>
      (wanted === undefined || wanted.includes(uid)) &&
      groups.get(uid)!.some((task) => taskMatches(task, taskFilter)),
  )
  uids.sort((a, b) => (filter.reverse === true ? a - b : b - a))
  const limit = filter.limit ?? 20
  const from = filter.from
  const startAt =
    from === undefined ? 0 : uids.findIndex((uid) => (filter.reverse === true ? uid >= from : uid <= from))
  const page = startAt < 0 ? [] : uids.slice(startAt, startAt + limit)
  const after = startAt < 0 ? undefined : uids[startAt + limit]
  return {
    results: page.map((uid) => batchView(uid, groups.get(uid)!)),
    total: uids.length,
    limit,
    from: page[0] ?? null,
    next: after ?? null,
  }
}

/** One batch, or undefined when none of its tasks is left. */
export function getBatch(tasks: Iterable<Task>, uid: number): Batch | undefined {
  const group = groupByBatch(tasks).get(uid)
  return group === undefined ? undefined : batchView(uid, group)
}

function groupByBatch(tasks: Iterable<Task>): Map<number, Task[]> {
  const groups = new Map<number, Task[]>()
  for (const task of tasks) {
    if (task.batchUid === null) continue
    const group = groups.get(task.batchUid)
    if (group === undefined) groups.set(task.batchUid, [task])
    else group.push(task)
  }
  for (const group of groups.values()) group.sort((a, b) => a.uid - b.uid)
  return groups
}

function intersect(a: number[] | undefined, b: number[] | undefined): number[] | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  return a.filter((uid) => b.includes(uid))
}

function count(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1
}

function batchView(uid: number, tasks: Task[]): Batch {
  const status: Partial<Record<TaskStatus, number>> = {}
  const types: Record<string, number> = {}
  const indexUids: Record<string, number> = {}
  const details: Record<string, unknown> = {}
  let finished = 0
  for (const task of tasks) {
    count(status, task.status)
    count(types, task.type)
    if (task.indexUid !== null) count(indexUids, task.indexUid)
    if (task.finishedAt !== null) finished++
    for (const [name, value] of Object.entries(task.details ?? {})) {
      const before = details[name]
      details[name] = typeof value === 'number' && typeof before === 'number' ? before + value : value
    }
  }
  const first = tasks[0]!
  const startedAt = first.startedAt ?? first.enqueuedAt
  const done = finished === tasks.length
  const finishedAt = done ? tasks.map((t) => t.finishedAt!).sort()[tasks.length - 1]! : null
  return {
    uid,
    progress: done
      ? null
      : {
          steps: [{ currentStep: 'processing tasks', finished, total: tasks.length }],
          percentage: (100 * finished) / tasks.length,
        },
    details,
    stats: { totalNbTasks: tasks.length, status, types, indexUids, progressTrace: {} },
    duration: finishedAt === null ? null : isoDuration(Date.parse(finishedAt) - Date.parse(startedAt)),
    startedAt,
    finishedAt,
    batchStrategy:
      tasks.length > 1
        ? `consecutive document writes to \`${first.indexUid}\` with the same method and primary key`
        : first.type === 'documentAdditionOrUpdate'
          ? 'no other document write of the same kind was waiting for this index'
          : `a task of type \`${first.type}\` runs in a batch of its own`,
  }
}
