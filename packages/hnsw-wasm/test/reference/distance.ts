import type { Metric } from '../../src/index.ts'

/** Plain-TypeScript distances in float64, the oracle for the WASM kernels. */
export function referenceDistance(metric: Metric, a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0
  let normA = 0
  let normB = 0
  let l2 = 0
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!
    const y = b[i]!
    dot += x * y
    normA += x * x
    normB += y * y
    l2 += (x - y) * (x - y)
  }
  if (metric === 'l2') return l2
  if (metric === 'dot') return 1 - dot
  return 1 - dot / Math.sqrt(normA * normB)
}
