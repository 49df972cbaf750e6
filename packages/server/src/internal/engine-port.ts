/**
 * The part of the database the server drives. `@shoal/engine`'s `Engine`
 * satisfies it structurally; a clustered router can later stand behind the
 * same port. The server never reaches past it.
 */

import type {
  Doc,
  DocumentsPage,
  FacetSearchParams,
  FacetSearchResult,
  Filter,
  IndexInfo,
  IndexStats,
  SearchParams,
  SearchResult,
  Settings,
  SimilarParams,
  SimilarResult,
  WriteResult,
} from '@shoal/engine'

export type {
  Doc,
  DocumentsPage,
  FacetSearchParams,
  FacetSearchResult,
  Filter,
  IndexInfo,
  IndexStats,
  SearchParams,
  SearchResult,
  Settings,
  SimilarParams,
  SimilarResult,
  WriteResult,
}

import type { ReadOptions } from './read-options.ts'

/** A value now, or (in a cluster, where reads cross the network) later. */
export type MaybePromise<T> = T | Promise<T>

/**
 * A document write's options. `writeConcern: 'async'` acknowledges a cluster write once every
 * shard leader's own log holds its part durably (not a majority of the shard); a standalone
 * engine acknowledges after its own fsync in either case, which is what both concerns mean with
 * one copy.
 */
export interface DocumentWriteOptions {
  primaryKey?: string
  writeConcern?: 'quorum' | 'async'
}

export interface IndexPort {
  addDocuments(docs: object[], opts?: DocumentWriteOptions): Promise<WriteResult>
  updateDocuments(docs: object[], opts?: DocumentWriteOptions): Promise<WriteResult>
  getDocument(id: string | number, opts?: { fields?: string[]; retrieveVectors?: boolean }): MaybePromise<Doc>
  getDocuments(opts?: {
    offset?: number
    limit?: number
    fields?: string[]
    filter?: Filter
    /** Narrows to these primary keys (ANDed with `filter`); on a cluster, listed in key order. */
    ids?: (string | number)[]
    sort?: string[]
    retrieveVectors?: boolean
  }): MaybePromise<DocumentsPage>
  deleteDocument(id: string | number): Promise<WriteResult>
  deleteDocuments(ids: (string | number)[]): Promise<WriteResult>
  deleteDocumentsByFilter(filter: Filter): Promise<WriteResult>
  deleteAllDocuments(): Promise<WriteResult>
  getSettings(): MaybePromise<Settings>
  updateSettings(partial: Partial<Settings>): Promise<Settings>
  resetSettings(): Promise<Settings>
  /** `read` only changes anything on a cluster node (see read-options.ts). */
  search(params: SearchParams, read?: ReadOptions): MaybePromise<SearchResult>
  /** Meilisearch's facet search; a cluster index refuses it with a typed error. */
  facetSearch(params: FacetSearchParams, read?: ReadOptions): MaybePromise<FacetSearchResult>
  /** Meilisearch's similar documents (on a cluster, searched across the shards). */
  similar(params: SimilarParams): MaybePromise<SimilarResult>
  /** The id key of every stored document (a standalone engine; read to embed them all). */
  storedKeys?(): string[]
  /** Documents exactly as stored (every field, `_vectors` too), null for a missing key (a standalone engine). */
  storedDocuments?(keys: readonly string[]): (Doc | null)[]
}

export interface EnginePort {
  /** `sharding` is for a cluster only (the HTTP layer refuses it on a standalone node). */
  createIndex(
    uid: string,
    opts?: { primaryKey?: string; settings?: Partial<Settings>; sharding?: Record<string, unknown> },
  ): Promise<IndexInfo>
  listIndexes(): IndexInfo[]
  getIndex(uid: string): IndexInfo
  hasIndex(uid: string): boolean
  updateIndex(uid: string, opts: { primaryKey: string }): Promise<IndexInfo>
  deleteIndex(uid: string): Promise<void>
  /** Swaps pairs of indexes atomically, or renames (`rename`): all pairs or none; absent in a cluster. */
  swapIndexes?(swaps: { indexes: [string, string]; rename?: boolean }[]): Promise<void>
  index(uid: string): IndexPort
  /** The whole state as checksummed snapshot bytes, in chunks (`POST /snapshots`); absent in a cluster. */
  exportSnapshot?(): AsyncIterable<Uint8Array>
  /** Replaces the whole state with snapshot bytes, verified first (`--import-snapshot`); absent in a cluster. */
  installSnapshot?(chunks: AsyncIterable<Uint8Array>): Promise<unknown>
  stats(): MaybePromise<{ databaseSize: number; indexes: Record<string, IndexStats> }>
  /** Vector operations accepted but not yet in the HNSW graphs (absent: none are deferred). */
  vectorBacklog?(): number
  close(): Promise<void>
}
