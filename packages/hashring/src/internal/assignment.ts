/**
 * The working state of one placement computation: which node holds each
 * replica slot, per-node replica and leader counts, fair shares and caps.
 * Nodes are indices into the id-sorted eligible node list; a shard's slots
 * are kept packed (its holders first, then -1), slot 0 being the leader.
 */
export class Assignment {
  readonly shardCount: number
  readonly replicationFactor: number
  readonly nodeCount: number
  /** `slots[s * rf + j]`: node index or -1. */
  readonly slots: Int32Array
  /** 1 for a slot given a node by this computation (moving it again costs no extra move). */
  readonly fresh: Uint8Array
  /** 1 for a node that kept no replica from the previous placement (it just joined). */
  readonly newcomer: Uint8Array
  readonly load: Int32Array
  readonly leaders: Int32Array
  /** Replicas a node would hold if load followed weight exactly. */
  readonly fair: Float64Array
  /** Most replicas a node may hold (the bounded-load cap). */
  readonly cap: Int32Array
  readonly zoneOf: Int32Array
  readonly zoneLimit: number
  /** `rank[s * n + i]`: position of node i in shard s's ring preference order. */
  readonly rank: Int32Array
  readonly maxLoadFactor: number

  constructor(args: {
    shardCount: number
    replicationFactor: number
    weights: readonly number[]
    zoneOf: Int32Array
    zoneCount: number
    maxLoadFactor: number
    rank: Int32Array
  }) {
    const { shardCount, replicationFactor: rf, weights } = args
    this.shardCount = shardCount
    this.replicationFactor = rf
    this.nodeCount = weights.length
    this.slots = new Int32Array(shardCount * rf).fill(-1)
    this.fresh = new Uint8Array(shardCount * rf)
    this.newcomer = new Uint8Array(weights.length).fill(1)
    this.load = new Int32Array(this.nodeCount)
    this.leaders = new Int32Array(this.nodeCount)
    this.fair = new Float64Array(this.nodeCount)
    this.cap = new Int32Array(this.nodeCount)
    const totalWeight = weights.reduce((sum, w) => sum + w, 0)
    const replicas = shardCount * rf
    weights.forEach((weight, i) => {
      const fair = (replicas * weight) / totalWeight
      this.fair[i] = fair
      // ⌈(1 + ε) × fair share⌉, as in consistent hashing with bounded loads.
      this.cap[i] = Math.ceil(args.maxLoadFactor * fair - 1e-9)
    })
    this.zoneOf = args.zoneOf
    this.zoneLimit = Math.ceil(rf / args.zoneCount)
    this.rank = args.rank
    this.maxLoadFactor = args.maxLoadFactor
    this.#raiseCapsUntilFeasible(args.zoneCount)
  }

  /**
   * The load bound yields to the hard rules. A node can hold at most one
   * replica of each shard and a zone at most `zoneLimit`, so when the caps
   * leave too little room (few nodes, uneven weights or zones) the caps of
   * the nodes in the zones that are short are raised one replica at a time
   * until every replica fits: Σ over zones of min(Σ min(cap, shards), shards
   * × zoneLimit) ≥ shards × replicationFactor.
   */
  #raiseCapsUntilFeasible(zoneCount: number): void {
    const shards = this.shardCount
    const needed = shards * this.replicationFactor
    const zoneMax = shards * this.zoneLimit
    for (;;) {
      const room = new Float64Array(zoneCount)
      for (let i = 0; i < this.nodeCount; i++) room[this.zoneOf[i]!]! += Math.min(this.cap[i]!, shards)
      let total = 0
      for (const zoneRoom of room) total += Math.min(zoneRoom, zoneMax)
      if (total >= needed) return
      let raised = false
      for (let i = 0; i < this.nodeCount; i++) {
        if (room[this.zoneOf[i]!]! < zoneMax && this.cap[i]! < shards) {
          this.cap[i]! += 1
          raised = true
        }
      }
      if (!raised) return
    }
  }

  /** Number of replicas shard `s` holds. */
  count(s: number): number {
    const rf = this.replicationFactor
    let c = 0
    while (c < rf && this.slots[s * rf + c]! >= 0) c++
    return c
  }

  holds(s: number, node: number): boolean {
    const rf = this.replicationFactor
    for (let j = 0; j < rf; j++) if (this.slots[s * rf + j] === node) return true
    return false
  }

  /** Replicas of shard `s` in `zone`, not counting slot `except`. */
  zoneUse(s: number, zone: number, except = -1): number {
    const rf = this.replicationFactor
    let used = 0
    for (let j = 0; j < rf; j++) {
      const node = this.slots[s * rf + j]!
      if (j !== except && node >= 0 && this.zoneOf[node] === zone) used++
    }
    return used
  }

  /** Gives `node` the next free slot of shard `s`; `fresh` unless it is kept from before. */
  append(s: number, node: number, fresh: boolean): void {
    const slot = this.count(s)
    this.slots[s * this.replicationFactor + slot] = node
    this.fresh[s * this.replicationFactor + slot] = fresh ? 1 : 0
    if (!fresh) this.newcomer[node] = 0
    this.load[node]! += 1
    if (slot === 0) this.leaders[node]! += 1
  }

  /** Puts `node` in slot `j` of shard `s` in place of its holder. */
  replace(s: number, j: number, node: number): void {
    const index = s * this.replicationFactor + j
    const old = this.slots[index]!
    this.load[old]! -= 1
    this.load[node]! += 1
    if (j === 0) {
      this.leaders[old]! -= 1
      this.leaders[node]! += 1
    }
    this.slots[index] = node
    this.fresh[index] = 1
  }

  /** How full node i is relative to its fair share. */
  fill(i: number): number {
    return this.load[i]! / this.fair[i]!
  }
}
