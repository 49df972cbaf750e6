/**
 * Where the metadata group's leader runs: off the node leading the most shard groups.
 *
 * A document write needs both the metadata leader (its task is enqueued and scheduled there) and
 * its shard's leader. When one node leads both and its process dies, both groups fail over, and
 * the writes in flight are started again by the next metadata leader; with the two apart, one
 * node's death costs the write path one election. So the metadata leader hands its leadership to
 * the live, caught-up voter leading the fewest shard groups, when that is fewer than it leads
 * itself (the controller does it at most once per `metadataLeaderMoveIntervalMs`). Shard
 * leadership is never moved for this: it stays where the elections put it.
 */

export interface MetadataLeaderPlacementInput {
  /** This node: the metadata leader. */
  readonly self: string
  /** The leader of each shard group with a replica on this node (null while unknown). */
  readonly shardLeaders: readonly (string | null)[]
  /** Metadata voters able to take over now: live and caught up (this node may be among them). */
  readonly candidates: readonly string[]
}

/**
 * The voter the metadata leadership should move to, or null to keep it here: the candidate
 * leading the fewest shard groups (ties to the lowest id), when that is fewer than this node
 * leads. It counts the groups this node holds a replica of: the ones whose leaders it knows.
 */
export function metadataLeaderTarget(input: MetadataLeaderPlacementInput): string | null {
  const led = new Map<string, number>()
  for (const leader of input.shardLeaders) if (leader !== null) led.set(leader, (led.get(leader) ?? 0) + 1)
  let fewest = led.get(input.self) ?? 0
  let target: string | null = null
  for (const candidate of [...input.candidates].sort()) {
    if (candidate === input.self) continue
    const count = led.get(candidate) ?? 0
    if (count < fewest) {
      fewest = count
      target = candidate
    }
  }
  return target
}
