import { Rng } from '@shoal/testkit/rng'
import { describe, expect, it } from 'vitest'
import { HnswIndex, type Metric } from '../src/index.ts'
import { gaussian } from './reference/clustered.ts'
import { referenceDistance } from './reference/distance.ts'

function magnitude(metric: Metric, a: Float32Array, b: Float32Array): number {
  if (metric === 'cosine') return 1
  let na = 0
  let nb = 0
  for (let i = 0; i < a.length; i++) {
    na += a[i]! * a[i]!
    nb += b[i]! * b[i]!
  }
  return Math.sqrt(na * nb)
}

// STYLE §20: the SIMD kernels are checked against a float64 TypeScript reference.
describe('distance kernels', () => {
  const metrics: Metric[] = ['l2', 'dot', 'cosine']
  const dimensionsList = [1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 64, 127, 128, 383, 384, 1001]

  for (const metric of metrics) {
    it(`${metric} equals the TypeScript reference within 1e-5 relative for odd and even dimensions`, async () => {
      const rng = new Rng(7)
      for (const dimensions of dimensionsList) {
        const index = await HnswIndex.create({ dimensions, metric })
        for (let trial = 0; trial < 20; trial++) {
          const a = Float32Array.from({ length: dimensions }, () => gaussian(rng))
          const b = Float32Array.from({ length: dimensions }, () => gaussian(rng))
          const expected = referenceDistance(metric, a, b)
          const actual = index.distance(a, b)
          // Relative to the size of the terms: 1 - a.b cancels, so near-zero
          // distances are judged against |a||b| (1 under cosine) rather than themselves.
          const scale = Math.max(Math.abs(expected), metric === 'l2' ? 0 : magnitude(metric, a, b))
          expect(
            Math.abs(actual - expected) / scale,
            `${metric} d=${dimensions} trial ${trial}`,
          ).toBeLessThan(1e-5)
        }
      }
    })
  }

  it('gives zero between a vector and itself under every metric but dot', async () => {
    const v = Float32Array.from({ length: 33 }, (_, i) => Math.sin(i))
    for (const metric of ['l2', 'cosine'] as const) {
      const index = await HnswIndex.create({ dimensions: 33, metric })
      expect(Math.abs(index.distance(v, v))).toBeLessThan(1e-6)
    }
  })
})
