/** Public types of `@shoal/engine` (Meilisearch names and shapes). */

import type { TextQueryStats } from './internal/ports.ts'
import type { DetailRule, MatchDetails } from './internal/ranking-details.ts'

/** A stored JSON document. */
export type Doc = Record<string, unknown>

export type DocumentId = string | number

export type Distance = 'cosine' | 'l2' | 'dot'

/** An embedder whose vectors the documents and queries carry themselves (`_vectors.<name>`, `vector`). */
export interface UserProvidedEmbedderSettings {
  source: 'userProvided'
  dimensions: number
  /** @defaultValue 'cosine' */
  distance?: Distance
}

/**
 * An embedder reached over HTTP (Meilisearch's `rest` source). The engine stores and validates
 * it and renders its templates (embedder-templates.ts), but never calls it: whoever drives the
 * engine (the server) embeds documents and queries and hands the vectors in. The engine refuses a
 * document left without a vector for it.
 */
export interface RestEmbedderSettings {
  source: 'rest'
  /** `http:` or `https:` URL the request is POSTed to. */
  url: string
  /** Secret: sent as `Authorization: Bearer <apiKey>`; the server never returns or logs it. */
  apiKey?: string
  dimensions: number
  /** @defaultValue 'cosine' */
  distance?: Distance
  /** `{{doc.path}}` placeholders in text (embedder-templates.ts); the default renders every searchable field. */
  documentTemplate: string
  /** The rendered text is cut to this many UTF-8 bytes. @defaultValue 400 */
  documentTemplateMaxBytes: number
  /** The JSON body sent: `"{{text}}"` where the text goes, `[item, "{{..}}"]` to send a batch. */
  request: unknown
  /** Where the vector is in the JSON answer: `"{{embedding}}"`, `[item, "{{..}}"]` for a batch. */
  response: unknown
  /** Extra request headers (names lower-cased, sorted). @defaultValue {} */
  headers: Record<string, string>
}

export type EmbedderSettings = UserProvidedEmbedderSettings | RestEmbedderSettings

export interface TypoToleranceSettings {
  enabled: boolean
  minWordSizeForTypos: { oneTypo: number; twoTypos: number }
  /** Query words matched only as typed (and as a prefix), never through a typo; sorted. @defaultValue [] */
  disableOnWords: string[]
  /** Attributes (and what lies under them) where no word matches through a typo; sorted. @defaultValue [] */
  disableOnAttributes: string[]
  /** Query words made only of digits match only as typed. @defaultValue false */
  disableOnNumbers: boolean
}

export interface Settings {
  /**
   * Meilisearch's ranking rules: `words`, `typo`, `proximity`, `attribute`, `exactness` (the
   * relevance rules: Shoal's one BM25 score stands for them together), `sort`, and custom
   * `attribute:asc` / `attribute:desc` rules (see `docs/ranking-rules.md`).
   * @defaultValue ['words', 'typo', 'proximity', 'attribute', 'sort', 'exactness']
   */
  rankingRules: string[]
  searchableAttributes: string[]
  /**
   * Attribute names (filterable with every operator, facet-searchable) and rules
   * `{ attributePatterns, features }` (filterable-rules.ts). @defaultValue []
   */
  filterableAttributes: FilterableAttribute[]
  sortableAttributes: string[]
  displayedAttributes: string[]
  stopWords: string[]
  typoTolerance: TypoToleranceSettings
  embedders: Record<string, EmbedderSettings>
  pagination: PaginationSettings
  faceting: FacetingSettings
  /** Query words (or word sequences) → what they also match; one-way, keys as written. @defaultValue {} */
  synonyms: Record<string, string[]>
  /** The `distinct` of every search that does not name its own. @defaultValue null */
  distinctAttribute: string | null
  /**
   * `indexingTime`: the last query word also matches as a prefix (search as you type);
   * `disabled`: every query word matches whole. @defaultValue 'indexingTime'
   */
  prefixSearch: 'indexingTime' | 'disabled'
  /** Whether `index.facetSearch` (`POST /indexes/{uid}/facet-search`) answers. @defaultValue true */
  facetSearch: boolean
  /** A search stops scoring after this many milliseconds and answers with what it has; null: no limit. @defaultValue null */
  searchCutoffMs: number | null
  /** Strings indexed and searched as one word (`J. R. R.`, `C++`); sorted. @defaultValue [] */
  dictionary: string[]
  /** Strings that separate words besides non-letters; sorted. @defaultValue [] */
  separatorTokens: string[]
  /** Strings that are part of words rather than separators (`#`, `@`); sorted. @defaultValue [] */
  nonSeparatorTokens: string[]
  /**
   * `byWord`: a `"phrase"` in a query matches its words consecutive; `byAttribute`: its words
   * anywhere in one attribute (Shoal has no proximity ranking; docs/ranking-rules.md).
   * @defaultValue 'byWord'
   */
  proximityPrecision: 'byWord' | 'byAttribute'
  /**
   * Languages of attributes, as Meilisearch's rules; only locales Shoal's analyser segments and
   * folds as those languages need are accepted (settings-tokens.ts). @defaultValue null
   */
  localizedAttributes: LocalizedAttributesRule[] | null
}

/** An entry of `filterableAttributes`: an attribute name, or a rule with patterns and features. */
export type FilterableAttribute = string | FilterableAttributesRule

/** Meilisearch's object form of a `filterableAttributes` entry. */
export interface FilterableAttributesRule {
  /** Attribute names; `*` matches any run of characters (`price*`, `*_id`). */
  attributePatterns: string[]
  features: FilterableFeatures
}

/** What the attributes of a `filterableAttributes` rule allow. */
export interface FilterableFeatures {
  /** Facet search on them. @defaultValue false in a rule */
  facetSearch: boolean
  filter: {
    /** `=`, `!=`, `IN`, `EXISTS`, `IS NULL`, `IS EMPTY`. @defaultValue true in a rule */
    equality: boolean
    /** `<`, `<=`, `>`, `>=`, `TO`. @defaultValue false in a rule */
    comparison: boolean
  }
}

/** One rule of `localizedAttributes`: attributes matching the patterns hold text in the locales. */
export interface LocalizedAttributesRule {
  attributePatterns: string[]
  locales: string[]
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
  [K in keyof Settings]?: (K extends PartialSettings ? FieldsUpdate<Settings[K]> : Settings[K]) | null
}

/** An object setting's update: every field optional, `null` resets that field. */
type FieldsUpdate<T> = { [F in keyof T]?: T[F] | null }

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
  /** Add `_rankingScoreDetails` to hits: one entry per ranking rule (docs/ranking-rules.md). @defaultValue false */
  showRankingScoreDetails?: boolean
  /**
   * Add `performanceDetails`: the time of each phase of the search (on a cluster's sharded index,
   * the whole gather's time and the shards searched and pruned). @defaultValue false
   */
  showPerformanceDetails?: boolean
  /** The query's languages: only locales the analyser handles (as `localizedAttributes`). */
  locales?: string[]
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
  /**
   * With `showPerformanceDetails`: `search` and `search > <phase>` durations as text (`1.25ms`);
   * on a sharded index of a cluster `search` (the whole scatter-gather), `shardsSearched`,
   * `shardsPruned` (shards a filter on the shard key ruled out) and `searchedShards` (their numbers).
   */
  performanceDetails?: Record<string, unknown>
}

/**
 * One partition's statistics for a search: phase 1 of a distributed search
 * (`Index.searchStats`). Plain data (JSON and msgpack).
 */
export interface SearchStats {
  /**
   * The partition's statistics version: it changes on every document write and settings change
   * of the partition. Statistics cached under another version are stale.
   */
  version: string
  /**
   * The partition's live documents: a coordinator that asks only some partitions for candidates
   * (shard pruning) adds the others' to the merge's document count, as the hit estimate needs the
   * whole collection's. Absent from partitions older than it.
   */
  documentCount?: number
  /** BM25 statistics of the query's terms; null for a search without a keyword part. */
  text: TextQueryStats | null
}

/** What every partition searches with (phase 2): `mergeSearchStats` of all partitions' statistics. */
export interface SearchContext {
  text: TextQueryStats | null
}

export interface SearchStatsOptions {
  /**
   * Leave typo variants out: no scan of the term dictionary, the costly part of the statistics
   * of a query with a word this partition lacks. Merged statistics gathered so are complete only
   * when every word is held by some partition (`searchContextComplete`); gather them again
   * without this option otherwise. @defaultValue false
   */
  omitTypoVariants?: boolean
}

/** How a search ranks, decided from its parameters alike on every partition. */
export type SearchMode = 'placeholder' | 'keyword' | 'semantic' | 'hybrid'

/** A document's value under one sort rule: `rank` 0 number `n`, 1 text `s`, 2 none. */
export interface SortValue {
  rank: 0 | 1 | 2
  n: number
  s: string
}

/** The request as every partition understood it; partitions' answers merge only when these agree. */
export interface ShardSearchPlan {
  q: string
  mode: SearchMode
  offset: number
  limit: number
  pages: { page: number; hitsPerPage: number } | null
  /** Every ordering key in rank order: the `sort` parameter and custom ranking rules. */
  sort: Array<{ attribute: string; descending: boolean }>
  /** How many of `sort` outrank relevance; null when the ranking rules have no relevance rule. */
  relevanceAt: number | null
  facets: string[] | null
  semanticRatio: number
  showRankingScore: boolean
  /** A fingerprint of the index settings the partition searched under. */
  settings: string
  /** `pagination.maxTotalHits`: no hit past this rank, totals capped at it. */
  maxTotalHits: number
  /** The index's `faceting` setting, applied to the summed counts. */
  faceting: FacetingSettings
  /** What narrows the ranked list after ranking; null when nothing does. */
  refine: ShardRefinePlan | null
  /** With `showRankingScoreDetails`: the entries of `_rankingScoreDetails` in order (ranking-details.ts). */
  details: DetailRule[] | null
}

/**
 * The parameters that narrow a ranked list after ranking (phrases and exclusions in `q`,
 * `matchingStrategy`, `attributesToSearchOn`, `rankingScoreThreshold`, `distinct`), as every
 * partition understood them. A search with any of them ranks every match on every partition.
 */
export interface ShardRefinePlan {
  /** Whether `q` holds phrases or exclusions. */
  syntax: boolean
  matchingStrategy: 'last' | 'all' | 'frequency' | null
  attributesToSearchOn: string[] | null
  /** Whether `typoTolerance.disableOnAttributes` narrows the matches (which words a hit holds). */
  typoAttributes: boolean
  rankingScoreThreshold: number | null
  /** The attribute with one hit per value (the `distinct` parameter or `distinctAttribute`). */
  distinct: string | null
}

/** One candidate hit of a partition, with what the merge orders it by. */
export interface ShardHit {
  /** The primary key (canonical form): the order of last resort. */
  key: string
  /** Raw BM25 score (keyword and hybrid searches), null when not in the partition's keyword list. */
  keyword: number | null
  /** Vector distance (lower is closer), null when not in the partition's semantic list. */
  distance: number | null
  /** `distance` as a similarity in [0, 1]. */
  similarity: number | null
  /** One value per sort rule. */
  sortValues: SortValue[]
  /**
   * The hit as returned: projected, with `_formatted` and `_matchesPosition` when asked. Null
   * when the merge needs the hit only to count it (a search asking for no hits).
   */
  document: Doc | null
  /**
   * How many leading query words the hit holds (`matchingStrategy` `last` and `frequency`:
   * more first, before any other rule); 0 otherwise.
   */
  bucket: number
  /**
   * The hit's values of the distinct attribute (lower-cased strings `s:…`, `number:…`,
   * `boolean:…`), when the merge picks one hit per value; null otherwise.
   */
  distinctValues: string[] | null
  /** The hit's own facet counts, when the merge decides which hits the facets count; else null. */
  facets: ShardFacets | null
  /** What its text holds of the query, for `_rankingScoreDetails`; null when not asked or not read. */
  match: MatchDetails | null
}

/** A partition's exact, untrimmed facet counts. */
export interface ShardFacets {
  distribution: Record<
    string,
    {
      numbers: Array<[value: number, count: number]>
      strings: Array<[key: string, spelling: string, count: number]>
    }
  >
}

/** One partition's answer to a search: phase 2 of a distributed search (`Index.searchShard`). */
export interface ShardSearchResult {
  /** The partition's statistics version when it answered (see `SearchStats.version`). */
  version: string
  plan: ShardSearchPlan
  /** Live documents in the partition. */
  documentCount: number
  /** Documents passing the filter. */
  candidateCount: number
  /** Keyword matches found (at most the partition's keyword window). */
  keywordFound: number
  /** The best raw keyword score of the partition, null when none matched. */
  keywordBest: number | null
  /** Semantic neighbours found (at most the partition's semantic window). */
  semanticFound: number
  /** Hybrid searches: documents in the partition's keyword or semantic list. */
  hybridCount: number
  /** The largest collection-wide document frequency of the query's words. */
  matchEstimate: number
  /**
   * Searches with a `refine` plan the partition narrowed alone: its matches left after
   * narrowing (exact). Null when the merge narrows (`rankingScoreThreshold` of a keyword or
   * hybrid search, `distinct`, hybrid searches): the hits then hold every candidate.
   */
  refinedCount: number | null
  /** Candidates for the global page, in no particular order (see docs/distributed-search.md). */
  hits: ShardHit[]
  facets: ShardFacets | null
}

/** Meilisearch's facet search: values of `facetName` among the documents the search matches. */
export interface FacetSearchParams {
  facetName: string
  /** Values starting with this (folded: case and diacritics); absent or null: every value. */
  facetQuery?: string | null
  q?: string
  filter?: Filter
  matchingStrategy?: SearchParams['matchingStrategy']
  attributesToSearchOn?: string[]
  vector?: number[]
  hybrid?: HybridParams
  rankingScoreThreshold?: number
  /** The query's languages, as a search's `locales`. */
  locales?: string[]
  /** Counts are always exact; accepted for compatibility. */
  exhaustiveFacetCount?: boolean
}

export interface FacetSearchResult {
  facetHits: Array<{ value: string; count: number }>
  facetQuery: string | null
  processingTimeMs: number
}

/** Meilisearch's similar documents: the nearest neighbours of one document's vector. */
export interface SimilarParams {
  /** The primary key of the document whose neighbours are wanted. */
  id: DocumentId
  /** The embedder whose vectors are compared; the document must have one. */
  embedder: string
  /** @defaultValue 0 */
  offset?: number
  /** @defaultValue 20 */
  limit?: number
  filter?: Filter
  attributesToRetrieve?: string[]
  showRankingScore?: boolean
  rankingScoreThreshold?: number
  retrieveVectors?: boolean
}

export interface SimilarResult {
  hits: Doc[]
  /** The requested document's primary key, as a string. */
  id: string
  processingTimeMs: number
  limit: number
  offset: number
  estimatedTotalHits: number
}

export interface GetDocumentsParams {
  /** @defaultValue 0 */
  offset?: number
  /** @defaultValue 20 */
  limit?: number
  fields?: string[]
  filter?: Filter
  /** Only these documents (primary keys; unknown ones are left out), ANDed with `filter`. */
  ids?: DocumentId[]
  /** `attribute:asc|desc` over sortable attributes; absent: the documents' internal order. */
  sort?: string[]
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
 * One partition's share of a document listing (`Index.getDocumentsPart`), merged across
 * partitions by `mergeDocumentPages` into the page one index holding every document lists.
 */
export interface DocumentsPartPage {
  /** The partition's documents that `filter` and `ids` keep. */
  total: number
  /** The listing's sort rules as the partition read them. */
  sort: Array<{ attribute: string; descending: boolean }>
  /** Its first `offset + limit` of them: by the sort rules, then by primary key. */
  entries: Array<{ key: string; sortValues: SortValue[]; document: Doc }>
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
  /** `seconds`: from taking the image to the snapshot file being durable. */
  | { type: 'snapshot-written'; index: number; bytes: number; file: string; seconds: number }
  | { type: 'snapshot-rejected'; file: string; reason: string }
  | { type: 'snapshot-installed'; index: number; bytes: number }
  | { type: 'command-failed'; index: number; code: string; message: string }
  | { type: 'log-synced'; commands: number; seconds: number; lastIndex: number }

export interface OpenOptions {
  /** WAL fsync policy. @defaultValue 'always' */
  sync?: 'always' | 'none'
  /** Commands between automatic snapshots; 0 disables them. @defaultValue 10_000 */
  snapshotEvery?: number
  onEvent?: (event: EngineEvent) => void
  /** Size of one WAL segment file; compaction after a snapshot drops whole segments. @defaultValue 64 MiB */
  walSegmentBytes?: number
}
