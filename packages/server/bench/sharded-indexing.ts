/**
 * The indexing half of the sharded-index benchmark: one index filled with the same batches, timed
 * from the first POST to the last task's success, with where the time went (task records and the
 * kernel's CPU accounting of every process involved).
 */
import { procSample } from './cluster-idle-processes.ts'
import { json, rssMiB, type ShoalProcess, type TaskView, waitTask } from './sharded-processes.ts'

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

/**
 * Creates `uid` (sharded when `shardCount` is given, replication factor 3), sets its settings,
 * then posts every batch to `writer` one after another (each POST waits only for its 202) and
 * waits for the last task. `processes` are the node processes whose CPU is accounted.
 */
export async function indexOnce(options: {
  label: string
  writer: ShoalProcess
  processes: readonly ShoalProcess[]
  uid: string
  shardCount?: number
  batches: readonly object[][]
  dimensions: number
}): Promise<IndexingRun> {
  const { writer, uid } = options
  const url = writer.url
  const rssBeforeMiB = options.processes.map((p) => rssMiB(p.pid))
  const createStarted = performance.now()
  const created = (await json(url, 'POST', '/indexes', {
    uid,
    primaryKey: 'id',
    ...(options.shardCount === undefined
      ? {}
      : { sharding: { shardCount: options.shardCount, replicationFactor: 3 } }),
  })) as { taskUid: number }
  await waitTask(url, created.taskUid)
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

  const before = options.processes.map((p) => procSample(p.pid))
  const started = performance.now()
  const uids: number[] = []
  const enqueueMs: number[] = []
  for (const batch of options.batches) {
    const t0 = performance.now()
    const answer = (await json(url, 'POST', `/indexes/${uid}/documents`, batch)) as { taskUid: number }
    enqueueMs.push(performance.now() - t0)
    uids.push(answer.taskUid)
  }
  await waitTask(url, uids[uids.length - 1]!)
  const seconds = (performance.now() - started) / 1000
  const after = options.processes.map((p) => procSample(p.pid))

  const tasks: TaskView[] = []
  for (const taskUid of uids) tasks.push(await waitTask(url, taskUid))
  const at = (iso: string | null) => (iso === null ? Number.NaN : Date.parse(iso))
  const queueWait = tasks.map((t) => at(t.startedAt) - at(t.enqueuedAt))
  const processing = tasks.map((t) => at(t.finishedAt) - at(t.startedAt))
  const gaps: number[] = []
  for (let i = 1; i < tasks.length; i++) {
    // A gap is the scheduler's own time only when the next task was already waiting.
    if (at(tasks[i]!.enqueuedAt) <= at(tasks[i - 1]!.finishedAt))
      gaps.push(at(tasks[i]!.startedAt) - at(tasks[i - 1]!.finishedAt))
  }
  const documents = options.batches.reduce((sum, b) => sum + b.length, 0)
  const indexed = tasks.reduce((sum, t) => sum + Number(t.details?.indexedDocuments ?? 0), 0)
  if (indexed !== documents) throw new Error(`${options.label}: ${indexed} of ${documents} documents indexed`)
  return {
    label: options.label,
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
