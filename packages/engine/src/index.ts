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
  InvalidFilterError,
  InvalidIndexUidError,
  InvalidSearchError,
  InvalidSettingsError,
  ShoalError,
  SnapshotCorruptionError,
} from './errors.ts'
export { Index } from './index-handle.ts'
export type { ApplyResult, Command } from './internal/commands.ts'
export { decodeCommand, encodeCommand } from './internal/commands.ts'
export type { Components } from './internal/index-state.ts'
export { MemoryCommandLog } from './internal/memory-log.ts'
export type {
  CommandLog,
  CoreStats,
  PreparedText,
  TextField,
  TextHits,
  TextIndex,
  TextIndexConfig,
  TextIndexFactory,
  TextSearchOptions,
  VectorHits,
  VectorIndex,
  VectorIndexConfig,
  VectorIndexFactory,
} from './internal/ports.ts'
export { documentKey, externalIdKey, inferPrimaryKey } from './internal/primary-key.ts'
export { open, openReplica } from './open.ts'
export type {
  CoreStorageStats,
  Distance,
  Doc,
  DocumentId,
  DocumentsPage,
  EmbedderSettings,
  EngineEvent,
  Filter,
  GetDocumentsParams,
  HybridParams,
  IndexInfo,
  IndexStats,
  IndexStorageStats,
  OpenOptions,
  SearchParams,
  SearchResult,
  Settings,
  SettingsUpdate,
  TypoToleranceSettings,
  VectorStorageStats,
  WriteResult,
} from './types.ts'
