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
import { CUTOFF_SLICE_IDS, pastDeadline } from './search-cutoff.ts'

/** The most neighbours one graph search returns (`@shoal/hnsw`'s largest `ef`). */
export const MAX_GRAPH_NEIGHBOURS = 65_536

export function exactNeighbours(
  state: IndexState,
  embedder: string,
  distance: Distance,
  query: Float32Array,
  candidates: ArrayLike<number>,
  k: number,
  /** Orders equal distances; by id when absent. */
  tie: (a: number, b: number) => number = (a, b) => a - b,
  /** `searchCutoffMs`: past it, the candidates not yet scanned are left out (search-cutoff.ts). */
  deadline?: number,
): VectorHits {
  const queryNorm = Math.sqrt(dot(query, query))
  // Distances are compared as the 32-bit floats they are returned as, so that the cut at k and
  // the order callers see agree (two distances equal in f32 are a tie, broken by `tie`).
  const ids: number[] = []
  const distances: number[] = []
  for (let i = 0; i < candidates.length; i++) {
    if (i > 0 && i % CUTOFF_SLICE_IDS === 0 && pastDeadline(deadline)) break
    const id = candidates[i]!
    const vectors = state.docAt(id)?._vectors
    if (!isPlainObject(vectors)) continue
    const vector = vectors[embedder]
    if (!Array.isArray(vector) || vector.length !== query.length) continue
    ids.push(id)
    distances.push(Math.fround(distanceTo(distance, query, queryNorm, vector as number[])))
  }
  const before = (a: number, b: number) => distances[a]! - distances[b]! || tie(ids[a]!, ids[b]!)
  const top = smallest(ids.length, k, before)
  return {
    ids: Uint32Array.from(top, (i) => ids[i]!),
    distances: Float32Array.from(top, (i) => distances[i]!),
  }
}

/** The `k` first of positions 0..n−1 under `before`, in order; a bounded heap when k is small. */
function smallest(n: number, k: number, before: (a: number, b: number) => number): number[] {
  if (k >= n / 4) {
    const all = Array.from({ length: n }, (_, i) => i).sort(before)
    return all.length > k ? all.slice(0, k) : all
  }
  // Max-heap of the k best so far: the worst at the root.
  const heap: number[] = []
  const down = (at: number) => {
    for (;;) {
      const l = 2 * at + 1
      if (l >= heap.length) return
      const m = l + 1 < heap.length && before(heap[l + 1]!, heap[l]!) > 0 ? l + 1 : l
      if (before(heap[m]!, heap[at]!) <= 0) return
      ;[heap[m], heap[at]] = [heap[at]!, heap[m]!]
      at = m
    }
  }
  for (let i = 0; i < n; i++) {
    if (heap.length < k) {
      heap.push(i)
      for (let at = heap.length - 1; at > 0; ) {
        const parent = (at - 1) >> 1
        if (before(heap[at]!, heap[parent]!) <= 0) break
        ;[heap[at], heap[parent]] = [heap[parent]!, heap[at]!]
        at = parent
      }
    } else if (k > 0 && before(i, heap[0]!) < 0) {
      heap[0] = i
      down(0)
    }
  }
  return heap.sort(before)
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
