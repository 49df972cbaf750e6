// @shoal/engine: the embedded single-node database. The public API is re-exported here by name.
export { Engine, type EngineDependencies } from './engine.ts'
export {
  CommandLogCorruptionError,
  DocumentNotFoundError,
  EngineClosedError,
  type ErrorType,
  type FilterPosition,
  IndexAlreadyExistsError,
  IndexNotFoundError,
  InvalidDocumentError,
  InvalidDocumentsQueryError,
  InvalidFacetSearchError,
  InvalidFilterError,
  InvalidIndexUidError,
  InvalidMerkleRequestError,
  InvalidSearchError,
  InvalidSettingsError,
  InvalidSimilarError,
  ShardedSearchMismatchError,
  ShardedSearchUnsupportedError,
  ShoalError,
  SnapshotCorruptionError,
} from './errors.ts'
export { Index } from './index-handle.ts'
export type { ApplyResult, Command } from './internal/commands.ts'
export { decodeCommand, encodeCommand } from './internal/commands.ts'
export { bucketOfKey, type DigestEntry, DocumentDigests, documentHash } from './internal/document-digests.ts'
export { compareDocumentKeys } from './internal/document-order.ts'
export { mergeDocumentPages } from './internal/document-pages.ts'
export { maskApiKey } from './internal/embedder-settings.ts'
export {
  DEFAULT_DOCUMENT_TEMPLATE,
  DEFAULT_DOCUMENT_TEMPLATE_MAX_BYTES,
  renderDocumentTemplate,
  requestRepeats,
  restRequestBody,
  restResponseEmbeddings,
} from './internal/embedder-templates.ts'
export { mergeFacetSearch } from './internal/facet-search.ts'
export { type FilterNode, parseFilter } from './internal/filter/parse.ts'
export { filterFeatures, matchesPattern } from './internal/filterable-rules.ts'
export type { Components } from './internal/index-state.ts'
export { MemoryCommandLog } from './internal/memory-log.ts'
export {
  childPositions,
  differingPositions,
  diffTrees,
  type Hash64,
  MERKLE_BUCKETS,
  MERKLE_FANOUT,
  MERKLE_LEAF_LEVEL,
  MerkleTree,
  nodesAtLevel,
  SPARSE_BUCKETS_LIMIT,
  type TreeDiff,
} from './internal/merkle-tree.ts'
export type {
  CommandLog,
  CoreStats,
  HeldWordQuery,
  PreparedText,
  TextField,
  TextHits,
  TextIndex,
  TextIndexConfig,
  TextIndexFactory,
  TextQueryCandidates,
  TextQueryStats,
  TextSearchOptions,
  VectorHits,
  VectorIndex,
  VectorIndexConfig,
  VectorIndexFactory,
} from './internal/ports.ts'
export { documentKey, externalIdKey, inferPrimaryKey } from './internal/primary-key.ts'
export { mergeShardResults } from './internal/search-merge.ts'
export { mergeSearchStats, searchContextComplete } from './internal/search-stats.ts'
export { mergeSettings } from './internal/settings.ts'
export { open, openReplica } from './open.ts'
export type {
  CoreStorageStats,
  Distance,
  Doc,
  DocumentId,
  DocumentsPage,
  DocumentsPartPage,
  EmbedderSettings,
  EngineEvent,
  FacetSearchParams,
  FacetSearchResult,
  Filter,
  FilterableAttribute,
  FilterableAttributesRule,
  FilterableFeatures,
  GetDocumentsParams,
  HybridParams,
  IndexInfo,
  IndexStats,
  IndexStorageStats,
  LocalizedAttributesRule,
  OpenOptions,
  RestEmbedderSettings,
  SearchContext,
  SearchMode,
  SearchParams,
  SearchResult,
  SearchStats,
  SearchStatsOptions,
  Settings,
  SettingsUpdate,
  ShardFacets,
  ShardHit,
  ShardRefinePlan,
  ShardSearchPlan,
  ShardSearchResult,
  SimilarParams,
  SimilarResult,
  SortValue,
  TypoToleranceSettings,
  UserProvidedEmbedderSettings,
  VectorStorageStats,
  WriteResult,
} from './types.ts'
