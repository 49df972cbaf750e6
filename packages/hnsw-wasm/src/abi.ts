/**
 * The exports of `hnsw.wasm` (compiled from `assembly/index.ts`), declared
 * once. Pointers and sizes are byte offsets into the instance's memory;
 * node numbers are the module's internal slots (0 .. nodes() - 1), never the
 * caller's ids, which live in the labels region.
 */
export interface HnswAbi {
  readonly memory: WebAssembly.Memory
  init(
    dimensions: number,
    metric: number,
    m: number,
    efConstruction: number,
    seedLow: number,
    seedHigh: number,
  ): number
  reserve(nodes: number, ioBytes: number): number
  reserveUpper(bytes: number): number
  insertBatch(vectors: number, labels: number, count: number): number
  markDeleted(node: number): void
  reuseNode(node: number, vector: number, label: number): number
  searchBatch(queries: number, count: number, k: number, ef: number, filtered: number, out: number): void
  searchExact(queries: number, count: number, k: number, nodes: number, listed: number, out: number): void
  vectorDistance(a: number, b: number): number
  compact(): number
  restoreState(
    nodes: number,
    entry: number,
    top: number,
    deleted: number,
    upperBytes: number,
    rngLow: number,
    rngHigh: number,
  ): void
  validate(): number
  ioPointer(): number
  vectorsPointer(): number
  links0Pointer(): number
  labelsPointer(): number
  levelsPointer(): number
  upperOffsetsPointer(): number
  flagsPointer(): number
  allowedPointer(): number
  upperPointer(): number
  paddedVectorBytes(): number
  nodes(): number
  capacityNodes(): number
  entryNodeId(): number
  topLevelNumber(): number
  deletedNodes(): number
  upperUsedBytes(): number
  rngLow(): number
  rngHigh(): number
  layoutEndBytes(): number
  usedBytes(): number
  distanceComputations(): number
  hops(): number
}

/** Metric codes shared with the module. */
export const METRIC_CODES = { l2: 0, dot: 1, cosine: 2 } as const
