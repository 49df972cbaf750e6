/**
 * Vector indexing off the write path. A write hands its vectors (and the
 * removals of replaced or deleted ones) to `BackloggedVectorIndex`, which
 * only queues them; the engine drains the queue into the graph in time
 * slices between other work (`drain(more)`), in exactly the order the writes
 * made them, so once drained the graph is the one synchronous inserts would
 * have built (same operations, same order, same seed).
 *
 * Until an id's queued operations are drained, searches take its current
 * vector from the queue: the graph's answer (without the ids that have
 * queued operations, whose graph nodes may be stale) is merged with an
 * exact scan of the queued vectors. Results are therefore complete at once;
 * only the order among equal distances may differ from a drained graph's.
 *
 * The queue is part of a snapshot (`backlogImage`), so a snapshot taken
 * with a backlog reopens with the same backlog.
 *
 * Memory: each queued add holds its vector (4 bytes per dimension) plus
 * about 50 bytes of bookkeeping until it is drained.
 */

import type { Distance } from '../types.ts'
import { decodeValue, encodeValue } from './commands.ts'
import { f32Bytes, f32Column, u32Bytes, u32Column } from './index-image.ts'
import type { CoreStats, VectorHits, VectorIndex, VectorIndexConfig } from './ports.ts'

/** Consecutive adds given to the graph in one call: small, so a slice can stop soon after its budget. */
const DRAIN_CHUNK = 4

/** The most neighbours one graph search may ask for (`@shoal/hnsw`'s largest `ef`). */
const MAX_GRAPH_K = 65_536

interface Queued {
  /** Operations of this id still in the queue. */
  ops: number
  /** The id's vector after its last queued operation (null: removed). */
  vector: Float32Array | null
  /** Whether the graph held the id live when its first queued operation arrived. */
  staleInGraph: boolean
}

export class BackloggedVectorIndex implements VectorIndex {
  readonly #graph: VectorIndex
  readonly #config: VectorIndexConfig
  // The queue, oldest first from #head: an id and its vector (an add) or null (a removal).
  #opIds: number[] = []
  #opVectors: (Float32Array | null)[] = []
  #head = 0
  readonly #queued = new Map<number, Queued>()
  #staleInGraph = 0
  /** `serializeInSlices` calls not settled: the graph takes no operation until they are. */
  #held = 0

  constructor(graph: VectorIndex, config: VectorIndexConfig) {
    this.#graph = graph
    this.#config = config
  }

  /** Queued graph operations not applied yet. */
  get backlog(): number {
    return this.#opIds.length - this.#head
  }

  /** Whether the graph is held unchanged (being serialised in slices): `drain` does nothing. */
  get held(): boolean {
    return this.#held > 0
  }

  /** What one exact scan of the queue costs: its operations times the dimensions (floats). */
  get backlogFloats(): number {
    return this.backlog * this.#config.dimensions
  }

  has(id: number): boolean {
    const queued = this.#queued.get(id)
    return queued === undefined ? this.#graph.has(id) : queued.vector !== null
  }

  addBatch(ids: Uint32Array, vectors: Float32Array): void {
    const d = this.#config.dimensions
    for (let i = 0; i < ids.length; i++) this.#enqueue(ids[i]!, vectors.subarray(i * d, (i + 1) * d))
  }

  remove(id: number): void {
    this.#enqueue(id, null)
  }

  #enqueue(id: number, vector: Float32Array | null): void {
    let queued = this.#queued.get(id)
    if (queued === undefined) {
      queued = { ops: 0, vector: null, staleInGraph: this.#graph.has(id) }
      if (queued.staleInGraph) this.#staleInGraph++
      this.#queued.set(id, queued)
    }
    queued.ops++
    queued.vector = vector
    this.#opIds.push(id)
    this.#opVectors.push(vector)
  }

  /**
   * Applies queued operations in order while `more()` says so (asked before each small chunk);
   * returns the backlog left. Applies none while the graph is `held`.
   */
  drain(more: () => boolean): number {
    if (this.#held > 0) return this.backlog
    const d = this.#config.dimensions
    while (this.#head < this.#opIds.length && more()) {
      const first = this.#opVectors[this.#head]
      if (first === null) {
        this.#graph.remove(this.#opIds[this.#head]!)
        this.#settle(this.#head++)
        continue
      }
      let end = this.#head + 1
      while (end < this.#opIds.length && end - this.#head < DRAIN_CHUNK && this.#opVectors[end] !== null)
        end++
      const ids = new Uint32Array(end - this.#head)
      const vectors = new Float32Array(ids.length * d)
      for (let i = 0; i < ids.length; i++) {
        ids[i] = this.#opIds[this.#head + i]!
        vectors.set(this.#opVectors[this.#head + i]!, i * d)
      }
      this.#graph.addBatch(ids, vectors)
      while (this.#head < end) this.#settle(this.#head++)
    }
    if (this.#head === this.#opIds.length) {
      this.#opIds = []
      this.#opVectors = []
      this.#head = 0
    } else if (this.#head > 4096 && this.#head * 2 > this.#opIds.length) {
      this.#opIds = this.#opIds.slice(this.#head)
      this.#opVectors = this.#opVectors.slice(this.#head)
      this.#head = 0
    }
    return this.backlog
  }

  #settle(at: number): void {
    const id = this.#opIds[at]!
    this.#opVectors[at] = null
    const queued = this.#queued.get(id)!
    if (--queued.ops > 0) return
    this.#queued.delete(id)
    if (queued.staleInGraph) this.#staleInGraph--
  }

  search(query: Float32Array, k: number, allowed?: Uint32Array): VectorHits {
    if (this.#queued.size === 0) return this.#graph.search(query, k, allowed)
    const graphHits = this.#graph.search(query, Math.min(MAX_GRAPH_K, k + this.#staleInGraph), allowed)
    // Only the k best are kept (a bounded heap), so a long backlog costs one distance per queued
    // vector and no sort of them all.
    const best = new BestK(k)
    for (let i = 0; i < graphHits.ids.length; i++) {
      const id = graphHits.ids[i]!
      if (!this.#queued.has(id)) best.offer(id, graphHits.distances[i]!)
    }
    const scan = new ExactScan(this.#config.distance, query)
    for (const [id, queued] of this.#queued) {
      if (queued.vector === null || (allowed !== undefined && !sortedHas(allowed, id))) continue
      best.offer(id, scan.distance(queued.vector))
    }
    return best.hits()
  }

  /** The graph's figures; queued vectors are counted by `backlog`. */
  stats(): CoreStats {
    return this.#graph.stats()
  }

  /** The graph as bytes (without the backlog: see `backlogImage`). */
  serialize(): Uint8Array {
    return this.#graph.serialize()
  }

  /**
   * `serialize()`'s bytes as of this call, built in slices; until they are out the graph is held
   * (`drain` applies nothing), so the graph stays the one `backlogImage()` taken now goes with.
   */
  async serializeInSlices(pause: () => Promise<void>): Promise<Uint8Array> {
    this.#held++
    try {
      return await this.#graph.serializeInSlices(pause)
    } finally {
      this.#held--
    }
  }

  /** The queued operations as bytes, or null when there are none. */
  backlogImage(): Uint8Array | null {
    const n = this.backlog
    if (n === 0) return null
    const d = this.#config.dimensions
    const ids = new Uint32Array(n)
    const adds = new Uint8Array(n)
    let addCount = 0
    for (let i = 0; i < n; i++) {
      ids[i] = this.#opIds[this.#head + i]!
      if (this.#opVectors[this.#head + i] !== null) {
        adds[i] = 1
        addCount++
      }
    }
    const vectors = new Float32Array(addCount * d)
    let at = 0
    for (let i = 0; i < n; i++) {
      const vector = this.#opVectors[this.#head + i]
      if (vector === null || vector === undefined) continue
      vectors.set(vector, at)
      at += d
    }
    return encodeValue({ ids: u32Bytes(ids), adds, vectors: f32Bytes(vectors) })
  }

  /** Queues the operations of a `backlogImage` (after the graph it was taken with is loaded). */
  restoreBacklog(bytes: Uint8Array): void {
    const image = decodeValue(bytes) as { ids: Uint8Array; adds: Uint8Array; vectors: Uint8Array }
    const ids = u32Column(image.ids, 'backlog ids')
    const vectors = f32Column(image.vectors, 'backlog vectors')
    const d = this.#config.dimensions
    if (!(image.adds instanceof Uint8Array) || image.adds.length !== ids.length) {
      throw new TypeError('bad vector backlog')
    }
    let at = 0
    for (let i = 0; i < ids.length; i++) {
      if (image.adds[i] === 0) this.#enqueue(ids[i]!, null)
      else {
        if ((at + 1) * d > vectors.length) throw new TypeError('vector backlog is short of vectors')
        this.#enqueue(ids[i]!, vectors.slice(at * d, (at + 1) * d))
        at++
      }
    }
    if (at * d !== vectors.length) throw new TypeError('vector backlog has vectors left over')
  }
}

/**
 * Distances as the vector cores compute them (lower is closer): squared l2, 1 − cosine
 * similarity, 1 − dot product.
 */
class ExactScan {
  readonly #distance: Distance
  readonly #query: Float32Array
  readonly #queryNorm: number

  constructor(distance: Distance, query: Float32Array) {
    this.#distance = distance
    this.#query = query
    let norm = 0
    for (let i = 0; i < query.length; i++) norm += query[i]! * query[i]!
    this.#queryNorm = Math.sqrt(norm)
  }

  distance(vector: Float32Array): number {
    const q = this.#query
    if (this.#distance === 'l2') {
      let sum = 0
      for (let i = 0; i < q.length; i++) sum += (vector[i]! - q[i]!) ** 2
      return sum
    }
    let dot = 0
    let norm = 0
    for (let i = 0; i < q.length; i++) {
      dot += vector[i]! * q[i]!
      norm += vector[i]! * vector[i]!
    }
    if (this.#distance === 'dot') return 1 - dot
    const denominator = Math.sqrt(norm) * this.#queryNorm
    return denominator === 0 ? 1 : 1 - dot / denominator
  }
}

/**
 * The k smallest (distance, id) pairs offered, ties broken by the lower id: a max-heap of k
 * entries whose root is the worst kept one.
 */
class BestK {
  readonly #k: number
  readonly #ids: number[] = []
  readonly #distances: number[] = []

  constructor(k: number) {
    this.#k = k
  }

  offer(id: number, distance: number): void {
    const ids = this.#ids
    const distances = this.#distances
    if (ids.length < this.#k) {
      ids.push(id)
      distances.push(distance)
      this.#up(ids.length - 1)
    } else if (this.#k > 0 && before(distance, id, distances[0]!, ids[0]!)) {
      ids[0] = id
      distances[0] = distance
      this.#down(0)
    }
  }

  /** The kept pairs, best first. */
  hits(): VectorHits {
    const order = this.#ids.map((_, i) => i)
    order.sort((a, b) => this.#distances[a]! - this.#distances[b]! || this.#ids[a]! - this.#ids[b]!)
    return {
      ids: Uint32Array.from(order, (i) => this.#ids[i]!),
      distances: Float32Array.from(order, (i) => this.#distances[i]!),
    }
  }

  #up(at: number): void {
    while (at > 0) {
      const parent = (at - 1) >> 1
      if (!this.#worseAt(at, parent)) return
      this.#swap(at, parent)
      at = parent
    }
  }

  #down(at: number): void {
    const n = this.#ids.length
    for (;;) {
      let worst = at
      const left = 2 * at + 1
      if (left < n && this.#worseAt(left, worst)) worst = left
      if (left + 1 < n && this.#worseAt(left + 1, worst)) worst = left + 1
      if (worst === at) return
      this.#swap(at, worst)
      at = worst
    }
  }

  /** Whether entry a ranks after entry b. */
  #worseAt(a: number, b: number): boolean {
    return before(this.#distances[b]!, this.#ids[b]!, this.#distances[a]!, this.#ids[a]!)
  }

  #swap(a: number, b: number): void {
    const ids = this.#ids
    const distances = this.#distances
    ;[ids[a], ids[b]] = [ids[b]!, ids[a]!]
    ;[distances[a], distances[b]] = [distances[b]!, distances[a]!]
  }
}

/** Whether (distance, id) ranks before (otherDistance, otherId): lower distance, then lower id. */
function before(distance: number, id: number, otherDistance: number, otherId: number): boolean {
  return distance < otherDistance || (distance === otherDistance && id < otherId)
}

function sortedHas(sorted: Uint32Array, id: number): boolean {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (sorted[mid]! < id) lo = mid + 1
    else hi = mid
  }
  return lo < sorted.length && sorted[lo] === id
}
