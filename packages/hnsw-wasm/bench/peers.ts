import { createRequire } from 'node:module'

/** One library under test, behind the same small surface. */
export interface AnnLibrary {
  name: string
  /** Makes an empty index for `count` vectors. */
  init(count: number, dimensions: number): void
  /** Untimed: converts the vectors into the library's own input form before the timed inserts. */
  load?(vectors: Float32Array, count: number, dimensions: number): void
  /** Inserts vectors [from, to) of `vectors`, labelled by position. */
  add(vectors: Float32Array, from: number, to: number): void
  setEf(ef: number): void
  /** Prepares queries in the library's own input form (outside the timed loop). */
  prepare(queries: Float32Array, count: number, dimensions: number): unknown[]
  search(query: unknown, k: number): ArrayLike<number>
  bytesPerVector(): number
  /** Frees what the library holds outside the JS heap. */
  dispose(): void
}

interface HnswlibNodeIndex {
  initIndex(maxElements: number, m: number, efConstruction: number, randomSeed: number): void
  addPoint(point: number[], label: number): void
  setEf(ef: number): void
  searchKnn(query: number[], k: number): { neighbors: number[] }
  writeIndexSync(filename: string): void
}

interface HnswlibWasmIndex {
  initIndex(maxElements: number, m: number, efConstruction: number, randomSeed: number): void
  addPoint(point: Float32Array, label: number, replaceDeleted: boolean): void
  setEfSearch(ef: number): void
  searchKnn(query: Float32Array, k: number, filter: undefined): { neighbors: number[] }
  delete?(): void
}

interface HnswlibWasmModule {
  HierarchicalNSW: new (space: string, dimensions: number, autoSaveFilename: string) => HnswlibWasmIndex
}

/** hnswlib-node: hnswlib's C++ as a native addon. Takes `number[]` vectors. */
export function hnswlibNode(m: number, efConstruction: number, seed: number): AnnLibrary {
  const require = createRequire(import.meta.url)
  const { HierarchicalNSW } = require('hnswlib-node') as {
    HierarchicalNSW: new (space: string, dimensions: number) => HnswlibNodeIndex
  }
  let index: HnswlibNodeIndex | undefined
  let size = 0
  let arrays: number[][] = []
  return {
    name: 'hnswlib-node',
    init(count, dimensions) {
      index = new HierarchicalNSW('cosine', dimensions)
      index.initIndex(count, m, efConstruction, seed)
    },
    load(vectors, count, dimensions) {
      // hnswlib-node takes number[]: converted here, outside the timed build.
      arrays = Array.from({ length: count }, (_, i) =>
        Array.from(vectors.subarray(i * dimensions, (i + 1) * dimensions)),
      )
    },
    add(_vectors, from, to) {
      for (let i = from; i < to; i++) index!.addPoint(arrays[i]!, i)
      size = Math.max(size, to)
    },
    setEf: (ef) => index!.setEf(ef),
    prepare: (queries, count, dimensions) =>
      Array.from({ length: count }, (_, q) =>
        Array.from(queries.subarray(q * dimensions, (q + 1) * dimensions)),
      ),
    search: (query, k) => index!.searchKnn(query as number[], k).neighbors,
    bytesPerVector() {
      // hnswlib keeps the same structures in memory as it writes to disk.
      const { mkdtempSync, rmSync, statSync } = require('node:fs') as typeof import('node:fs')
      const { tmpdir } = require('node:os') as typeof import('node:os')
      const dir = mkdtempSync(`${tmpdir()}/hnswlib-node-`)
      try {
        index!.writeIndexSync(`${dir}/index.bin`)
        return statSync(`${dir}/index.bin`).size / size
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
    dispose() {
      index = undefined
      arrays = []
    },
  }
}

/**
 * hnswlib-wasm: hnswlib compiled with emscripten for browsers. Its loader
 * insists on a browser filesystem, so the emscripten factory is loaded
 * directly (no persistence is needed here) with `window` aliased.
 */
export async function hnswlibWasm(m: number, efConstruction: number, seed: number): Promise<AnnLibrary> {
  const global = globalThis as Record<string, unknown>
  global.window ??= globalThis
  const specifier = 'hnswlib-wasm/dist/hnswlib-317962d7.js'
  const factory = ((await import(specifier)) as { default: () => Promise<HnswlibWasmModule> }).default
  const lib = await factory()
  let index: HnswlibWasmIndex | undefined
  let dims = 0
  return {
    name: 'hnswlib-wasm',
    init(count, dimensions) {
      dims = dimensions
      index = new lib.HierarchicalNSW('cosine', dimensions, '')
      index.initIndex(count, m, efConstruction, seed)
    },
    add(vectors, from, to) {
      for (let i = from; i < to; i++) index!.addPoint(vectors.subarray(i * dims, (i + 1) * dims), i, false)
    },
    setEf: (ef) => index!.setEfSearch(ef),
    prepare: (queries, count, dimensions) =>
      Array.from({ length: count }, (_, q) => queries.slice(q * dimensions, (q + 1) * dimensions)),
    search: (query, k) => index!.searchKnn(query as Float32Array, k, undefined).neighbors,
    bytesPerVector: () => Number.NaN,
    dispose() {
      index?.delete?.()
      index = undefined
    },
  }
}
