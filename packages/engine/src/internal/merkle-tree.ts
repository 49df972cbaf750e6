/**
 * A Merkle tree of document hashes with a fixed shape, for anti-entropy between replicas.
 *
 * Leaves are 65,536 buckets; a document falls in the bucket its id hashes to
 * (`bucketOfKey`), so a document keeps its bucket whatever its content and two replicas put it
 * in the same one. A bucket's hash is the lane-wise sum (mod 2^32 per lane) of the 64-bit
 * hashes of the documents in it; an inner node's hash is the lane-wise sum of its 16 children,
 * so it is also the sum of every document below it:
 *
 *   level 0: 1 root        level 1: 16       level 2: 256
 *   level 3: 4,096         level 4: 65,536 buckets (16 children per node)
 *
 * Sums commute and have inverses, so adding, replacing or removing a document updates its
 * bucket and the 4 nodes above it in O(1), and the tree never has to be rebuilt to stay
 * current. Two trees of the same documents are equal whatever order the documents came in.
 * A single differing document changes its bucket's sum unless the difference of its two
 * 64-bit hashes is zero in both lanes (probability 2^-64 for an unrelated change).
 *
 * At one million documents a bucket holds about 15, so locating one bad document costs the
 * hashes along one path (16 per level) and then the ~15 (id, hash) pairs of one bucket.
 *
 * Pure: no I/O, no clock. The caller owns the hashes it passes in.
 */

/** log2 of the fan-out. */
export const MERKLE_FANOUT_BITS = 4
/** Children per inner node. */
export const MERKLE_FANOUT = 1 << MERKLE_FANOUT_BITS
/** The deepest level: the buckets. Level 0 is the root. */
export const MERKLE_LEAF_LEVEL = 4
/** Leaf buckets: 16^4. */
export const MERKLE_BUCKETS = MERKLE_FANOUT ** MERKLE_LEAF_LEVEL

/** A 64-bit hash as two unsigned 32-bit lanes. */
export interface Hash64 {
  readonly high: number
  readonly low: number
}

/** Nodes at `level` (16^level). */
export function nodesAtLevel(level: number): number {
  assertLevel(level)
  return MERKLE_FANOUT ** level
}

/** The positions at `level + 1` below the nodes `parents` at `level`, in order. */
export function childPositions(level: number, parents: readonly number[]): number[] {
  assertLevel(level)
  if (level >= MERKLE_LEAF_LEVEL) throw new RangeError('buckets have no children')
  const out: number[] = []
  for (const parent of parents) {
    assertPosition(level, parent)
    for (let i = 0; i < MERKLE_FANOUT; i++) out.push(parent * MERKLE_FANOUT + i)
  }
  return out
}

/**
 * Buckets are held sparsely (a map of the non-zero ones) until more than this many are in use,
 * then in one dense array: an empty index costs nothing and a small one a few KiB, so a node
 * can host many shard replicas; a large one costs the dense 512 KiB.
 */
export const SPARSE_BUCKETS_LIMIT = 4096

export class MerkleTree {
  /** Levels 0 to 3, two lanes per node (high, low); null until the first document. */
  #inner: Uint32Array[] | null = null
  /** The buckets while few are in use: bucket → [high, low], only non-zero sums. */
  #sparse: Map<number, [number, number]> | null = new Map()
  /** The buckets once many are: two lanes per bucket. */
  #dense: Uint32Array | null = null

  /** Adds a document's hash to `bucket` and every node above it. */
  add(bucket: number, hash: Hash64): void {
    this.#update(bucket, hash.high, hash.low)
  }

  /** Removes a document's hash (one that was added) from `bucket` and every node above it. */
  remove(bucket: number, hash: Hash64): void {
    this.#update(bucket, -hash.high, -hash.low)
  }

  #update(bucket: number, high: number, low: number): void {
    assertPosition(MERKLE_LEAF_LEVEL, bucket)
    this.#updateBucket(bucket, high, low)
    if (this.#inner === null) {
      this.#inner = []
      for (let level = 0; level < MERKLE_LEAF_LEVEL; level++)
        this.#inner.push(new Uint32Array(2 * MERKLE_FANOUT ** level))
    }
    let position = bucket
    for (let level = MERKLE_LEAF_LEVEL - 1; level >= 0; level--) {
      position >>>= MERKLE_FANOUT_BITS
      const lanes = this.#inner[level]!
      // Uint32Array stores modulo 2^32: the sum wraps, a negative delta subtracts.
      lanes[2 * position] = lanes[2 * position]! + high
      lanes[2 * position + 1] = lanes[2 * position + 1]! + low
    }
  }

  #updateBucket(bucket: number, high: number, low: number): void {
    if (this.#dense !== null) {
      this.#dense[2 * bucket] = this.#dense[2 * bucket]! + high
      this.#dense[2 * bucket + 1] = this.#dense[2 * bucket + 1]! + low
      return
    }
    const sparse = this.#sparse!
    const lanes = sparse.get(bucket) ?? [0, 0]
    lanes[0] = (lanes[0] + high) >>> 0
    lanes[1] = (lanes[1] + low) >>> 0
    if (lanes[0] === 0 && lanes[1] === 0) sparse.delete(bucket)
    else sparse.set(bucket, lanes)
    if (sparse.size > SPARSE_BUCKETS_LIMIT) {
      const dense = new Uint32Array(2 * MERKLE_BUCKETS)
      for (const [at, [h, l]] of sparse) {
        dense[2 * at] = h
        dense[2 * at + 1] = l
      }
      this.#dense = dense
      this.#sparse = null
    }
  }

  /** Back to the empty tree (every sum zero), holding no memory. */
  clear(): void {
    this.#inner = null
    this.#sparse = new Map()
    this.#dense = null
  }

  /** The hash of node `position` at `level`, as 16 hex digits. */
  node(level: number, position: number): string {
    assertPosition(level, position)
    if (level === MERKLE_LEAF_LEVEL) {
      if (this.#dense !== null) return hex64(this.#dense[2 * position]!, this.#dense[2 * position + 1]!)
      const lanes = this.#sparse!.get(position) ?? [0, 0]
      return hex64(lanes[0], lanes[1])
    }
    const lanes = this.#inner?.[level]
    return lanes === undefined ? hex64(0, 0) : hex64(lanes[2 * position]!, lanes[2 * position + 1]!)
  }

  /** The hashes of `positions` at `level`, in order. */
  nodes(level: number, positions: readonly number[]): string[] {
    return positions.map((position) => this.node(level, position))
  }

  get root(): string {
    return this.node(0, 0)
  }
}

/** `high:low` as 16 lower-case hex digits. */
export function hex64(high: number, low: number): string {
  return (high >>> 0).toString(16).padStart(8, '0') + (low >>> 0).toString(16).padStart(8, '0')
}

/**
 * The positions whose hashes are not all the same across `replicas` (each a list of hashes for
 * the same positions, in the same order).
 */
export function differingPositions(
  positions: readonly number[],
  replicas: readonly (readonly string[])[],
): number[] {
  const out: number[] = []
  positions.forEach((position, i) => {
    const first = replicas[0]?.[i]
    if (replicas.some((hashes) => hashes[i] !== first)) out.push(position)
  })
  return out
}

/** What `diffTrees` compared and found. */
export interface TreeDiff {
  /** Buckets whose sums differ, ascending. */
  readonly buckets: number[]
  /** Node hashes read from each tree on the way down. */
  readonly hashesCompared: number
  /** Levels descended (round trips for a remote comparison). */
  readonly rounds: number
}

/**
 * Descends two trees from the root, level by level, into the nodes that differ, down to the
 * differing buckets. Equal trees cost one comparison (the roots) and yield no bucket.
 */
export function diffTrees(a: MerkleTree, b: MerkleTree): TreeDiff {
  let positions = [0]
  let hashesCompared = 0
  let rounds = 0
  for (let level = 0; ; level++) {
    rounds++
    hashesCompared += positions.length
    const differing = differingPositions(positions, [a.nodes(level, positions), b.nodes(level, positions)])
    if (level === MERKLE_LEAF_LEVEL || differing.length === 0)
      return { buckets: level === MERKLE_LEAF_LEVEL ? differing : [], hashesCompared, rounds }
    positions = childPositions(level, differing)
  }
}

function assertLevel(level: number): void {
  if (!Number.isInteger(level) || level < 0 || level > MERKLE_LEAF_LEVEL)
    throw new RangeError(`merkle level must be 0 to ${MERKLE_LEAF_LEVEL}, got ${level}`)
}

function assertPosition(level: number, position: number): void {
  assertLevel(level)
  if (!Number.isInteger(position) || position < 0 || position >= MERKLE_FANOUT ** level)
    throw new RangeError(`no node ${position} at merkle level ${level}`)
}
