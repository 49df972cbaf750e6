import { randomUUID } from 'node:crypto'
import { type ClusterNode, ENDED_TASK_STATUSES, type TaskRecord } from '@shoal/cluster'
import {
  type BackupFileEntry,
  type BackupIndexEntry,
  type BackupManifest,
  writeBackupFile,
  writeManifest,
} from '../backup-format.ts'
import { readKeysFile } from '../backup-standalone.ts'
import { ApiError, toErrorResponse } from '../errors.ts'
import { isoDuration, type StoredTask, type TaskSummary, toPublicTask, toSummary } from '../task-types.ts'
import type { BackupImageHead } from './backup-shard.ts'
import { commitMetadata } from './metadata-commit.ts'
import type { ClusterRuntime } from './runtime.ts'
import { readShards, type ShardReply, type ShardsRequest, serveShards, shardTargets } from './shard-rpc.ts'

/**
 * A cluster backup, run by the node that received `POST /admin/backups` and written to its disk.
 * Its task lives in the metadata task list like any other (so `GET /tasks/{uid}` on any node shows
 * its progress), but the scheduler leaves it alone: the node that owns the folder runs it.
 *
 * Consistency: the task is enqueued (a metadata commit) before any shard is read, and each shard is
 * read from its leader after a ReadIndex round, so every task that succeeded before the backup was
 * enqueued is in it. Writes go on meanwhile: a task that ran during the backup may be in some
 * shards' images and not in others'. The manifest records each shard's Raft index.
 */

export interface ClusterBackupOptions {
  readonly backupUid: string
  readonly folder: string
  readonly keysFile: string
  readonly shoalVersion: string
}

export async function startClusterBackup(
  runtime: ClusterRuntime,
  options: ClusterBackupOptions,
): Promise<TaskSummary> {
  const now = new Date().toISOString()
  const task: Omit<StoredTask, 'uid'> = {
    batchUid: null,
    indexUid: null,
    status: 'processing',
    type: 'backupCreation',
    canceledBy: null,
    details: {
      backupUid: options.backupUid,
      path: options.folder,
      node: runtime.node.nodeId,
      shardsTotal: null,
      shardsWritten: 0,
      bytesWritten: 0,
    },
    error: null,
    duration: null,
    enqueuedAt: now,
    startedAt: now,
    finishedAt: null,
    operation: { kind: 'createBackup', backupUid: options.backupUid },
  }
  const outcome = await commitMetadata(
    runtime.node,
    { type: 'task.enqueue', task: task as unknown as Omit<TaskRecord, 'uid'>, atMs: Date.now() },
    { refused: 'unavailable', what: 'the backup task' },
  )
  const uid = outcome.value as number
  void runBackup(runtime, options, uid, task.details ?? {})
  return toSummary({ ...(task as StoredTask), uid })
}

async function runBackup(
  runtime: ClusterRuntime,
  options: ClusterBackupOptions,
  taskUid: number,
  details: Record<string, unknown>,
): Promise<void> {
  const started = Date.now()
  const durations = runtime.durations
  const observe = (status: 'succeeded' | 'failed') => {
    const seconds = (Date.now() - started) / 1000
    durations.backupSeconds.observe({ mode: 'cluster', status }, seconds)
    durations.taskSeconds.observe({ type: 'backupCreation', status }, seconds)
  }
  const finish = async (patch: Record<string, unknown>) => {
    const finishedAt = new Date()
    const outcome = await runtime.node.propose({
      type: 'task.update',
      uid: taskUid,
      ifStatus: ['processing'],
      patch: { ...patch, finishedAt: finishedAt.toISOString(), duration: isoDuration(Date.now() - started) },
    })
    return outcome.ok
  }
  try {
    const result = await writeClusterBackup(runtime, options, taskUid, started, async (progress) => {
      await runtime.node.propose({
        type: 'task.update',
        uid: taskUid,
        ifStatus: ['processing'],
        patch: { details: { ...details, ...progress } },
      })
    })
    await finish({ status: 'succeeded', details: { ...details, ...result } })
    observe('succeeded')
  } catch (error) {
    await finish({ status: 'failed', error: toErrorResponse(error).body }).catch(() => false)
    observe('failed')
  }
}

type Progress = (progress: Record<string, unknown>) => Promise<void>

async function writeClusterBackup(
  runtime: ClusterRuntime,
  options: ClusterBackupOptions,
  taskUid: number,
  startedMs: number,
  progress: Progress,
): Promise<Record<string, unknown>> {
  const node = runtime.node
  // The shard map as the metadata leader has it now: no index created before the backup is missed.
  const state = await node.readLinearizable({ timeoutMs: 10_000 })
  const token = randomUUID()
  const uids = Object.keys(state.indexes).sort()
  const shardsTotal = uids.reduce((sum, uid) => sum + (state.shards[uid]?.length ?? 0), 0)
  const files: BackupFileEntry[] = []
  const indexes: BackupIndexEntry[] = []
  let shardsWritten = 0
  let bytesWritten = 0
  await progress({ shardsTotal, shardsWritten, bytesWritten })
  for (const [position, uid] of uids.entries()) {
    const record = state.indexes[uid]!
    const shards: BackupIndexEntry['shards'][number][] = []
    for (const target of shardTargets(node, uid)) {
      const image = await fetchShardImage(runtime, uid, target, token)
      const file = `shards/${position}/${target.shard}.image`
      files.push(await writeBackupFile(options.folder, file, image.bytes))
      shards.push({
        shard: target.shard,
        file,
        documents: image.documents,
        appliedIndex: image.appliedIndex,
      })
      shardsWritten++
      bytesWritten += image.bytes.byteLength
      await progress({ shardsTotal, shardsWritten, bytesWritten })
    }
    indexes.push({
      uid,
      primaryKey: record.primaryKey,
      sharding: { ...record.sharding },
      shards,
    })
  }
  files.push(await writeBackupFile(options.folder, 'keys.json', await readKeysFile(options.keysFile)))
  const history = [...node.metadata.tasks()]
    .filter((t) => t.uid < taskUid)
    .map((t) => toPublicTask(t as unknown as StoredTask))
  files.push(await writeBackupFile(options.folder, 'tasks.json', JSON.stringify(history)))
  const manifest: BackupManifest = {
    format: 'shoal-backup',
    version: 1,
    backupUid: options.backupUid,
    startedAt: new Date(startedMs).toISOString(),
    finishedAt: new Date().toISOString(),
    shoalVersion: options.shoalVersion,
    source: {
      mode: 'cluster',
      node: node.nodeId,
      clusterId: state.clusterId,
      metadataVersion: state.version,
      taskUid,
    },
    indexes,
    keysFile: 'keys.json',
    tasksFile: 'tasks.json',
    files,
  }
  await writeManifest(options.folder, manifest)
  return { indexes: indexes.length, shardsTotal, shardsWritten, bytesWritten }
}

/** One shard's image from its leader, in chunks. */
export async function fetchShardImage(
  runtime: ClusterRuntime,
  indexUid: string,
  target: ReturnType<typeof shardTargets>[number],
  token: string,
): Promise<{ bytes: Buffer; appliedIndex: number; documents: number }> {
  const { node, hosting } = runtime
  const { results, missing } = await readShards(
    node,
    hosting,
    [{ target, call: { action: 'backupImage', token } }],
    // One attempt: the leader builds the image before it answers, which takes a while for a big shard.
    { mode: 'leader', timeoutMs: 30_000, attemptTimeoutMs: 30_000 },
  )
  const head = results[0]?.value as BackupImageHead | undefined
  if (head === undefined)
    throw new ApiError(
      503,
      'shards_unavailable',
      `Index \`${indexUid}\` shard ${target.shard}: no leader answered (${missing[0]?.reason ?? 'unknown'}).`,
      'system',
    )
  const parts: Uint8Array[] = [head.chunk]
  let received = head.chunk.byteLength
  while (received < head.totalBytes) {
    const request: ShardsRequest = {
      kind: 'shards',
      mode: 'eventual',
      items: [{ group: target.group, indexUid, call: { action: 'backupChunk', token, offset: received } }],
    }
    const replies =
      head.node === node.nodeId
        ? await serveShards(node, hosting, request)
        : ((await node.requestApp(head.node, request, { timeoutMs: 30_000 })) as ShardReply[])
    const reply = replies[0]
    if (reply === undefined || !reply.ok)
      throw new ApiError(
        503,
        'shards_unavailable',
        `Index \`${indexUid}\` shard ${target.shard}: the image transfer broke off (${reply?.ok === false ? reply.message : 'no answer'}).`,
        'system',
      )
    const chunk = reply.value as Uint8Array
    if (chunk.byteLength === 0) throw new Error('empty backup chunk')
    parts.push(chunk)
    received += chunk.byteLength
  }
  return { bytes: Buffer.concat(parts), appliedIndex: head.appliedIndex, documents: head.documents }
}

/** What a task of each node-run operation says when its node stopped before it ended. */
const INTERRUPTED: Record<string, { code: string; message: string }> = {
  createBackup: {
    code: 'backup_interrupted',
    message:
      'The node writing this backup stopped before it finished; its folder is incomplete (it has no manifest).',
  },
  createDump: {
    code: 'dump_interrupted',
    message: 'The node writing this dump stopped before it finished; no dump file was written.',
  },
  export: {
    code: 'export_interrupted',
    message:
      'The node running this export stopped before it finished; the remote may hold part of the documents.',
  },
}

/**
 * Backups, dumps and exports this node was running when it stopped can never finish: marked
 * failed at start, so no task stays `processing` without a trace.
 */
export async function failInterruptedTasks(node: ClusterNode, startedAtMs: number): Promise<void> {
  await node.readLinearizable({ timeoutMs: 30_000 })
  for (const task of node.metadata.tasks()) {
    const stored = task as unknown as StoredTask
    const interrupted = INTERRUPTED[stored.operation?.kind ?? '']
    if (ENDED_TASK_STATUSES.includes(stored.status) || interrupted === undefined) continue
    // A task this process started (a request served before this sweep ran) is running.
    if (Date.parse(stored.startedAt ?? '') >= startedAtMs) continue
    if ((stored.details as { node?: unknown } | null)?.node !== node.nodeId) continue
    await node.propose({
      type: 'task.update',
      uid: stored.uid,
      ifStatus: ['processing'],
      patch: {
        status: 'failed',
        finishedAt: new Date().toISOString(),
        error: new ApiError(500, interrupted.code, interrupted.message, 'internal').toBody(),
      },
    })
  }
}
