/** The vector port on `@shoal/hnsw` (M 16, efConstruction 200, efSearch 64: the package defaults). */

import { HnswIndex } from '@shoal/hnsw'
import type { VectorHits, VectorIndex, VectorIndexFactory } from './ports.ts'

class HnswVectorIndex implements VectorIndex {
  readonly #index: HnswIndex

  constructor(index: HnswIndex) {
    this.#index = index
  }

  addBatch(ids: Uint32Array, vectors: Float32Array): void {
    this.#index.addBatch(ids, vectors)
  }

  remove(id: number): void {
    this.#index.remove(id)
  }

  search(query: Float32Array, k: number, allowed?: Uint32Array): VectorHits {
    const hits = this.#index.search(query, k, allowed === undefined ? {} : { filter: allowed })
    return { ids: hits.ids, distances: hits.distances }
  }

  serialize(): Uint8Array {
    return this.#index.serialize()
  }
}

export const hnswVectorIndexes: VectorIndexFactory = {
  async create(config) {
    return new HnswVectorIndex(
      await HnswIndex.create({ dimensions: config.dimensions, metric: config.distance, seed: config.seed }),
    )
  },
  async deserialize(bytes) {
    return new HnswVectorIndex(await HnswIndex.deserialize(bytes))
  },
}
