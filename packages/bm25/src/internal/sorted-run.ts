/**
 * A sorted run of terms: the terms in code-unit order and, built on demand, the length of the
 * prefix each term shares with the one before it (2 bytes per term, capped at 65,535).
 *
 * Typo search (`forEachWithin`) walks the run as the trie it spells, without building it:
 * consecutive terms share their common prefix's rows of the edit-distance table, so a row is
 * computed once per distinct prefix visited; a prefix whose row already exceeds the budget skips
 * every term under it (the terms whose shared length stays at least as long). A query uses a
 * table of (longest term + 1) x (word + 1) integers.
 */
export class SortedRun {
  readonly terms: readonly string[]
  #lcp: Uint16Array | undefined

  constructor(sortedTerms: readonly string[]) {
    this.terms = sortedTerms
  }

  get size(): number {
    return this.terms.length
  }

  /** The run holding the terms of both runs (which must not share a term), in order: O(a + b). */
  static merge(a: SortedRun, b: SortedRun): SortedRun {
    if (b.size === 0) return a
    if (a.size === 0) return b
    const x = a.terms
    const y = b.terms
    const merged: string[] = new Array(x.length + y.length)
    let i = 0
    let j = 0
    let k = 0
    while (i < x.length && j < y.length) merged[k++] = x[i]! < y[j]! ? x[i++]! : y[j++]!
    while (i < x.length) merged[k++] = x[i++]!
    while (j < y.length) merged[k++] = y[j++]!
    return new SortedRun(merged)
  }

  /** The index range [from, to) of the terms that start with `prefix`. */
  prefixRange(prefix: string): [number, number] {
    const sorted = this.terms
    let lo = 0
    let hi = sorted.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (sorted[mid]! < prefix) lo = mid + 1
      else hi = mid
    }
    let end = lo
    while (end < sorted.length && sorted[end]!.startsWith(prefix)) end++
    return [lo, end]
  }

  /**
   * Calls `visit` with every term within `maxEdits` of `word` (optimal string alignment distance:
   * insertions, deletions, substitutions, adjacent transpositions) and its distance, in order.
   */
  forEachWithin(word: string, maxEdits: number, visit: (term: string, edits: number) => void): void {
    const sorted = this.terms
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
      if (edits <= maxEdits) visit(term, edits)
      i++
    }
  }

  #commonPrefixes(): Uint16Array {
    if (this.#lcp !== undefined) return this.#lcp
    const sorted = this.terms
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
