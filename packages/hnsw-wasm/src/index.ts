// @shoal/hnsw: HNSW vector index in AssemblyScript compiled to WASM with SIMD. The public API is re-exported here by name.
export type { HnswOptions, Metric, ResolvedHnswOptions } from './config.ts'
export { DEFAULT_OPTIONS, MAX_EF, resolveOptions } from './config.ts'
export {
  CorruptIndexError,
  DuplicateIdError,
  HnswConfigError,
  HnswError,
  HnswMemoryError,
  IndexBusyError,
  InvalidArgumentError,
  InvalidVectorError,
  UnknownIdError,
} from './errors.ts'
export type { SearchFilter, SearchOptions, SearchResult, SearchStats } from './hnsw-index.ts'
export { EXACT_FILTER_MIN_IDS, EXACT_FILTER_RATIO, HnswIndex } from './hnsw-index.ts'
