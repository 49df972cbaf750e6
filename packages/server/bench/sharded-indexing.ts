/**
 * The indexing half of the sharded-index benchmark: one index filled with the same batches, timed
 * from the first POST to the last task's success, with where the time went (task records and the
 * kernel's CPU accounting of every process involved).
 */
import { procSample } from './cluster-idle-processes.ts'
import { endTask, json, rssMiB, type ShoalProcess, type TaskView, waitTask } from './sharded-processes.ts'

/** Tasks that failed and were done again (recorded by the suite). */
export const failedTasks: string[] = []

/** The index settings both sides use: text fields, a filter, and user-provided 64-d vectors. */
export function indexSettings(dimensions: number): object {
  return {
    searchableAttributes: ['name', 'summary', 'description'],
    filterableAttributes: ['section'],
    embedders: { text: { source: 'userProvided', dimensions } },
  }
}

export interface IndexingRun {
  /** `single` or `s<shardCount>`. */
  label: string
  /** The index filled (the asked uid, or a new one when its creation failed). */
  uid: string
  /** Time from `POST /indexes` to its task's success, in ms (sharded: every shard group started). */
  createMs: number
  docsPerS: number
  seconds: number
  /** Medians over the document tasks, in ms. */
  enqueueMs: number
  queueWaitMs: number
  processingMs: number
  /** Median time between one task's end and the next one's start while tasks were waiting. */
  schedulerGapMs: number
  /** Sum over the tasks of startedAt → finishedAt, as a share of the wall time. */
  processingShare: number
  /** CPU seconds spent by each process during the run (utime + stime). */
  cpuS: number[]
  /** Seconds each process was runnable but waiting for a core. */
  runQueueS: number[]
  /** Resident set size of each process before the index was created and after it was filled, MiB. */
  rssBeforeMiB: number[]
  rssAfterMiB: number[]
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Where one index to fill lives: its writer, the processes whose CPU is accounted, its uid. */
export interface IndexTarget {
  label: string
  writer: ShoalProcess
  processes: readonly ShoalProcess[]
  uid: string
  /** Time its creation took, in ms. */
  createMs: number
}

/**
 * Creates `uid` (sharded when `shardCount` is given, replication factor 3) and sets its settings.
 * A creation that fails (a metadata leader change mid-task fails it as `internal`) is noted and
 * tried again under a new uid, since the failed one may be half made.
 */
export async function createIndex(options: {
  label: string
  writer: ShoalProcess
  processes: readonly ShoalProcess[]
  uid: string
  shardCount?: number
  dimensions: number
}): Promise<IndexTarget> {
  const url = options.writer.url
  const createStarted = performance.now()
  let uid = options.uid
  for (let attempt = 1; ; attempt++) {
    const created = (await json(url, 'POST', '/indexes', {
      uid,
      primaryKey: 'id',
      ...(options.shardCount === undefined
        ? {}
        : { sharding: { shardCount: options.shardCount, replicationFactor: 3 } }),
    })) as { taskUid: number }
    const task = await endTask(url, created.taskUid)
    if (task.status === 'succeeded') break
    failedTasks.push(`${options.label} create ${uid}: ${JSON.stringify(task.error)}`)
    if (attempt >= 3) throw new Error(`${options.label}: index creation failed ${attempt} times`)
    uid = `${options.uid}-${attempt + 1}`
  }
  const createMs = performance.now() - createStarted
  const settings = (await json(
    url,
    'PATCH',
    `/indexes/${uid}/settings`,
    indexSettings(options.dimensions),
  )) as {
    taskUid: number
  }
  await waitTask(url, settings.taskUid)
  return { label: options.label, writer: options.writer, processes: options.processes, uid, createMs }
}

/**
 * Posts every batch to the target's writer one after another (each POST waits only for its 202)
 * and waits for the last task; the run is timed from the first POST to the last task's success.
 */
export async function fillIndex(target: IndexTarget, batches: readonly object[][]): Promise<IndexingRun> {
  const options = { ...target, batches }
  const { uid, createMs } = target
  const url = target.writer.url
  const rssBeforeMiB = options.processes.map((p) => rssMiB(p.pid))
  const before = options.processes.map((p) => procSample(p.pid))
  const started = performance.now()
  const enqueueMs: number[] = []
  const post = async (batch: object[]) => {
    const t0 = performance.now()
    const answer = (await json(url, 'POST', `/indexes/${uid}/documents`, batch)) as { taskUid: number }
    enqueueMs.push(performance.now() - t0)
    return answer.taskUid
  }
  let pending = options.batches.map((batch) => ({ batch, taskUid: -1 }))
  const tasks: TaskView[] = []
  // A document task that fails is noted and its batch sent again, until every batch succeeded.
  for (let pass = 1; pending.length > 0; pass++) {
    if (pass > 3) throw new Error(`${options.label}: batches still failing after 3 passes`)
    for (const item of pending) item.taskUid = await post(item.batch as object[])
    await endTask(url, pending[pending.length - 1]!.taskUid)
    const again: typeof pending = []
    for (const item of pending) {
      const task = await endTask(url, item.taskUid)
      if (task.status === 'succeeded') tasks.push(task)
      else {
        failedTasks.push(`${options.label} task ${task.uid}: ${JSON.stringify(task.error)}`)
        again.push(item)
      }
    }
    pending = again
  }
  const seconds = (performance.now() - started) / 1000
  const after = options.processes.map((p) => procSample(p.pid))
  tasks.sort((a, b) => a.uid - b.uid)
  const at = (iso: string | null) => (iso === null ? Number.NaN : Date.parse(iso))
  const queueWait = tasks.map((t) => at(t.startedAt) - at(t.enqueuedAt))
  const processing = tasks.map((t) => at(t.finishedAt) - at(t.startedAt))
  const gaps: number[] = []
  for (let i = 1; i < tasks.length; i++) {
    // A gap is the scheduler's own time only when the next task was already waiting (a standalone
    // node runs waiting tasks together as one batch: they overlap and have no gap).
    const gap = at(tasks[i]!.startedAt) - at(tasks[i - 1]!.finishedAt)
    if (at(tasks[i]!.enqueuedAt) <= at(tasks[i - 1]!.finishedAt) && gap >= 0) gaps.push(gap)
  }
  const documents = options.batches.reduce((sum, b) => sum + b.length, 0)
  const indexed = tasks.reduce((sum, t) => sum + Number(t.details?.indexedDocuments ?? 0), 0)
  if (indexed !== documents) throw new Error(`${options.label}: ${indexed} of ${documents} documents indexed`)
  return {
    label: options.label,
    uid,
    createMs,
    docsPerS: documents / seconds,
    seconds,
    enqueueMs: median(enqueueMs),
    queueWaitMs: median(queueWait),
    processingMs: median(processing),
    schedulerGapMs: gaps.length === 0 ? Number.NaN : median(gaps),
    processingShare: processing.reduce((a, b) => a + b, 0) / 1000 / seconds,
    cpuS: after.map((s, i) => s.cpuS - before[i]!.cpuS),
    runQueueS: after.map((s, i) => s.runQueueS - before[i]!.runQueueS),
    rssBeforeMiB,
    rssAfterMiB: options.processes.map((p) => rssMiB(p.pid)),
  }
}

/** One figure for several runs into the same index: totals, and medians of the per-run medians. */
export function mergeRuns(runs: readonly IndexingRun[]): IndexingRun {
  const first = runs[0]
  const last = runs[runs.length - 1]
  if (first === undefined || last === undefined) throw new Error('mergeRuns: no runs')
  const seconds = runs.reduce((sum, r) => sum + r.seconds, 0)
  const documents = runs.reduce((sum, r) => sum + r.docsPerS * r.seconds, 0)
  const sumPer = (pick: (r: IndexingRun) => number[]) =>
    pick(first).map((_, i) => runs.reduce((sum, r) => sum + pick(r)[i]!, 0))
  const gaps = runs.map((r) => r.schedulerGapMs).filter((g) => Number.isFinite(g))
  return {
    label: first.label,
    uid: first.uid,
    createMs: first.createMs,
    docsPerS: documents / seconds,
    seconds,
    enqueueMs: median(runs.map((r) => r.enqueueMs)),
    queueWaitMs: median(runs.map((r) => r.queueWaitMs)),
    processingMs: median(runs.map((r) => r.processingMs)),
    schedulerGapMs: gaps.length === 0 ? Number.NaN : median(gaps),
    processingShare: runs.reduce((sum, r) => sum + r.processingShare * r.seconds, 0) / seconds,
    cpuS: sumPer((r) => r.cpuS),
    runQueueS: sumPer((r) => r.runQueueS),
    rssBeforeMiB: first.rssBeforeMiB,
    rssAfterMiB: last.rssAfterMiB,
  }
}
