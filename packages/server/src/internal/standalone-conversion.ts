import { stat } from 'node:fs/promises'
import path from 'node:path'
import type { TaskRecord } from '@shoal/cluster'
import { type IndexReader, sendIndex } from './backup-restore.ts'
import { ConfigError } from './errors.ts'
import { NodeClient } from './http-client.ts'
import type { ShoalServer } from './server.ts'
import { writeFileDurably } from './task-log.ts'

/**
 * `shoal cluster init --from-standalone`: a standalone node's data folder becomes the first node
 * of a new cluster. The node bootstraps the cluster, then carries over, before it serves:
 *
 * 1. the task history, uid for uid (deleted tasks are carried and deleted again, so no uid is
 *    reused), into the cluster's task list;
 * 2. every index — created with `shardCount` shards (default 1) and a replication factor of 1,
 *    the only one a single node can hold — its settings, then its documents, through the
 *    cluster's normal write path (these show in the task list after the history);
 * 3. the API keys, which stay where they are: `keys.json` of the data folder, the key store a
 *    cluster node serves, so every key keeps its uid and secret.
 *
 * The standalone state (`engine/`, `tasks/`) is read, never changed: until the first write to the
 * cluster, stopping the node and deleting `cluster/` and `shards/` returns the folder to what it
 * was (docs/operations/standalone-to-cluster.md).
 */

export const CONVERSION_RECORD = 'converted-from-standalone.json'

export interface ConversionSummary {
  readonly indexes: number
  readonly documents: number
  readonly tasks: number
}

/** Refuses a data folder that already belongs to a cluster, before anything starts. */
export async function refuseClusterDataDir(dataDir: string): Promise<void> {
  const existing = await stat(path.join(dataDir, 'cluster')).catch(() => null)
  if (existing !== null)
    throw new ConfigError(
      `${dataDir} already holds cluster state (${path.join(dataDir, 'cluster')}): it is a cluster node, or a conversion was interrupted — see docs/operations/standalone-to-cluster.md`,
    )
}

export async function convertStandalone(
  server: ShoalServer,
  options: {
    masterKey: string | undefined
    dataDir: string
    /** The token the server admits while it converts (`ShoalServer.restrictTo`). */
    token: string
    shardCount?: number
  },
  out: (text: string) => void,
): Promise<ConversionSummary> {
  const runtime = server.cluster
  if (runtime === undefined) throw new Error('the conversion needs the cluster runtime')
  // Tasks the standalone node had accepted finish first, on its own engine.
  await server.queue.waitIdle()
  // The bootstrap commits the cluster's first records in the background: wait for this node to be
  // an active member of an initialised cluster (its indexes are placed on it).
  const deadline = Date.now() + 60_000
  for (;;) {
    const state = runtime.node.state()
    if (state.clusterId !== null && state.nodes[runtime.node.nodeId]?.state === 'active') break
    if (Date.now() > deadline) throw new Error('the new cluster did not become ready within 60 s')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const history = server.queue.storedTasks()
  for (const stored of history) {
    const { uid, deleted, ...task } = stored
    const outcome = await runtime.node.propose({
      type: 'task.enqueue',
      task: task as unknown as Omit<TaskRecord, 'uid'>,
      atMs: Date.now(),
    })
    if (!outcome.ok || outcome.value !== uid)
      throw new Error(
        `carrying task ${uid} into the cluster failed: ${outcome.ok ? `it got uid ${String(outcome.value)}` : outcome.message}`,
      )
    if (deleted === true) await runtime.node.propose({ type: 'task.delete', uids: [uid] })
  }
  out(`carried ${history.length} task(s) into the cluster task list\n`)

  const client = new NodeClient(server.url, options.masterKey, { 'x-shoal-conversion': options.token })
  const taskUids: number[] = []
  let documents = 0
  const indexes = server.engine.listIndexes()
  for (const info of indexes) {
    const handle = server.engine.index(info.uid)
    const reader: IndexReader = {
      settings: async () => handle.getSettings(),
      page: async (params) => (await handle.getDocuments(params)).results,
    }
    documents += await sendIndex(
      client,
      {
        uid: info.uid,
        primaryKey: info.primaryKey,
        sharding: { shardCount: options.shardCount ?? 1, replicationFactor: 1 },
        create: true,
      },
      reader,
      1000,
      taskUids,
    )
    out(`index ${info.uid}: sent\n`)
  }
  const tasks = await client.waitForTasks(taskUids, 50)
  const failed = [...tasks.values()].filter((t) => t.status !== 'succeeded')
  if (failed.length > 0)
    throw new Error(
      `the conversion failed: ${failed.map((t) => `task ${t.uid} (${t.type}): ${t.error?.code}: ${t.error?.message}`).join('; ')}`,
    )
  const summary = { indexes: indexes.length, documents, tasks: history.length }
  await writeFileDurably(
    path.join(options.dataDir, 'cluster', CONVERSION_RECORD),
    JSON.stringify({ ...summary, clusterId: runtime.node.clusterId, at: new Date().toISOString() }),
  )
  return summary
}
