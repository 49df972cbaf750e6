/**
 * The part of the database the server drives. `@shoal/engine`'s `Engine`
 * satisfies it structurally; a clustered router can later stand behind the
 * same port. The server never reaches past it.
 */

export type Doc = Record<string, unknown>
export type Filter = string | (string | string[])[]

export interface IndexInfo {
  uid: string
  primaryKey: string | null
  createdAt: string
  updatedAt: string
}

export interface IndexStats {
  numberOfDocuments: number
  isIndexing: boolean
  fieldDistribution: Record<string, number>
}

export interface WriteResult {
  indexedDocuments?: number
  deletedDocuments?: number
  primaryKey?: string
}

export interface Settings {
  searchableAttributes: string[]
  filterableAttributes: string[]
  sortableAttributes: string[]
  displayedAttributes: string[]
  stopWords: string[]
  typoTolerance: { enabled: boolean; minWordSizeForTypos: { oneTypo: number; twoTypos: number } }
  embedders: Record<
    string,
    { source: 'userProvided'; dimensions: number; distance?: 'cosine' | 'l2' | 'dot' }
  >
}

export interface SearchParams {
  q?: string
  vector?: number[]
  hybrid?: { embedder: string; semanticRatio?: number }
  filter?: Filter
  facets?: string[]
  sort?: string[]
  offset?: number
  limit?: number
  attributesToRetrieve?: string[]
  showRankingScore?: boolean
}

export interface SearchResult {
  hits: Doc[]
  query: string
  processingTimeMs: number
  limit: number
  offset: number
  estimatedTotalHits: number
  facetDistribution?: Record<string, Record<string, number>>
  semanticHitCount?: number
}

export interface DocumentsPage {
  results: Doc[]
  offset: number
  limit: number
  total: number
}

export interface IndexPort {
  addDocuments(docs: object[], opts?: { primaryKey?: string }): Promise<WriteResult>
  updateDocuments(docs: object[], opts?: { primaryKey?: string }): Promise<WriteResult>
  getDocument(id: string | number, opts?: { fields?: string[] }): Doc
  getDocuments(opts?: { offset?: number; limit?: number; fields?: string[]; filter?: Filter }): DocumentsPage
  deleteDocument(id: string | number): Promise<WriteResult>
  deleteDocuments(ids: (string | number)[]): Promise<WriteResult>
  deleteDocumentsByFilter(filter: Filter): Promise<WriteResult>
  deleteAllDocuments(): Promise<WriteResult>
  getSettings(): Settings
  updateSettings(partial: Partial<Settings>): Promise<Settings>
  resetSettings(): Promise<Settings>
  search(params: SearchParams): SearchResult
}

export interface EnginePort {
  createIndex(uid: string, opts?: { primaryKey?: string; settings?: Partial<Settings> }): Promise<IndexInfo>
  listIndexes(): IndexInfo[]
  getIndex(uid: string): IndexInfo
  hasIndex(uid: string): boolean
  updateIndex(uid: string, opts: { primaryKey: string }): Promise<IndexInfo>
  deleteIndex(uid: string): Promise<void>
  index(uid: string): IndexPort
  stats(): { databaseSize: number; indexes: Record<string, IndexStats> }
  close(): Promise<void>
}
