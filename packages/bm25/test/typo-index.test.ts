import { Rng, testSeed } from '@shoal/testkit/rng'
import { describe, expect, it } from 'vitest'
import { TermDictionary } from '../src/internal/dictionary.ts'
import { boundedEditDistance } from './reference/edit-distance.ts'

// Typo search walks the sorted dictionary as a trie (src/internal/dictionary.ts); it must find
// exactly what comparing the word with every term finds.

const SEED = testSeed(33)
const ALPHABET = 'abcdeéfgh'

function randomWord(rng: Rng, min: number, max: number): string {
  const length = min + Math.floor(rng.next() * (max - min + 1))
  let word = ''
  for (let i = 0; i < length; i++) word += ALPHABET[Math.floor(rng.next() * ALPHABET.length)]
  return word
}

/** `word` with up to `edits` random insertions, deletions, substitutions or transpositions. */
function misspell(rng: Rng, word: string, edits: number): string {
  let out = word
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rng.next() * (out.length + 1))
    const c = ALPHABET[Math.floor(rng.next() * ALPHABET.length)]!
    const kind = Math.floor(rng.next() * 4)
    if (kind === 0) out = out.slice(0, at) + c + out.slice(at)
    else if (kind === 1 && out.length > 1) out = out.slice(0, at) + out.slice(at + 1)
    else if (kind === 2) out = out.slice(0, at) + c + out.slice(at + 1)
    else if (at + 1 < out.length) out = out.slice(0, at) + out[at + 1] + out[at] + out.slice(at + 2)
  }
  return out
}

function linearScan(dictionary: TermDictionary, word: string, max: number): string[] {
  const out: string[] = []
  dictionary.forEach((term, id) => {
    const edits = boundedEditDistance(word, term, max)
    if (edits <= max) out.push(`${term}:${id}:${edits}`)
  })
  return out.sort()
}

function indexed(dictionary: TermDictionary, word: string, max: number): string[] {
  const out: string[] = []
  dictionary.forEachWithin(word, max, (term, id, edits) => out.push(`${term}:${id}:${edits}`))
  return out.sort()
}

describe('typo search over the sorted dictionary', () => {
  it('finds exactly the terms a linear scan finds, with the same distances, for budgets 0 to 3', () => {
    const rng = new Rng(SEED)
    const dictionary = new TermDictionary()
    const terms: string[] = []
    for (let i = 0; i < 3000; i++) {
      const term = randomWord(rng, 1, 9)
      terms.push(term)
      dictionary.intern(term)
    }
    for (let q = 0; q < 300; q++) {
      const base = q % 3 === 0 ? randomWord(rng, 0, 10) : terms[Math.floor(rng.next() * terms.length)]!
      const word = misspell(rng, base, Math.floor(rng.next() * 3))
      const max = q % 4
      expect(indexed(dictionary, word, max), `seed ${SEED}: "${word}" within ${max}`).toEqual(
        linearScan(dictionary, word, max),
      )
    }
  })

  it('sees terms added after a search (the sorted view is merged again)', () => {
    const dictionary = new TermDictionary()
    for (const term of ['kernel', 'colonel', 'kennel']) dictionary.intern(term)
    expect(indexed(dictionary, 'kernal', 1)).toEqual(['kernel:0:1'])
    dictionary.intern('karnal')
    dictionary.intern('kernals')
    expect(indexed(dictionary, 'kernal', 1)).toEqual(linearScan(dictionary, 'kernal', 1))
    expect(indexed(dictionary, 'kernal', 1)).toEqual(['karnal:3:1', 'kernals:4:1', 'kernel:0:1'])
  })

  it('counts an adjacent transposition as one edit, as the linear scan does', () => {
    const dictionary = new TermDictionary()
    dictionary.intern('search')
    expect(indexed(dictionary, 'saerch', 1)).toEqual(['search:0:1'])
    expect(indexed(dictionary, 'saerhc', 1)).toEqual([])
    expect(indexed(dictionary, 'saerhc', 2)).toEqual(['search:0:2'])
  })

  it('finds terms in both sorted runs while terms keep arriving between queries', () => {
    // Terms added between queries go to a small recent run, merged into the main one only once it
    // passes a sixteenth of it (src/internal/dictionary.ts); queries must see both.
    const rng = new Rng(SEED + 1)
    const dictionary = new TermDictionary()
    const byPrefix = (prefix: string): string[] => {
      const out: string[] = []
      dictionary.forEach((term) => {
        if (term.startsWith(prefix)) out.push(term)
      })
      return out.sort()
    }
    for (let round = 0; round < 60; round++) {
      for (let i = 0; i < 200; i++) dictionary.intern(randomWord(rng, 1, 8))
      const word = randomWord(rng, 2, 6)
      expect(indexed(dictionary, word, 1), `seed ${SEED}: round ${round}`).toEqual(
        linearScan(dictionary, word, 1),
      )
      const prefix = randomWord(rng, 1, 2)
      const found = dictionary.withPrefix(prefix).map((id) => dictionary.term(id))
      // In term order across both runs.
      expect(found, `seed ${SEED}: round ${round}, prefix ${prefix}`).toEqual(byPrefix(prefix))
    }
    const ids = Array.from(dictionary.sortedIds(), (id) => dictionary.term(id))
    expect(ids).toEqual([...ids].sort())
    expect(ids.length).toBe(dictionary.size)
  })

  it('walks several dictionaries at once and finds what walking each one finds', () => {
    // TermDictionary.forEachWithinAll: one walk of the union's trie (shards of one collection).
    const rng = new Rng(SEED + 2)
    const dictionaries = [0, 1, 2, 3, 4].map(() => new TermDictionary())
    const shared: string[] = []
    for (let i = 0; i < 400; i++) shared.push(randomWord(rng, 1, 9))
    for (let round = 0; round < 20; round++) {
      // Terms land in several dictionaries (a term held by several shards), some in recent runs.
      for (let i = 0; i < 150; i++) {
        const term =
          rng.next() < 0.5 ? shared[Math.floor(rng.next() * shared.length)]! : randomWord(rng, 1, 9)
        for (const dictionary of dictionaries) if (rng.next() < 0.4) dictionary.intern(term)
      }
      for (let q = 0; q < 15; q++) {
        const base = q % 3 === 0 ? randomWord(rng, 0, 10) : shared[Math.floor(rng.next() * shared.length)]!
        const word = misspell(rng, base, Math.floor(rng.next() * 3))
        const max = q % 4
        const separately = dictionaries.flatMap((dictionary, d) =>
          indexed(dictionary, word, max).map((found) => `${d}:${found}`),
        )
        const together: string[] = []
        TermDictionary.forEachWithinAll(dictionaries, word, max, (term, d, id, edits) =>
          together.push(`${d}:${term}:${id}:${edits}`),
        )
        expect(together.sort(), `seed ${SEED}: round ${round}, "${word}" within ${max}`).toEqual(
          separately.sort(),
        )
      }
    }
    // Empty dictionaries and none at all walk to nothing.
    const seen: string[] = []
    TermDictionary.forEachWithinAll([new TermDictionary()], 'abc', 2, (term) => seen.push(term))
    TermDictionary.forEachWithinAll([], 'abc', 2, (term) => seen.push(term))
    expect(seen).toEqual([])
  })
})
