import { HashRingError, type Placement, place, planMoves } from '@shoal/hashring'
import { mayHoldReplica } from './capabilities.ts'
import type {
  MetadataCommand,
  MetadataState,
  NodeRecord,
  PlacementSpec,
  ShardReplica,
} from './metadata/types.ts'
import { describeLabels, eligibleNodes, placeableReplicas, shardViolations } from './placement-constraints.ts'

/** Why a replica moves. */
/**
 * Why a replica moves. `capability`: its node may no longer hold the index's data (restarted as a
 * coordinator, or without a capability the index requires); it moves even with rebalancing off.
 */
export type MoveReason = 'lost' | 'drain' | 'replace' | 'rebalance' | 'rollback' | 'repair' | 'capability'

/** One planned change of one shard's replica list, as the `shard.update` command that records it. */
export interface PlannedMove {
  readonly index: string
  readonly shard: number
  /** The node that gains a replica (it starts as `initializing`). */
  readonly to?: string
  /** The node that loses one (it becomes `removing`, or is dropped in a rollback). */
  readonly from?: string
  readonly reason: MoveReason
  readonly command: Extract<MetadataCommand, { type: 'shard.update' }>
}

export interface ShardMovesInput {
  readonly state: MetadataState
  /** SWIM says alive (the planning node itself always is). */
  readonly alive: (nodeId: string) => boolean
  /** Since when SWIM has reported a node dead or gone; undefined when it does not know. */
  readonly downSinceMs: (nodeId: string) => number | undefined
  readonly nowMs: number
  /** A lost node's replicas are replaced only after this long (it may come back and catch up from its own log). */
  readonly replicaGraceMs: number
  /** Most replicas arriving on one node at a time. */
  readonly maxIncomingMoves: number
  /** Most replicas leaving one live node at a time (a dead node sends nothing, so it has no limit). */
  readonly maxOutgoingMoves: number
  /** Also move replicas to even out the load (after joins); repairs always run. @defaultValue true */
  readonly rebalance?: boolean
  /** Nodes being replaced: old node id → the node that takes its replicas. */
  readonly replacements?: Readonly<Record<string, string>>
}

export interface ShardMovesPlan {
  /** Moves to start now (bounded by the per-node limits), each one shard's `shard.update`. */
  readonly start: readonly PlannedMove[]
  /** Moves the placement wants but the limits or in-flight moves hold back for a later pass. */
  readonly waiting: number
  /** Shard moves already in flight (a replica `initializing` or `removing`). */
  readonly inFlight: number
  /** Indexes whose placement could not be computed, with why (too few eligible nodes, for example). */
  readonly unplaceable: readonly { readonly index: string; readonly reason: string }[]
}

/**
 * Plans the next replica moves of every sharded index (the controller runs it on the metadata
 * leader every pass; `POST /admin/shards/rebalance?dryRun` shows it). Each move is recorded as a
 * compare-and-set `shard.update` of one shard's replica list: the new replica is added as an
 * `initializing` voter and the one it replaces is marked `removing`; the shard's Raft leader then
 * adds the newcomer as a learner, lets it catch up by snapshot and log, promotes it to voter and
 * only then removes the old replica (`planShardStep`). So no configuration ever loses a voter it
 * had before its replacement votes.
 *
 * What moves:
 * - rollback: an `initializing` replica whose node died, drains or is gone becomes `removing`
 *   (it leaves the group like any replica, then the record), and a `removing` replica on a live
 *   node is restored when the shard would otherwise be short;
 * - repairs: replicas on nodes lost for longer than `replicaGraceMs`, draining nodes and nodes
 *   being replaced move elsewhere (to the replacement node when one is named);
 * - rebalance: `@shoal/hashring`'s `place()` with the current placement as `previous` gives the
 *   target (bounded load, zone spread), and `planMoves` the minimal steps to it.
 *
 * One move per shard at a time; at most `maxIncomingMoves` arriving on and `maxOutgoingMoves`
 * leaving any node at a time, counting the moves in flight. A plan computed right after every
 * move has finished is empty.
 */
export function planShardMoves(input: ShardMovesInput): ShardMovesPlan {
  const { state } = input
  const replacements = input.replacements ?? {}
  const replacing = new Set(Object.keys(replacements))
  const node = (id: string): NodeRecord | undefined => state.nodes[id]
  const withinGrace = (id: string): boolean => {
    const since = input.downSinceMs(id) ?? node(id)?.updatedAtMs ?? input.nowMs
    return input.nowMs - since < input.replicaGraceMs
  }
  /** May keep its replicas: active and alive, or down for less than the grace period. */
  const mayKeep = (id: string): boolean => {
    const record = node(id)
    if (record === undefined || replacing.has(id)) return false
    if (record.state === 'active' || record.state === 'joining') return input.alive(id) || withinGrace(id)
    if (record.state === 'dead') return !input.alive(id) && withinGrace(id)
    return false
  }
  /** May receive a replica now. */
  const mayReceive = (id: string): boolean => {
    const record = node(id)
    return record !== undefined && record.state === 'active' && input.alive(id) && !replacing.has(id)
  }
  const reasonFor = (id: string): MoveReason => {
    const record = node(id)
    if (replacing.has(id)) return 'replace'
    if (record?.state === 'draining') return 'drain'
    return mayKeep(id) ? 'rebalance' : 'lost'
  }

  // Moves in flight count against the per-node limits.
  const incoming = new Map<string, number>()
  const outgoing = new Map<string, number>()
  const bump = (map: Map<string, number>, id: string) => map.set(id, (map.get(id) ?? 0) + 1)
  let inFlight = 0
  for (const shards of Object.values(state.shards)) {
    for (const shard of shards) {
      let moving = false
      for (const r of shard.replicas) {
        if (r.state === 'initializing') bump(incoming, r.nodeId)
        if (r.state === 'removing' && input.alive(r.nodeId)) bump(outgoing, r.nodeId)
        moving ||= r.state !== 'active'
      }
      if (moving) inFlight++
    }
  }
  const canMove = (to: string | undefined, from: string | undefined): boolean =>
    (to === undefined || (incoming.get(to) ?? 0) < input.maxIncomingMoves) &&
    (from === undefined || !input.alive(from) || (outgoing.get(from) ?? 0) < input.maxOutgoingMoves)

  const start: PlannedMove[] = []
  const unplaceable: { index: string; reason: string }[] = []
  let waiting = 0
  const keepers = Object.values(state.nodes).filter((record) => mayKeep(record.id))

  for (const uid of Object.keys(state.shards).sort()) {
    const index = state.indexes[uid]
    const shards = state.shards[uid]
    if (index === undefined || shards === undefined) continue
    const update = (shard: number, expect: readonly ShardReplica[], replicas: readonly ShardReplica[]) => ({
      type: 'shard.update' as const,
      uid,
      createdAtMs: index.createdAtMs,
      shard,
      expect,
      replicas,
    })
    const rf = index.sharding.replicationFactor
    const constraints = index.sharding.placement
    // Only the nodes the index's constraints allow; with `spreadBy`, its label stands for the zone.
    const eligible = eligibleNodes(keepers, constraints)
    // The target placement: replicas stay where they may, the rest is placed with bounded load.
    let target: Placement | null = null
    try {
      const room = placeableReplicas(eligible, constraints)
      if (constraints !== undefined && room < rf)
        throw new HashRingError(
          'ERR_NOT_ENOUGH_NODES',
          `placement constraints (${describeConstraints(constraints)}) allow ${room} of ${rf} replicas per shard`,
        )
      target = place({
        index: uid,
        shardCount: shards.length,
        replicationFactor: rf,
        nodes: eligible,
        // A node that may receive keeps pulling replicas while it is well below its share, so a
        // rebalance applied a few moves at a time goes on until the load is within the bound.
        newcomers: eligible.map((n) => n.id).filter(mayReceive),
        previous: {
          index: uid,
          shardCount: shards.length,
          replicationFactor: rf,
          shards: shards.map((s) => s.replicas.filter((r) => r.state !== 'removing').map((r) => r.nodeId)),
        },
      })
      const nodeOf = (id: string) => state.nodes[id]
      for (const [shard, holders] of target.shards.entries()) {
        const problem = shardViolations(holders, constraints, nodeOf)[0]
        if (problem !== undefined)
          throw new HashRingError(
            'ERR_PLACEMENT_INFEASIBLE',
            `shard ${shard} would break the placement: ${problem}`,
          )
      }
    } catch (error) {
      if (!(error instanceof HashRingError)) throw error
      target = null
      unplaceable.push({ index: uid, reason: error.message })
    }
    const recorded = current(uid, shards)
    const steps = target === null || recorded === null ? [] : planMoves(recorded, target)
    for (const record of shards) {
      const replicas = record.replicas
      // 1. Roll back an arrival whose node can no longer take it. It leaves as any replica does,
      // marked `removing`: it may already be a learner or a voter of the group, and dropped from
      // the record its node would delete it while the group still counts on its vote; the shard
      // leader takes it out of the group, then drops it from the record (`planShardStep`).
      const stranded = replicas.find((r) => r.state === 'initializing' && !mayReceive(r.nodeId))
      if (stranded !== undefined) {
        const rest = replicas.filter((r) => r !== stranded)
        const live = rest.filter((r) => r.state !== 'removing').length
        const restorable = rest.find((r) => r.state === 'removing' && mayKeep(r.nodeId))
        const next = replicas.map((r) =>
          r === stranded
            ? { ...r, state: 'removing' as const }
            : r === restorable && live < rf
              ? { ...r, state: 'active' as const }
              : r,
        )
        start.push({
          index: uid,
          shard: record.shard,
          from: stranded.nodeId,
          reason: 'rollback',
          command: update(record.shard, replicas, next),
        })
        continue
      }
      if (replicas.some((r) => r.state !== 'active')) continue
      // 2. A replica on a node being replaced goes to its replacement when that node may take it.
      const replaced = replicas.find((r) => replacing.has(r.nodeId))
      const substitute = replaced === undefined ? undefined : replacements[replaced.nodeId]
      let to: string | undefined
      let from: string | undefined
      if (
        replaced !== undefined &&
        substitute !== undefined &&
        mayReceive(substitute) &&
        // The replacement must suit this index (a coordinator or a node without `vector` may not).
        eligible.some((n) => n.id === substitute) &&
        !replicas.some((r) => r.nodeId === substitute)
      ) {
        to = substitute
        from = replaced.nodeId
      } else {
        // 3. Otherwise the minimal steps towards the target placement.
        const adds = steps.filter((m) => m.kind === 'add-replica' && m.shard === record.shard)
        const removes = steps.filter((m) => m.kind === 'remove-replica' && m.shard === record.shard)
        to = adds.map((m) => (m.kind === 'add-replica' ? m.node : '')).find((id) => mayReceive(id))
        from = removes.map((m) => (m.kind === 'remove-replica' ? m.node : ''))[0]
        if (to === undefined && adds.length > 0) {
          // The target wants a node that cannot take a replica yet (down within its grace).
          waiting++
          continue
        }
        if (to === undefined && from === undefined) continue
        if (to === undefined && replicas.length <= rf) continue
      }
      const fromRecord = from === undefined ? undefined : node(from)
      const reason =
        from === undefined
          ? 'repair'
          : fromRecord !== undefined &&
              mayKeep(from) &&
              !mayHoldReplica(fromRecord, constraints?.capabilities)
            ? 'capability'
            : reasonFor(from)
      if (reason === 'rebalance' && input.rebalance === false) continue
      if (!canMove(to, from)) {
        waiting++
        continue
      }
      if (to !== undefined) bump(incoming, to)
      if (from !== undefined && input.alive(from)) bump(outgoing, from)
      const next: ShardReplica[] = replicas.map((r) =>
        r.nodeId === from ? { ...r, state: 'removing' as const } : r,
      )
      if (to !== undefined) next.push({ nodeId: to, role: 'voter', state: 'initializing' })
      start.push({
        index: uid,
        shard: record.shard,
        ...(to === undefined ? {} : { to }),
        ...(from === undefined ? {} : { from }),
        reason,
        command: update(record.shard, replicas, next),
      })
    }
  }
  return { start, waiting, inFlight, unplaceable }
}

/** The placement as recorded, leaving replicas on their way out aside (null if a shard has none left). */
function current(uid: string, shards: MetadataState['shards'][string]): Placement | null {
  const lists = shards.map((s) => s.replicas.filter((r) => r.state !== 'removing').map((r) => r.nodeId))
  if (lists.some((l) => l.length === 0)) return null
  return {
    index: uid,
    shardCount: shards.length,
    replicationFactor: Math.max(...lists.map((l) => l.length)),
    shards: lists,
  }
}

/** `require tier=hot, spreadBy region` as one line. */
export function describeConstraints(spec: PlacementSpec): string {
  const parts: string[] = []
  if (spec.require !== undefined) parts.push(`require ${describeLabels(spec.require)}`)
  if (spec.spreadBy !== undefined) parts.push(`spreadBy ${spec.spreadBy}`)
  if (spec.leaderPrefers !== undefined) parts.push(`leaderPrefers ${describeLabels(spec.leaderPrefers)}`)
  if (spec.capabilities !== undefined) parts.push(`capabilities ${spec.capabilities.join(',')}`)
  return parts.join(', ')
}
