import { HashRingError } from './errors.ts'
import { Assignment } from './internal/assignment.ts'
import { HashRing } from './ring.ts'
import type { NodeId, NodeSpec, Placement } from './types.ts'

export interface PlaceRequest {
  /** The index's name; shard `s` is hashed as `"<index>/<s>"`. */
  index: string
  shardCount: number
  replicationFactor: number
  nodes: readonly NodeSpec[]
  /** The current placement: replicas stay where they are unless a rule moves them. */
  previous?: Placement
  /**
   * Bounded load: no node holds more than ⌈maxLoadFactor × its fair share⌉,
   * the fair share being total replicas × its weight ÷ total weight. The
   * bound yields only where distinct nodes and zone spread need more room.
   * @defaultValue 1.25
   */
  maxLoadFactor?: number
  /** Replicas go only to nodes with every one of these capabilities. @defaultValue [] */
  require?: readonly string[]
  /** Ring resolution for the per-shard preference order. @defaultValue 4096 */
  vnodesPerWeight?: number
  /**
   * Nodes still filling up after they joined: like a node without replicas in `previous`, each
   * may take kept replicas from nodes above their share while it is below its own (a rebalance
   * applied in several steps keeps pulling). @defaultValue []
   */
  newcomers?: readonly NodeId[]
}

const MAX_SHARDS = 1 << 20

/**
 * Decides which nodes hold each shard's replicas (the first being the
 * preferred leader).
 *
 * Every shard has a preference order over nodes: the walk around a hash ring
 * from `"<index>/<shard>"`. Placement is deterministic (same inputs, same
 * result, whatever the order of `nodes`) and proceeds in shard order:
 * 1. keep: replicas of `previous` stay on nodes that are still eligible and
 *    within the zone rule;
 * 2. fill: empty slots go to the eligible node with the least load relative to
 *    its weight (leader slots: the fewest leaders), ties broken by the shard's
 *    preference order — never to a node at its cap or already holding the
 *    shard, and to a zone the shard does not use yet while enough zones exist;
 * 3. relieve: a node above its cap (capacity changed, nodes joined) hands
 *    replicas, one at a time, to the least-loaded node that may take them;
 * 4. rebalance: a node below its fair share ÷ `maxLoadFactor` takes replicas
 *    from nodes above their share — replicas already moving in this plan, or,
 *    for a node that just joined, any replica — preferring shards that rank
 *    it highest, until it reaches its own share.
 *
 * So a placement computed with `previous` moves as little as possible: a node
 * that joins only receives replicas; a node that leaves only loses its own.
 *
 * @throws HashRingError `ERR_INVALID_ARGUMENT`, `ERR_DUPLICATE_NODE`,
 *   `ERR_NOT_ENOUGH_NODES` (fewer eligible nodes than `replicationFactor`),
 *   `ERR_PLACEMENT_MISMATCH` (`previous` of another index or shard count),
 *   `ERR_PLACEMENT_INFEASIBLE` (the load bound leaves no room).
 */
export function place(request: PlaceRequest): Placement {
  const { index, shardCount, replicationFactor: rf } = request
  validateRequest(request)
  const required = request.require ?? []
  const eligible = sortNodes(request.nodes).filter((node) =>
    required.every((capability) => node.capabilities?.includes(capability) === true),
  )
  if (eligible.length < rf) {
    throw new HashRingError(
      'ERR_NOT_ENOUGH_NODES',
      `replicationFactor ${rf} needs ${rf} eligible nodes, ${eligible.length} qualify`,
    )
  }
  const assignment = newAssignment(request, eligible)
  const indexOf = new Map(eligible.map((node, i) => [node.id, i]))
  if (request.previous !== undefined) keepPrevious(assignment, request.previous, indexOf)
  for (const id of request.newcomers ?? []) {
    const node = indexOf.get(id)
    if (node !== undefined) assignment.newcomer[node] = 1
  }
  fillSlots(assignment)
  relieveOverCap(assignment)
  rebalance(assignment)
  const shards: NodeId[][] = []
  for (let s = 0; s < shardCount; s++) {
    const holders: NodeId[] = []
    for (let j = 0; j < rf; j++) holders.push(eligible[assignment.slots[s * rf + j]!]!.id)
    shards.push(holders)
  }
  return { index, shardCount, replicationFactor: rf, shards }
}

function validateRequest(request: PlaceRequest): void {
  const { shardCount, replicationFactor: rf } = request
  if (typeof request.index !== 'string')
    throw new HashRingError('ERR_INVALID_ARGUMENT', 'index must be a string')
  if (!Number.isInteger(shardCount) || shardCount < 1 || shardCount > MAX_SHARDS) {
    throw new HashRingError(
      'ERR_INVALID_ARGUMENT',
      `shardCount must be an integer in [1, ${MAX_SHARDS}], got ${shardCount}`,
    )
  }
  if (!Number.isInteger(rf) || rf < 1) {
    throw new HashRingError('ERR_INVALID_ARGUMENT', `replicationFactor must be a positive integer, got ${rf}`)
  }
  const factor = request.maxLoadFactor ?? 1.25
  if (!Number.isFinite(factor) || factor < 1) {
    throw new HashRingError('ERR_INVALID_ARGUMENT', `maxLoadFactor must be at least 1, got ${factor}`)
  }
  if (!Array.isArray(request.nodes)) throw new HashRingError('ERR_INVALID_ARGUMENT', 'nodes must be an array')
  const previous = request.previous
  if (previous !== undefined && (previous.index !== request.index || previous.shardCount !== shardCount)) {
    throw new HashRingError(
      'ERR_PLACEMENT_MISMATCH',
      `previous placement is of ${previous.index} with ${previous.shardCount} shards, not ${request.index} with ${shardCount}`,
    )
  }
}

/** Nodes ordered by id (so input order never matters); duplicate ids are an error. */
function sortNodes(nodes: readonly NodeSpec[]): NodeSpec[] {
  const sorted = [...nodes].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.id === sorted[i - 1]!.id) {
      throw new HashRingError('ERR_DUPLICATE_NODE', `node ${sorted[i]!.id} is listed twice`)
    }
  }
  return sorted
}

function newAssignment(request: PlaceRequest, eligible: readonly NodeSpec[]): Assignment {
  const n = eligible.length
  const ring = new HashRing(
    request.vnodesPerWeight === undefined ? {} : { vnodesPerWeight: request.vnodesPerWeight },
  )
  for (const node of eligible) ring.add(node)
  const rank = new Int32Array(request.shardCount * n)
  for (let s = 0; s < request.shardCount; s++) {
    ring.preferenceOrder(`${request.index}/${s}`).forEach((node, position) => {
      rank[s * n + node] = position
    })
  }
  const zones = new Map<string, number>()
  const zoneOf = new Int32Array(n)
  eligible.forEach((node, i) => {
    const key = node.zone === undefined ? `\u0000${node.id}` : node.zone
    if (!zones.has(key)) zones.set(key, zones.size)
    zoneOf[i] = zones.get(key)!
  })
  return new Assignment({
    shardCount: request.shardCount,
    replicationFactor: request.replicationFactor,
    weights: eligible.map((node) => node.weight ?? 1),
    zoneOf,
    zoneCount: zones.size,
    maxLoadFactor: request.maxLoadFactor ?? 1.25,
    rank,
  })
}

/** Phase 1: previous replicas stay where the rules allow, in their previous order. */
function keepPrevious(a: Assignment, previous: Placement, indexOf: ReadonlyMap<NodeId, number>): void {
  for (let s = 0; s < a.shardCount; s++) {
    for (const id of previous.shards[s] ?? []) {
      const node = indexOf.get(id)
      if (node === undefined || a.holds(s, node)) continue
      if (a.count(s) >= a.replicationFactor) break
      if (a.zoneUse(s, a.zoneOf[node]!) >= a.zoneLimit) continue
      a.append(s, node, false)
    }
  }
}

/** Phase 2: every empty slot gets the least-loaded node that may take it. */
function fillSlots(a: Assignment): void {
  for (let s = 0; s < a.shardCount; s++) {
    while (a.count(s) < a.replicationFactor) {
      let node = pickNode(a, s, false)
      if (node < 0) node = makeRoom(a, s, false)
      if (node < 0) node = pickNode(a, s, true)
      if (node < 0) node = makeRoom(a, s, true)
      if (node < 0) {
        throw new HashRingError(
          'ERR_PLACEMENT_INFEASIBLE',
          `no node can take another replica of shard ${s} within the load bound`,
        )
      }
      a.append(s, node, true)
    }
  }
}

/**
 * The best node for the next slot of shard `s`, or -1. Order: fewest replicas
 * of this shard in the node's zone, then (for the leader slot) fewest leaders
 * for its weight, then least load for its weight, then the shard's preference.
 */
function pickNode(a: Assignment, s: number, relaxZones: boolean): number {
  const n = a.nodeCount
  const leaderSlot = a.count(s) === 0
  let best = -1
  let bestZone = 0
  let bestLeaders = 0
  let bestFill = 0
  for (let node = 0; node < n; node++) {
    if (a.load[node]! >= a.cap[node]! || a.holds(s, node)) continue
    const zone = a.zoneUse(s, a.zoneOf[node]!)
    if (!relaxZones && zone >= a.zoneLimit) continue
    const leaders = leaderSlot ? a.leaders[node]! / a.fair[node]! : 0
    const fill = a.fill(node)
    if (best >= 0) {
      const order =
        zone - bestZone ||
        leaders - bestLeaders ||
        fill - bestFill ||
        a.rank[s * n + node]! - a.rank[s * n + best]!
      if (order >= 0) continue
    }
    best = node
    bestZone = zone
    bestLeaders = leaders
    bestFill = fill
  }
  return best
}

/**
 * When every node with room already holds shard `s` (or is in a used zone),
 * frees a slot: some node Y that may take `s` gives one of its other replicas
 * to a node X with room. Returns Y, or -1 if no such exchange exists.
 */
function makeRoom(a: Assignment, s: number, relaxZones: boolean): number {
  const n = a.nodeCount
  const rf = a.replicationFactor
  const candidates = Array.from({ length: n }, (_, node) => node).sort(
    (x, y) => a.rank[s * n + x]! - a.rank[s * n + y]!,
  )
  for (const y of candidates) {
    if (a.holds(s, y) || (!relaxZones && a.zoneUse(s, a.zoneOf[y]!) >= a.zoneLimit)) continue
    for (let t = 0; t < a.shardCount; t++) {
      if (t === s) continue
      for (let j = 0; j < rf; j++) {
        if (a.slots[t * rf + j] !== y) continue
        for (let x = 0; x < n; x++) {
          if (x === y || a.load[x]! >= a.cap[x]! || a.holds(t, x)) continue
          if (!relaxZones && a.zoneUse(t, a.zoneOf[x]!, j) >= a.zoneLimit) continue
          a.replace(t, j, x)
          return y
        }
      }
    }
  }
  return -1
}

/**
 * Phase 3: while a node holds more than its cap, one of its replicas moves to
 * the node with the lowest load for its weight that may take it (ties: the
 * shard that ranks the receiver best).
 */
function relieveOverCap(a: Assignment): void {
  const n = a.nodeCount
  for (let donor = 0; donor < n; donor++) {
    while (a.load[donor]! > a.cap[donor]!) {
      let best: [shard: number, slot: number, receiver: number] | undefined
      let bestKey = [0, 0]
      for (let s = 0; s < a.shardCount; s++) {
        const j = slotOf(a, s, donor)
        if (j < 0) continue
        for (let receiver = 0; receiver < n; receiver++) {
          if (a.load[receiver]! >= a.cap[receiver]! || a.holds(s, receiver)) continue
          if (a.zoneUse(s, a.zoneOf[receiver]!, j) >= a.zoneLimit) continue
          const key = [a.fill(receiver), a.rank[s * n + receiver]!]
          if (best === undefined || compareKeys(key, bestKey) < 0) {
            best = [s, j, receiver]
            bestKey = key
          }
        }
      }
      if (best === undefined) return
      a.replace(best[0], best[1], best[2])
    }
  }
}

function slotOf(a: Assignment, s: number, node: number): number {
  for (let j = 0; j < a.replicationFactor; j++) if (a.slots[s * a.replicationFactor + j] === node) return j
  return -1
}

/**
 * Phase 4: nodes far below their fair share take replicas from nodes above
 * theirs, until nothing more can move.
 */
function rebalance(a: Assignment): void {
  let budget = a.shardCount * a.replicationFactor
  let moved = true
  while (moved && budget > 0) {
    moved = false
    for (let node = 0; node < a.nodeCount; node++) {
      // Mirror of the cap: only a node below fair share ÷ maxLoadFactor (and at
      // least two replicas short) pulls, then up to its full share.
      const share = Math.floor(a.fair[node]! + 1e-9)
      if (share - a.load[node]! < 2 || a.load[node]! >= a.fair[node]! / a.maxLoadFactor) continue
      while (a.load[node]! < share && a.load[node]! < a.cap[node]! && budget > 0) {
        if (!takeOneReplica(a, node)) break
        moved = true
        budget -= 1
      }
    }
  }
}

/**
 * Moves to `node` one replica from a holder above its fair share: first a slot
 * this computation already moves, then from the fullest holder, preferring
 * follower slots (unless `node` lacks leaders and the holder has too many),
 * then the shards that rank `node` best.
 */
function takeOneReplica(a: Assignment, node: number): boolean {
  const n = a.nodeCount
  const rf = a.replicationFactor
  const wantsLeaders = a.leaders[node]! < Math.floor(a.fair[node]! / rf + 1e-9)
  let bestShard = -1
  let bestSlot = -1
  let bestKey = [0, 0, 0, 0]
  for (let s = 0; s < a.shardCount; s++) {
    if (a.holds(s, node)) continue
    const rank = a.rank[s * n + node]!
    for (let j = 0; j < rf; j++) {
      const donor = a.slots[s * rf + j]!
      // The donor stays at or above its fair share rounded down.
      if (donor < 0 || a.load[donor]! <= Math.floor(a.fair[donor]! + 1e-9)) continue
      if (a.zoneUse(s, a.zoneOf[node]!, j) >= a.zoneLimit) continue
      const surplusLeader = wantsLeaders && a.leaders[donor]! > Math.ceil(a.fair[donor]! / rf - 1e-9)
      // A slot already moving in this plan moves again at no extra cost; a kept
      // replica moves only onto a node that just joined.
      const kept = 1 - a.fresh[s * rf + j]!
      if (kept === 1 && a.newcomer[node] === 0) continue
      const key = [kept, -a.fill(donor), j === 0 && !surplusLeader ? 1 : 0, rank]
      if (bestShard < 0 || compareKeys(key, bestKey) < 0) {
        bestShard = s
        bestSlot = j
        bestKey = key
      }
    }
  }
  if (bestShard < 0) return false
  a.replace(bestShard, bestSlot, node)
  return true
}

function compareKeys(x: readonly number[], y: readonly number[]): number {
  for (let i = 0; i < x.length; i++) {
    const d = x[i]! - y[i]!
    if (d !== 0) return d
  }
  return 0
}
