/**
 * The shard map: indexes × shards, each cell holding the shard's replicas (node, leader, state,
 * lag) and the moves in flight into or out of it. Built from `GET /cluster/shards` and the
 * `moves.inFlight` of `GET /_admin/cluster`. Pure: no DOM.
 */

/** One replica as `GET /cluster/shards` reports it. */
export interface ReplicaAnswer {
  readonly node: string
  readonly nodeName: string | null
  readonly role: string
  readonly state: string
  readonly reachable: boolean
  readonly leader: boolean
  readonly appliedIndex: number | null
  readonly lag: number | null
}

export interface ShardsAnswer {
  readonly indexes: readonly {
    readonly indexUid: string
    readonly sharding: { readonly shardCount: number; readonly replicationFactor: number }
    readonly shards: readonly { readonly shard: number; readonly replicas: readonly ReplicaAnswer[] }[]
  }[]
}

/** One move in flight, as `GET /_admin/cluster` reports it. */
export interface MoveAnswer {
  readonly index: string
  readonly shard: number
  readonly to: string | null
  readonly from: string | null
  readonly progress: number
}

export type CellStatus = 'ok' | 'degraded' | 'down'

export interface ShardCell {
  readonly shard: number
  readonly status: CellStatus
  readonly replicas: readonly ReplicaAnswer[]
  readonly moves: readonly MoveAnswer[]
  /** Replicas that are active and reachable, against the replication factor. */
  readonly liveReplicas: number
  readonly wantedReplicas: number
}

export interface IndexRow {
  readonly indexUid: string
  readonly shardCount: number
  readonly replicationFactor: number
  readonly cells: readonly ShardCell[]
}

export function shardMap(answer: ShardsAnswer, moves: readonly MoveAnswer[]): IndexRow[] {
  return answer.indexes.map((index) => ({
    indexUid: index.indexUid,
    shardCount: index.sharding.shardCount,
    replicationFactor: index.sharding.replicationFactor,
    cells: [...index.shards]
      .sort((a, b) => a.shard - b.shard)
      .map((shard) => {
        const voters = shard.replicas.filter((r) => r.role === 'voter' && r.state !== 'initializing')
        const liveVoters = voters.filter((r) => r.reachable).length
        const liveReplicas = shard.replicas.filter((r) => r.state === 'active' && r.reachable).length
        const shardMoves = moves.filter((m) => m.index === index.indexUid && m.shard === shard.shard)
        const status: CellStatus =
          voters.length === 0 || liveVoters <= voters.length / 2
            ? 'down'
            : liveReplicas < index.sharding.replicationFactor || shardMoves.length > 0
              ? 'degraded'
              : 'ok'
        return {
          shard: shard.shard,
          status,
          replicas: shard.replicas,
          moves: shardMoves,
          liveReplicas,
          wantedReplicas: index.sharding.replicationFactor,
        }
      }),
  }))
}

/** The largest replication lag (log entries a replica has still to apply) anywhere in the map. */
export function largestLag(rows: readonly IndexRow[]): number {
  let largest = 0
  for (const row of rows)
    for (const cell of row.cells) for (const r of cell.replicas) largest = Math.max(largest, r.lag ?? 0)
  return largest
}

/** How many shard replicas each node leads. */
export function leadersPerNode(rows: readonly IndexRow[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const row of rows)
    for (const cell of row.cells)
      for (const r of cell.replicas) if (r.leader) counts.set(r.node, (counts.get(r.node) ?? 0) + 1)
  return counts
}
