/**
 * Per-attribute value indexes for filters and facets.
 *
 * For every indexed path (an attribute covered by `filterableAttributes`, with
 * nested leaves under their dotted path) the index keeps posting arrays of
 * internal document ids: one per distinct string (lower-cased, as Meilisearch
 * compares strings case-insensitively), one per distinct number, plus the ids
 * where the path exists, is null, or is empty. Indexing a document appends
 * its id to the arrays (in no particular order: the ids of removed documents
 * are reused). Ranges use a (value, id) array sorted lazily on the first
 * range query after a change.
 *
 * Deletions are eager and batched: `remove` walks the removed documents'
 * values again and filters their ids out of exactly the arrays they are in,
 * once per array per batch (against a bitset of the removed ids), so a freed
 * id can be given to a new document at once and the arrays hold live
 * documents only. `planRemove` does the same work ahead, with pauses, and
 * puts the filtered arrays in place in one step.
 */

import type { Doc, FilterableAttribute } from '../types.ts'
import { Bitset } from './bitset.ts'
import { isPlainObject, walkDocument } from './document-path.ts'
import { isFilterable, reachesFilterable } from './filterable-rules.ts'
import { runWhole, type Steps } from './stepwise.ts'

export class FieldValues {
  // Replaced whole by a staged removal (`planPurge`); read through the instance, never kept.
  exists: number[] = []
  nulls: number[] = []
  empties: number[] = []
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

  /**
   * Dropping the `removed` ids from the common arrays and from the given values' arrays, worked
   * out without changing anything: the arrays without them are built now, and the returned
   * function puts them in place (a step per array). The caller changes nothing in between.
   */
  *planPurge(removed: Bitset, strings: ReadonlySet<string>, numbers: ReadonlySet<number>): Steps<() => void> {
    const exists = keptIds(this.exists, removed)
    const nulls = keptIds(this.nulls, removed)
    const empties = keptIds(this.empties, removed)
    yield
    const keptStrings: [string, number[]][] = []
    for (const key of strings) {
      const ids = this.strings.get(key)
      if (ids !== undefined) keptStrings.push([key, keptIds(ids, removed)])
    }
    const keptNumbers: [number, number[]][] = []
    for (const value of numbers) {
      const ids = this.numbers.get(value)
      if (ids !== undefined) keptNumbers.push([value, keptIds(ids, removed)])
    }
    yield
    let rangeIds: number[] | undefined
    let rangeValues: number[] | undefined
    if (numbers.size > 0) {
      rangeIds = []
      rangeValues = []
      for (let i = 0; i < this.#rangeIds.length; i++) {
        if (removed.has(this.#rangeIds[i]!)) continue
        rangeIds.push(this.#rangeIds[i]!)
        rangeValues.push(this.#rangeValues[i]!)
      }
    }
    return () => {
      this.exists = exists
      this.nulls = nulls
      this.empties = empties
      for (const [key, ids] of keptStrings) {
        if (ids.length > 0) this.strings.set(key, ids)
        else {
          this.strings.delete(key)
          this.spelling.delete(key)
        }
      }
      for (const [value, ids] of keptNumbers) {
        if (ids.length > 0) this.numbers.set(value, ids)
        else this.numbers.delete(value)
      }
      if (rangeIds !== undefined) {
        this.#rangeIds = rangeIds
        this.#rangeValues = rangeValues!
        this.#sorted = undefined
      }
    }
  }

  /** Ids held over all arrays (a document counts once per array it is in). */
  get entries(): number {
    let total = this.exists.length + this.nulls.length + this.empties.length + this.#rangeIds.length
    for (const ids of this.strings.values()) total += ids.length
    for (const ids of this.numbers.values()) total += ids.length
    return total
  }
}

/** The ids of `ids` not in `removed`, in order (a new array). */
function keptIds(ids: readonly number[], removed: Bitset): number[] {
  const kept: number[] = []
  for (let i = 0; i < ids.length; i++) if (!removed.has(ids[i]!)) kept.push(ids[i]!)
  return kept
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
  readonly #attributes: readonly FilterableAttribute[]
  readonly #paths = new Map<string, FieldValues>()

  /** `attributes` is the `filterableAttributes` setting; nested paths are indexed too. */
  constructor(attributes: readonly FilterableAttribute[]) {
    this.#attributes = attributes
  }

  get attributes(): readonly FilterableAttribute[] {
    return this.#attributes
  }

  /** Indexes `doc` under `id` (not indexed at the moment). */
  add(id: number, doc: Doc): void {
    if (this.#attributes.length === 0) return
    const visit = (path: string, value: unknown) => {
      if (!isFilterable(this.#attributes, path)) return
      let values = this.#paths.get(path)
      if (values === undefined) {
        values = new FieldValues()
        this.#paths.set(path, values)
      }
      values.add(id, value)
    }
    // Only top-level attributes that are, or lead to, a filterable path are walked
    // (large unfiltered values such as `_vectors` are skipped whole).
    for (const key of Object.keys(doc)) {
      if (this.#reaches(key)) walkDocument({ [key]: doc[key] }, visit)
    }
  }

  /**
   * The attributes of `doc` that `add` walks, as a document of their own: indexing it under an
   * id is the same as indexing `doc` (snapshots store these instead of re-reading documents).
   */
  filterable(doc: Doc): Doc {
    const out: Doc = {}
    for (const key of Object.keys(doc)) if (this.#reaches(key)) out[key] = doc[key]
    return out
  }

  /**
   * Removes the documents (each with the content it was indexed with): every array that holds
   * one of their ids is filtered once.
   */
  remove(removed: readonly { id: number; doc: Doc }[]): void {
    runWhole(this.planRemove(removed, Number.POSITIVE_INFINITY))()
  }

  /**
   * `remove`, worked out without changing anything, yielding every `chunk` documents and per
   * array: the returned function applies it in a step per touched array (no document is read
   * then). The caller changes nothing in between.
   */
  *planRemove(removed: readonly { id: number; doc: Doc }[], chunk: number): Steps<() => void> {
    if (this.#attributes.length === 0 || removed.length === 0) return () => {}
    let top = 0
    for (const { id } of removed) if (id > top) top = id
    const ids = new Bitset(top + 1)
    const touched = new Map<FieldValues, { strings: Set<string>; numbers: Set<number> }>()
    const visit = (path: string, value: unknown) => {
      const values = this.#paths.get(path)
      if (values === undefined) return
      let keys = touched.get(values)
      if (keys === undefined) {
        keys = { strings: new Set(), numbers: new Set() }
        touched.set(values, keys)
      }
      if (typeof value === 'string') keys.strings.add(value.toLowerCase())
      else if (typeof value === 'boolean') keys.strings.add(value ? 'true' : 'false')
      else if (typeof value === 'number' && Number.isFinite(value)) keys.numbers.add(value)
    }
    for (let i = 0; i < removed.length; i++) {
      if ((i + 1) % chunk === 0) yield
      const { id, doc } = removed[i]!
      ids.add(id)
      for (const key of Object.keys(doc)) {
        if (this.#reaches(key)) walkDocument({ [key]: doc[key] }, visit)
      }
    }
    const apply: (() => void)[] = []
    for (const [values, keys] of touched) apply.push(yield* values.planPurge(ids, keys.strings, keys.numbers))
    return () => {
      for (const step of apply) step()
    }
  }

  /** Ids held over every indexed path (for memory accounting). */
  get entries(): number {
    let total = 0
    for (const values of this.#paths.values()) total += values.entries
    return total
  }

  #reaches(key: string): boolean {
    return reachesFilterable(this.#attributes, key)
  }

  /** The values at `path`, or undefined when no document has it. */
  get(path: string): FieldValues | undefined {
    return this.#paths.get(path)
  }
}
