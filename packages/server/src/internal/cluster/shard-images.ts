import { randomUUID } from 'node:crypto'
import { mkdir, rm } from 'node:fs/promises'
import path from 'node:path'
import type { MetadataState } from '@shoal/cluster'
import { type Engine, openReplica } from '@shoal/engine'
import type { Settings } from '../engine-port.ts'
import { ApiError } from '../errors.ts'
import type { IndexHead, IndexPart, IndexSource } from '../index-source.ts'
import { fetchShardImage } from './cluster-backup.ts'
import type { ClusterRuntime } from './runtime.ts'
import { shardTargets } from './shard-rpc.ts'

/**
 * A cluster's indexes read through their shards, for dumps and exports: the indexes are those of
 * the metadata at one linearizable read, and each shard is read from one image its leader takes
 * after a ReadIndex round (the cluster backup's `backupImage` call, cluster/backup-shard.ts), so a
 * shard's documents and settings are exactly its state at one applied index. Shards are read one
 * after another, each at its own point: a write that ran meanwhile may be in some shards and not
 * in others. The image is decoded into a throwaway engine (no log of its own) in `scratchDir`
 * and dropped after its visit: one shard's image is in memory at a time.
 */

/** How long one shard may take to give its image, leader changes and retries included. */
const SHARD_READ_MS = 90_000

export async function clusterIndexSource(
  runtime: ClusterRuntime,
  scratchDir: string,
): Promise<IndexSource & { readonly appliedIndexes: Record<string, Record<number, number>> }> {
  const node = runtime.node
  const state = await node.readLinearizable({ timeoutMs: 10_000 })
  await localCopyAt(runtime, state.version)
  const appliedIndexes: Record<string, Record<number, number>> = {}
  return {
    appliedIndexes,
    async indexes(): Promise<IndexHead[]> {
      return Object.keys(state.indexes)
        .sort()
        .map((uid) => {
          const record = state.indexes[uid]!
          return { uid, primaryKey: record.primaryKey, sharding: shardingOf(record.sharding) }
        })
    },
    async readParts(uid, visit) {
      const targets = shardTargets(node, uid)
      if (targets.length === 0)
        throw new ApiError(
          404,
          'index_not_found',
          `Index \`${uid}\` was deleted while it was being read.`,
          'invalid_request',
        )
      const applied: Record<number, number> = {}
      appliedIndexes[uid] = applied
      for (const [position, target] of targets.entries()) {
        const image = await shardImage(runtime, uid, target)
        applied[target.shard] = image.appliedIndex
        const dir = path.join(scratchDir, randomUUID())
        await mkdir(dir, { recursive: true })
        const engine = await openReplica(dir)
        try {
          await engine.restoreImage(image.bytes)
          await visit(imagePart(runtime, engine, uid), position)
        } finally {
          await engine.close()
          await rm(dir, { recursive: true, force: true })
        }
      }
    },
  }
}

/** The sharding a dump keeps: what `POST /indexes` takes back on a cluster. */
function shardingOf(sharding: MetadataState['indexes'][string]['sharding']): Record<string, unknown> {
  return {
    shardCount: sharding.shardCount,
    replicationFactor: sharding.replicationFactor,
    strategy: sharding.strategy ?? 'hash',
    ...(sharding.field === undefined ? {} : { field: sharding.field }),
    ...(sharding.placement === undefined ? {} : { placement: sharding.placement }),
  }
}

/** Waits until this node's copy of the metadata has the shard map of the linearizable read. */
async function localCopyAt(runtime: ClusterRuntime, version: number): Promise<void> {
  const deadline = Date.now() + 10_000
  while (runtime.node.metadata.state.version < version) {
    if (Date.now() > deadline)
      throw new ApiError(
        503,
        'unavailable',
        'This node could not catch up with the cluster metadata.',
        'system',
      )
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/**
 * One shard's image from its leader. A leader lost during the transfer (the image is held in its
 * memory) is not fatal: the image is asked again, of the new leader, until SHARD_READ_MS.
 */
async function shardImage(
  runtime: ClusterRuntime,
  uid: string,
  target: ReturnType<typeof shardTargets>[number],
): Promise<{ bytes: Buffer; appliedIndex: number }> {
  const deadline = Date.now() + SHARD_READ_MS
  for (;;) {
    try {
      return await fetchShardImage(runtime, uid, target, randomUUID())
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
  }
}

/**
 * A shard image's index. The image names its one index by the shard's name, which is not the
 * index's uid once it was renamed or swapped (docs/sharded-indexes.md). A shard that never
 * received the index's creation holds nothing: no documents, and the index's settings as the
 * cluster serves them.
 */
function imagePart(runtime: ClusterRuntime, engine: Engine, uid: string): IndexPart {
  const held = engine.listIndexes()
  const name = engine.hasIndex(uid) ? uid : held.length === 1 ? held[0]!.uid : undefined
  if (name === undefined)
    return {
      settings: async () => (await runtime.engine.index(uid).getSettings()) as Settings,
      documents: async () => [],
    }
  const handle = engine.index(name)
  return {
    settings: async () => handle.getSettings(),
    documents: async ({ offset, limit, filter }) =>
      handle.getDocuments({
        offset,
        limit,
        retrieveVectors: true,
        ...(filter === undefined ? {} : { filter }),
      }).results,
  }
}
