// HNSW graph core (Malkov & Yashunin, "Efficient and robust approximate
// nearest neighbor search using Hierarchical Navigable Small World graphs").
//
// The module keeps one index per instance, entirely in linear memory, and
// allocates nothing through the AssemblyScript runtime: every structure is a
// region of the layout below, addressed by pointer arithmetic. The TypeScript
// wrapper owns ids, validation and serialisation; it asks for capacity with
// `reserve` before it writes vectors, and reads the regions back through the
// exported pointers (views must be rebuilt after any call, since memory may
// have grown).
//
// Layout (each region 16-byte aligned, in this order, after a region table):
//
//   vectors     capacity x paddedBytes     f32, zero padded to 4 lanes; unit length for cosine
//   links0      capacity x (1 + M0) x u32  level-0 adjacency: count, then M0 slots
//   labels      capacity x u32             the caller's id of each node
//   levels      capacity x i32             top level of each node
//   upperOffset capacity x u32             byte offset of the node's level-1.. blocks in `upper`
//   flags       capacity x u8              bit 0: deleted (tombstone)
//   visited     capacity x u32             generation stamps, never cleared between searches
//   allowed     capacity bits              filter bitset written by the wrapper
//   candidates  (capacity + 1) x 8 bytes   min-heap (distance, node)
//   results     (capacity + 1) x 8 bytes   max-heap (distance, node)
//   small       fixed scratch: sorted candidates, selected neighbours, prune buffer, query, temp
//   io          wrapper-sized buffer for batches of vectors, ids and results
//   upper       bump-allocated link blocks of levels >= 1: per level, count then M slots
//
// `upper` is last so that it can grow in the middle of an insert batch
// without moving the io buffer the batch is read from.

import { innerProduct, normalise, squaredL2 } from "./distance";
import {
  entryDistance,
  entryNode,
  maxHeapDrainAscending,
  maxHeapPop,
  maxHeapPush,
  minHeapPop,
  minHeapPush,
} from "./heap";

const METRIC_L2: i32 = 0;
const METRIC_COSINE: i32 = 2;
const FLAG_DELETED: u8 = 1;
const MAX_LEVEL: i32 = 30;

const REGION_COUNT: i32 = 13;
const R_VECTORS: i32 = 0;
const R_LINKS0: i32 = 1;
const R_LABELS: i32 = 2;
const R_LEVELS: i32 = 3;
const R_UPPER_OFFSET: i32 = 4;
const R_FLAGS: i32 = 5;
const R_VISITED: i32 = 6;
const R_ALLOWED: i32 = 7;
const R_CANDIDATES: i32 = 8;
const R_RESULTS: i32 = 9;
const R_SMALL: i32 = 10;
const R_IO: i32 = 11;
const R_UPPER: i32 = 12;

// Configuration, fixed by `init`.
let dimensions: i32 = 0;
let inputBytes: usize = 0;
let paddedBytes: usize = 0;
let metric: i32 = 0;
let maxLinks: i32 = 16;
let maxLinks0: i32 = 32;
let efConstruction: i32 = 200;
let levelMultiplier: f64 = 0;
let links0Bytes: usize = 0;
let upperBlockBytes: usize = 0;

// State.
let nodeCount: i32 = 0;
let capacity: i32 = 0;
let entryPoint: i32 = -1;
let topLevel: i32 = -1;
let deletedCount: i32 = 0;
let rngState: u64 = 0;
let visitGeneration: u32 = 0;
let upperUsed: usize = 0;
let distanceCount: u32 = 0;
let hopCount: u32 = 0;

// Region table and cached bases.
let table: usize = 0;
let layoutStart: usize = 0;
let vectorsBase: usize = 0;
let links0Base: usize = 0;
let labelsBase: usize = 0;
let levelsBase: usize = 0;
let upperOffsetBase: usize = 0;
let flagsBase: usize = 0;
let visitedBase: usize = 0;
let allowedBase: usize = 0;
let candidatesBase: usize = 0;
let resultsBase: usize = 0;
let ioBase: usize = 0;
let upperBase: usize = 0;
let sortedBase: usize = 0;
let selectedBase: usize = 0;
let pruneBase: usize = 0;
let queryBase: usize = 0;
let tempBase: usize = 0;
let smallBytes: usize = 0;

@inline
function align16(n: usize): usize {
  return (n + 15) & ~(<usize>15);
}

@inline
function regionBase(r: i32): usize {
  return <usize>load<u32>(table + (<usize>r << 3));
}

@inline
function regionSize(r: i32): usize {
  return <usize>load<u32>(table + (<usize>r << 3), 4);
}

function wantedSize(r: i32, cap: usize, io: usize, upper: usize): usize {
  switch (r) {
    case R_VECTORS:
      return cap * paddedBytes;
    case R_LINKS0:
      return cap * links0Bytes;
    case R_FLAGS:
      return cap;
    case R_ALLOWED:
      return (cap + 7) >> 3;
    case R_CANDIDATES:
    case R_RESULTS:
      return (cap + 1) << 3;
    case R_SMALL:
      return smallBytes;
    case R_IO:
      return io;
    case R_UPPER:
      return upper;
    default:
      return cap << 2;
  }
}

function refreshBases(): void {
  vectorsBase = regionBase(R_VECTORS);
  links0Base = regionBase(R_LINKS0);
  labelsBase = regionBase(R_LABELS);
  levelsBase = regionBase(R_LEVELS);
  upperOffsetBase = regionBase(R_UPPER_OFFSET);
  flagsBase = regionBase(R_FLAGS);
  visitedBase = regionBase(R_VISITED);
  allowedBase = regionBase(R_ALLOWED);
  candidatesBase = regionBase(R_CANDIDATES);
  resultsBase = regionBase(R_RESULTS);
  ioBase = regionBase(R_IO);
  upperBase = regionBase(R_UPPER);
  const small = regionBase(R_SMALL);
  const sortedEntries = <usize>max(efConstruction, maxLinks0) + 2;
  sortedBase = small;
  selectedBase = sortedBase + align16(sortedEntries << 3);
  pruneBase = selectedBase + align16(<usize>(maxLinks0 + 1) << 2);
  queryBase = pruneBase + align16(<usize>(maxLinks0 + 2) << 3);
  tempBase = queryBase + paddedBytes;
}

/**
 * Grows regions to hold `cap` nodes, `io` bytes of io buffer and `upper`
 * bytes of upper-level links (never shrinks). Regions move up in memory, the
 * last first, so no region overwrites one not yet moved; new bytes are
 * zeroed. Returns false, changing nothing, when memory cannot grow.
 */
function relayout(cap: usize, io: usize, upper: usize): bool {
  let end = layoutStart;
  const newBases = table + (<usize>REGION_COUNT << 3);
  for (let r = 0; r < REGION_COUNT; r++) {
    const size = align16(max(wantedSize(r, cap, io, upper), regionSize(r)));
    store<u32>(newBases + (<usize>r << 3), <u32>end);
    store<u32>(newBases + (<usize>r << 3), <u32>size, 4);
    end += size;
  }
  if (end > 0xffff0000) return false;
  const pagesNeeded = <i32>((end + 0xffff) >> 16);
  const pagesHave = memory.size();
  if (pagesNeeded > pagesHave && memory.grow(pagesNeeded - pagesHave) < 0) return false;
  // Memory past the old end is fresh from memory.grow, hence zero: only what lay below it is
  // cleared. (Writing zeros over a large fresh region would touch every page of it at once.)
  const oldEnd = <usize>pagesHave << 16;
  for (let r = REGION_COUNT - 1; r >= 0; r--) {
    const oldBase = regionBase(r);
    const oldSize = regionSize(r);
    const newBase = <usize>load<u32>(newBases + (<usize>r << 3));
    const newSize = <usize>load<u32>(newBases + (<usize>r << 3), 4);
    if (oldSize > 0 && newBase != oldBase) memory.copy(newBase, oldBase, oldSize);
    const clearTo = min(newBase + newSize, oldEnd);
    if (newSize > oldSize && clearTo > newBase + oldSize)
      memory.fill(newBase + oldSize, 0, clearTo - newBase - oldSize);
    store<u32>(table + (<usize>r << 3), <u32>newBase);
    store<u32>(table + (<usize>r << 3), <u32>newSize, 4);
  }
  capacity = <i32>max(<usize>capacity, cap);
  refreshBases();
  return true;
}

// ---------------------------------------------------------------- helpers

@inline
function vectorPtr(node: u32): usize {
  return vectorsBase + <usize>node * paddedBytes;
}

@inline
function linksPtr(node: u32, level: i32): usize {
  if (level == 0) return links0Base + <usize>node * links0Bytes;
  return (
    upperBase +
    <usize>load<u32>(upperOffsetBase + (<usize>node << 2)) +
    <usize>(level - 1) * upperBlockBytes
  );
}

@inline
function distance(a: usize, b: usize): f32 {
  distanceCount++;
  if (metric == METRIC_L2) return squaredL2(a, b, paddedBytes);
  return <f32>1.0 - innerProduct(a, b, paddedBytes);
}

@inline
function nodeLevel(node: u32): i32 {
  return load<i32>(levelsBase + (<usize>node << 2));
}

@inline
function isDeleted(node: u32): bool {
  return (load<u8>(flagsBase + <usize>node) & FLAG_DELETED) != 0;
}

@inline
function isAllowed(node: u32, filtered: bool): bool {
  if (isDeleted(node)) return false;
  if (!filtered) return true;
  return ((load<u8>(allowedBase + (<usize>node >> 3)) >> (<u8>(node & 7))) & 1) != 0;
}

function nextGeneration(): u32 {
  visitGeneration++;
  if (visitGeneration == 0) {
    memory.fill(visitedBase, 0, <usize>capacity << 2);
    visitGeneration = 1;
  }
  return visitGeneration;
}

// splitmix64: a small, well-mixed generator whose whole state is one u64,
// so it serialises with the index and replays exactly.
function nextUniform(): f64 {
  rngState += 0x9e3779b97f4a7c15;
  let z = rngState;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  z ^= z >> 31;
  return <f64>((z >> 11) + 1) * (1.0 / 9007199254740992.0);
}

// HNSW §4: level = floor(-ln(U) * mL), mL = 1 / ln(M).
function drawLevel(): i32 {
  const level = <i32>Math.floor(-Math.log(nextUniform()) * levelMultiplier);
  return min(level, MAX_LEVEL);
}

/** Copies an unpadded input vector into a padded slot; unit length for cosine. */
function placeVector(dst: usize, src: usize): void {
  memory.copy(dst, src, inputBytes);
  if (paddedBytes > inputBytes) memory.fill(dst + inputBytes, 0, paddedBytes - inputBytes);
  if (metric == METRIC_COSINE) normalise(dst, paddedBytes);
}

// ---------------------------------------------------------------- search

let greedyDistance: f32 = 0;

/** Greedy walk on one upper level (ef = 1); leaves the distance in `greedyDistance`. */
function greedyClosest(q: usize, start: u32, startDistance: f32, level: i32): u32 {
  let current = start;
  let best = startDistance;
  let changed = true;
  while (changed) {
    changed = false;
    hopCount++;
    const block = linksPtr(current, level);
    const count = load<u32>(block);
    for (let j: u32 = 0; j < count; j++) {
      const n = load<u32>(block + 4 + (<usize>j << 2));
      const d = distance(q, vectorPtr(n));
      if (d < best) {
        best = d;
        current = n;
        changed = true;
      }
    }
  }
  greedyDistance = best;
  return current;
}

/**
 * HNSW algorithm 2 (SEARCH-LAYER) over every node, as used while building.
 * Leaves up to `ef` nearest in the results max-heap and returns their count.
 */
function searchLayer(q: usize, ep: u32, epDistance: f32, ef: i32, level: i32): i32 {
  const generation = nextGeneration();
  store<u32>(visitedBase + (<usize>ep << 2), generation);
  let candidates = minHeapPush(candidatesBase, 0, epDistance, ep);
  let results = maxHeapPush(resultsBase, 0, epDistance, ep);
  let lowerBound = epDistance;
  while (candidates > 0) {
    if (entryDistance(candidatesBase, 0) > lowerBound && results >= ef) break;
    const c = entryNode(candidatesBase, 0);
    candidates = minHeapPop(candidatesBase, candidates);
    hopCount++;
    const block = linksPtr(c, level);
    const count = load<u32>(block);
    for (let j: u32 = 0; j < count; j++) {
      const n = load<u32>(block + 4 + (<usize>j << 2));
      const stamp = visitedBase + (<usize>n << 2);
      if (load<u32>(stamp) == generation) continue;
      store<u32>(stamp, generation);
      const d = distance(q, vectorPtr(n));
      if (results < ef || d < lowerBound) {
        candidates = minHeapPush(candidatesBase, candidates, d, n);
        results = maxHeapPush(resultsBase, results, d, n);
        if (results > ef) results = maxHeapPop(resultsBase, results);
        lowerBound = entryDistance(resultsBase, 0);
      }
    }
  }
  return results;
}

/**
 * SEARCH-LAYER on level 0 where only some nodes may be returned (not
 * deleted, and in the allowed bitset when `filtered`). Every node still
 * routes the search, so the graph stays navigable around tombstones and
 * filtered-out regions; the search only stops once `ef` allowed results
 * are held and the frontier is worse than all of them.
 */
function searchLayerAllowed(q: usize, ep: u32, epDistance: f32, ef: i32, filtered: bool): i32 {
  const generation = nextGeneration();
  store<u32>(visitedBase + (<usize>ep << 2), generation);
  let candidates = minHeapPush(candidatesBase, 0, epDistance, ep);
  let results = 0;
  let lowerBound = f32.MAX_VALUE;
  if (isAllowed(ep, filtered)) {
    results = maxHeapPush(resultsBase, 0, epDistance, ep);
    lowerBound = epDistance;
  }
  while (candidates > 0) {
    if (entryDistance(candidatesBase, 0) > lowerBound && results >= ef) break;
    const c = entryNode(candidatesBase, 0);
    candidates = minHeapPop(candidatesBase, candidates);
    hopCount++;
    const block = links0Base + <usize>c * links0Bytes;
    const count = load<u32>(block);
    for (let j: u32 = 0; j < count; j++) {
      const n = load<u32>(block + 4 + (<usize>j << 2));
      const stamp = visitedBase + (<usize>n << 2);
      if (load<u32>(stamp) == generation) continue;
      store<u32>(stamp, generation);
      const d = distance(q, vectorPtr(n));
      if (results < ef || d < lowerBound) {
        candidates = minHeapPush(candidatesBase, candidates, d, n);
        if (isAllowed(n, filtered)) {
          results = maxHeapPush(resultsBase, results, d, n);
          if (results > ef) results = maxHeapPop(resultsBase, results);
          lowerBound = entryDistance(resultsBase, 0);
        }
      }
    }
  }
  return results;
}

// ---------------------------------------------------------------- build

/**
 * HNSW algorithm 4 (SELECT-NEIGHBORS-HEURISTIC) without extending or keeping
 * pruned candidates: walk the candidates closest first and keep one only if
 * it is closer to the base than to every neighbour kept so far. `sorted`
 * holds (distance to base, node) ascending; the kept nodes go to `out`.
 */
function selectNeighbours(sorted: usize, count: i32, limit: i32, out: usize): i32 {
  if (count < limit) {
    for (let i = 0; i < count; i++) store<u32>(out + (<usize>i << 2), entryNode(sorted, i));
    return count;
  }
  let kept = 0;
  for (let i = 0; i < count && kept < limit; i++) {
    const c = entryNode(sorted, i);
    const dc = entryDistance(sorted, i);
    const cv = vectorPtr(c);
    let good = true;
    for (let j = 0; j < kept; j++) {
      if (distance(cv, vectorPtr(load<u32>(out + (<usize>j << 2)))) < dc) {
        good = false;
        break;
      }
    }
    if (good) {
      store<u32>(out + (<usize>kept << 2), c);
      kept++;
    }
  }
  return kept;
}

/** Inserts (d, node) into an ascending array of `count` entries. */
function insertSorted(base: usize, count: i32, d: f32, node: u32): i32 {
  let i = count;
  while (i > 0 && entryDistance(base, i - 1) > d) {
    const p = base + (<usize>i << 3);
    store<u64>(p, load<u64>(p - 8));
    i--;
  }
  const p = base + (<usize>i << 3);
  store<f32>(p, d);
  store<u32>(p, node, 4);
  return count + 1;
}

/** Adds `node` to the links of `target` on `level`, pruning with the heuristic when full. */
function linkBack(target: u32, node: u32, level: i32): void {
  const block = linksPtr(target, level);
  const count = <i32>load<u32>(block);
  const limit = level == 0 ? maxLinks0 : maxLinks;
  if (count < limit) {
    store<u32>(block + 4 + (<usize>count << 2), node);
    store<u32>(block, count + 1);
    return;
  }
  const tv = vectorPtr(target);
  let n = insertSorted(pruneBase, 0, distance(tv, vectorPtr(node)), node);
  for (let j = 0; j < count; j++) {
    const x = load<u32>(block + 4 + (<usize>j << 2));
    n = insertSorted(pruneBase, n, distance(tv, vectorPtr(x)), x);
  }
  store<u32>(block, <u32>selectNeighbours(pruneBase, n, limit, block + 4));
}

/** HNSW algorithm 1 (INSERT) for a node whose vector, label and level are in place. */
function connect(node: u32, level: i32): void {
  if (entryPoint < 0) {
    entryPoint = node;
    topLevel = level;
    return;
  }
  const q = vectorPtr(node);
  let current = <u32>entryPoint;
  let currentDistance = distance(q, vectorPtr(current));
  for (let l = topLevel; l > level; l--) {
    current = greedyClosest(q, current, currentDistance, l);
    currentDistance = greedyDistance;
  }
  for (let l = min(level, topLevel); l >= 0; l--) {
    let found = searchLayer(q, current, currentDistance, efConstruction, l);
    found = maxHeapDrainAscending(resultsBase, found, sortedBase);
    current = entryNode(sortedBase, 0);
    currentDistance = entryDistance(sortedBase, 0);
    const kept = selectNeighbours(sortedBase, found, maxLinks, selectedBase);
    const block = linksPtr(node, l);
    memory.copy(block + 4, selectedBase, <usize>kept << 2);
    store<u32>(block, <u32>kept);
    for (let j = 0; j < kept; j++) linkBack(load<u32>(selectedBase + (<usize>j << 2)), node, l);
  }
  if (level > topLevel) {
    topLevel = level;
    entryPoint = node;
  }
}

/**
 * Links a tombstoned node that now holds a new vector (hnswlib's update of a
 * deleted element): on each of its levels its links are chosen afresh from a
 * search for the new vector, and it is linked back from them. The node keeps
 * its level and the in-links other nodes still hold (they now lead to the new
 * vector, as long-range links); it is never its own candidate.
 */
function reconnect(node: u32, level: i32): void {
  const q = vectorPtr(node);
  let current = <u32>entryPoint;
  let currentDistance = distance(q, vectorPtr(current));
  for (let l = topLevel; l > level; l--) {
    current = greedyClosest(q, current, currentDistance, l);
    currentDistance = greedyDistance;
  }
  for (let l = level; l >= 0; l--) {
    let found = searchLayer(q, current, currentDistance, efConstruction, l);
    found = maxHeapDrainAscending(resultsBase, found, sortedBase);
    current = entryNode(sortedBase, 0);
    currentDistance = entryDistance(sortedBase, 0);
    // Drop the node itself from its candidates, keeping the order.
    let kept = 0;
    for (let i = 0; i < found; i++) {
      const candidate = entryNode(sortedBase, i);
      if (candidate == node) continue;
      store<u64>(sortedBase + (<usize>kept << 3), load<u64>(sortedBase + (<usize>i << 3)));
      kept++;
    }
    const selected = selectNeighbours(sortedBase, kept, maxLinks, selectedBase);
    const block = linksPtr(node, l);
    memory.copy(block + 4, selectedBase, <usize>selected << 2);
    store<u32>(block, <u32>selected);
    for (let j = 0; j < selected; j++) linkBack(load<u32>(selectedBase + (<usize>j << 2)), node, l);
  }
}

/** Gives the next node its link storage (levels already drawn) and connects it. */
function addNode(node: u32): void {
  const level = nodeLevel(node);
  store<u32>(links0Base + <usize>node * links0Bytes, 0);
  if (level > 0) {
    store<u32>(upperOffsetBase + (<usize>node << 2), <u32>upperUsed);
    const bytes = <usize>level * upperBlockBytes;
    memory.fill(upperBase + upperUsed, 0, bytes);
    upperUsed += bytes;
  } else {
    store<u32>(upperOffsetBase + (<usize>node << 2), 0);
  }
  store<u8>(flagsBase + <usize>node, 0);
  nodeCount = <i32>node + 1;
  connect(node, level);
}

/** Makes room in `upper` for `bytes` more; false when memory cannot grow. */
function ensureUpper(bytes: usize): bool {
  const size = regionSize(R_UPPER);
  if (upperUsed + bytes <= size) return true;
  const wanted = max(size * 2, upperUsed + bytes + 4096);
  return relayout(<usize>capacity, regionSize(R_IO), wanted);
}

// ---------------------------------------------------------------- exports

/** Configures an empty index. Returns 1, or 0 when the first layout does not fit. */
export function init(dims: i32, metricCode: i32, m: i32, efC: i32, seedLow: u32, seedHigh: u32): i32 {
  dimensions = dims;
  inputBytes = <usize>dims << 2;
  paddedBytes = align16(inputBytes);
  metric = metricCode;
  maxLinks = m;
  maxLinks0 = m * 2;
  efConstruction = efC;
  levelMultiplier = 1.0 / Math.log(<f64>m);
  links0Bytes = <usize>(1 + maxLinks0) << 2;
  upperBlockBytes = <usize>(1 + maxLinks) << 2;
  rngState = (<u64>seedHigh << 32) | <u64>seedLow;
  nodeCount = 0;
  capacity = 0;
  entryPoint = -1;
  topLevel = -1;
  deletedCount = 0;
  visitGeneration = 0;
  upperUsed = 0;
  table = align16(__heap_base);
  layoutStart = align16(table + (<usize>REGION_COUNT << 4));
  const sortedEntries = <usize>max(efConstruction, maxLinks0) + 2;
  smallBytes =
    align16(sortedEntries << 3) +
    align16(<usize>(maxLinks0 + 1) << 2) +
    align16(<usize>(maxLinks0 + 2) << 3) +
    paddedBytes * 2;
  if ((<usize>memory.size() << 16) < layoutStart && memory.grow(1) < 0) return 0;
  for (let r = 0; r < REGION_COUNT; r++) {
    store<u32>(table + (<usize>r << 3), <u32>layoutStart);
    store<u32>(table + (<usize>r << 3), 0, 4);
  }
  return relayout(0, 0, 0) ? 1 : 0;
}

/** Ensures room for `nodes` nodes and an io buffer of `ioBytes`. Returns 1, or 0 if memory is exhausted. */
export function reserve(nodes: i32, ioBytes: i32): i32 {
  const cap = <usize>max(nodes, capacity);
  const io = max(<usize>ioBytes, regionSize(R_IO));
  if (cap == <usize>capacity && io == regionSize(R_IO)) return 1;
  return relayout(cap, io, regionSize(R_UPPER)) ? 1 : 0;
}

/** Ensures `bytes` of upper-level link storage in total (used when restoring). */
export function reserveUpper(bytes: i32): i32 {
  if (<usize>bytes <= regionSize(R_UPPER)) return 1;
  return relayout(<usize>capacity, regionSize(R_IO), <usize>bytes) ? 1 : 0;
}

/**
 * Inserts `count` vectors (count x dimensions f32 at `vectors`) with their
 * labels (count x u32 at `labels`), both inside the io buffer. Capacity must
 * already hold them. Levels are drawn first so that the upper-link space is
 * reserved before anything changes: returns `count`, or 0 with the index
 * untouched when memory cannot grow.
 */
export function insertBatch(vectors: usize, labels: usize, count: i32): i32 {
  const savedRng = rngState;
  let upperNeeded: usize = 0;
  for (let i = 0; i < count; i++) {
    const level = drawLevel();
    store<i32>(levelsBase + (<usize>(nodeCount + i) << 2), level);
    upperNeeded += <usize>level * upperBlockBytes;
  }
  if (!ensureUpper(upperNeeded)) {
    rngState = savedRng;
    return 0;
  }
  for (let i = 0; i < count; i++) {
    const node = <u32>nodeCount;
    placeVector(vectorPtr(node), vectors + <usize>i * inputBytes);
    store<u32>(labelsBase + (<usize>node << 2), load<u32>(labels + (<usize>i << 2)));
    addNode(node);
  }
  return count;
}

/**
 * Puts a new vector (dimensions f32 at `vector`, in the io buffer) with
 * `label` into tombstoned `node`, which becomes live again and is linked for
 * its new vector (see `reconnect`). Returns 1, or 0 when `node` is not a
 * tombstone.
 */
export function reuseNode(node: u32, vector: usize, label: u32): i32 {
  if (<i32>node >= nodeCount || !isDeleted(node)) return 0;
  placeVector(vectorPtr(node), vector);
  store<u32>(labelsBase + (<usize>node << 2), label);
  store<u8>(flagsBase + <usize>node, load<u8>(flagsBase + <usize>node) & ~FLAG_DELETED);
  deletedCount--;
  if (nodeCount > 1) reconnect(node, nodeLevel(node));
  return 1;
}

/** Marks a node deleted: it keeps routing searches but is never returned. */
export function markDeleted(node: u32): void {
  if (isDeleted(node)) return;
  store<u8>(flagsBase + <usize>node, load<u8>(flagsBase + <usize>node) | FLAG_DELETED);
  deletedCount++;
}

/**
 * Answers `count` queries (count x dimensions f32 at `queries`). Writes, at
 * `out`: count x k labels (u32), count x k distances (f32), then count found
 * counts (u32); each query's results ascend by distance. `filtered` limits
 * results to nodes set in the allowed bitset.
 */
export function searchBatch(queries: usize, count: i32, k: i32, ef: i32, filtered: i32, out: usize): void {
  const outDistances = out + (<usize>count * <usize>k << 2);
  const outFound = outDistances + (<usize>count * <usize>k << 2);
  const width = max(ef, k);
  const restricted = filtered != 0 || deletedCount > 0;
  for (let qi = 0; qi < count; qi++) {
    let found = 0;
    if (entryPoint >= 0) {
      placeVector(queryBase, queries + <usize>qi * inputBytes);
      let current = <u32>entryPoint;
      let currentDistance = distance(queryBase, vectorPtr(current));
      for (let l = topLevel; l > 0; l--) {
        current = greedyClosest(queryBase, current, currentDistance, l);
        currentDistance = greedyDistance;
      }
      found = restricted
        ? searchLayerAllowed(queryBase, current, currentDistance, width, filtered != 0)
        : searchLayer(queryBase, current, currentDistance, width, 0);
      while (found > k) found = maxHeapPop(resultsBase, found);
    }
    writeResults(out, outDistances, qi, k, found);
    store<u32>(outFound + (<usize>qi << 2), <u32>found);
  }
}

/** Exact search over an explicit list of `nodeCountInList` nodes (u32 at `nodes`); same output as `searchBatch`. */
export function searchExact(
  queries: usize,
  count: i32,
  k: i32,
  nodes: usize,
  listed: i32,
  out: usize,
): void {
  const outDistances = out + (<usize>count * <usize>k << 2);
  const outFound = outDistances + (<usize>count * <usize>k << 2);
  for (let qi = 0; qi < count; qi++) {
    placeVector(queryBase, queries + <usize>qi * inputBytes);
    let found = 0;
    for (let i = 0; i < listed; i++) {
      const n = load<u32>(nodes + (<usize>i << 2));
      if (isDeleted(n)) continue;
      const d = distance(queryBase, vectorPtr(n));
      if (found < k) {
        found = maxHeapPush(resultsBase, found, d, n);
      } else if (d < entryDistance(resultsBase, 0)) {
        found = maxHeapPop(resultsBase, found);
        found = maxHeapPush(resultsBase, found, d, n);
      }
    }
    writeResults(out, outDistances, qi, k, found);
    store<u32>(outFound + (<usize>qi << 2), <u32>found);
  }
}

function writeResults(outLabels: usize, outDistances: usize, qi: i32, k: i32, found: i32): void {
  const row = <usize>qi * <usize>k;
  let size = found;
  while (size > 0) {
    const at = (row + <usize>(size - 1)) << 2;
    const node = entryNode(resultsBase, 0);
    store<u32>(outLabels + at, load<u32>(labelsBase + (<usize>node << 2)));
    store<f32>(outDistances + at, entryDistance(resultsBase, 0));
    size = maxHeapPop(resultsBase, size);
  }
}

/** Distance between two input vectors (at `a` and `b`), as the index measures it. */
export function vectorDistance(a: usize, b: usize): f32 {
  placeVector(queryBase, a);
  placeVector(tempBase, b);
  return distance(queryBase, tempBase);
}

/**
 * Drops tombstones: live nodes move down (keeping their order) and the graph
 * is rebuilt from them with fresh levels. Returns the live count, or -1 with
 * the index untouched when memory cannot grow.
 */
export function compact(): i32 {
  let live = 0;
  for (let n = 0; n < nodeCount; n++) if (!isDeleted(<u32>n)) live++;
  const savedRng = rngState;
  let upperNeeded: usize = 0;
  for (let i = 0; i < live; i++) upperNeeded += <usize>drawLevel() * upperBlockBytes;
  rngState = savedRng;
  if (upperNeeded > regionSize(R_UPPER) && !relayout(<usize>capacity, regionSize(R_IO), upperNeeded)) {
    return -1;
  }
  let to = 0;
  for (let n = 0; n < nodeCount; n++) {
    if (isDeleted(<u32>n)) continue;
    if (to != n) {
      memory.copy(vectorPtr(<u32>to), vectorPtr(<u32>n), paddedBytes);
      store<u32>(labelsBase + (<usize>to << 2), load<u32>(labelsBase + (<usize>n << 2)));
    }
    to++;
  }
  memory.fill(flagsBase, 0, <usize>nodeCount);
  nodeCount = 0;
  entryPoint = -1;
  topLevel = -1;
  deletedCount = 0;
  upperUsed = 0;
  for (let i = 0; i < live; i++) {
    store<i32>(levelsBase + (<usize>i << 2), drawLevel());
    addNode(<u32>i);
  }
  return live;
}

/** Sets the counters after the wrapper has copied regions in for a restore. */
export function restoreState(
  nodes: i32,
  entry: i32,
  top: i32,
  deleted: i32,
  upperBytes: i32,
  rngLow: u32,
  rngHigh: u32,
): void {
  nodeCount = nodes;
  entryPoint = entry;
  topLevel = top;
  deletedCount = deleted;
  upperUsed = <usize>upperBytes;
  rngState = (<u64>rngHigh << 32) | <u64>rngLow;
}

/**
 * Checks the structure after a restore, so that a damaged or hostile
 * snapshot cannot send a search out of bounds. Returns 0 when sound, or a
 * code naming the first broken rule.
 */
export function validate(): i32 {
  if (nodeCount < 0 || nodeCount > capacity) return 1;
  if (nodeCount == 0) return entryPoint == -1 && topLevel == -1 ? 0 : 2;
  if (entryPoint < 0 || entryPoint >= nodeCount) return 2;
  if (topLevel < 0 || topLevel > MAX_LEVEL || nodeLevel(<u32>entryPoint) != topLevel) return 3;
  if (upperUsed > regionSize(R_UPPER)) return 4;
  let deleted = 0;
  for (let n = 0; n < nodeCount; n++) {
    const node = <u32>n;
    if (isDeleted(node)) deleted++;
    const level = nodeLevel(node);
    if (level < 0 || level > topLevel) return 3;
    if (level > 0) {
      const offset = <usize>load<u32>(upperOffsetBase + (<usize>node << 2));
      if ((offset & 3) != 0 || offset + <usize>level * upperBlockBytes > upperUsed) return 4;
    }
    for (let l = 0; l <= level; l++) {
      const block = linksPtr(node, l);
      const count = load<u32>(block);
      if (count > <u32>(l == 0 ? maxLinks0 : maxLinks)) return 5;
      for (let j: u32 = 0; j < count; j++) {
        if (load<u32>(block + 4 + (<usize>j << 2)) >= <u32>nodeCount) return 6;
      }
    }
  }
  return deleted == deletedCount ? 0 : 7;
}

export function ioPointer(): usize {
  return ioBase;
}
export function vectorsPointer(): usize {
  return vectorsBase;
}
export function links0Pointer(): usize {
  return links0Base;
}
export function labelsPointer(): usize {
  return labelsBase;
}
export function levelsPointer(): usize {
  return levelsBase;
}
export function upperOffsetsPointer(): usize {
  return upperOffsetBase;
}
export function flagsPointer(): usize {
  return flagsBase;
}
export function allowedPointer(): usize {
  return allowedBase;
}
export function upperPointer(): usize {
  return upperBase;
}
export function paddedVectorBytes(): i32 {
  return <i32>paddedBytes;
}
export function nodes(): i32 {
  return nodeCount;
}
export function capacityNodes(): i32 {
  return capacity;
}
export function entryNodeId(): i32 {
  return entryPoint;
}
export function topLevelNumber(): i32 {
  return topLevel;
}
export function deletedNodes(): i32 {
  return deletedCount;
}
export function upperUsedBytes(): i32 {
  return <i32>upperUsed;
}
export function rngLow(): u32 {
  return <u32>rngState;
}
export function rngHigh(): u32 {
  return <u32>(rngState >> 32);
}
export function layoutEndBytes(): i32 {
  const last = REGION_COUNT - 1;
  return <i32>(regionBase(last) + regionSize(last));
}
/** Bytes the nodes in use occupy: per-node regions for `nodes` nodes, scratch, and upper links in use (no spare capacity, no io buffer). */
export function usedBytes(): i32 {
  let total: usize = layoutStart - table;
  for (let r = 0; r < REGION_COUNT; r++) {
    if (r == R_IO) continue;
    total += wantedSize(r, <usize>nodeCount, 0, upperUsed);
  }
  return <i32>total;
}
export function distanceComputations(): u32 {
  return distanceCount;
}
export function hops(): u32 {
  return hopCount;
}
