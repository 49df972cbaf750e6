/**
 * The term dictionary: term → dense term id, plus a sorted view of the terms for prefix ranges,
 * merged lazily with the terms added since the last prefix query.
 */
export class TermDictionary {
  readonly #ids = new Map<string, number>()
  readonly #terms: string[] = []
  #sorted: string[] = []
  #unsorted: string[] = []
  // Term ids by term length (UTF-16 units), for typo search: an edit changes length by at most 1.
  readonly #byLength: number[][] = []

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
      while (this.#byLength.length <= term.length) this.#byLength.push([])
      this.#byLength[term.length]!.push(id)
    }
    return id
  }

  /** Loads `terms` as ids 0..n-1 into an empty dictionary (a repeated term leaves `size` short). */
  load(terms: readonly string[]): void {
    if (this.#terms.length > 0) throw new Error('load into a non-empty dictionary')
    for (let id = 0; id < terms.length; id++) {
      const term = terms[id]!
      this.#ids.set(term, id)
      this.#terms.push(term)
      while (this.#byLength.length <= term.length) this.#byLength.push([])
      this.#byLength[term.length]!.push(id)
    }
    this.#unsorted = this.#terms.slice()
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

  /** Calls `visit` with every term whose length is within [min, max], and its id. */
  forEachOfLength(min: number, max: number, visit: (term: string, id: number) => void): void {
    for (let length = Math.max(0, min); length <= max && length < this.#byLength.length; length++) {
      for (const id of this.#byLength[length]!) visit(this.#terms[id]!, id)
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
    return merged
  }
}

/**
 * Optimal-string-alignment distance (Levenshtein plus adjacent transposition, as typists make
 * them) between `a` and `b`, or `max + 1` as soon as it must exceed `max`.
 */
export function boundedEditDistance(a: string, b: string, max: number): number {
  const n = a.length
  const m = b.length
  if (Math.abs(n - m) > max) return max + 1
  let prevPrev = new Array<number>(m + 1).fill(0)
  let prev = Array.from({ length: m + 1 }, (_, j) => j)
  let row = new Array<number>(m + 1).fill(0)
  for (let i = 1; i <= n; i++) {
    row[0] = i
    let rowMin = i
    const ca = a.charCodeAt(i - 1)
    for (let j = 1; j <= m; j++) {
      const cb = b.charCodeAt(j - 1)
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (ca === cb ? 0 : 1))
      if (i > 1 && j > 1 && ca === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === cb) {
        d = Math.min(d, prevPrev[j - 2]! + 1)
      }
      row[j] = d
      if (d < rowMin) rowMin = d
    }
    if (rowMin > max) return max + 1
    const spare = prevPrev
    prevPrev = prev
    prev = row
    row = spare
  }
  return Math.min(prev[m]!, max + 1)
}
