import { SortedRun } from './sorted-run.ts'

/** Recent terms are kept apart from the main run up to this many at least. */
const RECENT_MIN = 4096

/**
 * The term dictionary: term → dense term id, plus a sorted view of the terms for prefix ranges
 * and typo search (sorted-run.ts).
 *
 * The sorted view is two runs, as a log-structured merge keeps it: a large main run and a small
 * run of recent terms. A query first sorts the terms added since the last query into the recent
 * run (O(recent + added log added)); the recent run is merged into the main one only once it
 * passes a sixteenth of it (and `RECENT_MIN` terms). So a stream of writes with searches in
 * between does not merge the whole dictionary at every search: one whole merge per sixteenth of
 * growth, a small one otherwise. Queries read both runs.
 */
export class TermDictionary {
  readonly #ids = new Map<string, number>()
  readonly #terms: string[] = []
  #main = new SortedRun([])
  #recent = new SortedRun([])
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
    const steps = this.loadSteps(terms, sortedIds, Number.POSITIVE_INFINITY)
    while (steps.next().done !== true) {}
  }

  /**
   * `load`, yielding after every `slice` terms (the dictionary is not in use until it is done): a
   * caller loading in slices runs it between pauses.
   */
  *loadSteps(
    terms: readonly string[],
    sortedIds: Uint32Array | undefined,
    slice: number,
  ): Generator<void, void, void> {
    if (this.#terms.length > 0) throw new Error('load into a non-empty dictionary')
    for (let id = 0; id < terms.length; id++) {
      if (id > 0 && id % slice === 0) yield
      const term = terms[id]!
      this.#ids.set(term, id)
      this.#terms.push(term)
    }
    if (sortedIds === undefined) {
      this.#unsorted = this.#terms.slice()
      return
    }
    const sorted = new Array<string>(sortedIds.length)
    for (let i = 0; i < sortedIds.length; i++) {
      if (i > 0 && i % slice === 0) yield
      sorted[i] = this.#terms[sortedIds[i]!]!
    }
    this.#main = new SortedRun(sorted)
  }

  /** Term ids in sorted term order (both runs are merged into one first). */
  sortedIds(): Uint32Array {
    this.#runs()
    this.#main = SortedRun.merge(this.#main, this.#recent)
    this.#recent = new SortedRun([])
    const sorted = this.#main.terms
    const out = new Uint32Array(sorted.length)
    for (let i = 0; i < sorted.length; i++) out[i] = this.#ids.get(sorted[i]!)!
    return out
  }

  /** Ids of every term that starts with `prefix`, in term order. */
  withPrefix(prefix: string): number[] {
    const [main, recent] = this.#runs()
    const [a, aEnd] = main.prefixRange(prefix)
    const [b, bEnd] = recent.prefixRange(prefix)
    const out: number[] = []
    let i = a
    let j = b
    while (i < aEnd || j < bEnd) {
      const fromMain = j >= bEnd || (i < aEnd && main.terms[i]! < recent.terms[j]!)
      out.push(this.#ids.get(fromMain ? main.terms[i++]! : recent.terms[j++]!)!)
    }
    return out
  }

  /**
   * Calls `visit` with every term within `maxEdits` of `word` (optimal string alignment distance:
   * insertions, deletions, substitutions, adjacent transpositions), its id and its distance, run
   * by run (each in sorted term order).
   */
  forEachWithin(
    word: string,
    maxEdits: number,
    visit: (term: string, id: number, edits: number) => void,
  ): void {
    for (const run of this.#runs()) {
      run.forEachWithin(word, maxEdits, (term, edits) => visit(term, this.#ids.get(term)!, edits))
    }
  }

  /**
   * `forEachWithin` over several dictionaries in one walk (`SortedRun.forEachWithinAll`): `visit`
   * gets each term within `maxEdits` of `word` once per dictionary holding it, with that
   * dictionary's position in `dictionaries` and its id there.
   */
  static forEachWithinAll(
    dictionaries: readonly TermDictionary[],
    word: string,
    maxEdits: number,
    visit: (term: string, dictionary: number, id: number, edits: number) => void,
  ): void {
    const runs: SortedRun[] = []
    const owners: number[] = []
    dictionaries.forEach((dictionary, d) => {
      for (const run of dictionary.#runs()) {
        if (run.size === 0) continue
        runs.push(run)
        owners.push(d)
      }
    })
    const found = (term: string, run: number, edits: number): void => {
      const owner = owners[run]!
      visit(term, owner, dictionaries[owner]!.#ids.get(term)!, edits)
    }
    const union = unionOf(runs)
    if (union === undefined) {
      SortedRun.forEachWithinAll(runs, word, maxEdits, found)
      return
    }
    union.run.forEachWithin(word, maxEdits, (term, edits, position) => {
      // The runs holding the term, lowest first.
      for (let mask = union.members[position]!; mask !== 0; mask &= mask - 1)
        found(term, 31 - Math.clz32(mask & -mask), edits)
    })
  }

  /** Calls `visit` with every term and its id. */
  forEach(visit: (term: string, id: number) => void): void {
    this.#terms.forEach(visit)
  }

  /** The two sorted runs, with every term added so far. */
  #runs(): [SortedRun, SortedRun] {
    if (this.#unsorted.length > 0) {
      const added = new SortedRun(this.#unsorted.sort())
      this.#unsorted = []
      this.#recent = SortedRun.merge(this.#recent, added)
      if (this.#recent.size > Math.max(RECENT_MIN, this.#main.size >> 4)) {
        this.#main = SortedRun.merge(this.#main, this.#recent)
        this.#recent = new SortedRun([])
      }
    }
    return [this.#main, this.#recent]
  }
}

/**
 * The union of several sorted runs as one run, with a bit per term for each run holding it: a
 * typo walk over it costs what one walk over one dictionary of the union's terms costs, where a
 * joint walk of the runs (`SortedRun.forEachWithinAll`) also compares their heads at every step.
 */
interface RunUnion {
  readonly runs: readonly SortedRun[]
  /** Null until the same runs are walked a second time. */
  run: SortedRun | null
  members: Uint32Array | null
}

/**
 * Unions by the first of their runs. Runs never change (a dictionary replaces them when terms
 * arrive), so an entry holds while its runs are the ones walked.
 */
const unions = new WeakMap<SortedRun, RunUnion>()

/**
 * The union of `runs`, built (in O(terms x log runs)) the second time in a row the same runs are
 * walked: while new terms keep arriving between walks, the runs change every time and the joint
 * walk serves; once they hold still, one build serves every later walk. Undefined until then, and
 * for more runs than a bit mask holds.
 */
function unionOf(runs: readonly SortedRun[]): { run: SortedRun; members: Uint32Array } | undefined {
  const first = runs[0]
  if (first === undefined || runs.length > 31) return undefined
  const entry = unions.get(first)
  if (
    entry === undefined ||
    entry.runs.length !== runs.length ||
    entry.runs.some((run, i) => run !== runs[i])
  ) {
    unions.set(first, { runs: [...runs], run: null, members: null })
    return undefined
  }
  if (entry.run === null || entry.members === null) {
    let lists: MemberList[] = runs.map((run, r) => ({
      terms: run.terms,
      members: new Uint32Array(run.size).fill(1 << r),
    }))
    while (lists.length > 1) {
      const next: typeof lists = []
      for (let i = 0; i < lists.length; i += 2)
        next.push(i + 1 < lists.length ? mergeMembers(lists[i]!, lists[i + 1]!) : lists[i]!)
      lists = next
    }
    entry.run = new SortedRun(lists[0]!.terms)
    entry.members = lists[0]!.members
  }
  return { run: entry.run, members: entry.members }
}

/** Sorted terms and, per term, a bit for each run holding it. */
interface MemberList {
  readonly terms: readonly string[]
  readonly members: Uint32Array
}

/** Two sorted term lists as one, a term in both once with both members. */
function mergeMembers(a: MemberList, b: MemberList): MemberList {
  const terms: string[] = []
  const members = new Uint32Array(a.terms.length + b.terms.length)
  let i = 0
  let j = 0
  while (i < a.terms.length || j < b.terms.length) {
    // Past the end is not read (an out-of-bounds read takes a slow path).
    const x = i < a.terms.length ? a.terms[i] : undefined
    const y = j < b.terms.length ? b.terms[j] : undefined
    if (y === undefined || (x !== undefined && x < y)) {
      members[terms.length] = a.members[i++]!
      terms.push(x!)
    } else if (x === undefined || y < x) {
      members[terms.length] = b.members[j++]!
      terms.push(y)
    } else {
      members[terms.length] = a.members[i++]! | b.members[j++]!
      terms.push(x)
    }
  }
  return { terms, members: members.slice(0, terms.length) }
}
