/**
 * Generated vectors for the Debian corpus. No embedding model can be loaded
 * here, so each package gets a seeded random projection of its words: every
 * distinct word maps (by a hash of the word) to a fixed pseudo-random unit
 * direction, and a text's vector is the normalised sum of its words'
 * directions (name words count twice). Texts that share words point the same
 * way, so vector search is a soft bag-of-words match on name + summary — a
 * signal related to, but not the same as, BM25 over all fields.
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

/** The vector of a text: normalised sum of word directions (`heavy` words weigh 2). */
export function embed(text: string, heavy = ''): Float32Array {
  const out = new Float32Array(DIMENSIONS)
  const add = (word: string, weight: number) => {
    const v = direction(word)
    for (let d = 0; d < DIMENSIONS; d++) out[d]! += weight * v[d]!
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
