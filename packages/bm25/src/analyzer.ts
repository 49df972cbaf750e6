import { stemmer } from 'stemmer'
import { eng } from 'stopword'
import { Bm25ConfigError } from './errors.ts'
import { createSpanner, type TextSpan } from './internal/word-spans.ts'

export type { TextSpan }

/** How text becomes index terms. */
export interface AnalyzerOptions {
  /**
   * `'en'` stems English words (Porter) and may drop English stop words; `'none'` keeps tokens as
   * they are; any other BCP 47 tag only guides word segmentation of scripts written without spaces.
   * @defaultValue 'en'
   */
  locale?: string
  /** Porter stemming of Latin-letter tokens; only with `locale: 'en'`. @defaultValue true for 'en' */
  stemming?: boolean
  /**
   * `true` drops the English stop word list (package `stopword`, 108 words) with `locale: 'en'`;
   * an array drops exactly those words (normalised like text). @defaultValue false
   */
  stopwords?: boolean | string[]
  /**
   * Strings that are one word as a whole (`J. R. R.`, `C++`), compared case-insensitively
   * (Meilisearch's `dictionary`; internal/word-spans.ts). @defaultValue []
   */
  dictionary?: string[]
  /** Strings that separate words besides non-letters (Meilisearch's `separatorTokens`). @defaultValue [] */
  separatorTokens?: string[]
  /** Strings that are part of words rather than separators (`#`, `@`; `nonSeparatorTokens`). @defaultValue [] */
  nonSeparatorTokens?: string[]
}

/** One query word: `term` is what the index stores, `surface` the normalised word before stemming. */
export interface QueryToken {
  term: string
  surface: string
}

export interface Analyzer {
  readonly locale: string
  readonly stemming: boolean
  /** Whether `dictionary`, `separatorTokens` or `nonSeparatorTokens` change the segmentation. */
  readonly customTokens: boolean
  /**
   * The words of `text` as spans of the original text (UTF-16 offsets), in order: what `words`
   * normalises. Callers that highlight or check phrases segment with it.
   */
  spans(text: string): TextSpan[]
  /** Index terms of `text` in order, duplicates kept (the caller counts term frequencies). */
  tokens(text: string): string[]
  /** Query words in order with their unstemmed form, for prefix and typo expansion. */
  queryTokens(text: string): QueryToken[]
  /** Whether `term` (already normalised) is a stop word of this analyzer. */
  isStopword(term: string): boolean
  /** Normalised words of `text` before stop words and stemming; `tokens` = `words` then `term`. */
  words(text: string): string[]
  /** The index term of one normalised word, or undefined for a stop word. */
  term(word: string): string | undefined
}

/** Longest token kept; longer runs (hashes, base64) are cut to this many UTF-16 units. */
const MAX_TOKEN_LENGTH = 64
const ASCII = /^[\p{ASCII}]*$/u
const ASCII_WORD = /[a-z0-9]+/g
// Letters, digits and their combining marks form words; a pictograph (emoji) is a word on its own.
const WORD = /[\p{L}\p{N}][\p{L}\p{N}\p{M}]*|\p{Extended_Pictographic}/gu
// Scripts written without spaces between words: a run of these goes through Intl.Segmenter.
const NO_SPACE_SCRIPT =
  /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u
const LATIN_WORD = /^[a-z]+$/
// Combining diacritical marks, and emoji variation selectors.
const DIACRITICS = /[\u0300-\u036f\ufe0e\ufe0f]/g

/** Unicode compatibility normalisation, diacritics folded (é → e, й → и), lower case. */
export function normalizeText(text: string): string {
  if (ASCII.test(text)) return text.toLowerCase()
  return text.normalize('NFKD').replace(DIACRITICS, '').normalize('NFC').toLowerCase()
}

export function createAnalyzer(options: AnalyzerOptions = {}): Analyzer {
  const locale = options.locale ?? 'en'
  if (typeof locale !== 'string' || locale.length === 0) throw new Bm25ConfigError('locale must be a string')
  const english = locale === 'en' || locale.startsWith('en-')
  if (options.stemming === true && !english) throw new Bm25ConfigError(`stemming is only offered for 'en'`)
  const stemming = english && options.stemming !== false
  const stopwords = resolveStopwords(options.stopwords, english)
  const segmenter = new Intl.Segmenter(locale === 'none' ? undefined : locale, { granularity: 'word' })
  const stems = new Map<string, string>()
  const tokens = {
    dictionary: tokenList(options.dictionary, 'dictionary'),
    separatorTokens: tokenList(options.separatorTokens, 'separatorTokens'),
    nonSeparatorTokens: tokenList(options.nonSeparatorTokens, 'nonSeparatorTokens'),
  }
  const customTokens =
    tokens.dictionary.length + tokens.separatorTokens.length + tokens.nonSeparatorTokens.length > 0
  const spans = createSpanner(tokens, segmenter)

  const stem = (word: string): string => {
    if (!stemming || !LATIN_WORD.test(word)) return word
    let stemmed = stems.get(word)
    if (stemmed === undefined) {
      stemmed = stemmer(word)
      if (stems.size > 200_000) stems.clear()
      stems.set(word, stemmed)
    }
    return stemmed
  }

  const words = (text: string): string[] => {
    if (customTokens) return spans(text).map((span) => cut(normalizeText(text.slice(span.start, span.end))))
    if (ASCII.test(text)) {
      const found = text.toLowerCase().match(ASCII_WORD)
      if (found === null) return []
      for (let i = 0; i < found.length; i++)
        if (found[i]!.length > MAX_TOKEN_LENGTH) found[i] = cut(found[i]!)
      return found
    }
    const normalized = normalizeText(text)
    const out: string[] = []
    for (const match of normalized.matchAll(WORD)) {
      const run = match[0]
      if (!NO_SPACE_SCRIPT.test(run)) {
        out.push(cut(run))
        continue
      }
      for (const segment of segmenter.segment(run)) {
        if (segment.isWordLike === true) out.push(cut(segment.segment))
      }
    }
    return out
  }

  return {
    locale,
    stemming,
    customTokens,
    spans,
    tokens(text) {
      const out: string[] = []
      for (const word of words(text)) if (!stopwords.has(word)) out.push(stem(word))
      return out
    },
    queryTokens(text) {
      const all = words(text)
      const out: QueryToken[] = []
      all.forEach((word, i) => {
        // The last word may be half typed: it stays even if it looks like a stop word.
        if (stopwords.has(word) && i < all.length - 1) return
        out.push({ term: stem(word), surface: word })
      })
      return out
    },
    isStopword: (term) => stopwords.has(term),
    words,
    term: (word) => (stopwords.has(word) ? undefined : stem(word)),
  }
}

function tokenList(option: string[] | undefined, name: string): string[] {
  if (option === undefined) return []
  if (!Array.isArray(option) || option.some((t) => typeof t !== 'string' || t.length === 0)) {
    throw new Bm25ConfigError(`${name} must be an array of non-empty strings`)
  }
  return option
}

function cut(word: string): string {
  return word.length > MAX_TOKEN_LENGTH ? word.slice(0, MAX_TOKEN_LENGTH) : word
}

function resolveStopwords(option: boolean | string[] | undefined, english: boolean): Set<string> {
  if (option === undefined || option === false) return new Set()
  if (option === true) {
    if (!english) throw new Bm25ConfigError(`stopwords: true needs locale 'en'; pass a list instead`)
    return new Set(eng)
  }
  if (!Array.isArray(option) || option.some((w) => typeof w !== 'string')) {
    throw new Bm25ConfigError('stopwords must be a boolean or an array of strings')
  }
  return new Set(option.map(normalizeText))
}
