/**
 * The order documents take when nothing else tells them apart: a placeholder search (no query),
 * and equal scores or equal sort values. It is the order of primary keys, so it is the same
 * whether an index is one partition or many (internal ids depend on insertion order and id reuse,
 * and differ from partition to partition): keys that are decimal integers first, by numeric
 * value (shorter first, then digit by digit), then every other key in code-unit order.
 *
 * Ties among scored hits compare the keys directly. A placeholder search needs every live
 * document in key order: that order is computed once and kept until the text index changes
 * generation (every document add and remove changes it, and a settings change replaces it), so
 * the first placeholder search after a write sorts the keys again, O(n log n). Keys that are
 * decimal integers of up to 15 digits (exact as doubles) are sorted as numbers, by length then
 * value, which is their key order; the rest by comparing keys. Keys are held by the index; no
 * document is read.
 */

import type { IndexState } from './index-state.ts'
import type { TextIndex } from './ports.ts'

/** Negative, zero or positive as `a` comes before, with or after `b` (see the module comment). */
export function compareDocumentKeys(a: string, b: string): number {
  if (a === b) return 0
  const ai = isDecimal(a)
  const bi = isDecimal(b)
  if (ai !== bi) return ai ? -1 : 1
  if (ai && a.length !== b.length) return a.length - b.length
  return a < b ? -1 : 1
}

function isDecimal(key: string): boolean {
  if (key.length === 0) return false
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i)
    if (c < 48 || c > 57) return false
  }
  return true
}

/** Compares two live internal ids by their primary keys. */
export function byKey(state: Pick<IndexState, 'keyAt'>): (a: number, b: number) => number {
  return (a, b) => compareDocumentKeys(state.keyAt(a)!, state.keyAt(b)!)
}

const cache = new WeakMap<IndexState, { text: TextIndex; generation: number; ids: Uint32Array }>()

/** The live internal ids in primary-key order (kept until the next write, see the module comment). */
export function idsByKey(state: IndexState): Uint32Array {
  const text = state.text
  const cached = cache.get(state)
  if (cached !== undefined && cached.text === text && cached.generation === text.generation) return cached.ids
  const ids = sortByKey(state, state.live.toArray())
  cache.set(state, { text, generation: text.generation, ids })
  return ids
}

/** Decimal keys of at most this many digits are compared as numbers (below 2^53: exact). */
const NUMERIC_KEY_DIGITS = 15

/**
 * The live `ids` in key order (`compareDocumentKeys`): short decimal keys first, compared as
 * (length, value) numbers, which orders them as comparing their digits would; then every other
 * key (longer decimals, then the rest), compared as keys. Keys are unique, so the order is too.
 */
export function sortByKey(state: Pick<IndexState, 'keyAt'>, ids: ArrayLike<number>): Uint32Array {
  const shortIds: number[] = []
  const lengths: number[] = []
  const values: number[] = []
  const others: number[] = []
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!
    const key = state.keyAt(id)!
    if (key.length <= NUMERIC_KEY_DIGITS && isDecimal(key)) {
      shortIds.push(id)
      lengths.push(key.length)
      values.push(Number(key))
    } else others.push(id)
  }
  const order = new Uint32Array(shortIds.length)
  for (let i = 0; i < order.length; i++) order[i] = i
  order.sort((a, b) => lengths[a]! - lengths[b]! || values[a]! - values[b]!)
  const out = new Uint32Array(ids.length)
  for (let i = 0; i < order.length; i++) out[i] = shortIds[order[i]!]!
  others.sort(byKey(state))
  out.set(others, order.length)
  return out
}
