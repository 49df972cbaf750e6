/**
 * Exact nearest neighbours over the vectors stored in the documents
 * themselves (`_vectors.<embedder>`), for the searches the graph cannot
 * answer: the HNSW index returns at most `MAX_GRAPH_NEIGHBOURS` neighbours
 * per search, and a vector search that sorts, facets or pages over more
 * candidates than that needs them all. Distances follow the vector port's
 * convention (lower is closer): cosine distance, squared l2, negated dot.
 */

import type { Distance } from '../types.ts'
import { isPlainObject } from './document-path.ts'
import type { IndexState } from './index-state.ts'
import type { VectorHits } from './ports.ts'

/** The most neighbours one graph search returns (`@shoal/hnsw`'s largest `ef`). */
export const MAX_GRAPH_NEIGHBOURS = 65_536

export function exactNeighbours(
  state: IndexState,
  embedder: string,
  distance: Distance,
  query: Float32Array,
  candidates: ArrayLike<number>,
  k: number,
  /** Orders equal distances (by position of each id); by id when absent. */
  tieRank?: ArrayLike<number>,
): VectorHits {
  const queryNorm = Math.sqrt(dot(query, query))
  const scored: [number, number][] = []
  for (let i = 0; i < candidates.length; i++) {
    const id = candidates[i]!
    const vectors = state.docAt(id)?._vectors
    if (!isPlainObject(vectors)) continue
    const vector = vectors[embedder]
    if (!Array.isArray(vector) || vector.length !== query.length) continue
    scored.push([id, distanceTo(distance, query, queryNorm, vector as number[])])
  }
  const tie = (id: number) => (tieRank === undefined ? id : tieRank[id]!)
  scored.sort((a, b) => a[1] - b[1] || tie(a[0]) - tie(b[0]))
  const top = scored.length > k ? scored.slice(0, k) : scored
  return { ids: Uint32Array.from(top, (e) => e[0]), distances: Float32Array.from(top, (e) => e[1]) }
}

function distanceTo(distance: Distance, query: Float32Array, queryNorm: number, vector: number[]): number {
  if (distance === 'l2') {
    let sum = 0
    for (let j = 0; j < vector.length; j++) sum += (vector[j]! - query[j]!) ** 2
    return sum
  }
  const product = dot(query, vector)
  if (distance === 'dot') return -product
  const norm = Math.sqrt(dot(vector, vector))
  return norm === 0 || queryNorm === 0 ? 1 : 1 - product / (norm * queryNorm)
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0
  for (let j = 0; j < a.length; j++) sum += a[j]! * b[j]!
  return sum
}
