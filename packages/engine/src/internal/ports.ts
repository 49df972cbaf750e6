/**
 * The engine's ports to its search cores and its log. The engine owns
 * documents, ids and settings; a text index and a vector index only ever see
 * internal u32 document ids. Each port is small so the cores can be swapped
 * (and tested) independently.
 */

import type { CoreStorageStats, Distance } from '../types.ts'
import type { Bitset } from './bitset.ts'

/** A document analysed by `TextIndex.prepare` (opaque; only for the index that made it). */
export interface PreparedText {
  readonly preparedBy: TextIndex
}

/** A searchable attribute as a full-text field; earlier attributes weigh more. */
export interface TextField {
  name: string
  boost: number
}

export interface TextIndexConfig {
  fields: TextField[]
  stopWords: readonly string[]
  /** Custom tokens of the analyser (the settings of the same names). */
  dictionary: readonly string[]
  separatorTokens: readonly string[]
  nonSeparatorTokens: readonly string[]
}

export interface TextSearchOptions {
  /** Only these internal ids may be returned (sorted ascending). */
  allowed?: Uint32Array
  /**
   * Collection-wide statistics of this query (`queryStats` of every partition, merged by
   * `mergeTextQueryStats`): when given, the index searches the terms the whole collection's
   * dictionary yields and scores them with the collection's document count, field lengths and
   * document frequencies, so a document scores as it would in one index holding every partition.
   */
  global?: TextQueryStats
  /**
   * Typo budget per term: 0 disables typo tolerance; otherwise one typo from
   * `oneTypo` letters and two from `twoTypos` (the `typoTolerance` setting).
   */
  typos: 0 | { oneTypo: number; twoTypos: number }
  /**
   * Analysed query terms that match only as typed, whatever their length (`disableOnWords`,
   * `disableOnNumbers`): their typo variants are never searched. Absent: none.
   */
  typoExempt?: ((term: string) => boolean) | undefined
  /** The last query term also matches as a prefix. */
  prefix: boolean
  /**
   * Index terms searched besides the query's words, exactly and with a word's full weight (the
   * query's synonyms, synonyms.ts). Partitions of one collection get the same list.
   */
  synonyms?: readonly string[]
}

/**
 * What scoring one query needs from one partition of a collection: its document count, the
 * total length of each field, the document frequency of every index term the query can reach,
 * and those terms (the words, the last word's completions, typo variants: `candidates`). Plain
 * data (JSON and msgpack); partitions' statistics add up (`mergeTextQueryStats`).
 */
export interface TextQueryStats {
  docCount: number
  fieldLengths: Record<string, number>
  docFrequencies: Record<string, number>
  candidates: TextQueryCandidates
  /**
   * Present when typo variants were not looked for (`queryStats` with `omitTypos`, which saves
   * the scan of the term dictionary): the query's words (stop words aside) this partition holds
   * no document with; after a merge, those no partition holds. Typo variants are searched for only
   * when some word is held nowhere (the typo policy), so statistics without them are complete
   * exactly when this list is empty after the merge; a search refuses them otherwise.
   */
  unheldWords?: string[]
}

/** The index terms each query word can reach (see `@shoal/bm25`'s `QueryCandidates`). */
export interface TextQueryCandidates {
  words: Array<{
    term: string
    surface: string
    completions: string[]
    typos: Array<[term: string, edits: number]>
  }>
}

export interface TextHits {
  ids: Uint32Array
  /** Higher is better. */
  scores: Float32Array
}

/** What a search core holds, for memory accounting. */
export type CoreStats = CoreStorageStats

/** A query word as `TextIndex.wordHolders` matches it (query-words.ts's `QueryWord`). */
export interface HeldWordQuery {
  term: string
  prefix: boolean
  typos: number
  synonyms: readonly string[]
  /**
   * The terms beyond the word and its synonyms it reaches (completions, typo variants), found
   * once for several partitions (`TextIndex.wordReach`): used instead of this index's own
   * dictionary walk; null when the word reaches none. Absent: looked up in this index.
   */
  reach?: readonly string[] | null | undefined
}

/**
 * A BM25 index over internal ids. A changed document is removed and added again; an id may be
 * added again after it was removed (the engine reuses the ids of removed documents).
 */
export interface TextIndex {
  /** `fields` maps each configured field name to its text values. */
  add(id: number, fields: Record<string, string[]>): void
  /**
   * Analyses a document ahead of `addPrepared` on this index, changing nothing a search sees, so
   * that the analysis can run in slices before the write that adds it commits.
   */
  prepare(fields: Record<string, string[]>): PreparedText
  /** Adds a document `prepare` analysed: the same as `add(id, fields)`. */
  addPrepared(id: number, prepared: PreparedText): void
  /**
   * Adds a document `prepare` analysed, invisibly: searches, statistics and `serialize` see
   * neither it nor the removal of the document it replaces until `publish`. While a batch is
   * staged, `add`, `addPrepared` and `remove` are refused.
   */
  stage(id: number, prepared: PreparedText): void
  /**
   * Makes the staged batch visible at once, in a step proportional to the terms it touches (and
   * the documents it replaces), not to its documents; returns that step's size.
   */
  publish(): { documents: number; termsTouched: number; replaced: number }
  /** Drops the staged batch unpublished (its staging failed part way); nothing changes. */
  discard(): void
  remove(id: number): void
  search(query: string, k: number, options: TextSearchOptions): TextHits
  /**
   * The analyser's word spans of a text (UTF-16 offsets) when custom tokens (`dictionary`,
   * `separatorTokens`, `nonSeparatorTokens`) change its segmentation; absent otherwise, and
   * readers of document text then split words by letters and digits.
   */
  readonly customSpans?: ((text: string) => { start: number; end: number }[]) | undefined
  /**
   * For each of `words`, the ids (below `capacity`) of the documents holding it as the text index
   * matches it: the word, its completions when `prefix`, its variants within `typos` edits, and
   * its `synonyms`. Read from the postings, without reading any document.
   */
  wordHolders(words: readonly HeldWordQuery[], capacity: number): Bitset[]
  /**
   * For each of `words`, the terms beyond the word and its synonyms that it reaches in this index
   * or any of `peers` (indexes analysing alike: partitions of one collection) as `wordHolders`
   * matches it (completions, typo variants), or null when it reaches none; found in one pass over
   * every dictionary. Undefined when a peer is another kind of index. Optional: without it each
   * index finds its own.
   */
  wordReach?(peers: readonly TextIndex[], words: readonly HeldWordQuery[]): (string[] | null)[] | undefined
  /** The analysed tokens of `query` (empty when it has no searchable term). */
  tokens(query: string): string[]
  /**
   * A cheap estimate of how many documents match `query` (the largest document frequency of its
   * terms), in this index or, given `global`, in the whole collection.
   */
  matchEstimate(query: string, global?: TextQueryStats): number
  /** This index's statistics for `query` (see `TextQueryStats`); `allowed` and `global` do not apply. */
  queryStats(
    query: string,
    options: Omit<TextSearchOptions, 'allowed' | 'global'> & { omitTypos?: boolean },
  ): TextQueryStats
  /** Changes on every add and remove: statistics taken at another generation may be stale. */
  readonly generation: number
  stats(): CoreStats
  serialize(): Uint8Array
  /**
   * `serialize()`'s bytes as of this call, worked out with `pause` awaited between slices; the
   * index stays usable (searched and written) meanwhile, and what is written then is not in them.
   */
  serializeInSlices(pause: () => Promise<void>): Promise<Uint8Array>
}

/**
 * Makes text indexes. Creation is asynchronous (a WASM instance per index),
 * so `apply` creates what a command needs before it changes any state.
 */
export interface TextIndexFactory {
  create(config: TextIndexConfig): Promise<TextIndex>
  /** `pause`, when given, is called between slices of the work (a large image's checksum). */
  deserialize(bytes: Uint8Array, config: TextIndexConfig, pause?: () => Promise<void>): Promise<TextIndex>
}

export interface VectorIndexConfig {
  dimensions: number
  distance: Distance
  seed: number
}

export interface VectorHits {
  ids: Uint32Array
  /** Lower is closer (squared l2, 1 − cosine similarity, or 1 − dot product). */
  distances: Float32Array
}

/** A k-nearest-neighbour index over internal ids; an id may be added again after its removal. */
export interface VectorIndex {
  /** `vectors` holds `ids.length` vectors of `dimensions` floats back to back. */
  addBatch(ids: Uint32Array, vectors: Float32Array): void
  remove(id: number): void
  /** Whether `id` is held (added and not removed since). */
  has(id: number): boolean
  search(query: Float32Array, k: number, allowed?: Uint32Array): VectorHits
  stats(): CoreStats
  serialize(): Uint8Array
  /**
   * `serialize()`'s bytes as of this call, worked out with `pause` awaited between slices.
   * Searches may run meanwhile; the caller makes no change (`addBatch`, `remove`) until it
   * settles (the engine's vector backlog holds them back).
   */
  serializeInSlices(pause: () => Promise<void>): Promise<Uint8Array>
}

/** Makes vector indexes; asynchronous like `TextIndexFactory`. */
export interface VectorIndexFactory {
  create(config: VectorIndexConfig): Promise<VectorIndex>
  /** `pause`, when given, is awaited between slices of the load (checksum, copy into the graph). */
  deserialize(bytes: Uint8Array, config: VectorIndexConfig, pause?: () => Promise<void>): Promise<VectorIndex>
}

/**
 * The durable command log. Indexes start at 1 and are contiguous; a batch is
 * durable when `appendBatch` resolves; `compactBefore(i)` may keep more than
 * asked (it drops whole segments only).
 */
export interface CommandLog {
  readonly firstIndex: number
  readonly lastIndex: number
  appendBatch(payloads: Uint8Array[]): Promise<number>
  read(fromIndex: number): AsyncIterable<{ index: number; payload: Uint8Array }>
  compactBefore(index: number): Promise<void>
  close(): Promise<void>
}
