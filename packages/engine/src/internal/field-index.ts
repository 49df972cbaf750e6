/**
 * Per-attribute value indexes for filters and facets.
 *
 * For every indexed path (an attribute covered by `filterableAttributes`, with
 * nested leaves under their dotted path) the index keeps posting arrays of
 * internal document ids: one per distinct string (lower-cased, as Meilisearch
 * compares strings case-insensitively), one per distinct number, plus the ids
 * where the path exists, is null, or is empty. Internal ids only grow, so
 * indexing a document appends to the arrays, which stay sorted. Ranges use a
 * (value, id) array sorted lazily on the first range query after a change.
 *
 * Deletions are lazy: a deleted id stays in the arrays and is masked by the
 * caller's live-document bitset; the owner rebuilds when dead ids pile up.
 */

import type { Doc } from '../types.ts'
import type { Bitset } from './bitset.ts'
import { isPlainObject, walkDocument } from './document-path.ts'
import { isCovered } from './settings.ts'

export class FieldValues {
  readonly exists: number[] = []
  readonly nulls: number[] = []
  readonly empties: number[] = []
  readonly strings = new Map<string, number[]>()
  /** The first spelling seen of each lower-cased string, for facet output. */
  readonly spelling = new Map<string, string>()
  readonly numbers = new Map<number, number[]>()
  #rangeValues: number[] = []
  #rangeIds: number[] = []
  #sorted: { values: Float64Array; ids: Uint32Array } | undefined

  add(id: number, value: unknown): void {
    pushOnce(this.exists, id)
    if (value === null) pushOnce(this.nulls, id)
    else if (typeof value === 'string') {
      if (value === '') pushOnce(this.empties, id)
      this.#addString(id, value)
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value)) return
      let ids = this.numbers.get(value)
      if (ids === undefined) {
        ids = []
        this.numbers.set(value, ids)
      }
      if (pushOnce(ids, id)) {
        this.#rangeValues.push(value)
        this.#rangeIds.push(id)
        this.#sorted = undefined
      }
    } else if (typeof value === 'boolean') this.#addString(id, value ? 'true' : 'false')
    else if (Array.isArray(value)) {
      if (value.length === 0) pushOnce(this.empties, id)
    } else if (isPlainObject(value) && Object.keys(value).length === 0) pushOnce(this.empties, id)
  }

  #addString(id: number, value: string): void {
    const key = value.toLowerCase()
    let ids = this.strings.get(key)
    if (ids === undefined) {
      ids = []
      this.strings.set(key, ids)
      this.spelling.set(key, value)
    }
    pushOnce(ids, id)
  }

  /** Adds to `out` the ids whose numeric value lies in the range. */
  range(out: Bitset, low: number, lowInclusive: boolean, high: number, highInclusive: boolean): void {
    const { values, ids } = this.#sortedRange()
    let at = lowerBound(values, low, lowInclusive)
    while (at < values.length) {
      const v = values[at]!
      if (v > high || (v === high && !highInclusive)) break
      out.add(ids[at]!)
      at++
    }
  }

  #sortedRange(): { values: Float64Array; ids: Uint32Array } {
    if (this.#sorted !== undefined) return this.#sorted
    const n = this.#rangeValues.length
    const order = new Uint32Array(n)
    for (let i = 0; i < n; i++) order[i] = i
    const source = this.#rangeValues
    order.sort((a, b) => source[a]! - source[b]! || a - b)
    const values = new Float64Array(n)
    const ids = new Uint32Array(n)
    for (let i = 0; i < n; i++) {
      values[i] = source[order[i]!]!
      ids[i] = this.#rangeIds[order[i]!]!
    }
    this.#sorted = { values, ids }
    return this.#sorted
  }
}

function pushOnce(ids: number[], id: number): boolean {
  if (ids.length > 0 && ids[ids.length - 1] === id) return false
  ids.push(id)
  return true
}

/** First position whose value is > low (or >= low when inclusive). */
function lowerBound(values: Float64Array, low: number, inclusive: boolean): number {
  let lo = 0
  let hi = values.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const v = values[mid]!
    if (v < low || (v === low && !inclusive)) lo = mid + 1
    else hi = mid
  }
  return lo
}

export class FieldIndexes {
  readonly #attributes: readonly string[]
  readonly #paths = new Map<string, FieldValues>()

  /** `attributes` are the filterable attributes; their nested paths are indexed too. */
  constructor(attributes: readonly string[]) {
    this.#attributes = attributes
  }

  get attributes(): readonly string[] {
    return this.#attributes
  }

  /** Indexes `doc` under `id`; ids must be added in increasing order. */
  add(id: number, doc: Doc): void {
    if (this.#attributes.length === 0) return
    walkDocument(doc, (path, value) => {
      if (!isCovered(path, this.#attributes)) return
      let values = this.#paths.get(path)
      if (values === undefined) {
        values = new FieldValues()
        this.#paths.set(path, values)
      }
      values.add(id, value)
    })
  }

  /** The values at `path`, or undefined when no document has it. */
  get(path: string): FieldValues | undefined {
    return this.#paths.get(path)
  }
}
