/**
 * The order documents take when nothing else tells them apart: a placeholder search (no query),
 * and equal scores or equal sort values. It is the order of primary keys, so it is the same
 * whether an index is one partition or many (internal ids depend on insertion order and id reuse,
 * and differ from partition to partition): keys that are decimal integers first, by numeric
 * value (shorter first, then digit by digit), then every other key in code-unit order.
 *
 * The order of a state's live documents is computed once and kept until the text index changes
 * generation (every document add and remove changes it, and a settings change replaces it): the
 * first search after a write sorts the keys again, O(n log n).
 */

import type { IndexState } from './index-state.ts'
import type { TextIndex } from './ports.ts'
import { documentKey } from './primary-key.ts'

const INTEGER = /^\d+$/

/** Negative, zero or positive as `a` comes before, with or after `b` (see the module comment). */
export function compareDocumentKeys(a: string, b: string): number {
  if (a === b) return 0
  const ai = INTEGER.test(a)
  const bi = INTEGER.test(b)
  if (ai !== bi) return ai ? -1 : 1
  if (ai && a.length !== b.length) return a.length - b.length
  return a < b ? -1 : 1
}

export interface DocumentOrder {
  /** Primary key of each internal id (undefined: not live). */
  keys: (string | undefined)[]
  /** Position of each live internal id in key order. */
  rank: Uint32Array
  /** The live internal ids in key order. */
  ids: Uint32Array
}

const cache = new WeakMap<IndexState, { text: TextIndex; generation: number; order: DocumentOrder }>()

export function documentOrder(state: IndexState): DocumentOrder {
  const text = state.text
  const cached = cache.get(state)
  if (cached !== undefined && cached.text === text && cached.generation === text.generation) {
    return cached.order
  }
  const live = state.live.toArray()
  const keys: (string | undefined)[] = []
  const primaryKey = state.primaryKey
  for (const id of live)
    keys[id] = primaryKey === null ? String(id) : documentKey(state.docAt(id)!, primaryKey, 0)
  const ids = Uint32Array.from(live).sort((a, b) => compareDocumentKeys(keys[a]!, keys[b]!))
  const rank = new Uint32Array(live.length === 0 ? 0 : live[live.length - 1]! + 1)
  ids.forEach((id, position) => {
    rank[id] = position
  })
  const order = { keys, rank, ids }
  cache.set(state, { text, generation: text.generation, order })
  return order
}
