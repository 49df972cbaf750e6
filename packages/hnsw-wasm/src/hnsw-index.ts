import { type HnswAbi, METRIC_CODES } from './abi.ts'
import { type HnswOptions, MAX_EF, type Metric, type ResolvedHnswOptions, resolveOptions } from './config.ts'
import {
  CorruptIndexError,
  DuplicateIdError,
  HnswMemoryError,
  IndexBusyError,
  InvalidArgumentError,
  InvalidVectorError,
  UnknownIdError,
} from './errors.ts'
import {
  decodeIndexSteps,
  encodeIndexSteps,
  runSteps,
  runStepsWithPauses,
  SLICE_BYTES,
  type Snapshot,
  type SnapshotSource,
  type Steps,
} from './internal/format.ts'
import { instantiate } from './internal/wasm.ts'

/** Allowed ids: a list of ids (any order), or a predicate called with each live id. */
export type SearchFilter = Uint32Array | readonly number[] | ((id: number) => boolean)

export interface SearchOptions {
  /** Candidate list size for this search (raised to k when smaller). @defaultValue the index's efSearch */
  efSearch?: number
  /** Only ids the filter allows are returned. */
  filter?: SearchFilter
  /**
   * True: every live vector (the filter's, if any) is compared with the query and the exact k
   * nearest are returned; the graph is not used. For a reference at recall 1 or a caller that
   * must not miss. @defaultValue false (a filter narrow enough is answered exactly anyway)
   */
  exact?: boolean
  /** Adds `stats` (graph hops and distance computations) to the result of `search` (not `searchBatch`). */
  explain?: boolean
}

export interface SearchStats {
  /** Nodes whose links were expanded, over all levels. */
  hops: number
  distanceComputations: number
  /** `graph`: filtered graph traversal; `exact`: brute force over the allowed ids. */
  strategy: 'graph' | 'exact'
}

/** Nearest ids first; `distances[i]` belongs to `ids[i]`. Fewer than k when fewer ids qualify. */
export interface SearchResult {
  ids: Uint32Array
  distances: Float32Array
  stats?: SearchStats
}

/**
 * A filter allowing at most this share of the live ids (or at most
 * `EXACT_FILTER_MIN_IDS` ids) is answered exactly by scanning the allowed ids;
 * a wider one by traversing the graph, keeping only allowed ids as results.
 */
export const EXACT_FILTER_RATIO = 0.05
export const EXACT_FILTER_MIN_IDS = 2048

const INSERT_CHUNK = 1024
const SEARCH_CHUNK = 256
const MAX_U32 = 0xffff_ffff

/**
 * An HNSW index of float vectors keyed by unsigned 32-bit ids. The graph,
 * vectors and search state live in one WebAssembly instance; this class
 * validates input (so a rejected call leaves the index unchanged), maps ids
 * to the module's node slots, grows memory and serialises.
 */
export class HnswIndex {
  readonly dimensions: number
  readonly metric: Metric
  readonly M: number
  readonly efConstruction: number
  #efSearch: number
  readonly #options: ResolvedHnswOptions
  readonly #wasm: HnswAbi
  /** Live id -> node slot. Tombstoned nodes are absent. */
  #nodes = new Map<number, number>()
  /** `#liveNodes()`'s answer, dropped whenever `#nodes` changes. */
  #liveCache: Uint32Array | undefined
  /**
   * Tombstoned nodes, a min-heap: an add takes the smallest one for its vector
   * before the graph grows, so a graph under partial churn stays near its live
   * size. The smallest is a rule of the graph alone, so a graph restored from
   * bytes reuses the same slots as the one it was taken from.
   */
  #tombstones: number[] = []
  #ioBytes = 0
  #buffer: ArrayBuffer | undefined
  #f32 = new Float32Array(0)
  #u32 = new Uint32Array(0)
  /** `serializeInSlices` calls not settled yet: the index may not change while one runs. */
  #serializing = 0

  private constructor(options: ResolvedHnswOptions, wasm: HnswAbi) {
    this.#options = options
    this.dimensions = options.dimensions
    this.metric = options.metric
    this.M = options.M
    this.efConstruction = options.efConstruction
    this.#efSearch = options.efSearch
    this.#wasm = wasm
    const seed = options.seed
    const ok = wasm.init(
      options.dimensions,
      METRIC_CODES[options.metric],
      options.M,
      options.efConstruction,
      seed >>> 0,
      Math.floor(seed / 2 ** 32) >>> 0,
    )
    if (ok !== 1) throw new HnswMemoryError('cannot allocate the initial layout')
  }

  /** Creates an empty index; throws `HnswConfigError` on bad options. */
  static async create(options: HnswOptions): Promise<HnswIndex> {
    const resolved = resolveOptions(options)
    return new HnswIndex(resolved, await instantiate())
  }

  /** Rebuilds an index from `serialize()` output; throws `CorruptIndexError` on damaged bytes. */
  static async deserialize(bytes: Uint8Array): Promise<HnswIndex> {
    const snapshot = runSteps(decodeIndexSteps(bytes))
    const index = new HnswIndex(snapshotOptions(snapshot), await instantiate())
    runSteps(index.#restoreSteps(snapshot))
    return index
  }

  /**
   * `deserialize`, the checksum worked out and the sections copied into the new instance a MiB
   * at a time with `pause` awaited between slices, so a large graph does not hold the event loop
   * while it loads. The same checks, in the same order; `bytes` must not change until it settles.
   */
  static async deserializeInSlices(bytes: Uint8Array, pause: () => Promise<void>): Promise<HnswIndex> {
    const snapshot = await runStepsWithPauses(decodeIndexSteps(bytes), pause)
    const index = new HnswIndex(snapshotOptions(snapshot), await instantiate())
    await runStepsWithPauses(index.#restoreSteps(snapshot), pause)
    return index
  }

  /** Live ids (added and not removed). */
  get size(): number {
    return this.#nodes.size
  }

  /** Removed ids whose nodes still route searches; `compact()` drops them. */
  get deletedCount(): number {
    return this.#wasm.deletedNodes()
  }

  /**
   * Bytes of WebAssembly linear memory the instance holds: the nodes in use,
   * spare capacity (it doubles as the index grows) and buffers. WebAssembly
   * memory never shrinks, so this is the high-water mark.
   */
  get memoryBytes(): number {
    return this.#wasm.memory.buffer.byteLength
  }

  /**
   * Bytes in use per live vector: vector, level-0 and upper links, label,
   * level, flags and per-node search state of every node (tombstones
   * included), divided by `size`; spare capacity and buffers excluded. 0 when empty.
   */
  get memoryBytesPerVector(): number {
    return this.size === 0 ? 0 : this.#wasm.usedBytes() / this.size
  }

  /** Default candidate list size of searches. */
  get efSearch(): number {
    return this.#efSearch
  }

  set efSearch(value: number) {
    this.#checkNotSerializing('efSearch')
    this.#efSearch = checkEf(value)
  }

  has(id: number): boolean {
    return this.#nodes.has(id)
  }

  /** Adds one vector; throws on a bad id, a duplicate or a bad vector, leaving the index unchanged. */
  add(id: number, vector: Float32Array | readonly number[]): void {
    this.addBatch([id], vector instanceof Float32Array ? vector : Float32Array.from(vector))
  }

  /**
   * Adds `ids.length` vectors laid end to end in `vectors`. Everything is
   * validated before the first insert: one bad id or vector rejects the
   * whole batch and leaves the index unchanged.
   */
  addBatch(ids: Uint32Array | readonly number[], vectors: Float32Array): void {
    this.#checkNotSerializing('addBatch')
    const count = ids.length
    if (!(vectors instanceof Float32Array)) throw new InvalidVectorError('vectors must be a Float32Array')
    if (vectors.length !== count * this.dimensions) {
      throw new InvalidVectorError(
        `expected ${count} x ${this.dimensions} = ${count * this.dimensions} floats, got ${vectors.length}`,
      )
    }
    const seen = new Set<number>()
    for (let i = 0; i < count; i++) {
      const id = ids[i]!
      checkId(id)
      if (this.#nodes.has(id) || seen.has(id)) throw new DuplicateIdError(id)
      seen.add(id)
      this.#checkVector(vectors, i * this.dimensions, `vector ${i} (id ${id})`)
    }
    if (count === 0) return
    let first = 0
    while (first < count && this.#tombstones.length > 0) {
      this.#reuse(ids[first]!, vectors.subarray(first * this.dimensions, (first + 1) * this.dimensions))
      first++
    }
    if (first === count) return
    if (first > 0) {
      this.#append(ids.slice(first), vectors.subarray(first * this.dimensions))
      return
    }
    this.#append(ids, vectors)
  }

  /** Puts `vector` under `id` into the smallest tombstoned slot. */
  #reuse(id: number, vector: Float32Array): void {
    const node = heapPop(this.#tombstones)
    this.#ensureIo(this.dimensions * 4)
    const io = this.#wasm.ioPointer()
    new Float32Array(this.#wasm.memory.buffer, io, this.dimensions).set(vector)
    if (this.#wasm.reuseNode(node, io, id) !== 1)
      throw new CorruptIndexError(`node ${node} is not a tombstone`)
    this.#nodes.set(id, node)
    this.#liveCache = undefined
  }

  /** Adds new nodes at the end of the graph. */
  #append(ids: Uint32Array | readonly number[], vectors: Float32Array): void {
    const count = ids.length
    const dims = this.dimensions
    const start = this.#wasm.nodes()
    this.#reserve(start + count, Math.min(count, INSERT_CHUNK) * (dims + 1) * 4)
    for (let offset = 0; offset < count; offset += INSERT_CHUNK) {
      const n = Math.min(INSERT_CHUNK, count - offset)
      const io = this.#wasm.ioPointer()
      const labelsAt = io + n * dims * 4
      const memory = this.#wasm.memory.buffer
      new Float32Array(memory, io, n * dims).set(vectors.subarray(offset * dims, (offset + n) * dims))
      const labels = new Uint32Array(memory, labelsAt, n)
      for (let i = 0; i < n; i++) labels[i] = ids[offset + i]!
      if (this.#wasm.insertBatch(io, labelsAt, n) !== n) {
        throw new HnswMemoryError(`memory exhausted after ${offset} of ${count} vectors of this batch`)
      }
      const first = start + offset
      for (let i = 0; i < n; i++) this.#nodes.set(ids[offset + i]!, first + i)
      this.#liveCache = undefined
    }
  }

  /**
   * Removes an id: its node becomes a tombstone that still routes searches
   * but is never returned. The id may be added again later; the next add takes
   * the smallest tombstoned slot before the graph grows.
   * When tombstones reach `compactionThreshold` of all nodes, the graph is
   * compacted before `remove` returns.
   */
  remove(id: number): void {
    this.#checkNotSerializing('remove')
    checkId(id)
    const node = this.#nodes.get(id)
    if (node === undefined) throw new UnknownIdError(id)
    this.#wasm.markDeleted(node)
    this.#nodes.delete(id)
    this.#liveCache = undefined
    heapPush(this.#tombstones, node)
    const deleted = this.#wasm.deletedNodes()
    if (
      deleted >= this.#options.compactionThreshold * this.#wasm.nodes() &&
      this.#options.compactionThreshold < 1
    ) {
      this.compact()
    }
  }

  /**
   * Rebuilds the graph from the live nodes only, freeing tombstones. Costs
   * about as much as inserting `size` vectors; deterministic given the state.
   */
  compact(): void {
    this.#checkNotSerializing('compact')
    if (this.#wasm.compact() < 0) throw new HnswMemoryError('memory exhausted while compacting')
    this.#rebuildIdMap()
  }

  /** The index's distance between two vectors (the same kernels the graph uses). */
  distance(a: Float32Array, b: Float32Array): number {
    this.#checkVector(a, 0, 'a', true)
    this.#checkVector(b, 0, 'b', true)
    const dims = this.dimensions
    this.#ensureIo(dims * 8)
    const io = this.#wasm.ioPointer()
    const view = new Float32Array(this.#wasm.memory.buffer, io, dims * 2)
    view.set(a)
    view.set(b, dims)
    return this.#wasm.vectorDistance(io, io + dims * 4)
  }

  /** The k nearest live ids to `query` (allowed by `options.filter`, if any). */
  search(query: Float32Array | readonly number[], k: number, options: SearchOptions = {}): SearchResult {
    const q = query instanceof Float32Array ? query : Float32Array.from(query)
    this.#checkVector(q, 0, 'query', true)
    const results = this.#searchMany(q, 1, k, options)
    return results[0]!
  }

  /** `search` for `queries.length / dimensions` queries laid end to end, in one call into WASM per chunk. */
  searchBatch(queries: Float32Array, k: number, options: SearchOptions = {}): SearchResult[] {
    const dims = this.dimensions
    if (!(queries instanceof Float32Array) || queries.length % dims !== 0) {
      throw new InvalidVectorError(`queries must be a Float32Array of a multiple of ${dims} floats`)
    }
    const count = queries.length / dims
    for (let i = 0; i < count; i++) this.#checkVector(queries, i * dims, `query ${i}`)
    return this.#searchMany(queries, count, k, options)
  }

  /** The index as bytes (see `internal/format.ts` for the layout); `deserialize` restores it exactly. */
  serialize(): Uint8Array {
    return runSteps(encodeIndexSteps(this.#source()))
  }

  /**
   * `serialize()`'s bytes as of this call, the sections copied out of the instance and
   * checksummed a MiB at a time with `pause` awaited between slices, so a large graph does not
   * hold the event loop. Searches may run meanwhile; a change (`addBatch`, `remove`, `compact`,
   * setting `efSearch`) before it settles throws `IndexBusyError` and changes nothing: the
   * caller holds its changes back until then.
   */
  async serializeInSlices(pause: () => Promise<void>): Promise<Uint8Array> {
    this.#serializing++
    try {
      return await runStepsWithPauses(encodeIndexSteps(this.#source()), pause)
    } finally {
      this.#serializing--
    }
  }

  #checkNotSerializing(what: string): void {
    if (this.#serializing > 0) throw new IndexBusyError(what)
  }

  /** The index's header fields now, and its sections as views taken afresh at each call. */
  #source(): SnapshotSource {
    const w = this.#wasm
    const nodes = w.nodes()
    const padded = w.paddedVectorBytes()
    const upperBytes = w.upperUsedBytes()
    const linkBytes = nodes * (1 + 2 * this.M) * 4
    return {
      options: { ...this.#options, efSearch: this.#efSearch },
      nodes,
      entry: w.entryNodeId(),
      topLevel: w.topLevelNumber(),
      deleted: w.deletedNodes(),
      rngLow: w.rngLow(),
      rngHigh: w.rngHigh(),
      paddedVectorBytes: padded,
      upperBytes,
      sections: () => {
        const memory = w.memory.buffer
        return [
          new Uint8Array(memory, w.vectorsPointer(), nodes * padded),
          new Uint8Array(memory, w.links0Pointer(), linkBytes),
          new Uint8Array(memory, w.labelsPointer(), nodes * 4),
          new Uint8Array(memory, w.levelsPointer(), nodes * 4),
          new Uint8Array(memory, w.upperOffsetsPointer(), nodes * 4),
          new Uint8Array(memory, w.flagsPointer(), nodes),
          new Uint8Array(memory, w.upperPointer(), upperBytes),
        ]
      },
    }
  }

  /** Loads `snapshot` into this (new) instance, a MiB at a time between yields, then checks it. */
  *#restoreSteps(snapshot: Snapshot): Steps<void> {
    const w = this.#wasm
    if (w.paddedVectorBytes() !== snapshot.paddedVectorBytes) {
      throw new InvalidArgumentError('snapshot vector padding does not match this build')
    }
    this.#reserve(snapshot.nodes, 0)
    if (w.reserveUpper(snapshot.upper.length) !== 1) throw new HnswMemoryError('cannot allocate upper links')
    const targets: [() => number, Uint8Array][] = [
      [w.vectorsPointer, snapshot.vectors],
      [w.links0Pointer, snapshot.links0],
      [w.labelsPointer, snapshot.labels],
      [w.levelsPointer, snapshot.levels],
      [w.upperOffsetsPointer, snapshot.upperOffsets],
      [w.flagsPointer, snapshot.flags],
      [w.upperPointer, snapshot.upper],
    ]
    for (const [pointer, section] of targets) {
      for (let from = 0; from < section.length; from += SLICE_BYTES) {
        const part = section.subarray(from, from + SLICE_BYTES)
        // Nothing else uses this instance yet, but the view is still taken afresh after a pause.
        new Uint8Array(w.memory.buffer, pointer() + from, part.length).set(part)
        yield
      }
    }
    w.restoreState(
      snapshot.nodes,
      snapshot.entry,
      snapshot.topLevel,
      snapshot.deleted,
      snapshot.upper.length,
      snapshot.rngLow,
      snapshot.rngHigh,
    )
    const problem = w.validate()
    if (problem !== 0) throw new CorruptIndexError(`graph structure check failed (rule ${problem})`)
    yield
    this.#rebuildIdMap()
  }

  #rebuildIdMap(): void {
    const w = this.#wasm
    const nodes = w.nodes()
    const memory = w.memory.buffer
    const labels = new Uint32Array(memory, w.labelsPointer(), nodes)
    const flags = new Uint8Array(memory, w.flagsPointer(), nodes)
    const map = new Map<number, number>()
    const tombstones: number[] = []
    for (let node = 0; node < nodes; node++) {
      if ((flags[node]! & 1) !== 0) {
        tombstones.push(node) // ascending: already a min-heap
        continue
      }
      const id = labels[node]!
      if (map.has(id)) throw new CorruptIndexError(`id ${id} is live on two nodes`)
      map.set(id, node)
    }
    this.#nodes = map
    this.#liveCache = undefined
    this.#tombstones = tombstones
  }

  #searchMany(queries: Float32Array, count: number, k: number, options: SearchOptions): SearchResult[] {
    if (!Number.isInteger(k) || k <= 0 || k > MAX_EF) {
      throw new InvalidArgumentError(`k must be an integer in [1, ${MAX_EF}], got ${k}`)
    }
    const ef = options.efSearch === undefined ? this.#efSearch : checkEf(options.efSearch)
    if (options.exact !== undefined && typeof options.exact !== 'boolean') {
      throw new InvalidArgumentError(`exact must be a boolean, got ${typeof options.exact}`)
    }
    const allowed =
      options.filter !== undefined
        ? this.#allowedNodes(options.filter)
        : options.exact === true
          ? this.#liveNodes()
          : undefined
    const exact =
      allowed !== undefined &&
      (options.exact === true ||
        allowed.length <= Math.max(EXACT_FILTER_MIN_IDS, this.size * EXACT_FILTER_RATIO))
    const w = this.#wasm
    const dims = this.dimensions
    const chunk = Math.min(count, SEARCH_CHUNK)
    const listBytes = exact ? allowed.length * 4 : 0
    this.#ensureIo(chunk * dims * 4 + chunk * (k * 8 + 4) + listBytes)
    if (allowed !== undefined && !exact) this.#setAllowed(allowed, true)
    const results: SearchResult[] = []
    try {
      for (let offset = 0; offset < count; offset += SEARCH_CHUNK) {
        const n = Math.min(SEARCH_CHUNK, count - offset)
        const io = w.ioPointer()
        const out = io + n * dims * 4
        const list = out + n * (k * 8 + 4)
        const { f32, u32 } = this.#views()
        f32.set(queries.subarray(offset * dims, (offset + n) * dims), io >>> 2)
        const explain = options.explain === true && n === 1
        const hops = explain ? w.hops() : 0
        const computations = explain ? w.distanceComputations() : 0
        if (exact) {
          u32.set(allowed, list >>> 2)
          w.searchExact(io, n, k, list, allowed.length, out)
        } else {
          w.searchBatch(io, n, k, Math.max(ef, k), allowed === undefined ? 0 : 1, out)
        }
        const labelsAt = out >>> 2
        const distancesAt = labelsAt + n * k
        const foundAt = distancesAt + n * k
        for (let i = 0; i < n; i++) {
          const f = u32[foundAt + i]!
          const row = i * k
          const result: SearchResult = {
            ids: u32.slice(labelsAt + row, labelsAt + row + f),
            distances: f32.slice(distancesAt + row, distancesAt + row + f),
          }
          if (explain) {
            result.stats = {
              hops: (w.hops() - hops) >>> 0,
              distanceComputations: (w.distanceComputations() - computations) >>> 0,
              strategy: exact ? 'exact' : 'graph',
            }
          }
          results.push(result)
        }
      }
    } finally {
      if (allowed !== undefined && !exact) this.#setAllowed(allowed, false)
    }
    return results
  }

  /** Every live node slot, ascending; kept until the next add or remove. */
  #liveNodes(): Uint32Array {
    if (this.#liveCache === undefined) this.#liveCache = Uint32Array.from(this.#nodes.values()).sort()
    return this.#liveCache
  }

  /** The live node slots a filter allows, each once, ascending. */
  #allowedNodes(filter: SearchFilter): Uint32Array {
    const out: number[] = []
    if (typeof filter === 'function') {
      for (const [id, node] of this.#nodes) if (filter(id)) out.push(node)
    } else if (filter instanceof Uint32Array || Array.isArray(filter)) {
      for (let i = 0; i < filter.length; i++) {
        const node = this.#nodes.get(filter[i]!)
        if (node !== undefined) out.push(node)
      }
    } else {
      throw new InvalidArgumentError('filter must be a Uint32Array or array of ids, or a predicate')
    }
    const sorted = Uint32Array.from(out).sort()
    let unique = 0
    for (let i = 0; i < sorted.length; i++) {
      if (i === 0 || sorted[i] !== sorted[i - 1]) sorted[unique++] = sorted[i]!
    }
    return sorted.subarray(0, unique)
  }

  #setAllowed(nodes: Uint32Array, value: boolean): void {
    const bits = new Uint8Array(
      this.#wasm.memory.buffer,
      this.#wasm.allowedPointer(),
      (this.#wasm.nodes() + 7) >> 3,
    )
    if (!value) {
      bits.fill(0)
      return
    }
    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[i]!
      bits[node >> 3]! |= 1 << (node & 7)
    }
  }

  /** Whole-memory views, rebuilt only when memory has grown (growth replaces the buffer). */
  #views(): { f32: Float32Array; u32: Uint32Array } {
    const buffer = this.#wasm.memory.buffer
    if (buffer !== this.#buffer) {
      this.#buffer = buffer
      this.#f32 = new Float32Array(buffer)
      this.#u32 = new Uint32Array(buffer)
    }
    return { f32: this.#f32, u32: this.#u32 }
  }

  #reserve(nodes: number, ioBytes: number): void {
    const capacity = this.#wasm.capacityNodes()
    const wanted = nodes > capacity ? Math.max(nodes, capacity * 2, 1024) : capacity
    const io = Math.max(ioBytes, this.#ioBytes)
    if (wanted === capacity && io === this.#ioBytes) return
    if (this.#wasm.reserve(wanted, io) !== 1) {
      if (this.#wasm.reserve(nodes, io) !== 1)
        throw new HnswMemoryError(`cannot grow memory to ${nodes} vectors`)
    }
    this.#ioBytes = io
  }

  #ensureIo(bytes: number): void {
    if (bytes > this.#ioBytes) this.#reserve(this.#wasm.nodes(), Math.max(bytes, this.#ioBytes * 2))
  }

  #checkVector(values: Float32Array, offset: number, what: string, whole = false): void {
    const dims = this.dimensions
    if (whole && (!(values instanceof Float32Array) || values.length !== dims)) {
      const length = values instanceof Float32Array ? values.length : 'not a Float32Array'
      throw new InvalidVectorError(`${what} must have ${dims} dimensions, got ${length}`)
    }
    let norm = 0
    for (let i = offset; i < offset + dims; i++) {
      const x = values[i]!
      if (!Number.isFinite(x))
        throw new InvalidVectorError(`${what} has a non-finite value ${x} at ${i - offset}`)
      norm += x * x
    }
    if (this.metric === 'cosine' && norm === 0) {
      throw new InvalidVectorError(`${what} is a zero vector, which has no direction under cosine`)
    }
  }
}

function checkId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > MAX_U32) {
    throw new InvalidArgumentError(`id must be an integer in [0, 2^32 - 1], got ${id}`)
  }
}

function checkEf(ef: number): number {
  if (!Number.isInteger(ef) || ef < 1 || ef > MAX_EF) {
    throw new InvalidArgumentError(`efSearch must be an integer in [1, ${MAX_EF}], got ${ef}`)
  }
  return ef
}

function heapPush(heap: number[], value: number): void {
  let at = heap.length
  heap.push(value)
  while (at > 0) {
    const parent = (at - 1) >> 1
    if (heap[parent]! <= value) break
    heap[at] = heap[parent]!
    at = parent
  }
  heap[at] = value
}

function heapPop(heap: number[]): number {
  const top = heap[0]!
  const last = heap.pop()!
  if (heap.length === 0) return top
  let at = 0
  for (;;) {
    const left = 2 * at + 1
    if (left >= heap.length) break
    const child = left + 1 < heap.length && heap[left + 1]! < heap[left]! ? left + 1 : left
    if (heap[child]! >= last) break
    heap[at] = heap[child]!
    at = child
  }
  heap[at] = last
  return top
}

/** The options a snapshot was taken with; out of range is a corrupt snapshot. */
function snapshotOptions(snapshot: Snapshot): ResolvedHnswOptions {
  try {
    return resolveOptions(snapshot.options)
  } catch (error) {
    throw new CorruptIndexError(`options out of range: ${(error as Error).message}`)
  }
}
