import { Rng, testSeed } from '@shoal/testkit/rng'
import { describe, expect, it } from 'vitest'
import { compareDocumentKeys } from '../src/index.ts'
import { sortByKey } from '../src/internal/document-order.ts'

// The key order of a placeholder search (src/internal/document-order.ts): short decimal keys are
// sorted as numbers, the rest by comparing keys; the result must be the comparison's order.

const SEED = testSeed(2401)

function randomKey(rng: Rng): string {
  const digits = (n: number) => Array.from({ length: n }, () => String(rng.int(10))).join('')
  switch (rng.int(6)) {
    case 0:
      return String(rng.int(1_000_000))
    case 1:
      // Leading zeros: `007` is not `7`, and sorts after every shorter decimal key.
      return digits(1 + rng.int(6))
    case 2:
      // Around the 15-digit line between the numeric and the compared keys.
      return digits(14 + rng.int(4))
    case 3:
      return String(Number.MAX_SAFE_INTEGER - rng.int(1000))
    case 4:
      return `${rng.pick(['a', 'B', 'z', '_', '-', '0a'])}${digits(rng.int(4))}`
    default:
      return rng.pick(['', 'x']) + rng.pick(['Alpha', 'alpha', 'beta-2', 'Z_9', 'é'])
  }
}

describe('primary-key order of document ids', () => {
  it('is the order of compareDocumentKeys, for decimal keys of every length and other keys', () => {
    for (let round = 0; round < 20; round++) {
      const rng = new Rng(SEED + round)
      const keys = [...new Set(Array.from({ length: 2000 }, () => randomKey(rng)))]
      const ids = rng.shuffle(keys.map((_, id) => id))
      const state = { keyAt: (id: number) => keys[id] }
      const expected = [...ids].sort((a, b) => compareDocumentKeys(keys[a]!, keys[b]!))
      expect(Array.from(sortByKey(state, ids)), `seed ${SEED + round}`).toEqual(expected)
    }
  })
})
