import { HashRingError, type NodeSpec, place, shardOf } from '@shoal/hashring'
import { holdsData } from './capabilities.ts'
import { InvalidShardingError, UnsatisfiablePlacementError } from './errors.ts'
import type { MetadataState, PlacementSpec, ShardingSpec, ShardRecord } from './metadata/types.ts'
import {
  describeLabels,
  eligibleNodes,
  parsePlacement,
  placeableReplicas,
  preferLeader,
  shardViolations,
} from './placement-constraints.ts'

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
  readonly field?: unknown
  readonly placement?: unknown
}

export interface IndexPlacement {
  readonly sharding: ShardingSpec
  readonly shards: readonly ShardRecord[]
}

const KNOWN_FIELDS = new Set(['shardCount', 'replicationFactor', 'strategy', 'field', 'placement'])
const FIELD_NAME = /^[^.\s]{1,512}$/

/**
 * Validates a sharding request against the cluster and places every shard's replicas with
 * `@shoal/hashring`'s `place()` (zone anti-affinity, bounded load). Data nodes are the nodes the
 * metadata records as `active` that hold data (`bm25`, not `coordinator`); the defaults are one
 * shard per eligible node (at most 16) and a replication factor of min(3, eligible nodes). Throws `InvalidShardingError` when the request is malformed or
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
        `unknown field \`sharding.${key}\`: expected one of shardCount, replicationFactor, strategy, field, placement`,
      )
  }
  const strategy = strategyOf(raw)
  const placement = parsePlacement(raw.placement)
  // Coordinators hold no data: they count neither for the defaults nor for the checks.
  const active = Object.values(state.nodes).filter((node) => node.state === 'active' && holdsData(node))
  if (active.length === 0) throw new InvalidShardingError('the cluster has no active data node')
  const nodes: NodeSpec[] = eligibleNodes(active, placement)
  if (nodes.length === 0)
    throw new UnsatisfiablePlacementError(
      `no active data node meets \`sharding.placement\`${describeRequirements(placement)}`,
    )
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
  if (replicationFactor > active.length)
    throw new InvalidShardingError(
      `\`sharding.replicationFactor\` ${replicationFactor} exceeds the ${active.length} active data node${active.length === 1 ? '' : 's'}`,
    )
  const room = placeableReplicas(nodes, placement)
  if (replicationFactor > room)
    throw new UnsatisfiablePlacementError(
      `\`sharding.replicationFactor\` ${replicationFactor} cannot be met by \`sharding.placement\`: ${describeRoom(room, placement)}`,
    )
  let holders: readonly (readonly string[])[]
  try {
    holders = place({ index: uid, shardCount, replicationFactor, nodes }).shards
  } catch (error) {
    if (error instanceof HashRingError)
      throw new InvalidShardingError(`cannot place the shards: ${error.message}`)
    throw error
  }
  const nodeOf = (id: string) => state.nodes[id]
  for (const [shard, nodeIds] of holders.entries()) {
    const problems = shardViolations(nodeIds, placement, nodeOf)
    if (problems.length > 0)
      throw new UnsatisfiablePlacementError(
        `cannot place shard ${shard} within \`sharding.placement\`: ${problems[0]}`,
      )
  }
  const shards = holders.map((placed, shard) => {
    const nodeIds = preferLeader(placed, placement, nodeOf)
    return {
      shard,
      replicas: nodeIds.map((nodeId) => ({ nodeId, role: 'voter' as const, state: 'active' as const })),
      founders: [...nodeIds],
    }
  })
  const sharding: ShardingSpec = {
    shardCount,
    replicationFactor,
    ...strategy,
    ...(placement === undefined ? {} : { placement }),
  }
  return { sharding, shards }
}

function strategyOf(raw: ShardingRequest): Pick<ShardingSpec, 'strategy' | 'field'> {
  const strategy = raw.strategy ?? 'hash'
  if (strategy === 'range')
    throw new InvalidShardingError(
      '`sharding.strategy` "range" is not supported yet: use "hash" (by primary key) or "field" (by one attribute)',
    )
  if (strategy !== 'hash' && strategy !== 'field')
    throw new InvalidShardingError(
      `\`sharding.strategy\` must be "hash" or "field", got ${JSON.stringify(raw.strategy)}`,
    )
  if (strategy === 'hash') {
    if (raw.field !== undefined)
      throw new InvalidShardingError('`sharding.field` is for the "field" strategy only')
    return { strategy }
  }
  if (typeof raw.field !== 'string' || !FIELD_NAME.test(raw.field))
    throw new InvalidShardingError(
      `\`sharding.field\` must name a top-level attribute (no dots, 1 to 512 characters), got ${JSON.stringify(raw.field)}`,
    )
  return { strategy, field: raw.field }
}

/** ` (requires tier=hot; capabilities vector)`, or nothing without requirements. */
function describeRequirements(placement: PlacementSpec | undefined): string {
  const parts: string[] = []
  if (placement?.require !== undefined) parts.push(describeLabels(placement.require))
  if (placement?.capabilities !== undefined) parts.push(`capabilities ${placement.capabilities.join(',')}`)
  return parts.length === 0 ? '' : ` (requires ${parts.join('; ')})`
}

function describeRoom(room: number, placement: PlacementSpec | undefined): string {
  const labels = placement?.require === undefined ? [] : [describeLabels(placement.require)]
  const caps =
    placement?.capabilities === undefined ? [] : [`capabilities ${placement.capabilities.join(',')}`]
  const required = labels.length + caps.length === 0 ? '' : ` with ${[...labels, ...caps].join('; ')}`
  if (placement?.spreadBy !== undefined)
    return `the eligible nodes${required} span ${room} value${room === 1 ? '' : 's'} of \`${placement.spreadBy}\``
  return `${room} active node${room === 1 ? '' : 's'} qualif${room === 1 ? 'ies' : 'y'}${required}`
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
