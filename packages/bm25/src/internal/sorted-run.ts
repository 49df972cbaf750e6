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
  forEachWithin(
    word: string,
    maxEdits: number,
    visit: (term: string, edits: number, position: number) => void,
  ): void {
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
      if (edits <= maxEdits) visit(term, edits, i)
      i++
    }
  }

  /**
   * `forEachWithin` over several runs at once, as one walk of the trie their union spells: a
   * prefix's row of the edit-distance table is computed once however many runs hold terms under
   * it, and a pruned prefix skips its terms in every run. Calls `visit` with each term within
   * `maxEdits` of `word`, the run holding it and its distance (a term in several runs: once per
   * run), terms in order. What calling each run's `forEachWithin` finds, for the cost of about one
   * walk of the union: the walks of several small runs repeat the dense top of the trie.
   */
  static forEachWithinAll(
    runs: readonly SortedRun[],
    word: string,
    maxEdits: number,
    visit: (term: string, run: number, edits: number) => void,
  ): void {
    const heads = new Array<number>(runs.length).fill(0)
    const n = word.length
    const rows: Int32Array[] = [Int32Array.from({ length: n + 1 }, (_, j) => j)]
    let valid = 0 // rows[0..valid] hold the prefixes of `last`
    let last = ''
    for (;;) {
      const term = smallestHead(runs, heads)
      if (term === undefined) return
      let shared = 0
      const limit = Math.min(valid, last.length, term.length)
      while (shared < limit && last.charCodeAt(shared) === term.charCodeAt(shared)) shared++
      let pruned = 0
      for (let d = shared + 1; d <= term.length; d++) {
        if (rows.length <= d) rows.push(new Int32Array(n + 1))
        if (editRow(rows, d, term, word) > maxEdits) {
          pruned = d
          break
        }
      }
      last = term
      if (pruned > 0) {
        // No term under this prefix, in any run, can come back within the budget.
        valid = pruned
        const prefix = term.slice(0, pruned)
        for (let r = 0; r < runs.length; r++) heads[r] = runs[r]!.#pastPrefix(heads[r]!, prefix)
        continue
      }
      valid = term.length
      const edits = rows[term.length]![n]!
      for (let r = 0; r < runs.length; r++) {
        const terms = runs[r]!.terms
        const head = heads[r]!
        if (head >= terms.length || terms[head] !== term) continue
        if (edits <= maxEdits) visit(term, r, edits)
        heads[r]!++
      }
    }
  }

  /**
   * The first position from `from` on whose term does not start with `prefix` (no term from `from`
   * on sorts before it): the terms under it follow one another, each sharing at least
   * `prefix.length` characters with the one before.
   */
  #pastPrefix(from: number, prefix: string): number {
    const sorted = this.terms
    if (from >= sorted.length || !sorted[from]!.startsWith(prefix)) return from
    const lcp = this.#commonPrefixes()
    let i = from + 1
    while (i < sorted.length && lcp[i]! >= prefix.length) i++
    return i
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

/** The smallest of the runs' current terms (undefined when every run is done). */
function smallestHead(runs: readonly SortedRun[], heads: readonly number[]): string | undefined {
  let smallest: string | undefined
  for (let r = 0; r < runs.length; r++) {
    const terms = runs[r]!.terms
    const head = heads[r]!
    // Past the end is not read (an out-of-bounds read takes a slow path).
    if (head >= terms.length) continue
    const term = terms[head]!
    if (smallest === undefined || term < smallest) smallest = term
  }
  return smallest
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
