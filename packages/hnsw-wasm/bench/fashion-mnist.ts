import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { gunzipSync } from 'node:zlib'
import { type Dataset, exactTop10 } from './dataset.ts'

/**
 * Real vectors: Fashion-MNIST (Zalando's 28×28 grey-scale product photos, 784 pixels each), as
 * Debian's `dataset-fashion-mnist` package ships it. It is one of the ANN-benchmarks datasets
 * (there with Euclidean distance); it is here because no embedding model or SIFT/GloVe file can
 * be fetched on these machines and this package can. Pixels are scaled to unit length and
 * compared by cosine, as the suite's other datasets; the first `count` training images are the
 * index, the first `queryCount` test images the queries.
 */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist'

export function fashionMnistAvailable(): boolean {
  return existsSync(`${FASHION_MNIST_DIR}/train-images-idx3-ubyte.gz`)
}

/** Reads an IDX image file (magic 2051, count, rows, columns, then one byte per pixel). */
async function readImages(
  file: string,
  limit: number,
): Promise<{ vectors: Float32Array; count: number; dimensions: number }> {
  const bytes = gunzipSync(await readFile(file))
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (view.getUint32(0) !== 2051) throw new Error(`${file} is not an IDX image file`)
  const count = Math.min(limit, view.getUint32(4))
  const dimensions = view.getUint32(8) * view.getUint32(12)
  const vectors = new Float32Array(count * dimensions)
  for (let i = 0; i < count; i++) {
    let norm = 0
    for (let d = 0; d < dimensions; d++) {
      const x = bytes[16 + i * dimensions + d]!
      vectors[i * dimensions + d] = x
      norm += x * x
    }
    const scale = norm === 0 ? 0 : 1 / Math.sqrt(norm)
    for (let d = 0; d < dimensions; d++) vectors[i * dimensions + d]! *= scale
  }
  return { vectors, count, dimensions }
}

export async function loadFashionMnist(
  count: number,
  queryCount: number,
  log: (message: string) => void,
): Promise<Dataset> {
  const train = await readImages(`${FASHION_MNIST_DIR}/train-images-idx3-ubyte.gz`, count)
  const test = await readImages(`${FASHION_MNIST_DIR}/t10k-images-idx3-ubyte.gz`, queryCount)
  const name = `fashion-mnist-${Math.round(train.count / 1000)}k-${train.dimensions}`
  log(`${name}: computing exact top-10 for ${test.count} queries by brute force`)
  const truth = exactTop10(train.vectors, train.count, test.vectors, test.count, train.dimensions)
  return {
    name,
    count: train.count,
    dimensions: train.dimensions,
    queryCount: test.count,
    vectors: train.vectors,
    queries: test.vectors,
    truth,
  }
}
