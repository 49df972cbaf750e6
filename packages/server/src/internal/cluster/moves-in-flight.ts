import { shardGroupOf } from '@shoal/cluster'
import type { ClusterRuntime } from './runtime.ts'
import { replicaStatuses } from './shard-rpc.ts'

/** One shard replica move under way, as the shard's replicas report it. */
export interface MoveInFlight {
  readonly index: string
  readonly shard: number
  /** The node receiving a replica (`initializing`); null when a replica only leaves. */
  readonly to: string | null
  /** The node giving its replica up (`removing`); null for a repair that only adds. */
  readonly from: string | null
  /** The newcomer's applied Raft index, null when it did not answer. */
  readonly appliedIndex: number | null
  readonly leaderCommitIndex: number | null
  /** The newcomer's applied index over the leader's commit index, 0 to 1 (1 for a removal). */
  readonly progress: number
  /** Snapshot bytes the newcomer accepted for the shard so far. */
  readonly bytes: number
}

/**
 * The moves in flight, with how far each newcomer has come (its applied index against the leader's
 * commit index) and the snapshot bytes it received: one status request per node holding a replica
 * of an index with a shard on the move. `only` narrows the indexes asked.
 */
export async function movesInFlight(
  runtime: Pick<ClusterRuntime, 'node' | 'hosting'>,
  only?: (index: string, shard: number) => boolean,
): Promise<MoveInFlight[]> {
  const state = runtime.node.state()
  const moves: MoveInFlight[] = []
  for (const [uid, shards] of Object.entries(state.shards)) {
    const moving = shards.filter(
      (s) => s.replicas.some((r) => r.state !== 'active') && (only === undefined || only(uid, s.shard)),
    )
    if (moving.length === 0) continue
    const index = state.indexes[uid]
    if (index === undefined) continue
    const statuses = await replicaStatuses(runtime.node, runtime.hosting, uid)
    for (const shard of moving) {
      const replicas = statuses.get(shardGroupOf(uid, index.createdAtMs, shard.shard)) ?? new Map()
      const leader = [...replicas.values()].find((s) => s !== null && s.role === 'leader') ?? null
      const from = shard.replicas.find((r) => r.state === 'removing')?.nodeId ?? null
      const arrivals = shard.replicas.filter((r) => r.state === 'initializing')
      for (const arriving of arrivals) {
        const status = replicas.get(arriving.nodeId) ?? null
        const target = leader?.commitIndex ?? null
        moves.push({
          index: uid,
          shard: shard.shard,
          to: arriving.nodeId,
          from,
          appliedIndex: status?.appliedIndex ?? null,
          leaderCommitIndex: target,
          progress:
            status === null || target === null || target === 0
              ? 0
              : Math.min(1, Math.round((status.appliedIndex / target) * 1000) / 1000),
          bytes: status?.snapshotBytesReceived ?? 0,
        })
      }
      if (arrivals.length === 0 && from !== null)
        moves.push({
          index: uid,
          shard: shard.shard,
          to: null,
          from,
          appliedIndex: null,
          leaderCommitIndex: null,
          progress: 1,
          bytes: 0,
        })
    }
  }
  return moves
}
