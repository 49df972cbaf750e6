/**
 * An exact (brute-force) k-nearest-neighbour index: every search scans every
 * stored vector. It is the vector port's in-memory implementation and the
 * oracle HNSW recall is measured against; it is not an approximate index.
 */

import { decodeValue, encodeValue } from './commands.ts'
import type { CoreStats, VectorHits, VectorIndex, VectorIndexConfig, VectorIndexFactory } from './ports.ts'

export class ExactVectorIndex implements VectorIndex {
  readonly config: VectorIndexConfig
  readonly #slots = new Map<number, number>()
  #ids: number[] = []
  #vectors = new Float32Array(0)
  #count = 0

  constructor(config: VectorIndexConfig) {
    this.config = config
  }

  addBatch(ids: Uint32Array, vectors: Float32Array): void {
    const d = this.config.dimensions
    for (let i = 0; i < ids.length; i++) {
      const vector = vectors.subarray(i * d, (i + 1) * d)
      const stored = this.config.distance === 'cosine' ? normalised(vector) : vector
      const existing = this.#slots.get(ids[i]!)
      const slot = existing ?? this.#count++
      if ((slot + 1) * d > this.#vectors.length) {
        const grown = new Float32Array(Math.max((slot + 1) * d, this.#vectors.length * 2))
        grown.set(this.#vectors)
        this.#vectors = grown
      }
      this.#vectors.set(stored, slot * d)
      this.#ids[slot] = ids[i]!
      this.#slots.set(ids[i]!, slot)
    }
  }

  remove(id: number): void {
    const slot = this.#slots.get(id)
    if (slot === undefined) return
    const last = this.#count - 1
    const d = this.config.dimensions
    if (slot !== last) {
      this.#vectors.copyWithin(slot * d, last * d, (last + 1) * d)
      this.#ids[slot] = this.#ids[last]!
      this.#slots.set(this.#ids[slot]!, slot)
    }
    this.#slots.delete(id)
    this.#ids.length = last
    this.#count = last
  }

  has(id: number): boolean {
    return this.#slots.has(id)
  }

  search(query: Float32Array, k: number, allowed?: Uint32Array): VectorHits {
    const d = this.config.dimensions
    const q = this.config.distance === 'cosine' ? normalised(query) : query
    const scored: [number, number][] = []
    const visit = (slot: number) => {
      const base = slot * d
      let dot = 0
      let l2 = 0
      for (let j = 0; j < d; j++) {
        const v = this.#vectors[base + j]!
        dot += v * q[j]!
        l2 += (v - q[j]!) ** 2
      }
      scored.push([this.#ids[slot]!, this.config.distance === 'l2' ? l2 : 1 - dot])
    }
    if (allowed === undefined) for (let slot = 0; slot < this.#count; slot++) visit(slot)
    else
      for (const id of allowed) {
        const slot = this.#slots.get(id)
        if (slot !== undefined) visit(slot)
      }
    scored.sort((a, b) => a[1] - b[1] || a[0] - b[0])
    const top = scored.slice(0, k)
    return { ids: Uint32Array.from(top, (e) => e[0]), distances: Float32Array.from(top, (e) => e[1]) }
  }

  stats(): CoreStats {
    return { documents: this.#count, removed: 0, bytes: this.#vectors.byteLength + this.#count * 8 }
  }

  serialize(): Uint8Array {
    const d = this.config.dimensions
    return encodeValue({
      ids: this.#ids.slice(0, this.#count),
      vectors: this.#vectors.slice(0, this.#count * d),
    })
  }

  /** Taken whole, now: this index is a reference for tests, not sized for large images. */
  async serializeInSlices(): Promise<Uint8Array> {
    return this.serialize()
  }

  static deserialize(bytes: Uint8Array, config: VectorIndexConfig): ExactVectorIndex {
    const image = decodeValue(bytes) as { ids: number[]; vectors: Uint8Array }
    const index = new ExactVectorIndex(config)
    const floats = new Float32Array(
      image.vectors.buffer.slice(
        image.vectors.byteOffset,
        image.vectors.byteOffset + image.vectors.byteLength,
      ),
    )
    index.addBatch(Uint32Array.from(image.ids), floats)
    return index
  }
}

function normalised(vector: Float32Array): Float32Array {
  let norm = 0
  for (let i = 0; i < vector.length; i++) norm += vector[i]! * vector[i]!
  norm = Math.sqrt(norm)
  if (norm === 0) return vector.slice()
  return vector.map((x) => x / norm)
}

export const exactVectorIndexes: VectorIndexFactory = {
  create: async (config) => new ExactVectorIndex(config),
  deserialize: async (bytes, config) => ExactVectorIndex.deserialize(bytes, config),
}
