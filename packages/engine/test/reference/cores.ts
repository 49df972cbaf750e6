/**
 * Plain-TypeScript search cores for tests: an exhaustive BM25 text index and
 * a brute-force vector index behind the engine's ports. They make tests of
 * filters, facets, sort and pagination independent of the WASM cores, and
 * serve as oracles where exact rankings matter.
 */

import type {
  Components,
  CoreStats,
  HeldWordQuery,
  PreparedText,
  TextHits,
  TextIndex,
  TextIndexConfig,
  TextQueryStats,
  TextSearchOptions,
  VectorHits,
  VectorIndex,
  VectorIndexConfig,
} from '../../src/index.ts'
import { Bitset } from '../../src/internal/bitset.ts'

export function referenceTokens(text: string, stopWords: readonly string[] = []): string[] {
  const stop = new Set(stopWords)
  return text
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((t) => t !== '' && !stop.has(t))
}

export class ReferenceTextIndex implements TextIndex {
  readonly config: TextIndexConfig
  readonly docs = new Map<number, Map<string, string[]>>()

  constructor(config: TextIndexConfig) {
    this.config = config
  }

  prepare(fields: Record<string, string[]>): PreparedText & { fields: Record<string, string[]> } {
    return { preparedBy: this, fields }
  }

  addPrepared(id: number, prepared: PreparedText): void {
    if (prepared.preparedBy !== this) throw new Error('prepared by another index')
    this.add(id, (prepared as PreparedText & { fields: Record<string, string[]> }).fields)
  }

  #staged: [number, Record<string, string[]>][] = []

  /** Staged documents wait aside; `publish` removes what they replace and adds them. */
  stage(id: number, prepared: PreparedText): void {
    if (prepared.preparedBy !== this) throw new Error('prepared by another index')
    this.#staged.push([id, (prepared as PreparedText & { fields: Record<string, string[]> }).fields])
  }

  discard(): void {
    this.#staged = []
  }

  publish(): { documents: number; termsTouched: number; replaced: number } {
    const staged = this.#staged
    this.#staged = []
    let replaced = 0
    for (const [id] of staged) if (this.docs.delete(id)) replaced++
    for (const [id, fields] of staged) this.add(id, fields)
    return { documents: staged.length, termsTouched: 0, replaced }
  }

  add(id: number, fields: Record<string, string[]>): void {
    if (this.docs.has(id)) throw new Error(`duplicate id ${id}`)
    const analysed = new Map<string, string[]>()
    for (const field of this.config.fields) {
      const values = fields[field.name]
      if (values !== undefined)
        analysed.set(
          field.name,
          values.flatMap((v) => referenceTokens(v, this.config.stopWords)),
        )
    }
    this.docs.set(id, analysed)
    this.generation++
  }

  remove(id: number): void {
    this.docs.delete(id)
    this.generation++
  }

  generation = 0

  /**
   * The reference is a one-partition oracle: its statistics are its own, and it searches with
   * its own (it refuses collection-wide statistics of other partitions rather than ignore them).
   */
  queryStats(query: string): TextQueryStats {
    const docFrequencies: Record<string, number> = {}
    for (const term of this.tokens(query)) docFrequencies[term] = this.#df(term)
    return {
      docCount: this.docs.size,
      fieldLengths: {},
      docFrequencies,
      candidates: {
        words: this.tokens(query).map((term) => ({ term, surface: term, completions: [], typos: [] })),
      },
    }
  }

  #df(term: string): number {
    let df = 0
    for (const doc of this.docs.values()) if ([...doc.values()].some((tokens) => tokens.includes(term))) df++
    return df
  }

  #ownStats(global: TextQueryStats | undefined): void {
    if (global !== undefined && global.docCount !== this.docs.size) {
      throw new Error('the reference text index searches one partition only')
    }
  }

  matchEstimate(query: string, global?: TextQueryStats): number {
    this.#ownStats(global)
    const terms = this.tokens(query)
    let best = 0
    for (const term of terms) {
      let df = 0
      for (const doc of this.docs.values())
        if ([...doc.values()].some((tokens) => tokens.includes(term))) df++
      best = Math.max(best, df)
    }
    return best
  }

  tokens(query: string): string[] {
    return referenceTokens(query, this.config.stopWords)
  }

  /** Exact and prefix matches and synonyms, by reading every document (the reference has no typos). */
  wordHolders(words: readonly HeldWordQuery[], capacity: number): Bitset[] {
    return words.map((word) => {
      const held = new Bitset(capacity)
      const matches = (token: string) =>
        token === word.term || word.synonyms.includes(token) || (word.prefix && token.startsWith(word.term))
      for (const [id, doc] of this.docs) {
        if (id < capacity && [...doc.values()].some((tokens) => tokens.some(matches))) held.add(id)
      }
      return held
    })
  }

  search(query: string, k: number, options: TextSearchOptions): TextHits {
    this.#ownStats(options.global)
    const terms = this.tokens(query)
    const allowed = options.allowed === undefined ? undefined : new Set(options.allowed)
    const n = this.docs.size
    const avg = new Map<string, number>()
    for (const field of this.config.fields) {
      let total = 0
      for (const doc of this.docs.values()) total += doc.get(field.name)?.length ?? 0
      avg.set(field.name, n === 0 ? 1 : total / n || 1)
    }
    const matches = (token: string, term: string, last: boolean) =>
      token === term || (last && options.prefix && token.startsWith(term))
    const scored: [number, number][] = []
    for (const [id, doc] of this.docs) {
      if (allowed !== undefined && !allowed.has(id)) continue
      let score = 0
      terms.forEach((term, i) => {
        const last = i === terms.length - 1
        let df = 0
        for (const other of this.docs.values()) {
          if ([...other.values()].some((tokens) => tokens.some((t) => matches(t, term, last)))) df++
        }
        const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5))
        for (const field of this.config.fields) {
          const tokens = doc.get(field.name) ?? []
          const tf = tokens.filter((t) => matches(t, term, last)).length
          if (tf === 0) continue
          const norm = 1 - 0.75 + (0.75 * tokens.length) / avg.get(field.name)!
          score += (idf * field.boost * tf * 2.2) / (tf + 1.2 * norm)
        }
      })
      if (score > 0) scored.push([id, score])
    }
    scored.sort((a, b) => b[1] - a[1] || a[0] - b[0])
    const top = scored.slice(0, k)
    return { ids: Uint32Array.from(top, (e) => e[0]), scores: Float32Array.from(top, (e) => e[1]) }
  }

  stats(): CoreStats {
    return { documents: this.docs.size, removed: 0, bytes: 0 }
  }

  serialize(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify([...this.docs].map(([id, doc]) => [id, [...doc]])))
  }

  /** The bytes are taken in this turn (a reference has no long encoding to slice). */
  serializeInSlices(): Promise<Uint8Array> {
    return Promise.resolve(this.serialize())
  }

  static fromBytes(bytes: Uint8Array, config: TextIndexConfig): ReferenceTextIndex {
    const index = new ReferenceTextIndex(config)
    const entries = JSON.parse(new TextDecoder().decode(bytes)) as [number, [string, string[]][]][]
    for (const [id, doc] of entries) index.docs.set(id, new Map(doc))
    return index
  }
}

export class ReferenceVectorIndex implements VectorIndex {
  readonly config: VectorIndexConfig
  readonly vectors = new Map<number, Float32Array>()

  constructor(config: VectorIndexConfig) {
    this.config = config
  }

  addBatch(ids: Uint32Array, vectors: Float32Array): void {
    const d = this.config.dimensions
    ids.forEach((id, i) => {
      this.vectors.set(id, vectors.slice(i * d, (i + 1) * d))
    })
  }

  remove(id: number): void {
    this.vectors.delete(id)
  }

  has(id: number): boolean {
    return this.vectors.has(id)
  }

  distance(a: Float32Array, b: Float32Array): number {
    let dot = 0
    let na = 0
    let nb = 0
    let l2 = 0
    for (let i = 0; i < a.length; i++) {
      dot += a[i]! * b[i]!
      na += a[i]! * a[i]!
      nb += b[i]! * b[i]!
      l2 += (a[i]! - b[i]!) ** 2
    }
    if (this.config.distance === 'l2') return l2
    if (this.config.distance === 'dot') return 1 - dot
    return 1 - dot / (Math.sqrt(na * nb) || 1)
  }

  search(query: Float32Array, k: number, allowed?: Uint32Array): VectorHits {
    const allow = allowed === undefined ? undefined : new Set(allowed)
    const scored: [number, number][] = []
    for (const [id, vector] of this.vectors) {
      if (allow === undefined || allow.has(id)) scored.push([id, this.distance(query, vector)])
    }
    scored.sort((a, b) => a[1] - b[1] || a[0] - b[0])
    const top = scored.slice(0, k)
    return { ids: Uint32Array.from(top, (e) => e[0]), distances: Float32Array.from(top, (e) => e[1]) }
  }

  stats(): CoreStats {
    return { documents: this.vectors.size, removed: 0, bytes: 0 }
  }

  serialize(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify([...this.vectors].map(([id, v]) => [id, [...v]])))
  }

  async serializeInSlices(): Promise<Uint8Array> {
    return this.serialize()
  }
}

export const referenceComponents: Components = {
  text: {
    create: async (config) => new ReferenceTextIndex(config),
    deserialize: async (bytes, config) => ReferenceTextIndex.fromBytes(bytes, config),
  },
  vector: {
    create: async (config) => new ReferenceVectorIndex(config),
    deserialize: async (bytes, config) => {
      const index = new ReferenceVectorIndex(config)
      for (const [id, v] of JSON.parse(new TextDecoder().decode(bytes)) as [number, number[]][]) {
        index.vectors.set(id, Float32Array.from(v))
      }
      return index
    },
  },
}
