/**
 * Meilisearch's query syntax beyond plain words: `"a phrase"` must appear as
 * consecutive words, and `-word` or `-"a phrase"` excludes the documents
 * holding it. What remains (positive words and the words of phrases) is the
 * text the BM25 ranking sees; a query of exclusions only is a placeholder
 * search minus the excluded documents.
 */

import type { Doc, Settings } from '../types.ts'
import type { TextIndex } from './ports.ts'
import { type Fold, textValues } from './query-words.ts'

export interface QuerySyntax {
  /** The text to rank by. */
  text: string
  /** Analysed words of each phrase that must appear. */
  phrases: string[][]
  /** Analysed words of each excluded word or phrase. */
  excluded: string[][]
}

const PART = /(-?)"([^"]*)"?|(\S+)/g

export function parseQuerySyntax(q: string, text: TextIndex): QuerySyntax {
  const kept: string[] = []
  const phrases: string[][] = []
  const excluded: string[][] = []
  for (const match of q.matchAll(PART)) {
    const [, minus, phrase, word] = match
    if (phrase !== undefined) {
      const terms = text.tokens(phrase)
      if (terms.length === 0) continue
      if (minus === '-') excluded.push(terms)
      else {
        phrases.push(terms)
        kept.push(phrase)
      }
    } else if (word !== undefined) {
      if (word.length > 1 && word.startsWith('-')) {
        const terms = text.tokens(word.slice(1))
        if (terms.length > 0) excluded.push(terms)
      } else kept.push(word)
    }
  }
  return { text: kept.join(' '), phrases, excluded }
}

export function hasSyntax(syntax: QuerySyntax): boolean {
  return syntax.phrases.length > 0 || syntax.excluded.length > 0
}

/**
 * Whether `doc` holds every phrase and none of the excluded words, in `attributes` (undefined:
 * all). `byWord` (the `proximityPrecision` setting): a phrase's words must be consecutive in one
 * text value. `byAttribute`: they may stand anywhere in one attribute, in any order, as
 * Meilisearch then only knows whether words share an attribute.
 */
export function satisfies(
  doc: Doc,
  attributes: readonly string[] | undefined,
  syntax: QuerySyntax,
  fold: Fold,
  precision: Settings['proximityPrecision'] = 'byWord',
): boolean {
  const analysed = (values: string[]) =>
    values.map((value) =>
      fold
        .split(value)
        .map((w) => fold(w.text))
        .filter((w): w is string => w !== undefined),
    )
  if (precision === 'byAttribute') {
    const groups = attributeGroups(doc, attributes).map((values) => new Set(analysed(values).flat()))
    const holds = (terms: string[]) => groups.some((words) => terms.every((t) => words.has(t)))
    return syntax.phrases.every(holds) && !syntax.excluded.some(holds)
  }
  const values = analysed(textValues(doc, attributes))
  const holds = (terms: string[]) => values.some((words) => containsRun(words, terms))
  return syntax.phrases.every(holds) && !syntax.excluded.some(holds)
}

/** The text values of each top-level attribute (or each of `attributes`), one group per attribute. */
function attributeGroups(doc: Doc, attributes: readonly string[] | undefined): string[][] {
  const names =
    attributes === undefined || attributes.includes('*')
      ? Object.keys(doc).filter((key) => key !== '_vectors')
      : attributes
  return names.map((name) => textValues(doc, [name]))
}

function containsRun(words: string[], run: string[]): boolean {
  outer: for (let i = 0; i + run.length <= words.length; i++) {
    for (let j = 0; j < run.length; j++) if (words[i + j] !== run[j]) continue outer
    return true
  }
  return false
}
