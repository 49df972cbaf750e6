import { HnswIndex, type HnswOptions, type Metric } from '../../src/index.ts'
import { bruteForceTopK } from './brute-force.ts'
import { clusteredVectors } from './clustered.ts'

export interface Fixture {
  dimensions: number
  ids: Uint32Array
  vectors: Float32Array
  queries: Float32Array
  queryCount: number
}

/** Seeded clustered data with non-contiguous ids (7, 10, 13, ...) so ids never equal node slots. */
export function fixture(seed: number, count: number, dimensions: number, queryCount = 50): Fixture {
  const all = clusteredVectors(seed, count + queryCount, dimensions)
  return {
    dimensions,
    ids: Uint32Array.from({ length: count }, (_, i) => i * 3 + 7),
    vectors: all.slice(0, count * dimensions),
    queries: all.slice(count * dimensions),
    queryCount,
  }
}

export function query(f: Fixture, q: number): Float32Array {
  return f.queries.subarray(q * f.dimensions, (q + 1) * f.dimensions)
}

export async function buildIndex(
  f: Fixture,
  options: Partial<HnswOptions> & { metric: Metric },
): Promise<HnswIndex> {
  const index = await HnswIndex.create({ dimensions: f.dimensions, ...options })
  index.addBatch(f.ids, f.vectors)
  return index
}

export function groundTruth(
  f: Fixture,
  metric: Metric,
  k: number,
  allowed?: (id: number) => boolean,
): number[][] {
  const truth: number[][] = []
  for (let q = 0; q < f.queryCount; q++) {
    truth.push(bruteForceTopK(metric, f.dimensions, f.ids, f.vectors, query(f, q), k, allowed))
  }
  return truth
}

/** Byte equality without a deep-equal walk (which is slow on large arrays). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  )
}
