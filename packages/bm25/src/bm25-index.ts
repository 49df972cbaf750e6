import { type Analyzer, createAnalyzer } from './analyzer.ts'
import { Bm25ConfigError, Bm25CorruptionError, Bm25DuplicateIdError, Bm25InputError } from './errors.ts'
import { TermDictionary } from './internal/dictionary.ts'
import { decodeIndex, type IndexImage } from './internal/format.ts'
import {
  checkHeldInSlices,
  decodeHeldSteps,
  encodeHeld,
  encodeHeldInSlices,
  HELD_VERSIONS,
  type HeldImage,
} from './internal/held-format.ts'
import { align8, ScratchArena } from './internal/memory-layout.ts'
import {
  BLOCK_SIZE,
  type BoundContext,
  blockStrideWords,
  dataBytes,
  encodeBlocks,
  encodePostings,
  maxEncodedBytes,
} from './internal/postings.ts'
import {
  checkTypos,
  chooseQueryTerms,
  collectCandidates,
  collectCandidatesAcross,
  type ExpandedTerm,
  PREFIX_WEIGHT,
  type QueryCandidates,
  type TypoTolerance,
} from './internal/query.ts'
import { runSteps, runStepsWithPauses, type Steps } from './internal/steps.ts'
import { type Bm25Exports, ensureMemory, instantiate, instantiateNow } from './internal/wasm.ts'
import { type CollectionStats, idf } from './stats.ts'

export interface FieldOptions {
  /** Multiplies the field's term frequencies (BM25F). @defaultValue 1 */
  boost?: number
}

export interface Bm25IndexOptions {
  /** The searchable fields, at most 8; documents may hold only these. */
  fields: Record<string, FieldOptions>
  /** Term-frequency saturation. @defaultValue 1.2 */
  k1?: number
  /** Length normalisation, 0 (none) to 1 (full). @defaultValue 0.75 */
  b?: number
  /**
   * BM25+ (Lv & Zhai 2011): added to the tf factor of every term a document contains, so that
   * matching one more query word always counts. 0 is classic BM25. @defaultValue 0
   */
  delta?: number
  /** @defaultValue createAnalyzer() — English, stemming, no stop words */
  analyzer?: Analyzer
  /** `add` of an id already present replaces that document, or throws Bm25DuplicateIdError. @defaultValue 'replace' */
  onDuplicate?: 'replace' | 'error'
  /** Weight of a term reached as a completion of the last query word (0 to 1). @defaultValue 0.15 */
  prefixWeight?: number
  /** Most terms one prefix or typo expansion adds to a query (the most frequent). @defaultValue 10 */
  maxExpansions?: number
}

export interface SearchOptions {
  /** The last query word also matches as a prefix (search as you type). @defaultValue true */
  prefix?: boolean
  /** Words also match indexed terms within this many edits. @defaultValue 0 */
  typos?: TypoTolerance
  /** Only these document ids (any order), or the ids the predicate accepts, can be returned. */
  filter?: Uint32Array | ((id: number) => boolean)
  /** Collection-wide statistics to score with instead of this index's own (distributed IDF). */
  stats?: CollectionStats
}

/** Best first; `ids[i]` scored `scores[i]`. Equal scores are ordered by ascending id. */
export interface SearchResult {
  ids: Uint32Array
  scores: Float32Array
}

export type DocumentFields = Record<string, string | string[]>

/** One matched term of `explain()`. */
export interface ExplainedTerm {
  term: string
  kind: ExpandedTerm['kind']
  weight: number
  idf: number
  fields: Array<{ field: string; tf: number; length: number; avgLength: number; boost: number }>
  /** Σ_f boost·tf/(1 − b + b·len/avgLen). */
  x: number
  tfFactor: number
  contribution: number
}

/** What an index holds, for memory accounting (`memoryStats()`). */
export interface Bm25MemoryStats {
  /** Live documents. */
  documents: number
  /** Removed documents whose postings are still held (until compaction). */
  removedDocuments: number
  /** Terms in the dictionary (terms of removed documents stay until the index is rebuilt). */
  terms: number
  /** Postings held, removed documents' included. */
  postings: number
  /** Bytes of the TypeScript-side posting arrays (doc numbers and term frequencies), capacity included. */
  postingBytes: number
  /** Bytes of encoded postings in linear memory, superseded encodings included. */
  encodedBytes: number
  /** Bytes of the WebAssembly memory (it grows, and shrinks only by moving to a new instance). */
  wasmBytes: number
}

/** The score of one document for one query, taken apart. */
export interface Explanation {
  id: number
  score: number
  formula: string
  k1: number
  b: number
  delta: number
  docCount: number
  terms: ExplainedTerm[]
}

const MAX_FIELDS = 8
const MAX_TF = 255
const ARENA_START = 1024
/** Postings encoded between two pauses by `serializeInSlices`. */
const SERIALIZE_SLICE_POSTINGS = 32_768
/** Terms or documents loaded between two pauses by `deserialize` with a `pause`. */
const LOAD_SLICE_ITEMS = 32_768
/**
 * Terms put into the dictionary between two pauses by `deserialize` (the whole dictionary of a
 * 30,000-document shard took 26–42 ms of CPU in one turn).
 */
const DICTIONARY_SLICE_TERMS = 8_192
/** Bytes of encoded postings copied into linear memory between two pauses by `deserialize`. */
const ARENA_SLICE_BYTES = 1 << 20
const CURSOR_BYTES = 64
const MAX_ID = 0xffffffff
const WORD_CACHE_SIZE = 500_000
/** A document analysed by `Bm25Index.prepare`, to be added to the same index. */
export interface PreparedDocument {
  readonly index: Bm25Index
  /** Distinct term ids, in order of first occurrence. */
  readonly terms: Uint32Array
  /** Per term, its frequency in each field (F per term, capped at 255). */
  readonly tfs: Uint8Array
  /** Per field, the number of indexed words. */
  readonly lengths: Uint32Array
}

/** A plain array of `values` (faster than `Array.from` on a typed array). */
function numbers(values: ArrayLike<number>): number[] {
  const out = new Array<number>(values.length)
  for (let i = 0; i < values.length; i++) out[i] = values[i]!
  return out
}

/** What a staged batch changes when it is published (see `Bm25Index.stage`). */
interface Staging {
  /** The internal number of the batch's first document: every later one is staged. */
  firstInternal: number
  /** Terms the batch touches, each once. */
  terms: number[]
  /** Per field, the change of the total length. */
  lengths: number[]
  /** Internal numbers of the published documents the batch replaces. */
  replaced: number[]
  /**
   * Internal numbers of their staged replacements (parallel to `replaced`): until the batch is
   * published an external id keeps naming the published document (filters map ids through it).
   */
  replacements: number[]
  /** External ids of the replacements, to refuse staging one twice. */
  replacedIds: Set<number>
  /** Documents the batch adds (replacements included). */
  added: number
}

/** What `publish` did: the size of the one synchronous step that makes a batch visible. */
export interface PublishedBatch {
  /** Documents made visible. */
  documents: number
  /** Distinct terms whose postings or document frequency changed. */
  termsTouched: number
  /** Published documents the batch replaced (each a flag and a list entry). */
  replaced: number
}

/** The postings of a loaded index, held as loaded (see `#postDocs`). */
interface HeldPostings {
  /** Internal documents when loaded (the held postings name only these). */
  docCount: number
  offsets: Uint32Array
  docs: Uint32Array
  tfs: Uint8Array
  termStarts?: Uint32Array
  docTerms?: Uint32Array
}

const EMPTY_DOCS = new Uint32Array(0)
const EMPTY_TFS = new Uint8Array(0)
/** Removed documents are compacted away once they pass an eighth of the live ones (and this many). */
const COMPACT_MIN_REMOVED = 64
const COMPACT_SHARE = 8

/**
 * A BM25F full-text index over documents with u32 ids. Analysis and the term dictionary live in
 * TypeScript; postings are block-compressed into WebAssembly memory, where Block-Max WAND
 * returns the exact top-k. Writes apply at once; a search encodes what they changed of the terms
 * it reads (see #encodeTerm: appended postings are encoded alone, not the whole list again).
 */
export class Bm25Index {
  readonly analyzer: Analyzer
  readonly fieldNames: readonly string[]
  readonly k1: number
  readonly b: number
  readonly delta: number
  readonly #boosts: number[]
  readonly #fieldIndex: Map<string, number>
  readonly #onDuplicate: 'replace' | 'error'
  readonly #maxExpansions: number
  readonly #prefixWeight: number
  #wasm: Bm25Exports
  readonly #dictionary = new TermDictionary()
  readonly #wordCache = new Map<string, number>()
  // Per term id: postings (internal doc numbers ascending, tfs F per posting), live doc frequency.
  // Typed arrays with spare capacity; #postCount says how many postings are used.
  // A term loaded from a serialized index has no array of its own until it is first read or
  // changed (undefined here): its postings are a range of #held, made a view on demand, so
  // loading allocates no per-term objects.
  #postDocs: Array<Uint32Array | undefined> = []
  #postTfs: Array<Uint8Array | undefined> = []
  #held: HeldPostings | undefined
  #postCount: number[] = []
  #df: number[] = []
  // Per internal doc: external id, live flag, field lengths (F each), distinct term ids.
  #ext: number[] = []
  #live: number[] = []
  #lens: number[] = []
  // Undefined for a removed document, and for a loaded one not yet read (see #termsOf).
  #docTerms: Array<Uint32Array | undefined> = []
  readonly #internalOf = new Map<number, number>()
  #liveCount = 0
  #fieldTotals: number[]
  // Encoded postings in linear memory: per term its offset, the bytes used and reserved there
  // (a term that grows gets room to grow in place), its block-table entries, the postings
  // encoded, and the arena's extent.
  #encodedAt: number[] = []
  #encodedBytes: number[] = []
  #encodedCap: number[] = []
  #encodedTable: number[] = []
  #encodedCount: number[] = []
  // Per term, F average field lengths its block bounds were computed with.
  #encodedAvg: number[] = []
  #arenaEnd = ARENA_START
  #garbageBytes = 0
  // Terms whose postings changed since they were last encoded: a flag per term and their list.
  // The list may hold terms encoded since (a search encodes only its own terms); #dirtyCount
  // counts the flagged ones.
  #dirtyFlag = new Uint8Array(1024)
  #dirtyTerms: number[] = []
  #dirtyCount = 0
  #views: { buffer: ArrayBuffer; bytes: Uint8Array; view: DataView } | undefined
  #docsDirty = true
  #docsRegion = { ext: 0, lens: 0, live: 0, end: 0 }
  // Scratch for counting term frequencies of one document.
  #stamp: Int32Array = new Int32Array(1024).fill(-1)
  #prepareStamp = 0
  // Per term, postings prepared but not added yet: `prepare` grows the posting arrays for them
  // ahead (capacity only, nothing a search reads), so `addPrepared` mostly just writes.
  #pendingPostings: number[] = []
  // A batch being staged (see `stage`): per term the postings written past #postCount and the
  // change of its document frequency, both published at once by `publish`.
  #staging: Staging | undefined
  #stagedCount: number[] = []
  #stagedDf: number[] = []
  #stagedMark: number[] = []
  #tfScratch: Uint16Array = new Uint16Array(1024 * 8)
  // `serializeInSlices` calls under way: they read the postings in place, so compaction (which
  // moves postings in place) waits until none is.
  #serializing = 0

  private constructor(options: Bm25IndexOptions, wasm: Bm25Exports) {
    const names = Object.keys(options.fields ?? {})
    if (names.length === 0 || names.length > MAX_FIELDS) {
      throw new Bm25ConfigError(`an index needs 1 to ${MAX_FIELDS} fields, got ${names.length}`)
    }
    this.#boosts = names.map((name) => {
      const boost = options.fields[name]?.boost ?? 1
      if (!Number.isFinite(boost) || boost <= 0) throw new Bm25ConfigError(`field ${name}: boost must be > 0`)
      return boost
    })
    this.k1 = options.k1 ?? 1.2
    this.b = options.b ?? 0.75
    if (!Number.isFinite(this.k1) || this.k1 < 0) throw new Bm25ConfigError('k1 must be a number >= 0')
    if (!Number.isFinite(this.b) || this.b < 0 || this.b > 1) throw new Bm25ConfigError('b must be in [0, 1]')
    this.delta = options.delta ?? 0
    if (!Number.isFinite(this.delta) || this.delta < 0)
      throw new Bm25ConfigError('delta must be a number >= 0')
    this.#onDuplicate = options.onDuplicate ?? 'replace'
    if (this.#onDuplicate !== 'replace' && this.#onDuplicate !== 'error') {
      throw new Bm25ConfigError(`onDuplicate must be 'replace' or 'error'`)
    }
    this.#maxExpansions = options.maxExpansions ?? 10
    if (!Number.isInteger(this.#maxExpansions) || this.#maxExpansions < 0) {
      throw new Bm25ConfigError('maxExpansions must be an integer >= 0')
    }
    this.#prefixWeight = options.prefixWeight ?? PREFIX_WEIGHT
    if (!(this.#prefixWeight >= 0 && this.#prefixWeight <= 1))
      throw new Bm25ConfigError('prefixWeight must be in [0, 1]')
    this.analyzer = options.analyzer ?? createAnalyzer()
    this.fieldNames = Object.freeze(names)
    this.#fieldIndex = new Map(names.map((name, i) => [name, i]))
    this.#fieldTotals = names.map(() => 0)
    this.#wasm = wasm
  }

  /** A new empty index. Throws Bm25ConfigError on a bad configuration. */
  static async create(options: Bm25IndexOptions): Promise<Bm25Index> {
    return new Bm25Index(options, await instantiate())
  }

  /**
   * An index from `serialize()` bytes. Throws Bm25CorruptionError on damaged bytes. With
   * `options.pause`, the checksum is worked out a MiB at a time, `pause` awaited between slices.
   */
  static async deserialize(
    bytes: Uint8Array,
    analyzer?: Analyzer,
    options: { pause?: () => Promise<void> } = {},
  ): Promise<Bm25Index> {
    if (bytes instanceof Uint8Array && bytes.length >= 16) {
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      if (view.getUint32(0, true) === 0x4d424853 && HELD_VERSIONS.includes(view.getUint32(4, true))) {
        // With `pause`, the checksum (a pass over every byte) is worked out a MiB at a time, and
        // the checks and loading of the columns pause between slices too.
        const { pause } = options
        if (pause === undefined) return Bm25Index.#deserializeHeld(runSteps(decodeHeldSteps(bytes)), analyzer)
        await checkHeldInSlices(bytes, pause)
        const image = await runStepsWithPauses(decodeHeldSteps(bytes, true), pause)
        return Bm25Index.#deserializeHeld(image, analyzer, pause)
      }
    }
    const image = decodeIndex(bytes)
    const fields: Record<string, FieldOptions> = {}
    image.fields.forEach((name, i) => {
      fields[name] = { boost: image.boosts[i]! }
    })
    const index = new Bm25Index(
      {
        fields,
        k1: image.k1,
        b: image.b,
        delta: image.delta,
        analyzer: analyzer ?? createAnalyzer(image.analyzer),
      },
      await instantiate(),
    )
    index.#load(image)
    return index
  }

  static async #deserializeHeld(
    image: HeldImage,
    analyzer?: Analyzer,
    pause?: () => Promise<void>,
  ): Promise<Bm25Index> {
    const { header } = image
    const fields: Record<string, FieldOptions> = {}
    header.fields.forEach((name, i) => {
      fields[name] = { boost: header.boosts[i]! }
    })
    const index = new Bm25Index(
      {
        fields,
        k1: header.k1,
        b: header.b,
        delta: header.delta,
        analyzer: analyzer ?? createAnalyzer(header.analyzer as Parameters<typeof createAnalyzer>[0]),
      },
      await instantiate(),
    )
    const steps = index.#loadHeld(image)
    if (pause === undefined) runSteps(steps)
    else await runStepsWithPauses(steps, pause)
    return index
  }

  /** Number of live documents. */
  get size(): number {
    return this.#liveCount
  }

  has(id: number): boolean {
    return this.#internalOf.has(id)
  }

  /**
   * Calls `visit` with the id of every live document holding the index term `term` (analysed, as
   * `queryCandidates` names terms), in no particular order; never for an unknown term. It reads
   * the term's postings only: which documents hold a word, without reading their text.
   */
  forEachDocumentWith(term: string, visit: (id: number) => void): void {
    const t = this.#dictionary.id(term)
    if (t === undefined) return
    const count = this.#postCount[t]!
    if (count === 0) return
    const docs = this.#docsOf(t)
    const live = this.#live
    const ext = this.#ext
    for (let i = 0; i < count; i++) {
      const d = docs[i]!
      if (live[d] === 1) visit(ext[d]!)
    }
  }

  /**
   * Indexes `doc` under `id` (an integer in [0, 2^32)). Fields must be configured ones holding a
   * string or an array of strings. An existing id is replaced (or rejected, see `onDuplicate`).
   * Throws Bm25InputError and leaves the index unchanged on bad input.
   */
  add(id: number, doc: DocumentFields): void {
    checkId(id)
    this.addPrepared(id, this.prepare(doc))
  }

  /**
   * Analyses `doc` for a later `addPrepared` on this index: its words, term ids, per-field term
   * frequencies and lengths. The index's documents and scores do not change (new terms enter the
   * dictionary with no postings), so the work can be done ahead, outside the moment the document
   * must become visible. Throws Bm25InputError on bad input.
   */
  prepare(doc: DocumentFields): PreparedDocument {
    const texts = this.#checkDocument(doc)
    const F = this.fieldNames.length
    if (this.#prepareStamp === 0x7fffffff) {
      this.#stamp.fill(-1)
      this.#prepareStamp = 0
    }
    const stamp = ++this.#prepareStamp
    const terms: number[] = []
    const lengths = new Uint32Array(F)
    for (let f = 0; f < F; f++) {
      let length = 0
      for (const text of texts[f]!) {
        for (const word of this.analyzer.words(text)) {
          const termId = this.#termOfWord(word)
          if (termId < 0) continue
          if (this.#stamp[termId] !== stamp) {
            this.#stamp[termId] = stamp
            terms.push(termId)
            for (let g = 0; g < F; g++) this.#tfScratch[termId * MAX_FIELDS + g] = 0
          }
          const slot = termId * MAX_FIELDS + f
          if (this.#tfScratch[slot]! < MAX_TF) this.#tfScratch[slot]!++
          length++
        }
      }
      lengths[f] = length
    }
    const tfs = new Uint8Array(terms.length * F)
    terms.forEach((termId, i) => {
      for (let f = 0; f < F; f++) tfs[i * F + f] = this.#tfScratch[termId * MAX_FIELDS + f]!
    })
    for (const termId of terms) this.#reservePosting(termId)
    return { index: this, terms: Uint32Array.from(terms), tfs, lengths }
  }

  /**
   * Indexes a document `prepare` analysed, under `id`: as `add(id, doc)` would, without analysing
   * again. Throws Bm25InputError for a document prepared by another index.
   */
  addPrepared(id: number, prepared: PreparedDocument): void {
    checkId(id)
    if (prepared.index !== this) throw new Bm25InputError('the document was prepared by another index')
    this.#refuseWhileStaging()
    if (this.#internalOf.has(id)) {
      if (this.#onDuplicate === 'error') throw new Bm25DuplicateIdError(id)
      this.remove(id)
    }
    this.#maybeCompact()
    const F = this.fieldNames.length
    const internal = this.#ext.length
    const { terms, tfs: counts, lengths } = prepared
    for (let f = 0; f < F; f++) {
      this.#lens.push(lengths[f]!)
      this.#fieldTotals[f]! += lengths[f]!
    }
    for (let i = 0; i < terms.length; i++) {
      const termId = terms[i]!
      const n = this.#postCount[termId]!
      if (n === this.#docsOf(termId).length) this.#growPostings(termId, n * 2 + 2)
      if (this.#pendingPostings[termId]! > 0) this.#pendingPostings[termId]!--
      this.#docsOf(termId)[n] = internal
      const tfs = this.#tfsOf(termId)
      for (let f = 0; f < F; f++) tfs[n * F + f] = counts[i * F + f]!
      this.#postCount[termId] = n + 1
      this.#df[termId]!++
      this.#markDirty(termId)
    }
    this.#ext.push(id)
    this.#live.push(1)
    this.#docTerms.push(terms)
    this.#internalOf.set(id, internal)
    this.#liveCount++
    this.#docsDirty = true
  }

  /** Removes document `id`; returns false when it was not indexed. Takes effect at once. */
  remove(id: number): boolean {
    this.#refuseWhileStaging()
    const internal = this.#internalOf.get(id)
    if (internal === undefined) return false
    const F = this.fieldNames.length
    this.#internalOf.delete(id)
    this.#live[internal] = 0
    for (const termId of this.#termsOf(internal)) this.#df[termId]!--
    this.#docTerms[internal] = undefined
    for (let f = 0; f < F; f++) this.#fieldTotals[f]! -= this.#lens[internal * F + f]!
    this.#liveCount--
    this.#docsDirty = true
    return true
  }

  /**
   * Adds a document `prepare` analysed under `id` invisibly: its postings are written past each
   * term's published count, and no search, statistic or `serialize` sees it (or the removal of the
   * document it replaces) until `publish`. The work per document is the same as `addPrepared`'s,
   * so a large batch can be staged in slices between searches. While a batch is staged, `add`,
   * `addPrepared` and `remove` are refused (Bm25InputError) and compaction waits, except the one
   * `serialize` runs, which keeps the staged batch. An id may be staged once per batch.
   */
  stage(id: number, prepared: PreparedDocument): void {
    checkId(id)
    if (prepared.index !== this) throw new Bm25InputError('the document was prepared by another index')
    // Compaction waits while a batch is staged, so a batch's first document runs the one due.
    if (this.#staging === undefined) this.#maybeCompact()
    const staging = this.#staging ?? {
      firstInternal: this.#ext.length,
      terms: [],
      lengths: this.fieldNames.map(() => 0),
      replaced: [],
      replacements: [],
      replacedIds: new Set<number>(),
      added: 0,
    }
    this.#staging = staging
    const F = this.fieldNames.length
    const old = this.#internalOf.get(id)
    if ((old !== undefined && old >= staging.firstInternal) || staging.replacedIds.has(id)) {
      throw new Bm25InputError(`document ${id} is already staged in this batch`)
    }
    if (old !== undefined) {
      if (this.#onDuplicate === 'error') throw new Bm25DuplicateIdError(id)
      staging.replaced.push(old)
      staging.replacements.push(this.#ext.length)
      staging.replacedIds.add(id)
      for (const termId of this.#termsOf(old)) {
        this.#touchStaged(staging, termId)
        this.#stagedDf[termId]!--
      }
      for (let f = 0; f < F; f++) staging.lengths[f]! -= this.#lens[old * F + f]!
    }
    const internal = this.#ext.length
    const { terms, tfs: counts, lengths } = prepared
    for (let f = 0; f < F; f++) {
      this.#lens.push(lengths[f]!)
      staging.lengths[f]! += lengths[f]!
    }
    for (let i = 0; i < terms.length; i++) {
      const termId = terms[i]!
      const n = this.#postCount[termId]! + this.#stagedCount[termId]!
      if (n === this.#docsOf(termId).length) this.#growPostings(termId, n * 2 + 2)
      if (this.#pendingPostings[termId]! > 0) this.#pendingPostings[termId]!--
      this.#docsOf(termId)[n] = internal
      const tfs = this.#tfsOf(termId)
      for (let f = 0; f < F; f++) tfs[n * F + f] = counts[i * F + f]!
      this.#touchStaged(staging, termId)
      this.#stagedCount[termId]!++
      this.#stagedDf[termId]!++
    }
    // No published posting names `internal`, so its live flag is unread until the batch is.
    this.#ext.push(id)
    this.#live.push(1)
    this.#docTerms.push(terms)
    if (old === undefined) this.#internalOf.set(id, internal)
    staging.added++
  }

  /** Whether a batch is staged and not yet published. */
  get staging(): boolean {
    return this.#staging !== undefined
  }

  /**
   * Makes the staged batch visible at once: per touched term its count and document frequency,
   * per field its total length, per replaced document its live flag. No document is analysed or
   * written here, so the step is proportional to the terms the batch touches (and the documents
   * it replaces), not to the documents it adds.
   */
  publish(): PublishedBatch {
    const staging = this.#staging
    if (staging === undefined) return { documents: 0, termsTouched: 0, replaced: 0 }
    for (const termId of staging.terms) {
      const count = this.#stagedCount[termId]!
      this.#postCount[termId]! += count
      this.#df[termId]! += this.#stagedDf[termId]!
      if (count > 0) this.#markDirty(termId)
      this.#stagedCount[termId] = 0
      this.#stagedDf[termId] = 0
      this.#stagedMark[termId] = 0
    }
    this.fieldNames.forEach((_, f) => {
      this.#fieldTotals[f]! += staging.lengths[f]!
    })
    staging.replaced.forEach((old, i) => {
      const replacement = staging.replacements[i]!
      this.#live[old] = 0
      this.#docTerms[old] = undefined
      this.#internalOf.set(this.#ext[replacement]!, replacement)
    })
    this.#liveCount += staging.added - staging.replaced.length
    this.#docsDirty = true
    this.#staging = undefined
    return { documents: staging.added, termsTouched: staging.terms.length, replaced: staging.replaced.length }
  }

  /**
   * Drops the staged batch as if it had never been staged (none of it was visible): for a batch
   * whose staging failed part way. A step over the terms and documents staged so far.
   */
  discard(): void {
    const staging = this.#staging
    if (staging === undefined) return
    for (const termId of staging.terms) {
      this.#stagedCount[termId] = 0
      this.#stagedDf[termId] = 0
      this.#stagedMark[termId] = 0
    }
    const first = staging.firstInternal
    for (let d = first; d < this.#ext.length; d++) {
      const id = this.#ext[d]!
      if (this.#internalOf.get(id) === d) this.#internalOf.delete(id)
    }
    this.#ext.length = first
    this.#lens.length = first * this.fieldNames.length
    this.#live.length = first
    this.#docTerms.length = first
    this.#staging = undefined
  }

  #touchStaged(staging: Staging, termId: number): void {
    if (this.#stagedMark[termId] === 1) return
    this.#stagedMark[termId] = 1
    staging.terms.push(termId)
  }

  #refuseWhileStaging(): void {
    if (this.#staging !== undefined) {
      throw new Bm25InputError('a batch is staged: publish it before adding or removing documents')
    }
  }

  /** Internal documents a search or `serialize` may name (the staged ones come after them). */
  get #publishedDocs(): number {
    return this.#staging?.firstInternal ?? this.#ext.length
  }

  /**
   * Statistics of this index for distributed IDF: document count, field lengths and the
   * document frequency of `terms` (analysed index terms, e.g. from `expandQuery`), or of every
   * term when omitted.
   */
  stats(terms?: readonly string[]): CollectionStats {
    const fieldLengths: Record<string, number> = {}
    this.fieldNames.forEach((name, f) => {
      fieldLengths[name] = this.#fieldTotals[f]!
    })
    const docFrequencies: Record<string, number> = {}
    if (terms === undefined) {
      this.#dictionary.forEach((term, id) => {
        if (this.#df[id]! > 0) docFrequencies[term] = this.#df[id]!
      })
    } else {
      for (const term of terms) {
        const id = this.#dictionary.id(term)
        docFrequencies[term] = id === undefined ? 0 : this.#df[id]!
      }
    }
    return { docCount: this.#liveCount, fieldLengths, docFrequencies }
  }

  /** The weighted index terms `search(query, k, options)` would look up in this index. */
  expandQuery(query: string, options: Pick<SearchOptions, 'prefix' | 'typos'> = {}): ExpandedTerm[] {
    return this.chooseTerms(this.queryCandidates(query, options))
  }

  /**
   * Every term of this index's dictionary `query` can reach (its words, the last word's
   * completions, typo variants), each held by a live document, before the expansion limits
   * choose among them. Shards of one collection send theirs to a coordinator, which merges them
   * (`mergeQueryCandidates`) with their statistics (`stats(candidateTerms(merged))`), so every
   * shard then searches the terms the whole collection's dictionary yields (`chooseTerms`).
   */
  queryCandidates(query: string, options: Pick<SearchOptions, 'prefix' | 'typos'> = {}): QueryCandidates {
    if (typeof query !== 'string') throw new Bm25InputError('query must be a string')
    return collectCandidates(query, this.analyzer, this.#dictionary, (id) => this.#df[id] ?? 0, {
      prefix: options.prefix ?? true,
      typos: checkTypos(options.typos),
    })
  }

  /**
   * `mergeQueryCandidates` of every index's `queryCandidates(query, options)`, the typo variants
   * found in one walk over all their dictionaries: for the shards of one collection held in one
   * process, whose separate walks would each repeat the dense top of the dictionary's trie.
   */
  static queryCandidatesAcross(
    indexes: readonly Bm25Index[],
    query: string,
    options: Pick<SearchOptions, 'prefix' | 'typos'> = {},
  ): QueryCandidates {
    if (typeof query !== 'string') throw new Bm25InputError('query must be a string')
    const parts = indexes.map((index) => {
      const df = index.#df
      return {
        analyzer: index.analyzer,
        dictionary: index.#dictionary,
        docFrequency: (id: number) => df[id] ?? 0,
      }
    })
    return collectCandidatesAcross(query, parts, {
      prefix: options.prefix ?? true,
      typos: checkTypos(options.typos),
    })
  }

  /**
   * The weighted terms chosen from `candidates` under this index's `maxExpansions` and
   * `prefixWeight`, by the document frequencies of `stats` (collection-wide) or of this index.
   */
  chooseTerms(candidates: QueryCandidates, stats?: CollectionStats): ExpandedTerm[] {
    const df = (term: string): number => {
      const global = stats?.docFrequencies[term]
      if (global !== undefined) return global
      const id = this.#dictionary.id(term)
      return id === undefined ? 0 : this.#df[id]!
    }
    return chooseQueryTerms(candidates, df, {
      maxExpansions: this.#maxExpansions,
      prefixWeight: this.#prefixWeight,
    })
  }

  /**
   * The `k` best documents for `query` by BM25F: score = Σ_terms weight · idf · x(k1+1)/(x+k1)
   * with x = Σ_fields boost · tf / (1 − b + b · len / avgLen). Exact top-k (no approximation).
   */
  search(query: string, k: number, options: SearchOptions = {}): SearchResult {
    if (!Number.isInteger(k) || k <= 0) throw new Bm25InputError(`k must be a positive integer, got ${k}`)
    if (options.filter !== undefined && !(options.filter instanceof Uint32Array)) {
      if (typeof options.filter !== 'function')
        throw new Bm25InputError('filter must be a Uint32Array or function')
    }
    const terms = this.expandQuery(query, options)
    return this.searchTerms(terms, k, options)
  }

  /** Scores exactly the given weighted terms (as from `expandQuery`); `search` without analysis. */
  searchTerms(
    terms: readonly ExpandedTerm[],
    k: number,
    options: Pick<SearchOptions, 'filter' | 'stats'> = {},
  ): SearchResult {
    if (!Number.isInteger(k) || k <= 0) throw new Bm25InputError(`k must be a positive integer, got ${k}`)
    const stats = options.stats
    const docCount = stats?.docCount ?? this.#liveCount
    const df = (term: string): number => {
      const local = this.#dictionary.id(term)
      return stats?.docFrequencies[term] ?? (local === undefined ? 0 : this.#df[local]!)
    }
    const active: Array<{ id: number; weight: number }> = []
    for (const t of terms) {
      const id = this.#dictionary.id(t.term)
      if (id === undefined || this.#postCount[id]! === 0) continue
      let termIdf = idf(docCount, df(t.term))
      if (t.idfCap !== undefined) termIdf = Math.min(termIdf, idf(docCount, df(t.idfCap)))
      if (termIdf > 0 && t.weight > 0) active.push({ id, weight: t.weight * termIdf })
    }
    if (active.length === 0 || this.#liveCount === 0)
      return { ids: new Uint32Array(0), scores: new Float32Array(0) }
    this.#sync(active.map((term) => term.id))
    return this.#run(active, Math.min(k, this.#liveCount), docCount, stats, options.filter)
  }

  /**
   * How document `id` scores for `query`: every matched term with its idf, field frequencies,
   * lengths and contribution, the constants, and the formula. `score` equals what `search`
   * returns for the document (before rounding to f32); undefined when `id` is not indexed.
   */
  explain(query: string, id: number, options: Omit<SearchOptions, 'filter'> = {}): Explanation | undefined {
    const internal = this.#internalOf.get(id)
    if (internal === undefined) return undefined
    const F = this.fieldNames.length
    const stats = options.stats
    const docCount = stats?.docCount ?? this.#liveCount
    const avgLens = this.fieldNames.map((name, f) => {
      const total = stats?.fieldLengths[name] ?? this.#fieldTotals[f]!
      return docCount > 0 ? total / docCount : 0
    })
    const df = (term: string): number => {
      const local = this.#dictionary.id(term)
      return stats?.docFrequencies[term] ?? (local === undefined ? 0 : this.#df[local]!)
    }
    const terms: ExplainedTerm[] = []
    let score = 0
    for (const t of this.expandQuery(query, options)) {
      const termId = this.#dictionary.id(t.term)
      if (termId === undefined) continue
      const at = binarySearch(this.#docsOf(termId), this.#postCount[termId]!, internal)
      if (at < 0) continue
      let termIdf = idf(docCount, df(t.term))
      if (t.idfCap !== undefined) termIdf = Math.min(termIdf, idf(docCount, df(t.idfCap)))
      let x = 0
      const fields = this.fieldNames.map((field, f) => {
        const tf = this.#tfsOf(termId)[at * F + f]!
        const length = this.#lens[internal * F + f]!
        const avg = avgLens[f]!
        const norm = avg > 0 ? 1 - this.b + (this.b * length) / avg : 1
        if (tf > 0) x += (this.#boosts[f]! * tf) / norm
        return { field, tf, length, avgLength: avg, boost: this.#boosts[f]! }
      })
      const tfFactor = (x * (this.k1 + 1)) / (x + this.k1) + this.delta
      const contribution = t.weight * termIdf * tfFactor
      score += contribution
      terms.push({
        term: t.term,
        kind: t.kind,
        weight: t.weight,
        idf: termIdf,
        fields,
        x,
        tfFactor,
        contribution,
      })
    }
    return {
      id,
      score,
      formula:
        'score = Σ_t weight·idf·(x(k1+1)/(x+k1) + delta), x = Σ_f boost·tf/(1 − b + b·len/avgLen), idf = ln(1 + (N − df + 0.5)/(df + 0.5))',
      k1: this.k1,
      b: this.b,
      delta: this.delta,
      docCount,
      terms,
    }
  }

  /** Encodes pending writes into WASM memory now, instead of at the next search (e.g. after a bulk load). */
  flush(): void {
    this.#sync()
  }

  /** Sizes of what the index holds now. */
  memoryStats(): Bm25MemoryStats {
    let postings = 0
    let postingBytes = 0
    for (let t = 0; t < this.#postCount.length; t++) {
      postings += this.#postCount[t]!
      const docs = this.#postDocs[t]
      postingBytes +=
        docs === undefined
          ? this.#postCount[t]! * (4 + this.fieldNames.length)
          : docs.byteLength + this.#postTfs[t]!.byteLength
    }
    return {
      documents: this.#liveCount,
      removedDocuments: this.#publishedDocs - this.#liveCount,
      terms: this.#dictionary.size,
      postings,
      postingBytes,
      encodedBytes: this.#arenaEnd - ARENA_START,
      wasmBytes: this.#wasm.memory.buffer.byteLength,
    }
  }

  /**
   * Rebuilds postings without removed documents, returning their space. Runs by itself when
   * removed documents pass an eighth of the live ones (at the next `add` or search).
   */
  compact(): void {
    if (this.#serializing > 0) {
      throw new Bm25InputError('cannot compact while serializeInSlices is under way')
    }
    const F = this.fieldNames.length
    const renumber = new Int32Array(this.#ext.length).fill(-1)
    const ext: number[] = []
    const lens: number[] = []
    const docTerms: Array<Uint32Array | undefined> = []
    for (let d = 0; d < this.#ext.length; d++) {
      if (this.#live[d] !== 1) continue
      renumber[d] = ext.length
      this.#internalOf.set(this.#ext[d]!, ext.length)
      ext.push(this.#ext[d]!)
      docTerms.push(this.#termsOf(d))
      for (let f = 0; f < F; f++) lens.push(this.#lens[d * F + f]!)
    }
    for (let t = 0; t < this.#postDocs.length; t++) {
      const docs = this.#docsOf(t)
      const tfs = this.#tfsOf(t)
      let kept = 0
      const published = this.#postCount[t]!
      // In place: the kept postings move towards the front, in order. Staged postings (past the
      // published count) name live documents only, so they all move along behind.
      for (let i = 0; i < published + this.#stagedCount[t]!; i++) {
        if (i === published) this.#postCount[t] = kept
        const to = renumber[docs[i]!]!
        if (to < 0) continue
        docs[kept] = to
        for (let f = 0; f < F; f++) tfs[kept * F + f] = tfs[i * F + f]!
        kept++
      }
      if (this.#stagedCount[t] === 0) this.#postCount[t] = kept
      kept = this.#postCount[t]! + this.#stagedCount[t]!
      // Spare capacity beyond a half is given back: between two compactions a list grows by
      // about an eighth (the removed documents' postings it still holds), so under steady
      // replacement the lists stay near their live size instead of at their high-water mark.
      const capacity = kept === 0 ? 0 : kept + (kept >> 1) + 2
      if (docs.length > capacity) {
        this.#postDocs[t] = kept === 0 ? EMPTY_DOCS : docs.slice(0, capacity)
        this.#postTfs[t] = kept === 0 ? EMPTY_TFS : tfs.slice(0, capacity * F)
      }
    }
    const staging = this.#staging
    if (staging !== undefined) {
      staging.firstInternal = renumber[staging.firstInternal] ?? ext.length
      staging.replaced = staging.replaced.map((old) => renumber[old]!)
      staging.replacements = staging.replacements.map((internal) => renumber[internal]!)
      // The loop above named each replaced id's staged replacement; it names the published one.
      for (const old of staging.replaced) this.#internalOf.set(ext[old]!, old)
    }
    this.#ext = ext
    this.#lens = lens
    this.#live = ext.map(() => 1)
    this.#docTerms = docTerms
    this.#held = undefined
    this.#stamp.fill(-1)
    this.#reencodeAll()
  }

  /**
   * The index as bytes, as it is held (format in internal/held-format.ts): postings, documents
   * and the encoded postings of linear memory, so that `deserialize` copies instead of
   * rebuilding. Removed documents are compacted away and every term is encoded afresh first, so
   * the bytes depend on the contents alone.
   */
  serialize(): Uint8Array {
    if (this.#serializing > 0) {
      // A `serializeInSlices` is reading the postings in place: no compaction, the same path whole.
      const view = this.#takeView()
      return encodeHeld({ ...view.head, ...runSteps(view.postings) })
    }
    if (this.#liveCount < this.#publishedDocs) this.compact()
    this.#reencodeAll()
    // Padding inside the encodings is not written: clear what earlier encodings left there.
    new Uint8Array(this.#wasm.memory.buffer, ARENA_START).fill(0)
    this.#sync()
    const F = this.fieldNames.length
    const T = this.#postDocs.length
    const postOffsets = new Uint32Array(T + 1)
    for (let t = 0; t < T; t++) postOffsets[t + 1] = postOffsets[t]! + this.#postCount[t]!
    const postDocs = new Uint32Array(postOffsets[T]!)
    const postTfs = new Uint8Array(postOffsets[T]! * F)
    const terms: string[] = new Array(T)
    for (let t = 0; t < T; t++) {
      const count = this.#postCount[t]!
      terms[t] = this.#dictionary.term(t)
      const docs = this.#postDocs[t]
      if (docs === undefined) {
        // Still held as loaded: copy its range without making the views.
        const from = this.#held!.offsets[t]!
        postDocs.set(this.#held!.docs.subarray(from, from + count), postOffsets[t]!)
        postTfs.set(this.#held!.tfs.subarray(from * F, (from + count) * F), postOffsets[t]! * F)
        continue
      }
      postDocs.set(docs.subarray(0, count), postOffsets[t]!)
      postTfs.set(this.#postTfs[t]!.subarray(0, count * F), postOffsets[t]! * F)
    }
    return encodeHeld({
      header: {
        fields: [...this.fieldNames],
        boosts: this.#boosts,
        k1: this.k1,
        b: this.b,
        delta: this.delta,
        analyzer: { locale: this.analyzer.locale, stemming: this.analyzer.stemming },
      },
      ext: Uint32Array.from(this.#ext.slice(0, this.#publishedDocs)),
      lens: Uint32Array.from(this.#lens.slice(0, this.#publishedDocs * F)),
      terms,
      postOffsets,
      postDocs,
      postTfs,
      encodedAt: Uint32Array.from(this.#encodedAt),
      encodedBytes: Uint32Array.from(this.#encodedBytes),
      encodedAvg: Float64Array.from(this.#encodedAvg),
      arena: new Uint8Array(this.#wasm.memory.buffer, ARENA_START, this.#arenaEnd - ARENA_START),
      sortedTerms: this.#dictionary.sortedIds(),
    })
  }

  /**
   * `serialize()`'s bytes, worked out with `pause` awaited between slices (about
   * `SERIALIZE_SLICE_POSTINGS` postings encoded, or a MiB copied or checksummed), so a large
   * index does not hold the event loop for the whole encoding. The bytes are those `serialize()`
   * returns when this is called: the contents are taken then, and documents added, published or
   * removed meanwhile are not in them. Searches may run between slices (this encodes into memory
   * of its own, not the index's); compaction waits until this settles (`compact()` meanwhile
   * throws Bm25InputError; `serialize()` meanwhile takes the same path, run whole).
   */
  async serializeInSlices(pause: () => Promise<void>): Promise<Uint8Array> {
    const view = this.#takeView()
    this.#serializing++
    try {
      const postings = await runStepsWithPauses(view.postings, pause)
      await pause()
      return await encodeHeldInSlices({ ...view.head, ...postings }, pause)
    } finally {
      this.#serializing--
    }
  }

  /**
   * What `serialize()` would write, taken now: the documents, counts and terms copied, and the
   * postings as steps that read the posting arrays later, as compacted (removed documents left
   * out, the rest renumbered as `compact()` would) without compacting. Posting arrays are only
   * appended to past the counts taken here, or replaced by longer copies, while no compaction runs.
   */
  #takeView(): {
    head: Pick<HeldImage, 'header' | 'ext' | 'lens' | 'terms' | 'sortedTerms'>
    postings: Steps<Omit<HeldImage, 'header' | 'ext' | 'lens' | 'terms' | 'sortedTerms'>>
  } {
    const F = this.fieldNames.length
    const T = this.#postDocs.length
    const published = this.#publishedDocs
    // Published documents are the lowest internal numbers: compaction numbers the live ones in order.
    let renumber: Int32Array | undefined
    const ext: number[] = []
    const lens: number[] = []
    if (this.#liveCount < published) renumber = new Int32Array(published).fill(-1)
    for (let d = 0; d < published; d++) {
      if (renumber !== undefined) {
        if (this.#live[d] !== 1) continue
        renumber[d] = ext.length
      }
      ext.push(this.#ext[d]!)
      for (let f = 0; f < F; f++) lens.push(this.#lens[d * F + f]!)
    }
    const lensColumn = Uint32Array.from(lens)
    const avgLens = this.#fieldTotals.map((total) => (this.#liveCount > 0 ? total / this.#liveCount : 0))
    const bound: BoundContext = { boosts: [...this.#boosts], b: this.b, avgLens }
    const terms: string[] = new Array(T)
    for (let t = 0; t < T; t++) terms[t] = this.#dictionary.term(t)
    return {
      head: {
        header: {
          fields: [...this.fieldNames],
          boosts: [...this.#boosts],
          k1: this.k1,
          b: this.b,
          delta: this.delta,
          analyzer: { locale: this.analyzer.locale, stemming: this.analyzer.stemming },
        },
        ext: Uint32Array.from(ext),
        lens: lensColumn,
        terms,
        sortedTerms: this.#dictionary.sortedIds(),
      },
      postings: this.#encodeSteps(Uint32Array.from(this.#postCount), renumber, lensColumn, bound),
    }
  }

  /**
   * Every term's first `counts[t]` postings (renumbered and without removed documents, given
   * `renumber`) copied into columns and freshly encoded, in term order, into an arena of its own
   * laid out as `#reencodeAll` then `#sync` lay out linear memory: the arena, encodings and postings
   * columns `serialize()` writes.
   */
  *#encodeSteps(
    counts: Uint32Array,
    renumber: Int32Array | undefined,
    lens: Uint32Array,
    bound: BoundContext,
  ): Steps<Omit<HeldImage, 'header' | 'ext' | 'lens' | 'terms' | 'sortedTerms'>> {
    const F = this.fieldNames.length
    const T = counts.length
    let upTo = 0
    let room = 0
    for (let t = 0; t < T; t++) {
      upTo += counts[t]!
      if (counts[t]! > 0) room += maxEncodedBytes(counts[t]!, F)
    }
    const postOffsets = new Uint32Array(T + 1)
    const postDocs = new Uint32Array(upTo)
    const postTfs = new Uint8Array(upTo * F)
    const encodedAt = new Uint32Array(T)
    const encodedBytes = new Uint32Array(T)
    const encodedAvg = new Float64Array(T * F)
    // Offset 0 of `arena` stands for ARENA_START of linear memory: encodings hold offsets relative
    // to their own start, so the bytes are the same wherever they are written.
    const arena = new Uint8Array(room)
    const view = new DataView(arena.buffer)
    let end = 0
    let sincePause = 0
    for (let t = 0; t < T; t++) {
      const from = postOffsets[t]!
      postOffsets[t + 1] = from
      if (counts[t] === 0) continue
      if (sincePause >= SERIALIZE_SLICE_POSTINGS) {
        sincePause = 0
        yield
      }
      sincePause += counts[t]!
      const { docs, tfs } = this.#postingsOf(t, counts[t]!)
      let count = docs.length
      if (renumber === undefined) {
        postDocs.set(docs, from)
        postTfs.set(tfs, from * F)
      } else {
        count = 0
        for (let i = 0; i < docs.length; i++) {
          const to = renumber[docs[i]!]!
          if (to < 0) continue
          postDocs[from + count] = to
          for (let f = 0; f < F; f++) postTfs[(from + count) * F + f] = tfs[i * F + f]!
          count++
        }
      }
      postOffsets[t + 1] = from + count
      if (count === 0) continue
      const termDocs = postDocs.subarray(from, from + count)
      const termTfs = postTfs.subarray(from * F, (from + count) * F)
      const next = encodePostings(arena, view, end, termDocs, termTfs, count, lens, F, bound)
      encodedAt[t] = ARENA_START + end
      encodedBytes[t] = next - end
      for (let f = 0; f < F; f++) encodedAvg[t * F + f] = bound.avgLens[f]!
      end = next
    }
    const total = postOffsets[T]!
    return {
      postOffsets,
      postDocs: postDocs.subarray(0, total),
      postTfs: postTfs.subarray(0, total * F),
      encodedAt,
      encodedBytes,
      encodedAvg,
      arena: arena.subarray(0, end),
    }
  }

  /** Term `t`'s first `count` postings, read in place (a held term gets no arrays of its own). */
  #postingsOf(t: number, count: number): { docs: Uint32Array; tfs: Uint8Array } {
    const F = this.fieldNames.length
    const docs = this.#postDocs[t]
    if (docs !== undefined)
      return { docs: docs.subarray(0, count), tfs: this.#postTfs[t]!.subarray(0, count * F) }
    const held = this.#held!
    const from = held.offsets[t]!
    return {
      docs: held.docs.subarray(from, from + count),
      tfs: held.tfs.subarray(from * F, (from + count) * F),
    }
  }

  /** Loads `image` into this new index, yielding between slices (the index is not in use yet). */
  *#loadHeld(image: HeldImage): Steps<void> {
    const F = this.fieldNames.length
    const docCount = image.ext.length
    const T = image.terms.length
    const arenaEnd = ARENA_START + image.arena.length
    yield* this.#dictionary.loadSteps(image.terms, image.sortedTerms, DICTIONARY_SLICE_TERMS)
    if (this.#dictionary.size !== T) throw new Bm25CorruptionError('a term is repeated')
    yield
    const counts = new Array<number>(T)
    for (let t = 0; t < T; t++) {
      if (t > 0 && t % LOAD_SLICE_ITEMS === 0) yield
      const count = image.postOffsets[t + 1]! - image.postOffsets[t]!
      const at = image.encodedAt[t]!
      const bytes = image.encodedBytes[t]!
      if (count > 0 && (at < ARENA_START || at + bytes > arenaEnd || bytes === 0)) {
        throw new Bm25CorruptionError(`encoded postings of term ${t} lie outside the arena`)
      }
      counts[t] = count
    }
    this.#postDocs = new Array(T).fill(undefined)
    this.#postTfs = new Array(T).fill(undefined)
    this.#held = { docCount, offsets: image.postOffsets, docs: image.postDocs, tfs: image.postTfs }
    this.#postCount = counts
    this.#pendingPostings = new Array<number>(T).fill(0)
    this.#stagedCount = new Array<number>(T).fill(0)
    this.#stagedDf = new Array<number>(T).fill(0)
    this.#stagedMark = new Array<number>(T).fill(0)
    this.#df = counts.slice()
    this.#encodedAt = numbers(image.encodedAt)
    this.#encodedBytes = numbers(image.encodedBytes)
    this.#encodedCap = this.#encodedBytes.slice()
    this.#encodedTable = counts.map((count) => Math.ceil(count / BLOCK_SIZE))
    this.#encodedCount = counts.slice()
    this.#encodedAvg = numbers(image.encodedAvg)
    if (T > 0) this.#reserveTerm(T - 1)
    this.#ext = numbers(image.ext)
    this.#lens = numbers(image.lens)
    this.#live = new Array<number>(docCount).fill(1)
    this.#docTerms = new Array(docCount).fill(undefined)
    yield
    for (let d = 0; d < docCount; d++) {
      if (d > 0 && d % LOAD_SLICE_ITEMS === 0) yield
      this.#internalOf.set(image.ext[d]!, d)
      for (let f = 0; f < F; f++) this.#fieldTotals[f]! += image.lens[d * F + f]!
    }
    if (this.#internalOf.size !== docCount) throw new Bm25CorruptionError('an external id is repeated')
    this.#liveCount = docCount
    yield
    ensureMemory(this.#wasm.memory, arenaEnd)
    // A MiB at a time: the first write to fresh linear memory costs a page fault per page, about
    // 60 ms of CPU for a 30,000-document arena in one turn. Nothing else uses this index yet.
    for (let from = 0; from < image.arena.length; from += ARENA_SLICE_BYTES) {
      if (from > 0) yield
      const part = image.arena.subarray(from, from + ARENA_SLICE_BYTES)
      new Uint8Array(this.#wasm.memory.buffer, ARENA_START + from, part.length).set(part)
    }
    this.#arenaEnd = arenaEnd
    this.#garbageBytes = 0
    this.#docsDirty = true
  }

  /** Term `t`'s postings array (a view of the loaded postings until it is first changed). */
  #docsOf(t: number): Uint32Array {
    const docs = this.#postDocs[t]
    if (docs !== undefined) return docs
    const held = this.#held!
    const docsView = held.docs.subarray(held.offsets[t]!, held.offsets[t + 1]!)
    const F = this.fieldNames.length
    this.#postDocs[t] = docsView
    this.#postTfs[t] = held.tfs.subarray(held.offsets[t]! * F, held.offsets[t + 1]! * F)
    return docsView
  }

  #tfsOf(t: number): Uint8Array {
    if (this.#postTfs[t] === undefined) this.#docsOf(t)
    return this.#postTfs[t]!
  }

  /**
   * The distinct term ids of live internal document `d`. For loaded documents they are worked
   * out from the held postings on the first removal (one pass over them, into one array whose
   * ranges are viewed on demand), not when loading.
   */
  #termsOf(d: number): Uint32Array {
    const terms = this.#docTerms[d]
    if (terms !== undefined) return terms
    const held = this.#held!
    if (held.docTerms === undefined || held.termStarts === undefined) {
      const docCount = held.docCount
      const termStarts = new Uint32Array(docCount + 1)
      for (const doc of held.docs) termStarts[doc + 1]!++
      for (let i = 0; i < docCount; i++) termStarts[i + 1]! += termStarts[i]!
      const docTerms = new Uint32Array(held.docs.length)
      const fill = termStarts.slice(0, docCount)
      for (let t = 0; t + 1 < held.offsets.length; t++) {
        for (let i = held.offsets[t]!; i < held.offsets[t + 1]!; i++) docTerms[fill[held.docs[i]!]!++] = t
      }
      held.termStarts = termStarts
      held.docTerms = docTerms
    }
    const view = held.docTerms.subarray(held.termStarts[d]!, held.termStarts[d + 1]!)
    this.#docTerms[d] = view
    return view
  }

  #load(image: IndexImage): void {
    const F = this.fieldNames.length
    const docTerms: number[][] = image.ext.map(() => [])
    image.terms.forEach((term, i) => {
      const id = this.#dictionary.intern(term)
      this.#reserveTerm(id)
      this.#postDocs[id] = image.docs[i]!
      this.#postTfs[id] = image.tfs[i]!
      this.#postCount[id] = image.docs[i]!.length
      this.#df[id] = image.docs[i]!.length
      for (const d of image.docs[i]!) docTerms[d]!.push(id)
    })
    this.#ext = image.ext
    this.#lens = image.lens
    this.#live = image.ext.map(() => 1)
    this.#docTerms = docTerms.map((list) => Uint32Array.from(list))
    image.ext.forEach((id, d) => {
      this.#internalOf.set(id, d)
      for (let f = 0; f < F; f++) this.#fieldTotals[f]! += image.lens[d * F + f]!
    })
    this.#liveCount = image.ext.length
    this.#reencodeAll()
  }

  #checkDocument(doc: DocumentFields): string[][] {
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
      throw new Bm25InputError('a document must be an object of field → string | string[]')
    }
    const texts: string[][] = this.fieldNames.map(() => [])
    for (const [name, value] of Object.entries(doc)) {
      const f = this.#fieldIndex.get(name)
      if (f === undefined) throw new Bm25InputError(`unknown field ${JSON.stringify(name)}`)
      if (typeof value === 'string') texts[f]!.push(value)
      else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) texts[f]!.push(...value)
      else throw new Bm25InputError(`field ${JSON.stringify(name)} must be a string or an array of strings`)
    }
    return texts
  }

  #clearDirty(): void {
    for (const t of this.#dirtyTerms) this.#dirtyFlag[t] = 0
    this.#dirtyTerms = []
    this.#dirtyCount = 0
  }

  #markDirty(termId: number): void {
    if (this.#dirtyFlag[termId] === 1) return
    this.#dirtyFlag[termId] = 1
    this.#dirtyCount++
    this.#dirtyTerms.push(termId)
  }

  // Word → term id (-1 for a stop word), cached: stemming and the dictionary are looked up once per word.
  #termOfWord(word: string): number {
    let termId = this.#wordCache.get(word)
    if (termId === undefined) {
      const term = this.analyzer.term(word)
      termId = term === undefined ? -1 : this.#dictionary.intern(term)
      if (termId >= 0) this.#reserveTerm(termId)
      if (this.#wordCache.size >= WORD_CACHE_SIZE) this.#wordCache.clear()
      this.#wordCache.set(word, termId)
    }
    return termId
  }

  /** Room for one more posting of `termId` beyond those already prepared (doubling). */
  #reservePosting(termId: number): void {
    const wanted = this.#postCount[termId]! + this.#stagedCount[termId]! + ++this.#pendingPostings[termId]!
    const capacity = this.#docsOf(termId).length
    if (wanted > capacity) this.#growPostings(termId, Math.max(wanted, capacity * 2 + 2))
  }

  #growPostings(termId: number, capacity: number): void {
    const F = this.fieldNames.length
    const docs = new Uint32Array(capacity)
    docs.set(this.#docsOf(termId))
    const tfs = new Uint8Array(capacity * F)
    tfs.set(this.#tfsOf(termId))
    this.#postDocs[termId] = docs
    this.#postTfs[termId] = tfs
  }

  #reserveTerm(termId: number): void {
    while (this.#postDocs.length <= termId) {
      this.#postDocs.push(EMPTY_DOCS)
      this.#postTfs.push(EMPTY_TFS)
      this.#postCount.push(0)
      this.#pendingPostings.push(0)
      this.#stagedCount.push(0)
      this.#stagedDf.push(0)
      this.#stagedMark.push(0)
      this.#df.push(0)
      this.#encodedAt.push(0)
      this.#encodedBytes.push(0)
      this.#encodedCap.push(0)
      this.#encodedTable.push(0)
      this.#encodedCount.push(0)
      for (let f = 0; f < this.fieldNames.length; f++) this.#encodedAvg.push(0)
    }
    if (termId >= this.#stamp.length) {
      // Loading reserves every term at once: grow past `termId`, not just twice over.
      let length = this.#stamp.length * 2
      while (length <= termId) length *= 2
      const stamp = new Int32Array(length).fill(-1)
      stamp.set(this.#stamp)
      this.#stamp = stamp
      const tf = new Uint16Array(stamp.length * MAX_FIELDS)
      tf.set(this.#tfScratch)
      this.#tfScratch = tf
      const dirty = new Uint8Array(stamp.length)
      dirty.set(this.#dirtyFlag)
      this.#dirtyFlag = dirty
    }
  }

  #maybeCompact(): void {
    if (this.#staging !== undefined || this.#serializing > 0) return
    const removed = this.#ext.length - this.#liveCount
    if (removed >= COMPACT_MIN_REMOVED && removed * COMPACT_SHARE > this.#liveCount) this.compact()
  }

  #reencodeAll(): void {
    this.#shrinkMemory()
    this.#clearDirty()
    this.#arenaEnd = ARENA_START
    this.#garbageBytes = 0
    const F = this.fieldNames.length
    for (let t = 0; t < this.#postDocs.length; t++) {
      // A term without postings is not encoded again: nothing of an earlier encoding may stay
      // behind (serialize writes these columns, and its bytes depend on the contents alone).
      this.#encodedAt[t] = 0
      this.#encodedAvg.fill(0, t * F, (t + 1) * F)
      this.#encodedBytes[t] = 0
      this.#encodedCap[t] = 0
      this.#encodedTable[t] = 0
      this.#encodedCount[t] = 0
      if (this.#postCount[t]! > 0) this.#markDirty(t)
    }
    this.#docsDirty = true
  }

  /**
   * Moves to a fresh instance when the memory holds over half as much again as the terms read
   * since the last re-encoding need (after compaction or many superseded encodings): WebAssembly
   * memory cannot shrink in place. Every term is re-encoded when next read anyway, so the move
   * costs one instantiation. A term's last encoding estimates its next one (a term appended to
   * since: two bytes of doc delta per posting, most deltas take one or two); a term no search
   * has read since then counts nothing, as it is encoded only once one does.
   */
  #shrinkMemory(): void {
    const F = this.fieldNames.length
    const n = this.#ext.length
    let need = ARENA_START + n * 4 * (1 + F) + Math.ceil(n / 8) + 64
    for (let t = 0; t < this.#postCount.length; t++) {
      if (this.#encodedCount[t] === 0) continue
      const count = this.#postCount[t]!
      need +=
        this.#dirtyFlag[t] === 0
          ? this.#encodedBytes[t]!
          : Math.ceil(count / BLOCK_SIZE) * blockStrideWords(F) * 4 + count * (2 + F)
    }
    if (this.#wasm.memory.buffer.byteLength > need + (need >> 1) + 65536) this.#wasm = instantiateNow()
  }

  /**
   * Brings linear memory up to date with the TypeScript-side postings of `terms` (every term
   * when omitted) and the documents. A search encodes only the terms it reads, so the first
   * search after a large write does not pay for every term the write touched.
   */
  #sync(terms?: readonly number[]): void {
    this.#maybeCompact()
    // Superseded encodings are garbage; when they make up over half of the arena, every term is
    // encoded afresh from the arena's start instead (as searches read them).
    const garbage = this.#garbageBytes
    if (garbage > 65536 && garbage * 2 > this.#arenaEnd - ARENA_START) this.#reencodeAll()
    if (this.#dirtyCount > 0) {
      const arenaEnd = this.#arenaEnd
      const avgLens = this.#fieldTotals.map((total) => (this.#liveCount > 0 ? total / this.#liveCount : 0))
      const bound = { boosts: this.#boosts, b: this.b, avgLens }
      for (const t of terms ?? this.#dirtyTerms) {
        if (this.#dirtyFlag[t] !== 1) continue
        this.#encodeTerm(t, bound)
        this.#dirtyFlag[t] = 0
        this.#dirtyCount--
      }
      if (this.#dirtyCount === 0) this.#dirtyTerms = []
      else if (this.#dirtyTerms.length > 2 * this.#dirtyCount + 1024) {
        this.#dirtyTerms = this.#dirtyTerms.filter((t) => this.#dirtyFlag[t] === 1)
      }
      // The documents lie just past the arena: moved when it grew.
      if (this.#arenaEnd !== arenaEnd) this.#docsDirty = true
    }
    if (this.#docsDirty) this.#writeDocs()
  }

  /** Views of linear memory, made again only after it grew. */
  #arena(): { bytes: Uint8Array; view: DataView } {
    const buffer = this.#wasm.memory.buffer
    if (this.#views?.buffer !== buffer) {
      this.#views = { buffer, bytes: new Uint8Array(buffer), view: new DataView(buffer) }
    }
    return this.#views
  }

  /**
   * Encodes term `t`'s postings. Postings only ever grow at the end (new documents take the next
   * internal number), so a term encoded before keeps its full blocks: only its last, partial
   * block and the new ones are written, in place when its reserved room holds them, else after
   * copying the kept blocks to the arena's end with room to double. A term never encoded (or
   * after a re-encoding of everything) is written whole, with no spare room.
   */
  #encodeTerm(t: number, bound: BoundContext): void {
    const F = this.fieldNames.length
    const stride = blockStrideWords(F) * 4
    const count = this.#postCount[t]!
    const done = this.#encodedCount[t]!
    const docs = this.#docsOf(t)
    const tfs = this.#tfsOf(t)
    const blocks = Math.ceil(count / BLOCK_SIZE)
    if (done === 0) {
      const at = this.#arenaEnd
      ensureMemory(this.#wasm.memory, at + maxEncodedBytes(count, F))
      const { bytes, view } = this.#arena()
      const end = encodePostings(bytes, view, at, docs, tfs, count, this.#lens, F, bound)
      this.#placed(t, at, end - at, end - at, blocks, count)
      for (let f = 0; f < F; f++) this.#encodedAvg[t * F + f] = bound.avgLens[f]!
      return
    }
    const from = Math.floor(done / BLOCK_SIZE)
    const at = this.#encodedAt[t]!
    const table = this.#encodedTable[t]!
    let { view } = this.#arena()
    const dataAt =
      from < Math.ceil(done / BLOCK_SIZE)
        ? at + view.getUint32(at + from * stride + 4, true)
        : at + this.#encodedBytes[t]!
    const tail = dataBytes(docs, from * BLOCK_SIZE, count, F)
    if (blocks <= table && dataAt + tail + 3 <= at + this.#encodedCap[t]!) {
      const { bytes } = this.#arena()
      const end = encodeBlocks(bytes, view, at, from, dataAt, docs, tfs, count, this.#lens, F, bound)
      this.#placed(t, at, end - at, this.#encodedCap[t]!, table, count)
    } else {
      const grownTable = Math.max(2, blocks * 2)
      const kept = dataAt - (at + table * stride)
      const to = this.#arenaEnd
      const keptAt = to + grownTable * stride
      ensureMemory(this.#wasm.memory, keptAt + 2 * (kept + tail) + 8)
      const arena = this.#arena()
      view = arena.view
      const bytes = arena.bytes
      bytes.copyWithin(to, at, at + from * stride)
      const shift = (grownTable - table) * stride
      for (let block = 0; block < from; block++) {
        const entry = to + block * stride + 4
        view.setUint32(entry, view.getUint32(entry, true) + shift, true)
      }
      bytes.copyWithin(keptAt, dataAt - kept, dataAt)
      const end = encodeBlocks(bytes, view, to, from, keptAt + kept, docs, tfs, count, this.#lens, F, bound)
      // Room for the data to double before the term moves again.
      const room = (keptAt + 2 * (kept + tail) + 3) & ~3
      this.#garbageBytes += this.#encodedCap[t]!
      this.#placed(t, to, end - to, room - to, grownTable, count)
    }
    // Blocks written under different average lengths: the smallest bounds them all (#boundMultiplier).
    for (let f = 0; f < F; f++) {
      const was = this.#encodedAvg[t * F + f]!
      const now = bound.avgLens[f]!
      this.#encodedAvg[t * F + f] = was === 0 ? now : now === 0 ? was : Math.min(was, now)
    }
  }

  #placed(t: number, at: number, used: number, reserved: number, table: number, count: number): void {
    this.#encodedAt[t] = at
    this.#encodedBytes[t] = used
    this.#encodedCap[t] = reserved
    this.#encodedTable[t] = table
    this.#encodedCount[t] = count
    this.#arenaEnd = Math.max(this.#arenaEnd, at + reserved)
  }

  #writeDocs(): void {
    const F = this.fieldNames.length
    const n = this.#ext.length
    const ext = align8(this.#arenaEnd)
    const lens = align8(ext + n * 4)
    const live = align8(lens + n * F * 4)
    const end = align8(live + Math.ceil(n / 8) + 8)
    ensureMemory(this.#wasm.memory, end)
    const buffer = this.#wasm.memory.buffer
    new Uint32Array(buffer, ext, n).set(this.#ext)
    new Uint32Array(buffer, lens, n * F).set(this.#lens)
    const bits = new Uint8Array(buffer, live, end - live)
    bits.fill(0)
    for (let d = 0; d < n; d++) if (this.#live[d] === 1) bits[d >> 3]! |= 1 << (d & 7)
    this.#docsRegion = { ext, lens, live, end }
    this.#docsDirty = false
  }

  #run(
    active: Array<{ id: number; weight: number }>,
    k: number,
    docCount: number,
    stats: CollectionStats | undefined,
    filter: SearchOptions['filter'],
  ): SearchResult {
    const F = this.fieldNames.length
    const n = active.length
    const region = this.#docsRegion
    const arena = new ScratchArena(region.end)
    const params = arena.take(40 + 16 * F)
    const cursors = arena.take(CURSOR_BYTES * n)
    const order = arena.take(4 * n)
    const heap = arena.take(16 * k)
    const factors = arena.take(8 * F)
    const outIds = arena.take(4 * k)
    const outScores = arena.take(4 * k)
    const buffers = active.map(({ id }) => ({
      bounds: arena.take(8 * Math.ceil(this.#postCount[id]! / 128)),
      docs: arena.take(4 * 128),
    }))
    const allowBytes = Math.ceil(this.#ext.length / 8) + 8
    const allow = filter === undefined ? region.live : arena.take(allowBytes)
    arena.commit(this.#wasm.memory)
    const buffer = this.#wasm.memory.buffer
    const view = new DataView(buffer)
    if (filter !== undefined) this.#writeFilter(new Uint8Array(buffer, allow, allowBytes), filter)
    view.setUint32(params, F, true)
    view.setUint32(params + 4, region.lens, true)
    view.setUint32(params + 8, region.ext, true)
    view.setUint32(params + 12, allow, true)
    view.setFloat64(params + 16, this.k1, true)
    view.setFloat64(params + 24, this.b, true)
    view.setFloat64(params + 32, this.delta, true)
    const avgLens = this.fieldNames.map((name, f) => {
      const total = stats?.fieldLengths[name] ?? this.#fieldTotals[f]!
      const avg = docCount > 0 ? total / docCount : 0
      view.setFloat64(params + 40 + 16 * f, this.#boosts[f]!, true)
      view.setFloat64(params + 48 + 16 * f, avg, true)
      return avg
    })
    active.forEach(({ id, weight }, i) => {
      const c = cursors + i * CURSOR_BYTES
      const count = this.#postCount[id]!
      view.setUint32(c, this.#encodedAt[id]!, true)
      view.setUint32(c + 4, count, true)
      view.setUint32(c + 8, Math.ceil(count / 128), true)
      view.setFloat64(c + 32, weight, true)
      view.setUint32(c + 48, buffers[i]!.bounds, true)
      view.setUint32(c + 52, buffers[i]!.docs, true)
      view.setFloat32(c + 60, this.#boundMultiplier(id, avgLens), true)
    })
    const found = this.#wasm.search(params, n, k, cursors, order, heap, factors, outIds, outScores)
    return {
      ids: new Uint32Array(buffer.slice(outIds, outIds + 4 * found)),
      scores: new Float32Array(buffer.slice(outScores, outScores + 4 * found)),
    }
  }

  /**
   * Factor that keeps a block's stored max x an upper bound under the query's average lengths:
   * with r = avgEncoded / avgQuery, the length norm 1 − b + b·len/avg scales by at least
   * min(1, r), so x grows by at most max over fields of max(1, 1/r).
   */
  #boundMultiplier(termId: number, avgLens: readonly number[]): number {
    const F = this.fieldNames.length
    let multiplier = 1
    for (let f = 0; f < F; f++) {
      const encoded = this.#encodedAvg[termId * F + f]!
      const query = avgLens[f]!
      if (encoded === 0) continue
      if (query === 0) return 3e38
      multiplier = Math.max(multiplier, query / encoded)
    }
    return multiplier * (1 + 1e-6)
  }

  #writeFilter(bits: Uint8Array, filter: Uint32Array | ((id: number) => boolean)): void {
    bits.fill(0)
    if (filter instanceof Uint32Array) {
      for (const id of filter) {
        const d = this.#internalOf.get(id)
        if (d !== undefined) bits[d >> 3]! |= 1 << (d & 7)
      }
      return
    }
    for (const [id, d] of this.#internalOf) if (filter(id)) bits[d >> 3]! |= 1 << (d & 7)
  }
}

function binarySearch(sorted: Uint32Array, count: number, value: number): number {
  let lo = 0
  let hi = count - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const v = sorted[mid]!
    if (v === value) return mid
    if (v < value) lo = mid + 1
    else hi = mid - 1
  }
  return -1
}

function checkId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > MAX_ID) {
    throw new Bm25InputError(`document id must be an integer in [0, 2^32), got ${id}`)
  }
}
