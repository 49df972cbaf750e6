import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { mulberry32 } from '@shoal/bench'

export interface Dataset {
  name: string
  count: number
  dimensions: number
  queryCount: number
  vectors: Float32Array
  queries: Float32Array
  /** queryCount x 10 exact nearest ids (cosine). */
  truth: Uint32Array
}

/** Unit-length vectors from a seeded Gaussian mixture (100 centres, noise 0.5 per coordinate). */
function clustered(
  random: () => number,
  count: number,
  dimensions: number,
  centres: Float32Array,
): Float32Array {
  const clusters = centres.length / dimensions
  const out = new Float32Array(count * dimensions)
  const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
  for (let i = 0; i < count; i++) {
    const c = Math.floor(random() * clusters)
    let norm = 0
    for (let d = 0; d < dimensions; d++) {
      const x = centres[c * dimensions + d]! + 0.5 * gauss()
      out[i * dimensions + d] = x
      norm += x * x
    }
    const scale = 1 / Math.sqrt(norm)
    for (let d = 0; d < dimensions; d++) out[i * dimensions + d]! *= scale
  }
  return out
}

/** Exact top-10 by brute force (largest dot product on unit vectors = smallest cosine distance). */
export function exactTop10(
  vectors: Float32Array,
  count: number,
  queries: Float32Array,
  queryCount: number,
  dimensions: number,
) {
  const truth = new Uint32Array(queryCount * 10)
  const bestScore = new Float64Array(10)
  const bestId = new Uint32Array(10)
  for (let q = 0; q < queryCount; q++) {
    bestScore.fill(Number.NEGATIVE_INFINITY)
    const qo = q * dimensions
    for (let i = 0; i < count; i++) {
      const vo = i * dimensions
      let dot = 0
      for (let d = 0; d < dimensions; d++) dot += vectors[vo + d]! * queries[qo + d]!
      if (dot <= bestScore[9]!) continue
      let j = 9
      while (j > 0 && bestScore[j - 1]! < dot) {
        bestScore[j] = bestScore[j - 1]!
        bestId[j] = bestId[j - 1]!
        j--
      }
      bestScore[j] = dot
      bestId[j] = i
    }
    truth.set(bestId, q * 10)
  }
  return truth
}

/** The dataset for (seed, count, dimensions); ground truth is cached in bench/.cache (ignored by git). */
export async function loadDataset(
  seed: number,
  count: number,
  dimensions: number,
  queryCount: number,
  log: (message: string) => void,
): Promise<Dataset> {
  const random = mulberry32(seed ^ (count * 31 + dimensions))
  const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
  const centres = Float32Array.from({ length: 100 * dimensions }, gauss)
  const vectors = clustered(random, count, dimensions, centres)
  const queries = clustered(random, queryCount, dimensions, centres)
  const name = `${Math.round(count / 1000)}k-${dimensions}`
  const cacheDir = new URL('../../../bench/.cache/', import.meta.url)
  const cacheFile = new URL(`hnsw-truth-${seed}-${count}-${dimensions}-${queryCount}.bin`, cacheDir)
  let truth: Uint32Array
  try {
    const bytes = await readFile(cacheFile)
    truth = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4).slice()
    if (truth.length !== queryCount * 10) throw new Error('stale ground truth cache')
  } catch {
    log(`${name}: computing exact top-10 for ${queryCount} queries by brute force`)
    truth = exactTop10(vectors, count, queries, queryCount, dimensions)
    await mkdir(cacheDir, { recursive: true })
    await writeFile(cacheFile, new Uint8Array(truth.buffer))
  }
  return { name, count, dimensions, queryCount, vectors, queries, truth }
}

export function recallAt10(found: ArrayLike<number>[], truth: Uint32Array): number {
  let hits = 0
  for (let q = 0; q < found.length; q++) {
    const want = truth.subarray(q * 10, q * 10 + 10)
    const got = found[q]!
    for (let i = 0; i < got.length; i++) if (want.includes(got[i]!)) hits++
  }
  return hits / (found.length * 10)
}
