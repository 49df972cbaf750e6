/**
 * The term dictionary: term → dense term id, plus a sorted view of the terms for prefix ranges
 * and typo search, merged lazily with the terms added since the last such query.
 *
 * Typo search (`forEachWithin`) walks the sorted terms as the trie they spell, without building
 * it: beside the sorted array (which prefix search keeps anyway) it holds the length of the prefix
 * each term shares with the one before it (2 bytes per term). Consecutive terms share their common
 * prefix's rows of the edit-distance table, so a row is computed once per distinct prefix visited;
 * a prefix whose row already exceeds the budget skips every term under it (the terms whose shared
 * length stays at least as long). A query uses a table of (longest term + 1) x (word + 1) integers.
 */
export class TermDictionary {
  readonly #ids = new Map<string, number>()
  readonly #terms: string[] = []
  #sorted: string[] = []
  /** lcp[i]: characters sorted[i] shares with sorted[i - 1] (capped at 65,535); built on demand. */
  #lcp: Uint16Array | undefined
  #unsorted: string[] = []

  get size(): number {
    return this.#terms.length
  }

  id(term: string): number | undefined {
    return this.#ids.get(term)
  }

  term(id: number): string {
    return this.#terms[id]!
  }

  /** The id of `term`, adding it when new. */
  intern(term: string): number {
    let id = this.#ids.get(term)
    if (id === undefined) {
      id = this.#terms.length
      this.#terms.push(term)
      this.#ids.set(term, id)
      this.#unsorted.push(term)
    }
    return id
  }

  /**
   * Loads `terms` as ids 0..n-1 into an empty dictionary (a repeated term leaves `size` short);
   * `sortedIds`, the ids in sorted term order, spares the first prefix or typo query the sort.
   */
  load(terms: readonly string[], sortedIds?: Uint32Array): void {
    if (this.#terms.length > 0) throw new Error('load into a non-empty dictionary')
    for (let id = 0; id < terms.length; id++) {
      const term = terms[id]!
      this.#ids.set(term, id)
      this.#terms.push(term)
    }
    if (sortedIds === undefined) this.#unsorted = this.#terms.slice()
    else this.#sorted = Array.from(sortedIds, (id) => this.#terms[id]!)
  }

  /** Term ids in sorted term order. */
  sortedIds(): Uint32Array {
    const sorted = this.#sortedTerms()
    const out = new Uint32Array(sorted.length)
    for (let i = 0; i < sorted.length; i++) out[i] = this.#ids.get(sorted[i]!)!
    return out
  }

  /** Ids of every term that starts with `prefix`, in term order. */
  withPrefix(prefix: string): number[] {
    const sorted = this.#sortedTerms()
    let lo = 0
    let hi = sorted.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (sorted[mid]! < prefix) lo = mid + 1
      else hi = mid
    }
    const out: number[] = []
    for (let i = lo; i < sorted.length && sorted[i]!.startsWith(prefix); i++)
      out.push(this.#ids.get(sorted[i]!)!)
    return out
  }

  /**
   * Calls `visit` with every term within `maxEdits` of `word` (optimal string alignment distance:
   * insertions, deletions, substitutions, adjacent transpositions), its id and its distance, in
   * sorted term order.
   */
  forEachWithin(
    word: string,
    maxEdits: number,
    visit: (term: string, id: number, edits: number) => void,
  ): void {
    const sorted = this.#sortedTerms()
    const lcp = this.#commonPrefixes()
    const n = word.length
    const rows: Int32Array[] = [Int32Array.from({ length: n + 1 }, (_, j) => j)]
    let valid = 0 // rows[0..valid] hold the prefixes of the term visited last
    let i = 0
    while (i < sorted.length) {
      const term = sorted[i]!
      // The last visited term and this one share lcp[i] characters (after a skip, too: every
      // skipped term shared more with the pruned one).
      let pruned = 0
      for (let d = Math.min(valid, lcp[i]!) + 1; d <= term.length; d++) {
        if (rows.length <= d) rows.push(new Int32Array(n + 1))
        if (editRow(rows, d, term, word) > maxEdits) {
          pruned = d
          break
        }
      }
      if (pruned > 0) {
        // No term under this prefix can come back within the budget: skip them all.
        valid = pruned
        i++
        while (i < sorted.length && lcp[i]! >= pruned) i++
        continue
      }
      valid = term.length
      const edits = rows[term.length]![n]!
      if (edits <= maxEdits) visit(term, this.#ids.get(term)!, edits)
      i++
    }
  }

  /** Calls `visit` with every term and its id. */
  forEach(visit: (term: string, id: number) => void): void {
    this.#terms.forEach(visit)
  }

  #sortedTerms(): string[] {
    if (this.#unsorted.length === 0) return this.#sorted
    const added = this.#unsorted.sort()
    this.#unsorted = []
    const old = this.#sorted
    const merged: string[] = new Array(old.length + added.length)
    let i = 0
    let j = 0
    let k = 0
    while (i < old.length && j < added.length) merged[k++] = old[i]! < added[j]! ? old[i++]! : added[j++]!
    while (i < old.length) merged[k++] = old[i++]!
    while (j < added.length) merged[k++] = added[j++]!
    this.#sorted = merged
    this.#lcp = undefined
    return merged
  }

  #commonPrefixes(): Uint16Array {
    if (this.#lcp !== undefined) return this.#lcp
    const sorted = this.#sorted
    const lcp = new Uint16Array(sorted.length)
    for (let i = 1; i < sorted.length; i++) {
      const a = sorted[i - 1]!
      const b = sorted[i]!
      const limit = Math.min(a.length, b.length, 65_535)
      let k = 0
      while (k < limit && a.charCodeAt(k) === b.charCodeAt(k)) k++
      lcp[i] = k
    }
    this.#lcp = lcp
    return lcp
  }
}

/**
 * Fills `rows[d]` (term prefix of length d against every prefix of `word`) from the rows above;
 * returns its smallest value. Optimal string alignment: insertions, deletions, substitutions and
 * transpositions of adjacent characters.
 */
function editRow(rows: Int32Array[], d: number, term: string, word: string): number {
  const row = rows[d]!
  const above = rows[d - 1]!
  const twoAbove = d > 1 ? rows[d - 2]! : undefined
  const c = term.charCodeAt(d - 1)
  const cPrev = d > 1 ? term.charCodeAt(d - 2) : -1
  row[0] = d
  let min = d
  for (let j = 1; j <= word.length; j++) {
    const w = word.charCodeAt(j - 1)
    let v = Math.min(above[j]! + 1, row[j - 1]! + 1, above[j - 1]! + (c === w ? 0 : 1))
    if (twoAbove !== undefined && j > 1 && c === word.charCodeAt(j - 2) && cPrev === w) {
      v = Math.min(v, twoAbove[j - 2]! + 1)
    }
    row[j] = v
    if (v < min) min = v
  }
  return min
}
