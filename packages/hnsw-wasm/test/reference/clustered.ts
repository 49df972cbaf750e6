import { Rng } from '@shoal/testkit/rng'

/** Standard normal sample (Box–Muller) from a seeded Rng. */
export function gaussian(rng: Rng): number {
  const u = 1 - rng.next()
  const v = rng.next()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}

/**
 * A seeded Gaussian mixture: `clusters` centres drawn from N(0, 1), each
 * vector a centre plus N(0, spread²) noise. Queries come from the same
 * mixture (not from the data set).
 */
export function clusteredVectors(
  seed: number,
  count: number,
  dimensions: number,
  clusters = 32,
  spread = 0.35,
): Float32Array {
  const rng = new Rng(seed)
  const centres = new Float32Array(clusters * dimensions)
  for (let i = 0; i < centres.length; i++) centres[i] = gaussian(rng)
  const out = new Float32Array(count * dimensions)
  for (let i = 0; i < count; i++) {
    const c = rng.int(clusters)
    for (let d = 0; d < dimensions; d++) {
      out[i * dimensions + d] = centres[c * dimensions + d]! + spread * gaussian(rng)
    }
  }
  return out
}
