/**
 * The text port on `@shoal/bm25`. An engine field is one BM25F field with
 * its boost; `@shoal/bm25` holds at most 8 fields, so from the 8th
 * searchable attribute on the attributes share one last field (boost 1).
 */

import {
  type Analyzer,
  Bm25Index,
  candidateTerms,
  createAnalyzer,
  type DocumentFields,
  type PreparedDocument,
  type QueryCandidates,
} from '@shoal/bm25'
import { ShardedSearchMismatchError } from '../errors.ts'
import { Bitset } from './bitset.ts'
import type {
  CoreStats,
  HeldWordQuery,
  PreparedText,
  TextHits,
  TextIndex,
  TextIndexConfig,
  TextIndexFactory,
  TextQueryStats,
  TextSearchOptions,
} from './ports.ts'

const MAX_FIELDS = 8
/** The field used when an index has no searchable attribute yet (no document holds it). */
const EMPTY_FIELD = '_'
const REST_FIELD = '_rest'

interface FieldLayout {
  /** bm25 field name → boost */
  fields: Record<string, { boost: number }>
  /** engine field → bm25 field */
  target: Map<string, string>
}

function layout(config: TextIndexConfig): FieldLayout {
  const fields: Record<string, { boost: number }> = {}
  const target = new Map<string, string>()
  if (config.fields.length === 0) fields[EMPTY_FIELD] = { boost: 1 }
  config.fields.forEach((field, i) => {
    if (config.fields.length <= MAX_FIELDS || i < MAX_FIELDS - 1) {
      fields[field.name] = { boost: field.boost }
      target.set(field.name, field.name)
    } else {
      fields[REST_FIELD] = { boost: 1 }
      target.set(field.name, REST_FIELD)
    }
  })
  return { fields, target }
}

/**
 * English segmentation and folding without stemming, as Meilisearch analyses
 * text (prefix and typo matching cover word variants); the index's stop words.
 */
export function analyzerFor(config: TextIndexConfig): Analyzer {
  return createAnalyzer({
    locale: 'en',
    stemming: false,
    ...(config.stopWords.length > 0 ? { stopwords: [...config.stopWords] } : {}),
    dictionary: [...(config.dictionary ?? [])],
    separatorTokens: [...(config.separatorTokens ?? [])],
    nonSeparatorTokens: [...(config.nonSeparatorTokens ?? [])],
  })
}

class PreparedBm25 implements PreparedText {
  readonly preparedBy: TextIndex
  readonly document: PreparedDocument

  constructor(by: TextIndex, document: PreparedDocument) {
    this.preparedBy = by
    this.document = document
  }
}

class Bm25TextIndex implements TextIndex {
  readonly #index: Bm25Index
  readonly #layout: FieldLayout
  #lastQuery: { query: string; terms: string[]; frequencies: number[] } | undefined
  #generation = 0

  readonly customSpans: ((text: string) => { start: number; end: number }[]) | undefined

  constructor(index: Bm25Index, fieldLayout: FieldLayout) {
    this.#index = index
    this.#layout = fieldLayout
    this.customSpans = index.analyzer.customTokens ? index.analyzer.spans : undefined
  }

  add(id: number, fields: Record<string, string[]>): void {
    this.#index.add(id, this.#documentOf(fields))
    this.#changed()
  }

  prepare(fields: Record<string, string[]>): PreparedText {
    return new PreparedBm25(this, this.#index.prepare(this.#documentOf(fields)))
  }

  addPrepared(id: number, prepared: PreparedText): void {
    if (!(prepared instanceof PreparedBm25) || prepared.preparedBy !== this) {
      throw new TypeError('the document was prepared by another text index')
    }
    this.#index.addPrepared(id, prepared.document)
    this.#changed()
  }

  stage(id: number, prepared: PreparedText): void {
    if (!(prepared instanceof PreparedBm25) || prepared.preparedBy !== this) {
      throw new TypeError('the document was prepared by another text index')
    }
    this.#index.stage(id, prepared.document)
  }

  publish(): { documents: number; termsTouched: number; replaced: number } {
    const published = this.#index.publish()
    this.#changed()
    return published
  }

  discard(): void {
    this.#index.discard()
  }

  #documentOf(fields: Record<string, string[]>): DocumentFields {
    const doc: DocumentFields = {}
    let any = false
    for (const name of Object.keys(fields)) {
      const target = this.#layout.target.get(name)
      if (target === undefined) continue
      const existing = doc[target]
      doc[target] = existing === undefined ? fields[name]! : [...(existing as string[]), ...fields[name]!]
      any = true
    }
    // A document without searchable text still counts in the collection (BM25 N).
    return any ? doc : {}
  }

  remove(id: number): void {
    this.#index.remove(id)
    this.#changed()
  }

  #changed(): void {
    this.#lastQuery = undefined
    this.#generation++
  }

  get generation(): number {
    return this.#generation
  }

  search(query: string, k: number, options: TextSearchOptions): TextHits {
    const filter = options.allowed === undefined ? {} : { filter: options.allowed }
    const global = options.global
    if (global === undefined) {
      const typos = options.typos !== 0 && this.#allWordsIndexed(query) ? 0 : options.typos
      const exempt = typos === 0 ? undefined : options.typoExempt
      if ((options.synonyms === undefined || options.synonyms.length === 0) && exempt === undefined) {
        return this.#index.search(query, k, { prefix: options.prefix, typos, ...filter })
      }
      const candidates = this.#candidates(query, options.prefix, typos, exempt)
      const terms = this.#index.chooseTerms(withSynonyms(candidates, options.synonyms ?? []))
      return this.#index.searchTerms(terms, k, filter)
    }
    // The collection's candidates, without typo variants when every word is held somewhere.
    const words = global.candidates.words
    const typed = this.#frequencies(query, global).every((df) => df > 0)
    const candidates = typed ? { words: words.map((w) => ({ ...w, typos: [] })) } : global.candidates
    if (!typed && global.unheldWords !== undefined)
      throw new ShardedSearchMismatchError(
        'The search context lacks the typo variants of a word no partition holds; gather it with them.',
      )
    const terms = this.#index.chooseTerms(candidates, global)
    return this.#index.searchTerms(terms, k, { ...filter, stats: global })
  }

  /**
   * Typo policy: a query whose every word is an indexed term as typed is not
   * expanded with typo variants (exact matches outrank them anyway, and the
   * expansion scans the term dictionary); a query with an unknown word is.
   */
  #allWordsIndexed(query: string): boolean {
    const frequencies = this.#frequencies(query)
    return frequencies.every((df) => df > 0)
  }

  matchEstimate(query: string, global?: TextQueryStats): number {
    return Math.max(0, ...this.#frequencies(query, global))
  }

  queryStats(
    query: string,
    options: Omit<TextSearchOptions, 'allowed' | 'global'> & { omitTypos?: boolean },
  ): TextQueryStats {
    // A partition holding every word disables typo variants collection-wide, so it need not look for any.
    const unheld = options.typos === 0 ? [] : this.#unheldWords(query)
    const omitted = unheld.length > 0 && options.omitTypos === true
    const typos = unheld.length === 0 || omitted ? 0 : options.typos
    const candidates = withSynonyms(
      this.#candidates(query, options.prefix, typos, typos === 0 ? undefined : options.typoExempt),
      options.synonyms ?? [],
    )
    const stats = this.#index.stats(candidateTerms(candidates))
    return omitted ? { ...stats, candidates, unheldWords: unheld } : { ...stats, candidates }
  }

  /** The query's candidate terms, without the typo variants of the words `exempt` names. */
  #candidates(
    query: string,
    prefix: boolean,
    typos: TextSearchOptions['typos'],
    exempt: TextSearchOptions['typoExempt'],
  ): QueryCandidates {
    const candidates = this.#index.queryCandidates(query, { prefix, typos })
    if (exempt === undefined) return candidates
    return {
      words: candidates.words.map((word) =>
        word.typos.length > 0 && exempt(word.term) ? { ...word, typos: [] } : word,
      ),
    }
  }

  /** The query's words (stop words aside) no document here holds. */
  #unheldWords(query: string): string[] {
    const frequencies = this.#frequencies(query)
    const terms = this.#lastQuery!.terms
    return terms.filter((_, i) => frequencies[i] === 0)
  }

  /** Document frequency of each query term (collection-wide with `global`); the last query's terms are kept. */
  #frequencies(query: string, global?: TextQueryStats): number[] {
    let terms: string[]
    let local: number[] | undefined
    if (this.#lastQuery?.query === query) ({ terms, frequencies: local } = this.#lastQuery)
    else {
      const analyzer = this.#index.analyzer
      // Stop words are never indexed; they neither need typo variants nor count as matches.
      terms = analyzer
        .queryTokens(query)
        .filter((token) => !analyzer.isStopword(token.surface))
        .map((token) => token.term)
    }
    if (global !== undefined) return terms.map((term) => global.docFrequencies[term] ?? 0)
    if (local !== undefined) return local
    const { docFrequencies } = this.#index.stats(terms)
    const frequencies = terms.map((term) => docFrequencies[term] ?? 0)
    this.#lastQuery = { query, terms, frequencies }
    return frequencies
  }

  tokens(query: string): string[] {
    return this.#index.analyzer.tokens(query)
  }

  wordHolders(words: readonly HeldWordQuery[], capacity: number): Bitset[] {
    return words.map((word) => {
      const held = new Bitset(capacity)
      const add = (id: number): void => {
        if (id < capacity) held.add(id)
      }
      const terms = new Set<string>([word.term, ...word.synonyms])
      const reach = word.reach === undefined ? reachOf(word, [this.#index]) : word.reach
      // A term of another partition that no document here holds visits nothing.
      for (const term of reach ?? []) terms.add(term)
      for (const term of terms) this.#index.forEachDocumentWith(term, add)
      return held
    })
  }

  wordReach(peers: readonly TextIndex[], words: readonly HeldWordQuery[]): (string[] | null)[] | undefined {
    const indexes = [this.#index]
    for (const peer of peers) {
      if (!(peer instanceof Bm25TextIndex)) return undefined
      indexes.push(peer.#index)
    }
    return words.map((word) => reachOf(word, indexes))
  }

  stats(): CoreStats {
    const memory = this.#index.memoryStats()
    return {
      documents: memory.documents,
      removed: memory.removedDocuments,
      bytes: memory.postingBytes + memory.wasmBytes,
    }
  }

  serialize(): Uint8Array {
    return this.#index.serialize()
  }

  serializeInSlices(pause: () => Promise<void>): Promise<Uint8Array> {
    return this.#index.serializeInSlices(pause)
  }
}

/**
 * The word's completions and typo variants in `indexes`, as each finds them for a one-word query
 * (null when the word does not analyse to itself); several indexes in one dictionary walk.
 */
function reachOf(word: HeldWordQuery, indexes: readonly Bm25Index[]): string[] | null {
  const typos = word.typos === 1 || word.typos === 2 ? word.typos : 0
  const options = { prefix: word.prefix, typos } as const
  const [found] = (
    indexes.length === 1
      ? indexes[0]!.queryCandidates(word.term, options)
      : Bm25Index.queryCandidatesAcross(indexes, word.term, options)
  ).words
  if (found === undefined || found.term !== word.term) return null
  return [...found.completions, ...found.typos.map(([term]) => term)]
}

/** The query's candidates with each synonym term as one more word, matched exactly. */
function withSynonyms(candidates: QueryCandidates, synonyms: readonly string[]): QueryCandidates {
  if (synonyms.length === 0) return candidates
  const extra = synonyms.map((term) => ({ term, surface: term, completions: [], typos: [] }))
  return { words: [...candidates.words, ...extra] }
}

export const bm25TextIndexes: TextIndexFactory = {
  async create(config) {
    const fieldLayout = layout(config)
    const index = await Bm25Index.create({ fields: fieldLayout.fields, analyzer: analyzerFor(config) })
    return new Bm25TextIndex(index, fieldLayout)
  },
  async deserialize(bytes, config, pause) {
    const index = await Bm25Index.deserialize(
      bytes,
      analyzerFor(config),
      pause === undefined ? {} : { pause },
    )
    return new Bm25TextIndex(index, layout(config))
  },
}
