import { readdir, rm } from 'node:fs/promises'
import path from 'node:path'
import { backupStamp, writeDump } from '../backups.ts'
import { type ExportRequest, exportDetails, runExport } from '../export-task.ts'
import type { StoredTask, TaskSummary } from '../task-types.ts'
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
      await removeLeftovers(runtime, dumpDir, dumpUid)
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
      // The remote's key stays in this node's memory: the metadata log (on every node) never holds it.
      operation: { kind: 'export', ...request, apiKey: request.apiKey === null ? null : 'XXX...' },
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

/**
 * Removes what dumps of this node that stopped midway left in the dump folder (a `.partial` file,
 * a `.scratch` folder): those of no dump task still processing on this node.
 */
async function removeLeftovers(runtime: ClusterRuntime, dumpDir: string, current: string): Promise<void> {
  const running = new Set([current])
  for (const task of runtime.node.metadata.tasks()) {
    const stored = task as unknown as StoredTask
    const details = (stored.details ?? {}) as { node?: unknown; dumpUid?: unknown }
    if (stored.status === 'processing' && details.node === runtime.node.nodeId)
      running.add(String(details.dumpUid))
  }
  const names = await readdir(dumpDir).catch(() => [] as string[])
  for (const name of names) {
    const match = /^(.+?)\.(dump\.partial|scratch)$/.exec(name)
    if (match !== null && !running.has(match[1]!))
      await rm(path.join(dumpDir, name), { recursive: true, force: true })
  }
}
