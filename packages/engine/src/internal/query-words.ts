/**
 * Which query words a piece of document text contains, and where. Search
 * itself ranks through the text index; this reads the documents it returned,
 * for what the index does not say: the matching strategies (which words a
 * hit holds), `attributesToSearchOn`, highlighting, cropping and
 * `_matchesPosition`. It follows the index's own matching: words analysed by
 * the same analyser, the last query word also as a prefix, and a typo budget
 * by word length from the `typoTolerance` setting.
 */

import type { Doc, Settings } from '../types.ts'
import { valuesAt } from './document-path.ts'
import type { TextIndex } from './ports.ts'
import { isCovered } from './settings.ts'
import { synonymsByWord } from './synonyms.ts'
import { editsByLength, typoExemption } from './typo-policy.ts'

export interface QueryWord {
  term: string
  /** The last query word also matches as a prefix. */
  prefix: boolean
  /** Edits allowed (by the word's length and `typoTolerance`). */
  typos: number
  /** Analysed words of the word's synonyms: each counts as the word (synonyms.ts). */
  synonyms: readonly string[]
  /** Completions and typo variants found for several partitions at once (`HeldWordQuery.reach`). */
  reach?: readonly string[] | null | undefined
  /** Attributes where the word matches without typos (`typoTolerance.disableOnAttributes`). */
  noTyposIn: readonly string[]
}

/** A word of a text that matches a query word; offsets in UTF-16 code units. */
export interface WordMatch {
  start: number
  /** Length of the part that matched (a prefix match covers only the prefix). */
  length: number
  word: number
}

/** One word of a text with its position. */
export interface TextWord {
  start: number
  end: number
  text: string
}

const WORD = /[\p{L}\p{N}]+/gu

export function splitWords(text: string): TextWord[] {
  const words: TextWord[] = []
  for (const match of text.matchAll(WORD)) {
    words.push({ start: match.index, end: match.index + match[0].length, text: match[0] })
  }
  return words
}

export function queryWords(text: TextIndex, q: string, settings: Settings): QueryWord[] {
  const terms = text.tokens(q)
  const synonyms = synonymsByWord(text, terms, settings.synonyms)
  const exempt = typoExemption(text, settings)
  const noTyposIn = settings.typoTolerance.disableOnAttributes
  return terms.map((term, i) => {
    const typos = exempt?.(term) === true ? 0 : editsByLength(term, settings)
    const prefix = i === terms.length - 1 && settings.prefixSearch !== 'disabled'
    return { term, prefix, typos, synonyms: synonyms[i]!, noTyposIn }
  })
}

/** Typo-free copies of query words, per list (a list is read for one search). */
const strictWords = new WeakMap<QueryWord[], QueryWord[]>()

/** The query words as they match text found at `path`: without typos where they are disabled. */
export function wordsAt(words: QueryWord[], path: string): QueryWord[] {
  const first = words[0]
  if (first === undefined || first.noTyposIn.length === 0 || !isCovered(path, first.noTyposIn)) return words
  let strict = strictWords.get(words)
  if (strict === undefined) {
    strict = words.map((word) => ({ ...word, typos: 0 }))
    strictWords.set(words, strict)
  }
  return strict
}

/** The matches of `words` in `value`, in text order. `fold` analyses one document word. */
export function matchText(value: string, words: QueryWord[], fold: Fold): WordMatch[] {
  const matches: WordMatch[] = []
  if (words.length === 0) return matches
  for (const token of fold.split(value)) {
    const folded = fold(token.text)
    if (folded === undefined) continue
    for (let w = 0; w < words.length; w++) {
      const length = matchLength(folded, token.text, words[w]!)
      if (length > 0) {
        matches.push({ start: token.start, length, word: w })
        break
      }
    }
  }
  return matches
}

function matchLength(folded: string, surface: string, word: QueryWord): number {
  if (folded === word.term) return surface.length
  if (word.prefix && folded.startsWith(word.term)) {
    // Folding keeps one character per character for the scripts it folds, so
    // the prefix spans as many characters of the surface form.
    return Math.min(surface.length, [...word.term].length)
  }
  if (word.typos > 0 && withinEdits(folded, word.term, word.typos)) return surface.length
  if (word.synonyms.includes(folded)) return surface.length
  return 0
}

/** Optimal-string-alignment distance ≤ `limit` (a transposition counts as one edit). */
export function withinEdits(a: string, b: string, limit: number): boolean {
  const x = [...a]
  const y = [...b]
  if (Math.abs(x.length - y.length) > limit) return false
  let before = new Array<number>(y.length + 1).fill(0)
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j)
  for (let i = 1; i <= x.length; i++) {
    const current = [i]
    let best = i
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1
      let d = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost)
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1])
        d = Math.min(d, before[j - 2]! + 1)
      current.push(d)
      best = Math.min(best, d)
    }
    if (best > limit) return false
    before = previous
    previous = current
  }
  return previous[y.length]! <= limit
}

/** Every text value of `doc` under `attributes` (`undefined`: all), numbers as text. */
export function textValues(doc: Doc, attributes: readonly string[] | undefined): string[] {
  return textEntries(doc, attributes).map((entry) => entry.text)
}

/** Every text value of `doc` under `attributes` (`undefined`: all) with its dotted path. */
export function textEntries(
  doc: Doc,
  attributes: readonly string[] | undefined,
): Array<{ path: string; text: string }> {
  const out: Array<{ path: string; text: string }> = []
  const visit = (value: unknown, path: string): void => {
    if (typeof value === 'string') out.push({ path, text: value })
    else if (typeof value === 'number' || typeof value === 'boolean') out.push({ path, text: String(value) })
    else if (Array.isArray(value)) for (const item of value) visit(item, path)
    else if (value !== null && typeof value === 'object')
      for (const [key, item] of Object.entries(value)) visit(item, `${path}.${key}`)
  }
  if (attributes === undefined || attributes.includes('*')) {
    for (const [key, value] of Object.entries(doc)) if (key !== '_vectors') visit(value, key)
  } else {
    for (const attribute of attributes) for (const value of valuesAt(doc, attribute)) visit(value, attribute)
  }
  return out
}

/**
 * Folds one document word as the index's analyser does; `split` cuts a text into the words the
 * analyser sees (its custom tokens applied), so highlighting and phrase checks agree with the index.
 */
export interface Fold {
  (word: string): string | undefined
  split(text: string): TextWord[]
}

/**
 * Folded words per text index, shared by its requests: a text index keeps one analyser for its
 * life (new analysis settings build a new text index), and folding a word through it costs far
 * more than a lookup. Narrowed searches fold every word of every candidate.
 */
const foldedWords = new WeakMap<TextIndex, Map<string, string | undefined>>()

/** Words kept per text index; the memo starts over beyond this (about 4 MB of short words). */
const FOLDED_WORDS_KEPT = 65_536

/** A folding function over the index's analyser, memoised per text index. */
export function folder(text: TextIndex): Fold {
  let memo = foldedWords.get(text)
  if (memo === undefined) {
    memo = new Map()
    foldedWords.set(text, memo)
  }
  const words = memo
  const fold = ((word: string) => {
    const known = words.get(word)
    if (known !== undefined || words.has(word)) return known
    const folded = text.tokens(word)[0]
    if (words.size >= FOLDED_WORDS_KEPT) words.clear()
    words.set(word, folded)
    return folded
  }) as Fold
  const spans = text.customSpans
  fold.split =
    spans === undefined
      ? splitWords
      : (value) => spans(value).map(({ start, end }) => ({ start, end, text: value.slice(start, end) }))
  return fold
}

/**
 * Below this many candidates, reading their text costs less than reading the postings of every
 * term the query words reach.
 */
const READ_TEXT_BELOW = 32

/**
 * Which query words each of `candidates` documents holds, as a function of its id. Within the
 * searchable attributes (no `attributesToSearchOn`) and with typos allowed in all of them, this is
 * what the text index matched, so it is read from the postings of the words' terms in one pass
 * (the cost of ranking them) instead of from every candidate's text (tens of milliseconds per
 * thousand candidates); otherwise, or for a few candidates, each document's text is read.
 */
export function heldWordsOf(
  state: { text: TextIndex; textFields: readonly string[]; docAt(id: number): Doc | undefined },
  capacity: number,
  attributes: readonly string[] | undefined,
  typoAttributes: boolean,
  words: QueryWord[],
  fold: Fold,
  candidates: number,
): (id: number) => Set<number> {
  // Words whose reach is known read the postings at the cost of the few terms they name.
  const reached = words.length > 0 && words.every((word) => word.reach !== undefined)
  if (attributes === undefined && !typoAttributes && (candidates >= READ_TEXT_BELOW || reached)) {
    const holders = state.text.wordHolders(words, capacity)
    return (id) => {
      const held = new Set<number>()
      for (let w = 0; w < holders.length; w++) if (holders[w]!.has(id)) held.add(w)
      return held
    }
  }
  // A word counts where the index holds text: the searchable attributes unless narrowed.
  const within = attributes ?? state.textFields
  return (id) => wordsHeld(state.docAt(id)!, within, words, fold)
}

/**
 * Which query words (by index) `doc` holds in `attributes`. Each word is looked for on its own, as
 * the text index matches it: one document word may hold several query words (a prefix and a typo
 * of the same word, say), unlike highlighting, where each document word marks one query word.
 */
export function wordsHeld(
  doc: Doc,
  attributes: readonly string[] | undefined,
  words: QueryWord[],
  fold: Fold,
): Set<number> {
  const held = new Set<number>()
  for (const { path, text } of textEntries(doc, attributes)) {
    const here = wordsAt(words, path)
    for (const token of fold.split(text)) {
      const folded = fold(token.text)
      if (folded === undefined) continue
      for (let w = 0; w < here.length; w++) {
        if (!held.has(w) && matchLength(folded, token.text, here[w]!) > 0) held.add(w)
      }
      if (held.size === words.length) return held
    }
  }
  return held
}
