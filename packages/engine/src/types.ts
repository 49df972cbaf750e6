/** Public types of `@shoal/engine` (Meilisearch names and shapes). */

/** A stored JSON document. */
export type Doc = Record<string, unknown>

export type DocumentId = string | number

export type Distance = 'cosine' | 'l2' | 'dot'

export interface EmbedderSettings {
  source: 'userProvided'
  dimensions: number
  /** @defaultValue 'cosine' */
  distance?: Distance
}

export interface TypoToleranceSettings {
  enabled: boolean
  minWordSizeForTypos: { oneTypo: number; twoTypos: number }
}

export interface Settings {
  searchableAttributes: string[]
  filterableAttributes: string[]
  sortableAttributes: string[]
  displayedAttributes: string[]
  stopWords: string[]
  typoTolerance: TypoToleranceSettings
  embedders: Record<string, EmbedderSettings>
  pagination: PaginationSettings
  faceting: FacetingSettings
}

/** Meilisearch's `pagination` setting. */
export interface PaginationSettings {
  /** No search reaches a hit past this rank, and totals are capped at it. @defaultValue 1000 */
  maxTotalHits: number
}

/** Meilisearch's `faceting` setting. */
export interface FacetingSettings {
  /** Values returned per facet in `facetDistribution`. @defaultValue 100 */
  maxValuesPerFacet: number
  /** Per facet (or `*` for the rest): `alpha` (numbers ascending, then strings) or `count` (most frequent first). @defaultValue { '*': 'alpha' } */
  sortFacetValuesBy: Record<string, 'alpha' | 'count'>
}

type PartialSettings = 'typoTolerance' | 'pagination' | 'faceting'

/** A settings update: every field optional, `null` resets that setting to its default. */
export type SettingsUpdate = {
  [K in keyof Settings]?: (K extends PartialSettings ? Partial<Settings[K]> : Settings[K]) | null
}

export interface IndexInfo {
  uid: string
  primaryKey: string | null
  createdAt: string
  updatedAt: string
}

export interface IndexStats {
  numberOfDocuments: number
  isIndexing: false
  fieldDistribution: Record<string, number>
}

/** What a search core holds (see `IndexStorageStats`). */
export interface CoreStorageStats {
  /** Live documents (text) or vectors. */
  documents: number
  /** Removed ones still held until the core compacts (postings of removed documents, graph tombstones). */
  removed: number
  /** Bytes the core holds, spare capacity included. */
  bytes: number
}

/** A vector graph's figures, and the operations accepted but not yet applied to it. */
export interface VectorStorageStats extends CoreStorageStats {
  /** Vector additions and removals waiting to enter the graph (searches already see them). */
  backlog: number
}

/**
 * What an index's structures hold, for memory accounting: `index.storageStats()`. Internal ids
 * of removed documents are reused, so `idSpace` stays near the most documents held at once.
 */
export interface IndexStorageStats {
  /** Live documents. */
  documents: number
  /** Internal ids in use or free: every per-id array and bitset is sized by it. */
  idSpace: number
  /** Free ids below `idSpace`, taken (smallest first) by the next new documents. */
  freeIds: number
  /** Bytes of the live-document bitset. */
  liveBitsetBytes: number
  /** Document ids held by the filter and facet indexes (once per value array they are in). */
  fieldEntries: number
  text: CoreStorageStats
  /** Per embedder. */
  vectors: Record<string, VectorStorageStats>
}

export interface WriteResult {
  indexedDocuments?: number
  deletedDocuments?: number
  primaryKey?: string
}

/** A filter: an expression string, or an array whose items are ANDed (an inner array is ORed). */
export type Filter = string | (string | string[])[]

export interface HybridParams {
  embedder: string
  /** 0 = keyword only, 1 = vector only. @defaultValue 0.5 */
  semanticRatio?: number
}

export interface SearchParams {
  q?: string
  vector?: number[]
  hybrid?: HybridParams
  filter?: Filter
  facets?: string[]
  sort?: string[]
  /** @defaultValue 0 */
  offset?: number
  /** @defaultValue 20 */
  limit?: number
  attributesToRetrieve?: string[]
  showRankingScore?: boolean
  /** Include `_vectors` in hits. @defaultValue false */
  retrieveVectors?: boolean
  /** Page number (from 1) for exhaustive pagination; with `hitsPerPage`, replaces offset/limit. */
  page?: number
  /** @defaultValue 20 when `page` is given */
  hitsPerPage?: number
  /** Hits scoring below (0..1) are left out. */
  rankingScoreThreshold?: number
  /** A filterable attribute: one hit per value. */
  distinct?: string
  /** Which query words a hit must hold; absent: any word, BM25 order. */
  matchingStrategy?: 'last' | 'all' | 'frequency'
  /** Searchable attributes the query words must be found in. */
  attributesToSearchOn?: string[]
  attributesToHighlight?: string[]
  /** @defaultValue '<em>' */
  highlightPreTag?: string
  /** @defaultValue '</em>' */
  highlightPostTag?: string
  /** Attributes to crop, each optionally `name:words`. */
  attributesToCrop?: string[]
  /** Words kept by a crop. @defaultValue 10 */
  cropLength?: number
  /** @defaultValue '…' */
  cropMarker?: string
  /** Add `_matchesPosition` to hits. @defaultValue false */
  showMatchesPosition?: boolean
}

/**
 * A search answer. With `offset`/`limit` (the default) it carries `limit`,
 * `offset` and `estimatedTotalHits`; with `page`/`hitsPerPage` it carries
 * `page`, `hitsPerPage`, `totalPages` and the exact `totalHits` instead.
 */
export interface SearchResult {
  hits: Doc[]
  query: string
  processingTimeMs: number
  limit?: number
  offset?: number
  estimatedTotalHits?: number
  page?: number
  hitsPerPage?: number
  totalPages?: number
  totalHits?: number
  facetDistribution?: Record<string, Record<string, number>>
  /** `min` and `max` of each requested facet with numeric values among the matches. */
  facetStats?: Record<string, { min: number; max: number }>
  semanticHitCount?: number
}

export interface GetDocumentsParams {
  /** @defaultValue 0 */
  offset?: number
  /** @defaultValue 20 */
  limit?: number
  fields?: string[]
  filter?: Filter
  /** Include `_vectors`. @defaultValue false */
  retrieveVectors?: boolean
}

export interface DocumentsPage {
  results: Doc[]
  offset: number
  limit: number
  total: number
}

/**
 * Something the database reports for logs and metrics: recovery, snapshots,
 * fallbacks, and each durable command-log append (`log-synced`: how many
 * commands one write + fsync carried and how long it took).
 */
export type EngineEvent =
  | {
      type: 'recovered'
      snapshotIndex: number
      replayedCommands: number
      failedCommands: number
      durationMs: number
    }
  | { type: 'snapshot-written'; index: number; bytes: number; file: string }
  | { type: 'snapshot-rejected'; file: string; reason: string }
  | { type: 'snapshot-installed'; index: number; bytes: number }
  | { type: 'command-failed'; index: number; code: string; message: string }
  | { type: 'log-synced'; commands: number; seconds: number }

export interface OpenOptions {
  /** WAL fsync policy. @defaultValue 'always' */
  sync?: 'always' | 'none'
  /** Commands between automatic snapshots; 0 disables them. @defaultValue 10_000 */
  snapshotEvery?: number
  onEvent?: (event: EngineEvent) => void
  /** Size of one WAL segment file; compaction after a snapshot drops whole segments. @defaultValue 64 MiB */
  walSegmentBytes?: number
}
