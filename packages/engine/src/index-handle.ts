import { DocumentNotFoundError, InvalidDocumentError, InvalidMerkleRequestError } from './errors.ts'
import type { Command } from './internal/commands.ts'
import type { DatabaseState } from './internal/database-state.ts'
import type { DigestEntry } from './internal/document-digests.ts'
import { listDocuments } from './internal/document-list.ts'
import { listDocumentsPart } from './internal/document-pages.ts'
import { facetSearch, facetSearchShard } from './internal/facet-search.ts'
import type { IndexState } from './internal/index-state.ts'
import { externalIdKey } from './internal/primary-key.ts'
import { project, search } from './internal/search.ts'
import { stringList } from './internal/search-params.ts'
import { searchPartitions } from './internal/search-partitions.ts'
import { searchShard } from './internal/search-shard.ts'
import { searchStats } from './internal/search-stats.ts'
import { defaultSettings } from './internal/settings.ts'
import { similar } from './internal/similar.ts'
import type {
  Doc,
  DocumentId,
  DocumentsPage,
  DocumentsPartPage,
  FacetSearchParams,
  FacetSearchResult,
  Filter,
  GetDocumentsParams,
  IndexStorageStats,
  SearchContext,
  SearchParams,
  SearchResult,
  SearchStats,
  SearchStatsOptions,
  Settings,
  SettingsUpdate,
  ShardSearchResult,
  SimilarParams,
  SimilarResult,
  WriteResult,
} from './types.ts'

/** What an index handle needs from its database. */
export interface IndexHost {
  state(): DatabaseState
  /** Validates, logs durably, applies; resolves with the command's result. */
  submit(command: Command): Promise<unknown>
  now(): string
}

/**
 * A handle on one index. Reads are synchronous and see every write that has
 * resolved; writes resolve once durable in the log and applied, and reject
 * with a typed error (nothing applied) when the batch is invalid.
 */
export class Index {
  readonly uid: string
  readonly #host: IndexHost

  constructor(host: IndexHost, uid: string) {
    this.#host = host
    this.uid = uid
  }

  #state(): IndexState {
    return this.#host.state().index(this.uid)
  }

  async addDocuments(docs: object[], opts: { primaryKey?: string } = {}): Promise<WriteResult> {
    return this.#put(docs, false, opts.primaryKey)
  }

  async updateDocuments(docs: object[], opts: { primaryKey?: string } = {}): Promise<WriteResult> {
    return this.#put(docs, true, opts.primaryKey)
  }

  async #put(docs: object[], merge: boolean, primaryKey: string | undefined): Promise<WriteResult> {
    if (!Array.isArray(docs)) {
      throw new InvalidDocumentError('The documents must be an array of objects.', 'invalid_document_fields')
    }
    if (primaryKey !== undefined && (typeof primaryKey !== 'string' || primaryKey === '')) {
      throw new InvalidDocumentError('`primaryKey` must be a non-empty string.', 'invalid_index_primary_key')
    }
    return (await this.#host.submit({
      type: 'addDocuments',
      uid: this.uid,
      documents: docs as Doc[],
      primaryKey: primaryKey ?? null,
      merge,
      at: this.#host.now(),
    })) as WriteResult
  }

  getDocument(id: DocumentId, opts: { fields?: string[]; retrieveVectors?: boolean } = {}): Doc {
    const state = this.#state()
    const key = externalIdKey(id)
    const internal = key === undefined ? undefined : state.idOf(key)
    if (internal === undefined) throw new DocumentNotFoundError(id)
    const fields = stringList(opts.fields, 'fields')
    return project(state, state.docAt(internal)!, fields, opts.retrieveVectors === true)
  }

  getDocuments(opts: GetDocumentsParams = {}): DocumentsPage {
    return listDocuments(this.#state(), opts)
  }

  /**
   * This index's share of a listing over partitions (internal/document-pages.ts): its first
   * `offset + limit` matches, with their keys and sort values, for `mergeDocumentPages`.
   */
  getDocumentsPart(opts: GetDocumentsParams = {}): DocumentsPartPage {
    return listDocumentsPart(this.#state(), opts)
  }

  async deleteDocument(id: DocumentId): Promise<WriteResult> {
    return this.deleteDocuments([id])
  }

  async deleteDocuments(ids: DocumentId[]): Promise<WriteResult> {
    if (!Array.isArray(ids)) {
      throw new InvalidDocumentError('The document ids must be an array.', 'invalid_document_id')
    }
    return (await this.#host.submit({
      type: 'deleteDocuments',
      uid: this.uid,
      ids,
      at: this.#host.now(),
    })) as WriteResult
  }

  async deleteDocumentsByFilter(filter: Filter): Promise<WriteResult> {
    return (await this.#host.submit({
      type: 'deleteDocumentsByFilter',
      uid: this.uid,
      filter,
      at: this.#host.now(),
    })) as WriteResult
  }

  async deleteAllDocuments(): Promise<WriteResult> {
    return (await this.#host.submit({
      type: 'deleteAllDocuments',
      uid: this.uid,
      at: this.#host.now(),
    })) as WriteResult
  }

  getSettings(): Settings {
    return structuredClone(this.#state().settings)
  }

  async updateSettings(partial: SettingsUpdate): Promise<Settings> {
    const settings = (await this.#host.submit({
      type: 'updateSettings',
      uid: this.uid,
      settings: partial,
      at: this.#host.now(),
    })) as Settings
    return structuredClone(settings)
  }

  async resetSettings(): Promise<Settings> {
    // Every setting, null: each back to its default.
    const reset = Object.fromEntries(Object.keys(defaultSettings()).map((name) => [name, null]))
    return this.updateSettings(reset as SettingsUpdate)
  }

  search(params: SearchParams = {}): SearchResult {
    return search(this.#state(), params)
  }

  /**
   * Meilisearch's similar documents (internal/similar.ts): the nearest neighbours of document
   * `id`'s vector for `embedder`, the document left out. `InvalidSimilarError` for bad input.
   */
  similar(params: SimilarParams): SimilarResult {
    return similar(this.#state(), params)
  }

  /** Meilisearch's facet search (internal/facet-search.ts); `InvalidFacetSearchError` for bad input. */
  facetSearch(params: FacetSearchParams): FacetSearchResult {
    return facetSearch(this.#state(), params)
  }

  /**
   * A facet search over a sharded index, on this index as one shard: `params`' search scored with
   * `context` (phase 2 of a sharded search), with `facetName`'s values counted untrimmed. Merge
   * every shard's with `mergeFacetSearch`.
   */
  facetSearchShard(params: FacetSearchParams, context: SearchContext): ShardSearchResult {
    return facetSearchShard(this.#state(), params, context)
  }

  /**
   * Phase 1 of a search over a sharded index, on this index as one shard: the statistics global
   * scoring of `params` needs (see docs/distributed-search.md). Merge every shard's with
   * `mergeSearchStats`; cache them per query while every shard's `version` is unchanged.
   */
  searchStats(params: SearchParams = {}, options: SearchStatsOptions = {}): SearchStats {
    return searchStats(this.#state(), params, options)
  }

  /**
   * Phase 2: this shard's candidates for the global answer to `params`, scored with `context`
   * (`mergeSearchStats` of every shard's `searchStats`). Merge every shard's with
   * `mergeShardResults`. Every search parameter is answered exactly across shards; throws
   * `ShardedSearchMismatchError` for a context gathered for another query.
   */
  searchShard(params: SearchParams, context: SearchContext): ShardSearchResult {
    return searchShard(this.#state(), params, context)
  }

  /**
   * Phase 2 on several shards held in this process, in one pass: exactly
   * `indexes.map((index) => index.searchShard(params, context))`, with the work each shard would
   * repeat done once (the query words' completions and typo variants, found in one walk over
   * every shard's term dictionary; internal/search-partitions.ts).
   */
  static searchPartitions(
    indexes: readonly Index[],
    params: SearchParams,
    context: SearchContext,
  ): ShardSearchResult[] {
    return searchPartitions(
      indexes.map((index) => index.#state()),
      params,
      context,
    )
  }

  /** What the index's structures hold (ids, bitsets, field, text and vector indexes), for memory accounting. */
  storageStats(): IndexStorageStats {
    return this.#state().storageStats()
  }

  // Anti-entropy (see internal/merkle-tree.ts): the Merkle tree is kept current by every write.

  /**
   * The hashes of the Merkle tree's nodes `positions` at `level` (0: the root, 4: the 65,536
   * buckets), 16 hex digits each. Throws InvalidMerkleRequestError for a node the tree lacks.
   */
  merkleNodes(level: number, positions: readonly number[]): string[] {
    const tree = this.#state().digests.tree
    try {
      return tree.nodes(level, positions)
    } catch (error) {
      throw new InvalidMerkleRequestError(error instanceof Error ? error.message : String(error))
    }
  }

  /** The (id key, hash) pairs of the documents in `buckets`, ordered by key. */
  merkleEntries(buckets: readonly number[]): DigestEntry[] {
    const state = this.#state()
    try {
      return state.digests.entries(buckets, (id) => state.keyAt(id)!)
    } catch (error) {
      throw new InvalidMerkleRequestError(error instanceof Error ? error.message : String(error))
    }
  }

  /** The id keys of every stored document, in internal id order (the server reads them all to embed them). */
  storedKeys(): string[] {
    const state = this.#state()
    const keys: string[] = []
    for (const id of state.live.toArray()) {
      const key = state.keyAt(id)
      if (key !== undefined) keys.push(key)
    }
    return keys
  }

  /**
   * The documents stored under these id keys (as `externalIdKey` gives them), exactly as stored
   * (every field, `_vectors` included), or null for a key with no document. The caller must not
   * mutate them.
   */
  storedDocuments(keys: readonly string[]): (Doc | null)[] {
    const state = this.#state()
    return keys.map((key) => {
      const id = typeof key === 'string' ? state.idOf(key) : undefined
      return id === undefined ? null : (state.docAt(id) ?? null)
    })
  }
}
