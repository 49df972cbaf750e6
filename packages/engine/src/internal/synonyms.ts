/**
 * The `synonyms` setting at search time: query expansion. A key (one word or a sequence of
 * words) found in the query adds its alternatives' words to the search as exact terms, weighing
 * as much as the query's own words (BM25 then scores them like any other term). Keys and
 * alternatives are analysed by the index's analyser, so case, diacritics and stop words are
 * treated as in documents. Synonyms are one-way, as Meilisearch stores them: a multi-way
 * relation is each word listed with the others. The last query word, which also matches as a
 * prefix, expands only as the whole word.
 */

import type { TextIndex } from './ports.ts'

interface Compiled {
  /** Analysed key, words joined by a space → the analysed words of every alternative. */
  keys: Map<string, string[][]>
  /** The most words of any key. */
  longest: number
}

/** Compiled per settings value and text index (a rebuilt index may analyse differently). */
const compiled = new WeakMap<Record<string, string[]>, WeakMap<TextIndex, Compiled>>()

function compile(text: TextIndex, synonyms: Record<string, string[]>): Compiled {
  let byIndex = compiled.get(synonyms)
  if (byIndex === undefined) {
    byIndex = new WeakMap()
    compiled.set(synonyms, byIndex)
  }
  let found = byIndex.get(text)
  if (found !== undefined) return found
  const keys = new Map<string, string[][]>()
  let longest = 0
  for (const [key, alternatives] of Object.entries(synonyms)) {
    const words = text.tokens(key)
    if (words.length === 0) continue
    longest = Math.max(longest, words.length)
    const joined = words.join(' ')
    const list = keys.get(joined) ?? []
    for (const alternative of alternatives) {
      const terms = text.tokens(alternative)
      if (terms.length > 0) list.push(terms)
    }
    keys.set(joined, list)
  }
  found = { keys, longest }
  byIndex.set(text, found)
  return found
}

/**
 * For each of the query's analysed words (`terms`, as `text.tokens(q)` gives them), the words
 * of the alternatives of every synonym key covering it; a key of several words covers each of
 * them.
 */
export function synonymsByWord(
  text: TextIndex,
  terms: readonly string[],
  synonyms: Record<string, string[]>,
): string[][] {
  const out = terms.map((): string[] => [])
  if (terms.length === 0) return out
  const { keys, longest } = compile(text, synonyms)
  if (keys.size === 0) return out
  for (let start = 0; start < terms.length; start++) {
    for (let length = 1; length <= longest && start + length <= terms.length; length++) {
      const alternatives = keys.get(terms.slice(start, start + length).join(' '))
      if (alternatives === undefined) continue
      for (let w = start; w < start + length; w++) {
        for (const alternative of alternatives) out[w]!.push(...alternative)
      }
    }
  }
  return out.map((words, w) => [...new Set(words)].filter((word) => word !== terms[w]))
}

/** The index terms `q`'s synonyms add to a search (none that the query already has). */
export function synonymTerms(text: TextIndex, q: string, synonyms: Record<string, string[]>): string[] {
  if (Object.keys(synonyms).length === 0) return []
  const terms = text.tokens(q)
  const own = new Set(terms)
  const added = new Set<string>()
  for (const words of synonymsByWord(text, terms, synonyms)) {
    for (const word of words) if (!own.has(word)) added.add(word)
  }
  return [...added].sort()
}
