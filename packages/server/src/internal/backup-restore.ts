import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { type Engine, openReplica } from '@shoal/engine'
import { BackupCorruptError, type BackupIndexEntry, verifyBackup } from './backup-format.ts'
import { addsEmbedders, withVectorRequirement } from './cluster/vector-placement.ts'
import { HttpError, type NodeClient } from './http-client.ts'
import { SETTINGS } from './routes-settings.ts'

/**
 * `shoal backup restore DIR`: loads a backup into a running node through its HTTP API — a
 * standalone node, or any node of a cluster of any size. Every checksum is verified and the
 * target is checked to hold no index before anything is written. Each index is created again
 * (with the backup's shard count, or `shardCount`), its settings set, then its documents sent in
 * batches through the normal write path, which routes every document to its shard under the
 * target's placement: a different shard count reshards. API keys are created again with their
 * uids (so their secrets are the same under the same master key).
 */

export interface RestoreOptions {
  /** Shard count of every restored index on a cluster target. @defaultValue the backup's */
  readonly shardCount?: number
  /** Replication factor on a cluster target. @defaultValue the target's default */
  readonly replicationFactor?: number
  /** Documents per request. @defaultValue 1000 */
  readonly batchSize?: number
  /** Progress lines. */
  readonly out: (text: string) => void
}

export interface RestoreSummary {
  readonly indexes: number
  readonly documents: number
  readonly keysRestored: number
  readonly keysSkipped: readonly string[]
  readonly failed: readonly string[]
}

/** The target of a restore already holds indexes: nothing was written. */
export class RestoreTargetNotEmptyError extends Error {
  override readonly name = 'RestoreTargetNotEmptyError'
  readonly code = 'restore_target_not_empty'
  constructor(url: string, indexes: number) {
    super(
      `${url} already holds ${indexes} index(es): a backup is restored only into a new or empty node or cluster`,
    )
  }
}

const RESTORED_SETTINGS = new Set<string>(SETTINGS.map((s) => s.name))

interface StoredKeyView {
  uid: string
  name: string | null
  description: string | null
  actions: string[]
  indexes: string[]
  expiresAt: string | null
}

export async function restoreBackup(
  client: NodeClient,
  folder: string,
  options: RestoreOptions,
): Promise<RestoreSummary> {
  const { manifest, problems } = await verifyBackup(folder)
  if (manifest === null || problems.length > 0) throw new BackupCorruptError(folder, problems)
  const existing = await client.request<{ total: number }>('GET', '/indexes?limit=1')
  if (existing.total > 0) throw new RestoreTargetNotEmptyError(client.baseUrl, existing.total)
  const cluster = await isCluster(client)
  const scratch = await mkdtemp(path.join(tmpdir(), 'shoal-restore-'))
  const taskUids: number[] = []
  let documents = 0
  try {
    for (const index of manifest.indexes) {
      documents += await restoreIndex(client, folder, scratch, index, cluster, options, taskUids)
      options.out(`index ${index.uid}: sent\n`)
    }
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
  const keys = await restoreKeys(client, path.join(folder, manifest.keysFile))
  options.out(`waiting for ${taskUids.length} task(s)…\n`)
  const tasks = await client.waitForTasks(taskUids)
  const failed = [...tasks.values()]
    .filter((t) => t.status !== 'succeeded')
    .map(
      (t) =>
        `task ${t.uid} (${t.type} ${t.indexUid ?? ''}): ${t.error?.code ?? t.status}: ${t.error?.message ?? ''}`,
    )
  return { indexes: manifest.indexes.length, documents, ...keys, failed }
}

/** Whether the node behind `client` is a cluster node. */
export async function isCluster(client: NodeClient): Promise<boolean> {
  try {
    await client.request('GET', '/_admin/cluster')
    return true
  } catch (error) {
    if (error instanceof HttpError && error.code === 'cluster_not_enabled') return false
    throw error
  }
}

/** The `sharding` of the index's creation on a cluster (empty: the cluster's defaults). */
function shardingFor(index: BackupIndexEntry, options: RestoreOptions): Record<string, unknown> {
  const sharding: Record<string, unknown> = {}
  const shardCount = options.shardCount ?? index.sharding?.shardCount
  if (shardCount !== undefined) sharding.shardCount = shardCount
  if (options.replicationFactor !== undefined) sharding.replicationFactor = options.replicationFactor
  return sharding
}

/** Creates the index, sets its settings and sends every document of every shard image. */
async function restoreIndex(
  client: NodeClient,
  folder: string,
  scratch: string,
  index: BackupIndexEntry,
  cluster: boolean,
  options: RestoreOptions,
  taskUids: number[],
): Promise<number> {
  const sharding = cluster ? shardingFor(index, options) : undefined
  let documents = 0
  let created = false
  for (const [n, shard] of index.shards.entries()) {
    const engine = await imageEngine(path.join(scratch, `${n}`), path.join(folder, ...shard.file.split('/')))
    try {
      // A cluster shard's image names its one index by the shard's name, which is not the
      // index's uid once the index was renamed or swapped (docs/sharded-indexes.md).
      const held = engine.listIndexes()
      const name = engine.hasIndex(index.uid) ? index.uid : held.length === 1 ? held[0]!.uid : undefined
      if (name === undefined) continue
      const handle = engine.index(name)
      documents += await sendIndex(
        client,
        { uid: index.uid, primaryKey: index.primaryKey, sharding, create: !created },
        {
          settings: async () => handle.getSettings(),
          page: async (params) => handle.getDocuments(params).results,
        },
        options.batchSize ?? 1000,
        taskUids,
      )
      created = true
    } finally {
      await engine.close()
    }
  }
  if (!created)
    documents += await sendIndex(
      client,
      { uid: index.uid, primaryKey: index.primaryKey, sharding, create: true },
      { settings: async () => ({}), page: async () => [] },
      1,
      taskUids,
    )
  return documents
}

/** Where the documents and settings of one index are read from (a shard image, a live engine). */
export interface IndexReader {
  settings(): Promise<object>
  page(params: { offset: number; limit: number; retrieveVectors: true }): Promise<readonly unknown[]>
}

/**
 * Sends one index to a node through the normal write path: creation (when `create`), settings,
 * then every document in batches (with their vectors); pushes the task uids to wait for.
 */
export async function sendIndex(
  client: NodeClient,
  index: {
    uid: string
    primaryKey: string | null
    sharding: Record<string, unknown> | undefined
    create: boolean
  },
  reader: IndexReader,
  batchSize: number,
  taskUids: number[],
): Promise<number> {
  const route = `/indexes/${encodeURIComponent(index.uid)}`
  if (index.create) {
    const settings = Object.fromEntries(
      Object.entries(await reader.settings()).filter(([name]) => RESTORED_SETTINGS.has(name)),
    )
    const body: Record<string, unknown> = { uid: index.uid }
    if (index.primaryKey !== null) body.primaryKey = index.primaryKey
    // On a cluster, an index with embedders is created on `vector` nodes only, so that its
    // embedders are not refused for replicas on nodes without `vector`.
    const sharding = addsEmbedders(settings) ? withVectorRequirement(index.sharding) : index.sharding
    if (index.sharding !== undefined && Object.keys(sharding as object).length > 0) body.sharding = sharding
    taskUids.push((await client.request<{ taskUid: number }>('POST', '/indexes', body)).taskUid)
    if (Object.keys(settings).length > 0)
      taskUids.push(
        (await client.request<{ taskUid: number }>('PATCH', `${route}/settings`, settings)).taskUid,
      )
  }
  let documents = 0
  for (let offset = 0; ; offset += batchSize) {
    const page = await reader.page({ offset, limit: batchSize, retrieveVectors: true })
    if (page.length > 0) {
      const task = await client.request<{ taskUid: number }>('POST', `${route}/documents`, page)
      taskUids.push(task.taskUid)
      documents += page.length
    }
    if (page.length < batchSize) break
  }
  return documents
}

/** An engine (holding nothing durable) restored from one image file of the backup. */
async function imageEngine(dir: string, file: string): Promise<Engine> {
  const engine = await openReplica(dir)
  try {
    await engine.restoreImage(await readFile(file))
  } catch (error) {
    await engine.close()
    throw error
  }
  return engine
}

async function restoreKeys(
  client: NodeClient,
  file: string,
): Promise<{ keysRestored: number; keysSkipped: string[] }> {
  const keys = JSON.parse(await readFile(file, 'utf8')) as StoredKeyView[]
  let keysRestored = 0
  const keysSkipped: string[] = []
  for (const key of keys) {
    try {
      await client.request('POST', '/keys', {
        uid: key.uid,
        name: key.name,
        description: key.description,
        actions: key.actions,
        indexes: key.indexes,
        expiresAt: key.expiresAt,
      })
      keysRestored++
    } catch (error) {
      keysSkipped.push(`${key.uid}: ${error instanceof Error ? error.message : String(error)}`)
    }
  }
  return { keysRestored, keysSkipped }
}
