/**
 * Generated vectors for the Debian corpus. No embedding model can be loaded
 * here, so each package gets a seeded random projection of its words: every
 * distinct word maps (by a hash of the word) to a fixed pseudo-random
 * direction, and a text's vector is the normalised sum of its words'
 * directions weighted by the word's inverse document frequency in the corpus.
 * The benchmark embeds each package's summary only, so vector search is a
 * soft TF-IDF match on the summary — a signal related to, but not the same
 * as, BM25 over name, summary and description (and, since the known-item
 * queries are drawn from summaries, a favourable one).
 */

export const DIMENSIONS = 64

const cache = new Map<string, Float32Array>()

function direction(word: string): Float32Array {
  let vector = cache.get(word)
  if (vector !== undefined) return vector
  let h = 0x811c9dc5
  for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), 0x01000193)
  let state = h >>> 0
  vector = new Float32Array(DIMENSIONS)
  for (let d = 0; d < DIMENSIONS; d++) {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    vector[d] = ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5
  }
  cache.set(word, vector)
  return vector
}

function words(text: string): string[] {
  return text.toLowerCase().match(/[a-z0-9]+/g) ?? []
}

/** Word weights: ln(1 + N / df) over the texts of a corpus (unknown words weigh as the rarest). */
export function idfWeights(texts: readonly string[]): (word: string) => number {
  const df = new Map<string, number>()
  for (const text of texts) for (const word of new Set(words(text))) df.set(word, (df.get(word) ?? 0) + 1)
  const n = texts.length
  return (word) => Math.log(1 + n / (df.get(word) ?? 1))
}

/** The vector of a text: normalised sum of weighted word directions (`heavy` words count twice). */
export function embed(text: string, heavy = '', weight: (word: string) => number = () => 1): Float32Array {
  const out = new Float32Array(DIMENSIONS)
  const add = (word: string, factor: number) => {
    const v = direction(word)
    const w = factor * weight(word)
    for (let d = 0; d < DIMENSIONS; d++) out[d]! += w * v[d]!
  }
  for (const word of words(text)) add(word, 1)
  for (const word of words(heavy)) add(word, 2)
  let norm = 0
  for (let d = 0; d < DIMENSIONS; d++) norm += out[d]! * out[d]!
  norm = Math.sqrt(norm)
  if (norm === 0) {
    out[0] = 1
    return out
  }
  for (let d = 0; d < DIMENSIONS; d++) out[d]! /= norm
  return out
}
