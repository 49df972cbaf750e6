import { HashRingError, type NodeSpec, place, shardOf } from '@shoal/hashring'
import { InvalidShardingError } from './errors.ts'
import type { MetadataState, ShardingSpec, ShardRecord } from './metadata/types.ts'

/** Default and largest shard count chosen without being asked: one shard per data node, at most this. */
export const DEFAULT_MAX_SHARDS = 16
/** The largest shard count an index may ask for. */
export const MAX_SHARDS = 1024
/** The default replication factor when there are at least this many data nodes. */
export const DEFAULT_REPLICATION_FACTOR = 3

/** What `POST /indexes` may carry under `sharding` (every field optional). */
export interface ShardingRequest {
  readonly shardCount?: unknown
  readonly replicationFactor?: unknown
  readonly strategy?: unknown
}

export interface IndexPlacement {
  readonly sharding: ShardingSpec
  readonly shards: readonly ShardRecord[]
}

const KNOWN_FIELDS = new Set(['shardCount', 'replicationFactor', 'strategy'])

/**
 * Validates a sharding request against the cluster and places every shard's replicas with
 * `@shoal/hashring`'s `place()` (zone anti-affinity, bounded load). Data nodes are the nodes the
 * metadata records as `active`. Throws `InvalidShardingError` when the request is malformed or
 * cannot be placed (for example a replication factor above the number of data nodes).
 */
export function planIndexPlacement(
  state: MetadataState,
  uid: string,
  request: ShardingRequest | undefined,
): IndexPlacement {
  const raw: ShardingRequest = request ?? {}
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new InvalidShardingError('`sharding` must be an object')
  for (const key of Object.keys(raw)) {
    if (!KNOWN_FIELDS.has(key))
      throw new InvalidShardingError(
        `unknown field \`sharding.${key}\`: expected one of shardCount, replicationFactor, strategy`,
      )
  }
  const nodes: NodeSpec[] = Object.values(state.nodes)
    .filter((node) => node.state === 'active')
    .map((node) => ({ id: node.id, zone: node.zone, region: node.region, capabilities: node.capabilities }))
  if (nodes.length === 0) throw new InvalidShardingError('the cluster has no active data node')
  const shardCount = integerField(
    raw.shardCount,
    'shardCount',
    Math.min(DEFAULT_MAX_SHARDS, nodes.length),
    MAX_SHARDS,
  )
  const replicationFactor = integerField(
    raw.replicationFactor,
    'replicationFactor',
    Math.min(DEFAULT_REPLICATION_FACTOR, nodes.length),
    Number.MAX_SAFE_INTEGER,
  )
  if (raw.strategy !== undefined && raw.strategy !== 'hash')
    throw new InvalidShardingError(
      `\`sharding.strategy\` must be "hash", got ${JSON.stringify(raw.strategy)}`,
    )
  if (replicationFactor > nodes.length)
    throw new InvalidShardingError(
      `\`sharding.replicationFactor\` ${replicationFactor} exceeds the ${nodes.length} active data node${nodes.length === 1 ? '' : 's'}`,
    )
  let holders: readonly (readonly string[])[]
  try {
    holders = place({ index: uid, shardCount, replicationFactor, nodes }).shards
  } catch (error) {
    if (error instanceof HashRingError)
      throw new InvalidShardingError(`cannot place the shards: ${error.message}`)
    throw error
  }
  const shards = holders.map((nodeIds, shard) => ({
    shard,
    replicas: nodeIds.map((nodeId) => ({ nodeId, role: 'voter' as const, state: 'active' as const })),
    founders: [...nodeIds],
  }))
  return { sharding: { shardCount, replicationFactor, strategy: 'hash' }, shards }
}

function integerField(value: unknown, name: string, fallback: number, max: number): number {
  if (value === undefined || value === null) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max)
    throw new InvalidShardingError(
      `\`sharding.${name}\` must be an integer from 1 to ${max}, got ${JSON.stringify(value)}`,
    )
  return value
}

/**
 * The shard a document belongs to: the stable 64-bit hash of its primary key's text, modulo the
 * shard count. A number and its decimal text are the same id (as in Meilisearch), so both hash alike.
 */
export function shardOfDocument(id: string | number, shardCount: number): number {
  return shardOf(String(id), shardCount)
}
