import type { Analyzer } from '../analyzer.ts'
import { Bm25InputError } from '../errors.ts'
import type { TermDictionary } from './dictionary.ts'

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
 * The weighted terms of `query`: every analysed word exactly; the last word also as a prefix
 * (up to `maxExpansions` terms, most frequent first); each word within its typo budget. A term
 * reached in several ways keeps its highest weight. `docFrequency` returns 0 for absent terms.
 */
export function expandQuery(
  query: string,
  analyzer: Analyzer,
  dictionary: TermDictionary,
  docFrequency: (id: number) => number,
  options: { prefix: boolean; typos: TypoTolerance; maxExpansions: number; prefixWeight: number },
): ExpandedTerm[] {
  const words = analyzer.queryTokens(query)
  const chosen = new Map<string, ExpandedTerm>()
  const put = (candidate: ExpandedTerm): void => {
    const had = chosen.get(candidate.term)
    if (had === undefined || had.weight < candidate.weight) chosen.set(candidate.term, candidate)
  }
  words.forEach((word, i) => {
    const exactId = dictionary.id(word.term)
    const exactLive = exactId !== undefined && docFrequency(exactId) > 0
    const cap = exactLive ? { idfCap: word.term } : {}
    if (exactLive) put({ term: word.term, weight: 1, kind: 'exact' })
    if (options.prefix && i === words.length - 1 && !analyzer.isStopword(word.surface)) {
      const ids = mostFrequent(
        dictionary.withPrefix(word.surface).filter((id) => id !== exactId),
        docFrequency,
        options.maxExpansions,
      )
      for (const id of ids) {
        // The more of a completion is still untyped, the less it counts.
        const term = dictionary.term(id)
        const typed = Math.min(1, word.surface.length / term.length)
        put({ term, weight: options.prefixWeight * typed * typed, kind: 'prefix', ...cap })
      }
    }
    const budget = typoBudget(options.typos, word.surface)
    if (budget > 0) {
      const found: Array<{ id: number; edits: number }> = []
      dictionary.forEachWithin(word.term, budget, (_term, id, edits) => {
        if (id !== exactId && docFrequency(id) > 0) found.push({ id, edits })
      })
      found.sort((x, y) => x.edits - y.edits || docFrequency(y.id) - docFrequency(x.id) || x.id - y.id)
      for (const { id, edits } of found.slice(0, options.maxExpansions)) {
        put({ term: dictionary.term(id), weight: TYPO_WEIGHTS[edits]!, kind: 'typo', ...cap })
      }
    }
  })
  return [...chosen.values()]
}

/** The `limit` ids of highest document frequency (ties: lower id first), without sorting them all. */
function mostFrequent(ids: readonly number[], docFrequency: (id: number) => number, limit: number): number[] {
  const top: Array<{ id: number; df: number }> = []
  for (const id of ids) {
    const df = docFrequency(id)
    if (df === 0) continue
    if (top.length === limit && (limit === 0 || top[limit - 1]!.df >= df)) continue
    let at = top.length
    while (at > 0 && top[at - 1]!.df < df) at--
    top.splice(at, 0, { id, df })
    if (top.length > limit) top.pop()
  }
  return top.map((entry) => entry.id)
}
