import { expect } from 'vitest'
import type { SearchResult } from '../src/index.ts'

const TOLERANCE = 1e-4

function close(a: number, b: number): boolean {
  return Math.abs(a - b) <= TOLERANCE * Math.max(Math.abs(a), Math.abs(b), 1e-9)
}

/**
 * The index's top-k equals the oracle's: the same score at every rank (1e-4 relative), every
 * returned id scored as the oracle scores it, and the same id wherever the score is not tied.
 */
export function expectSameTopK(
  actual: SearchResult,
  expected: Array<{ id: number; score: number }>,
  oracleScore: (id: number) => number,
): void {
  expect(actual.ids.length).toBe(expected.length)
  expected.forEach(({ id, score }, i) => {
    const got = actual.scores[i]!
    if (!close(got, score)) expect.fail(`rank ${i}: score ${got}, expected ${score} (id ${id})`)
    const gotId = actual.ids[i]!
    if (!close(oracleScore(gotId), got))
      expect.fail(`rank ${i}: id ${gotId} scores ${oracleScore(gotId)}, not ${got}`)
    const tied = expected.some((other, j) => j !== i && close(other.score, score))
    const tiedBeyond = expected.length > 0 && i === expected.length - 1
    if (!tied && !tiedBeyond) expect(gotId).toBe(id)
  })
}

/** A seeded word source over a Zipf-like vocabulary, so that some terms are common. */
export function wordSource(random: () => number, vocabulary: number): () => string {
  const letters = 'abcdefghijklmnopqrstuvwxyz'
  const words = Array.from({ length: vocabulary }, (_, i) => {
    let word = ''
    let n = i + 27
    while (n > 0) {
      word += letters[n % 26]
      n = Math.floor(n / 26)
    }
    return `${word}q`
  })
  return () => words[Math.floor(vocabulary * random() ** 2.5)]!
}
