/**
 * Which query words may match through a typo, by the `typoTolerance` setting: none when it is
 * disabled; by length otherwise (one typo from `oneTypo` characters, two from `twoTypos`); never
 * a word of `disableOnWords` (compared as the index's analyser folds it) nor, with
 * `disableOnNumbers`, a word made only of digits. `disableOnAttributes` is a property of where a
 * word is found, not of the word: query-words.ts applies it when it reads document text.
 */

import type { Settings } from '../types.ts'
import type { TextIndex } from './ports.ts'

/** The typo budget the text index applies per query word (0: no typos at all). */
export function typoBudget(settings: Settings): 0 | { oneTypo: number; twoTypos: number } {
  const tolerance = settings.typoTolerance
  return tolerance.enabled ? tolerance.minWordSizeForTypos : 0
}

/** Edits a query word of this length may take, before exemptions. */
export function editsByLength(term: string, settings: Settings): number {
  const tolerance = settings.typoTolerance
  if (!tolerance.enabled) return 0
  const length = [...term].length
  const sizes = tolerance.minWordSizeForTypos
  return length >= sizes.twoTypos ? 2 : length >= sizes.oneTypo ? 1 : 0
}

const DIGITS = /^\p{Nd}+$/u

/**
 * Exempt analysed terms per text index and settings object (both are replaced, never changed in
 * place, when the analysis or the setting changes).
 */
const exemptWords = new WeakMap<TextIndex, WeakMap<Settings, ReadonlySet<string>>>()

/**
 * Whether an analysed query term must match as typed; undefined when no term is exempt (the
 * common case, which keeps the text index's fast path).
 */
export function typoExemption(text: TextIndex, settings: Settings): ((term: string) => boolean) | undefined {
  const tolerance = settings.typoTolerance
  if (!tolerance.enabled) return undefined
  if (tolerance.disableOnWords.length === 0 && !tolerance.disableOnNumbers) return undefined
  const words = exemptSet(text, settings)
  const numbers = tolerance.disableOnNumbers
  return (term) => words.has(term) || (numbers && DIGITS.test(term))
}

function exemptSet(text: TextIndex, settings: Settings): ReadonlySet<string> {
  let bySettings = exemptWords.get(text)
  if (bySettings === undefined) {
    bySettings = new WeakMap()
    exemptWords.set(text, bySettings)
  }
  let words = bySettings.get(settings)
  if (words === undefined) {
    words = new Set(settings.typoTolerance.disableOnWords.flatMap((word) => text.tokens(word)))
    bySettings.set(settings, words)
  }
  return words
}
