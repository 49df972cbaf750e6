import type { Metric } from '../../src/index.ts'
import { referenceDistance } from './distance.ts'

/** Exact k nearest ids by scanning every vector: the recall oracle. */
export function bruteForceTopK(
  metric: Metric,
  dimensions: number,
  ids: ArrayLike<number>,
  vectors: Float32Array,
  query: Float32Array,
  k: number,
  allowed?: (id: number) => boolean,
): number[] {
  const scored: { id: number; distance: number }[] = []
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!
    if (allowed !== undefined && !allowed(id)) continue
    const v = vectors.subarray(i * dimensions, (i + 1) * dimensions)
    scored.push({ id, distance: referenceDistance(metric, query, v) })
  }
  scored.sort((x, y) => x.distance - y.distance || x.id - y.id)
  return scored.slice(0, k).map((s) => s.id)
}

/** Share of `truth` found in `found`, averaged over queries. */
export function recall(found: ArrayLike<number>[], truth: number[][]): number {
  let hit = 0
  let total = 0
  for (let q = 0; q < truth.length; q++) {
    const got = new Set(Array.from(found[q]!))
    for (const id of truth[q]!) if (got.has(id)) hit++
    total += truth[q]!.length
  }
  return total === 0 ? 1 : hit / total
}
