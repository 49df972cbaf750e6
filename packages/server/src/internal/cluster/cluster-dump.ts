import { rm } from 'node:fs/promises'
import path from 'node:path'
import { backupStamp, writeDump } from '../backups.ts'
import { type ExportRequest, exportDetails, runExport } from '../export-task.ts'
import type { TaskSummary } from '../task-types.ts'
import { startNodeTask } from './node-task.ts'
import type { ClusterRuntime } from './runtime.ts'
import { clusterIndexSource } from './shard-images.ts'

/**
 * `POST /dumps` and `POST /export` on a cluster node. The node that received the request runs the
 * task (node-task.ts) and reads every index through its shards (shard-images.ts): each shard as
 * of one applied index on its leader, every write that succeeded before the task was enqueued
 * included. A dump is written to this node's dump folder under a temporary name and renamed once
 * whole, so a dump file under its final name is always complete; a dump or export that cannot
 * read a shard fails as a whole.
 */

export async function startClusterDump(runtime: ClusterRuntime, dumpDir: string): Promise<TaskSummary> {
  const at = new Date()
  const dumpUid = backupStamp(at)
  return startNodeTask(
    runtime,
    {
      type: 'dumpCreation',
      operation: { kind: 'createDump' },
      details: { dumpUid, indexesTotal: null, indexesDone: 0, documentsDone: 0 },
      what: 'the dump task',
    },
    async (_uid, progress) => {
      const scratch = path.join(dumpDir, `${dumpUid}.scratch`)
      try {
        const source = await clusterIndexSource(runtime, scratch)
        const file = path.join(dumpDir, `${dumpUid}.dump`)
        const counts = await writeDump(source, file, at, (done) => progress({ ...done }))
        return {
          dumpUid,
          path: file,
          indexesTotal: counts.indexes,
          indexesDone: counts.indexes,
          documentsDone: counts.documents,
          appliedIndexes: source.appliedIndexes,
        }
      } finally {
        await rm(scratch, { recursive: true, force: true })
      }
    },
  )
}

export async function startClusterExport(
  runtime: ClusterRuntime,
  request: ExportRequest,
  scratchRoot: string,
): Promise<TaskSummary> {
  return startNodeTask(
    runtime,
    {
      type: 'export',
      operation: { kind: 'export', ...request },
      details: exportDetails(request),
      what: 'the export task',
    },
    async (uid) => {
      const scratch = path.join(scratchRoot, `export-${uid}.scratch`)
      try {
        return await runExport(await clusterIndexSource(runtime, scratch), request)
      } finally {
        await rm(scratch, { recursive: true, force: true })
      }
    },
  )
}
