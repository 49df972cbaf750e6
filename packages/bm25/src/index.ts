// @shoal/bm25: text analyzers and a WASM inverted index with BM25F top-k.
export type { Analyzer, AnalyzerOptions, QueryToken, TextSpan } from './analyzer.ts'
export { createAnalyzer, normalizeText } from './analyzer.ts'
export type {
  Bm25IndexOptions,
  Bm25MemoryStats,
  DocumentFields,
  FieldOptions,
  SearchOptions,
  SearchResult,
} from './bm25-index.ts'
export { Bm25Index, type PreparedDocument, type PublishedBatch } from './bm25-index.ts'
export {
  Bm25ConfigError,
  Bm25CorruptionError,
  Bm25DuplicateIdError,
  Bm25Error,
  Bm25InputError,
} from './errors.ts'
export type {
  ExpandedTerm,
  QueryCandidates,
  QueryWordCandidates,
  TypoTolerance,
} from './internal/query.ts'
export {
  candidateTerms,
  mergeQueryCandidates,
  PREFIX_WEIGHT,
  TYPO_WEIGHTS,
  typoBudget,
} from './internal/query.ts'
export type { CollectionStats } from './stats.ts'
export { idf, mergeStats } from './stats.ts'
