import type { Analyzer, CollectionStats, DocumentFields, ExpandedTerm } from '../../src/index.ts'

/**
 * Exhaustive BM25F in plain TypeScript, the oracle for the WASM index: every document is
 * scored against every term, no pruning, no compression, doubles throughout.
 */
export class ReferenceBm25 {
  readonly docs = new Map<number, Array<Map<string, number>>>()
  readonly lengths = new Map<number, number[]>()

  readonly fields: Array<{ name: string; boost: number }>
  readonly analyzer: Analyzer
  readonly k1: number
  readonly b: number
  readonly delta: number

  constructor(
    fields: Array<{ name: string; boost: number }>,
    analyzer: Analyzer,
    k1 = 1.2,
    b = 0.75,
    delta = 0,
  ) {
    this.fields = fields
    this.analyzer = analyzer
    this.k1 = k1
    this.b = b
    this.delta = delta
  }

  add(id: number, doc: DocumentFields): void {
    const perField = this.fields.map(({ name }) => {
      const value = doc[name]
      const texts = value === undefined ? [] : Array.isArray(value) ? value : [value]
      const counts = new Map<string, number>()
      let length = 0
      for (const text of texts) {
        for (const token of this.analyzer.tokens(text)) {
          counts.set(token, Math.min(255, (counts.get(token) ?? 0) + 1))
          length++
        }
      }
      return { counts, length }
    })
    this.docs.set(
      id,
      perField.map((p) => p.counts),
    )
    this.lengths.set(
      id,
      perField.map((p) => p.length),
    )
  }

  remove(id: number): void {
    this.docs.delete(id)
    this.lengths.delete(id)
  }

  stats(): CollectionStats {
    const fieldLengths: Record<string, number> = {}
    const docFrequencies: Record<string, number> = {}
    this.fields.forEach(({ name }, f) => {
      fieldLengths[name] = [...this.lengths.values()].reduce((sum, lens) => sum + lens[f]!, 0)
    })
    for (const fields of this.docs.values()) {
      const seen = new Set<string>()
      for (const counts of fields) for (const term of counts.keys()) seen.add(term)
      for (const term of seen) docFrequencies[term] = (docFrequencies[term] ?? 0) + 1
    }
    return { docCount: this.docs.size, fieldLengths, docFrequencies }
  }

  idf(stats: CollectionStats, term: string): number {
    const n = stats.docCount
    const df = Math.min(stats.docFrequencies[term] ?? 0, n)
    return Math.log(1 + (n - df + 0.5) / (df + 0.5))
  }

  score(id: number, terms: readonly ExpandedTerm[], stats: CollectionStats): number {
    const fields = this.docs.get(id)!
    const lens = this.lengths.get(id)!
    let total = 0
    for (const t of terms) {
      let x = 0
      this.fields.forEach(({ name, boost }, f) => {
        const tf = fields[f]!.get(t.term) ?? 0
        if (tf === 0) return
        const avg = stats.docCount > 0 ? (stats.fieldLengths[name] ?? 0) / stats.docCount : 0
        const norm = avg > 0 ? 1 - this.b + (this.b * lens[f]!) / avg : 1
        x += (boost * tf) / norm
      })
      if (x === 0) continue
      let termIdf = this.idf(stats, t.term)
      if (t.idfCap !== undefined) termIdf = Math.min(termIdf, this.idf(stats, t.idfCap))
      total += t.weight * termIdf * ((x * (this.k1 + 1)) / (x + this.k1) + this.delta)
    }
    return total
  }

  search(
    terms: readonly ExpandedTerm[],
    k: number,
    options: { stats?: CollectionStats; filter?: (id: number) => boolean } = {},
  ): Array<{ id: number; score: number }> {
    const stats = options.stats ?? this.stats()
    const scored: Array<{ id: number; score: number }> = []
    for (const id of this.docs.keys()) {
      if (options.filter !== undefined && !options.filter(id)) continue
      const score = this.score(id, terms, stats)
      if (score > 0) scored.push({ id, score })
    }
    scored.sort((x, y) => y.score - x.score || x.id - y.id)
    return scored.slice(0, k)
  }
}
