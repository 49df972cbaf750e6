import type { Analyzer } from '../analyzer.ts'
import { Bm25InputError } from '../errors.ts'
import { TermDictionary } from './dictionary.ts'

/**
 * Typo budget: a fixed number of edits, or by word length as Meilisearch does
 * (`'auto'`: one typo from 5 letters, two from 9; or those two sizes given).
 */
export type TypoTolerance = 0 | 1 | 2 | 'auto' | { oneTypo: number; twoTypos: number }

/** One term a query searches for, with the weight its BM25 contribution is multiplied by. */
export interface ExpandedTerm {
  term: string
  weight: number
  kind: 'exact' | 'prefix' | 'typo'
  /** For expansions of a word that is itself indexed: the idf used is at most that term's. */
  idfCap?: string
}

/** Default weight of a term matched through the prefix of the last query word. */
export const PREFIX_WEIGHT = 0.15
/** Weight of a term matched with one or two typos. */
export const TYPO_WEIGHTS: readonly number[] = [1, 0.4, 0.2]

/** Edits allowed for `word` (in code points): 'auto' is 0 below 5 letters, 1 below 9, else 2. */
export function typoBudget(typos: TypoTolerance, word: string): number {
  if (typeof typos === 'number') return typos
  const { oneTypo, twoTypos } = typos === 'auto' ? { oneTypo: 5, twoTypos: 9 } : typos
  const letters = [...word].length
  return letters >= twoTypos ? 2 : letters >= oneTypo ? 1 : 0
}

export function checkTypos(typos: unknown): TypoTolerance {
  if (typos === undefined) return 0
  if (typos === 0 || typos === 1 || typos === 2 || typos === 'auto') return typos
  if (typeof typos === 'object' && typos !== null) {
    const { oneTypo, twoTypos } = typos as Record<string, unknown>
    if (
      typeof oneTypo === 'number' &&
      typeof twoTypos === 'number' &&
      Number.isInteger(oneTypo) &&
      Number.isInteger(twoTypos) &&
      oneTypo >= 0 &&
      oneTypo <= twoTypos
    ) {
      return { oneTypo, twoTypos }
    }
  }
  throw new Bm25InputError(
    `typos must be 0, 1, 2, 'auto' or { oneTypo, twoTypos } (integers, oneTypo <= twoTypos), got ${JSON.stringify(typos)}`,
  )
}

/**
 * Every index term one query word can reach in a dictionary, before any is chosen: the word
 * itself, the completions of the last word (prefix search) and the terms within its typo budget,
 * each kept only when some live document holds it. Plain data: the candidates of several shards
 * merge by union (`mergeQueryCandidates`), so that the terms a query searches for can be chosen
 * from the whole collection's dictionary and document frequencies (`chooseQueryTerms`).
 */
export interface QueryCandidates {
  words: QueryWordCandidates[]
}

export interface QueryWordCandidates {
  /** The analysed word. */
  term: string
  /** The word as typed (folded, unstemmed): completions are weighed by how much of them it covers. */
  surface: string
  /** Completions of the word (the last word of a prefix search only), the word itself excluded. */
  completions: string[]
  /** Terms within the word's typo budget, the word itself excluded, with their edit distance. */
  typos: Array<[term: string, edits: number]>
}

/** The candidates of `query` in one dictionary (see `QueryCandidates`). */
export function collectCandidates(
  query: string,
  analyzer: Analyzer,
  dictionary: TermDictionary,
  docFrequency: (id: number) => number,
  options: { prefix: boolean; typos: TypoTolerance },
): QueryCandidates {
  const words = analyzer.queryTokens(query)
  return {
    words: words.map((word, i) => {
      const completions: string[] = []
      if (options.prefix && i === words.length - 1 && !analyzer.isStopword(word.surface)) {
        for (const id of dictionary.withPrefix(word.surface)) {
          const term = dictionary.term(id)
          if (term !== word.term && docFrequency(id) > 0) completions.push(term)
        }
      }
      const typos: Array<[string, number]> = []
      const budget = typoBudget(options.typos, word.surface)
      if (budget > 0) {
        dictionary.forEachWithin(word.term, budget, (term, id, edits) => {
          if (term !== word.term && docFrequency(id) > 0) typos.push([term, edits])
        })
      }
      return { term: word.term, surface: word.surface, completions, typos }
    }),
  }
}

/**
 * The candidates of `query` in several dictionaries at once: exactly
 * `mergeQueryCandidates(parts.map((part) => collectCandidates(query, part.analyzer, …)))`, with
 * one typo walk over all the dictionaries (`TermDictionary.forEachWithinAll`) instead of one per
 * dictionary. For shards of one collection held in one process.
 */
export function collectCandidatesAcross(
  query: string,
  parts: readonly {
    analyzer: Analyzer
    dictionary: TermDictionary
    docFrequency: (id: number) => number
  }[],
  options: { prefix: boolean; typos: TypoTolerance },
): QueryCandidates {
  const first = parts[0]
  if (first === undefined) return { words: [] }
  const words = first.analyzer.queryTokens(query)
  for (const part of parts) {
    const own = part.analyzer.queryTokens(query)
    if (own.length !== words.length || own.some((word, w) => word.term !== words[w]!.term))
      throw new Bm25InputError('query candidates of different queries cannot be merged')
  }
  const dictionaries = parts.map((part) => part.dictionary)
  return {
    words: words.map((word, i) => {
      const completions = new Set<string>()
      if (options.prefix && i === words.length - 1 && !first.analyzer.isStopword(word.surface)) {
        for (const part of parts) {
          for (const id of part.dictionary.withPrefix(word.surface)) {
            const term = part.dictionary.term(id)
            if (term !== word.term && part.docFrequency(id) > 0) completions.add(term)
          }
        }
      }
      const typos = new Map<string, number>()
      const budget = typoBudget(options.typos, word.surface)
      if (budget > 0) {
        TermDictionary.forEachWithinAll(dictionaries, word.term, budget, (term, d, id, edits) => {
          if (term !== word.term && parts[d]!.docFrequency(id) > 0) typos.set(term, edits)
        })
      }
      return {
        term: word.term,
        surface: word.surface,
        completions: [...completions].sort(),
        typos: [...typos].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)),
      }
    }),
  }
}

/** The union of several dictionaries' candidates for the same query (analysed alike). */
export function mergeQueryCandidates(parts: readonly QueryCandidates[]): QueryCandidates {
  const first = parts[0]
  if (first === undefined) return { words: [] }
  return {
    words: first.words.map((word, w) => {
      const completions = new Set<string>()
      const typos = new Map<string, number>()
      for (const part of parts) {
        const other = part.words[w]
        if (other === undefined || other.term !== word.term) {
          throw new Bm25InputError('query candidates of different queries cannot be merged')
        }
        for (const term of other.completions) completions.add(term)
        for (const [term, edits] of other.typos) typos.set(term, edits)
      }
      return {
        term: word.term,
        surface: word.surface,
        completions: [...completions].sort(),
        typos: [...typos].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)),
      }
    }),
  }
}

/** Every term `candidates` name: what their document frequencies are needed for. */
export function candidateTerms(candidates: QueryCandidates): string[] {
  const terms = new Set<string>()
  for (const word of candidates.words) {
    terms.add(word.term)
    for (const term of word.completions) terms.add(term)
    for (const [term] of word.typos) terms.add(term)
  }
  return [...terms]
}

/**
 * The weighted terms a query searches for: every word that some document holds, exactly; the
 * last word's completions (up to `maxExpansions`, most frequent first); each word's typo
 * variants (up to `maxExpansions`, fewest edits then most frequent first). Ties go to the
 * smaller term in code-unit order, so the choice depends only on the terms and their document
 * frequencies, never on the order a dictionary learnt them in (shards choose alike). A term
 * reached in several ways keeps its highest weight.
 */
export function chooseQueryTerms(
  candidates: QueryCandidates,
  docFrequency: (term: string) => number,
  options: { maxExpansions: number; prefixWeight: number },
): ExpandedTerm[] {
  const chosen = new Map<string, ExpandedTerm>()
  const put = (candidate: ExpandedTerm): void => {
    const had = chosen.get(candidate.term)
    if (had === undefined || had.weight < candidate.weight) chosen.set(candidate.term, candidate)
  }
  const byFrequency = (a: { term: string; df: number }, b: { term: string; df: number }): number =>
    b.df - a.df || (a.term < b.term ? -1 : a.term > b.term ? 1 : 0)
  for (const word of candidates.words) {
    const exactLive = docFrequency(word.term) > 0
    const cap = exactLive ? { idfCap: word.term } : {}
    if (exactLive) put({ term: word.term, weight: 1, kind: 'exact' })
    const completions = best(
      word.completions.map((term) => ({ term, df: docFrequency(term) })),
      options.maxExpansions,
      byFrequency,
    )
    for (const { term } of completions) {
      // The more of a completion is still untyped, the less it counts.
      const typed = Math.min(1, word.surface.length / term.length)
      put({ term, weight: options.prefixWeight * typed * typed, kind: 'prefix', ...cap })
    }
    const typos = best(
      word.typos.map(([term, edits]) => ({ term, edits, df: docFrequency(term) })),
      options.maxExpansions,
      (a, b) => a.edits - b.edits || byFrequency(a, b),
    )
    for (const { term, edits } of typos) {
      put({ term, weight: TYPO_WEIGHTS[edits]!, kind: 'typo', ...cap })
    }
  }
  return [...chosen.values()]
}

/** The `limit` first of `items` with a positive `df` under `compare`, without sorting them all. */
function best<T extends { df: number }>(
  items: readonly T[],
  limit: number,
  compare: (a: T, b: T) => number,
): T[] {
  const top: T[] = []
  for (const item of items) {
    if (item.df <= 0) continue
    if (top.length === limit && (limit === 0 || compare(top[limit - 1]!, item) <= 0)) continue
    let at = top.length
    while (at > 0 && compare(top[at - 1]!, item) > 0) at--
    top.splice(at, 0, item)
    if (top.length > limit) top.pop()
  }
  return top
}
