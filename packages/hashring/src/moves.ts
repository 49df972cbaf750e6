import { HashRingError } from './errors.ts'
import type { Move, NodeId, Placement } from './types.ts'

/**
 * The steps that turn placement `from` into `to`: per shard, each new replica
 * is added before an old one is removed (so no shard ever has fewer replicas
 * than the smaller of its two replication factors), and leadership moves to
 * `to`'s preferred leader before the old leader is removed. The plan is
 * minimal: one `add-replica` per node that gains the shard, one
 * `remove-replica` per node that loses it, one `transfer-leader` where the
 * preferred leader changes. Shards are planned in order.
 *
 * @throws HashRingError `ERR_PLACEMENT_MISMATCH` for placements of different
 *   indexes or shard counts, `ERR_INVALID_ARGUMENT` for a malformed placement.
 */
export function planMoves(from: Placement, to: Placement): Move[] {
  if (from.index !== to.index || from.shardCount !== to.shardCount) {
    throw new HashRingError(
      'ERR_PLACEMENT_MISMATCH',
      `cannot plan from ${from.index}/${from.shardCount} shards to ${to.index}/${to.shardCount} shards`,
    )
  }
  checkPlacement(from)
  checkPlacement(to)
  const moves: Move[] = []
  for (let shard = 0; shard < from.shardCount; shard++) {
    planShard(shard, from.shards[shard]!, to.shards[shard]!, moves)
  }
  return moves
}

function planShard(shard: number, before: readonly NodeId[], after: readonly NodeId[], moves: Move[]): void {
  const adds = after.filter((node) => !before.includes(node))
  const removes = before.filter((node) => !after.includes(node))
  let leader = before[0]
  let deferred: NodeId | undefined
  for (let i = 0; i < Math.max(adds.length, removes.length); i++) {
    const add = adds[i]
    if (add !== undefined) moves.push({ kind: 'add-replica', shard, node: add })
    const remove = removes[i]
    if (remove === undefined) continue
    // The leader goes last, once leadership has moved to a member that stays.
    if (remove === leader) deferred = remove
    else moves.push({ kind: 'remove-replica', shard, node: remove })
  }
  const target = after[0]
  if (leader !== undefined && target !== undefined && target !== leader) {
    moves.push({ kind: 'transfer-leader', shard, from: leader, to: target })
    leader = target
  }
  if (deferred !== undefined) moves.push({ kind: 'remove-replica', shard, node: deferred })
}

function checkPlacement(placement: Placement): void {
  if (!Array.isArray(placement.shards) || placement.shards.length !== placement.shardCount) {
    throw new HashRingError(
      'ERR_INVALID_ARGUMENT',
      `placement of ${placement.index} does not list every shard`,
    )
  }
  placement.shards.forEach((holders, shard) => {
    if (new Set(holders).size !== holders.length || holders.length === 0) {
      throw new HashRingError(
        'ERR_INVALID_ARGUMENT',
        `shard ${shard} of ${placement.index} has no or repeated replicas`,
      )
    }
  })
}
