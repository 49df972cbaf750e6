import { defineSuite, type SuiteContext } from '@shoal/bench'
import { HnswIndex } from '../src/index.ts'
import { type Dataset, loadDataset, recallAt10 } from './dataset.ts'
import { fashionMnistAvailable, loadFashionMnist } from './fashion-mnist.ts'
import { type AnnLibrary, hnswlibNode, hnswlibWasm } from './peers.ts'

const M = 16
const EF_CONSTRUCTION = 200
const SHOAL = '@shoal/hnsw'

/** @shoal/hnsw behind the benchmark's library surface; vectors go in through `addBatch`. */
async function shoal(seed: number, dimensions: number): Promise<AnnLibrary & { index: HnswIndex }> {
  const index = await HnswIndex.create({
    dimensions,
    metric: 'cosine',
    M,
    efConstruction: EF_CONSTRUCTION,
    seed,
  })
  return {
    name: SHOAL,
    index,
    init() {},
    add(vectors, from, to) {
      index.addBatch(
        Uint32Array.from({ length: to - from }, (_, i) => from + i),
        vectors.subarray(from * dimensions, to * dimensions),
      )
    },
    setEf: (ef) => {
      index.efSearch = ef
    },
    prepare: (queries, count) =>
      Array.from({ length: count }, (_, q) => queries.slice(q * dimensions, (q + 1) * dimensions)),
    search: (query, k) => index.search(query as Float32Array, k).ids,
    bytesPerVector: () => index.memoryBytesPerVector,
    dispose() {},
  }
}

interface Point {
  ef: number
  recall: number
  qps: number
  /** Queries/s of each round's pass. */
  perRound: number[]
}

/** The point at the smallest efSearch of the sweep whose recall@10 reaches `target`. */
function atRecall(curve: Point[], target: number): Point | undefined {
  return curve.find((p) => p.recall >= target)
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

async function runDataset(ctx: SuiteContext, ds: Dataset, efs: number[]): Promise<void> {
  const ours = await shoal(ctx.seed, ds.dimensions)
  const libs: AnnLibrary[] = [
    ours,
    hnswlibNode(M, EF_CONSTRUCTION, ctx.seed),
    await hnswlibWasm(M, EF_CONSTRUCTION, ctx.seed),
  ]
  const peerOf = (lib: AnnLibrary) => (lib.name === SHOAL ? {} : { peer: lib.name })

  // The builds are interleaved in slices (each library inserts the next tenth in turn, the
  // order rotating each slice); each slice is a round: its per-library rate gives a per-round
  // ratio, and each library's build rate is the whole count over its summed slice times.
  const buildMs = new Map<string, number>(libs.map((lib) => [lib.name, 0]))
  const sliceRates = new Map<string, number[]>(libs.map((lib) => [lib.name, []]))
  for (const lib of libs) {
    lib.init(ds.count, ds.dimensions)
    lib.load?.(ds.vectors, ds.count, ds.dimensions)
  }
  const slices = 10
  for (let s = 0; s < slices; s++) {
    const from = Math.floor((s * ds.count) / slices)
    const to = Math.floor(((s + 1) * ds.count) / slices)
    for (let k = 0; k < libs.length; k++) {
      const lib = libs[(k + s) % libs.length]!
      const started = performance.now()
      lib.add(ds.vectors, from, to)
      const ms = performance.now() - started
      buildMs.set(lib.name, buildMs.get(lib.name)! + ms)
      sliceRates.get(lib.name)!.push((to - from) / (ms / 1000))
    }
    ctx.log(`${ds.name}: built ${to} of ${ds.count}`)
  }
  for (const lib of libs) {
    const rate = ds.count / (buildMs.get(lib.name)! / 1000)
    ctx.record({
      name: `${ds.name}/build/${lib.name}`,
      metric: 'build',
      value: rate,
      unit: 'vectors/s',
      ...peerOf(lib),
    })
    ctx.log(`${ds.name}: ${lib.name} builds ${Math.round(rate).toLocaleString('en')} vectors/s`)
    const bytes = lib.bytesPerVector()
    if (Number.isFinite(bytes)) {
      ctx.record({
        name: `${ds.name}/bytes-per-vector/${lib.name}`,
        metric: 'memory',
        value: bytes,
        unit: 'B',
        ...peerOf(lib),
      })
    }
  }
  for (const peer of ['hnswlib-node', 'hnswlib-wasm']) {
    ctx.roundRatio(`${ds.name}/build-ratio-vs-${peer}`, sliceRates.get(SHOAL)!, sliceRates.get(peer)!, peer)
  }
  ctx.record({
    name: `${ds.name}/reserved-bytes-per-vector/${SHOAL}`,
    metric: 'memory',
    value: ours.index.memoryBytes / ds.count,
    unit: 'B',
  })
  ctx.record({
    name: `${ds.name}/serialized-bytes-per-vector/${SHOAL}`,
    metric: 'size',
    value: ours.index.serialize().length / ds.count,
    unit: 'B',
  })

  const curves = new Map<string, Point[]>(libs.map((lib) => [lib.name, []]))
  const prepared = new Map(
    libs.map((lib) => [lib.name, lib.prepare(ds.queries, ds.queryCount, ds.dimensions)]),
  )
  // Search passes (every query once) alternate between the libraries, the
  // order rotating each round; each library's figure is its median pass. On a
  // shared, noisy machine this keeps a burst of load from landing on one
  // library's measurement only.
  const rounds = ctx.smoke ? 5 : 9
  for (const ef of efs) {
    const passMs = new Map<string, number[]>(libs.map((lib) => [lib.name, []]))
    for (const lib of libs) {
      lib.setEf(ef)
      const found = prepared.get(lib.name)!.map((q) => lib.search(q, 10))
      const recall = recallAt10(found, ds.truth)
      curves.get(lib.name)!.push({ ef, recall, qps: 0, perRound: [] })
      ctx.record({
        name: `${ds.name}/recall/${lib.name}/ef-${ef}`,
        metric: 'recall@10',
        value: recall,
        unit: 'ratio',
        ...peerOf(lib),
      })
    }
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < libs.length; i++) {
        const lib = libs[(i + round) % libs.length]!
        const queries = prepared.get(lib.name)!
        const started = performance.now()
        for (const q of queries) lib.search(q, 10)
        passMs.get(lib.name)!.push(performance.now() - started)
      }
    }
    for (const lib of libs) {
      const pass = median(passMs.get(lib.name)!)
      const point = curves.get(lib.name)!.at(-1)!
      point.qps = ds.queryCount / (pass / 1000)
      point.perRound = passMs.get(lib.name)!.map((ms) => ds.queryCount / (ms / 1000))
      ctx.record({
        name: `${ds.name}/search/${lib.name}/ef-${ef}`,
        metric: 'queries/s',
        value: point.qps,
        unit: 'queries/s',
        ...peerOf(lib),
      })
      ctx.record({
        name: `${ds.name}/search/${lib.name}/ef-${ef}`,
        metric: 'mean-latency',
        value: pass / ds.queryCount,
        unit: 'ms',
        ...peerOf(lib),
      })
      ctx.log(
        `${ds.name}: ${lib.name} ef ${ef}: recall@10 ${point.recall.toFixed(4)}, ${Math.round(point.qps).toLocaleString('en')} queries/s`,
      )
    }
  }

  // At each recall target, every library at its own smallest efSearch reaching it; the ratio is
  // the median of per-round ratios of those passes (the rounds ran the libraries in turn).
  for (const target of [0.95, 0.99]) {
    const best = new Map<string, Point>()
    for (const lib of libs) {
      const point = atRecall(curves.get(lib.name)!, target)
      if (point === undefined) {
        ctx.log(`${ds.name}: ${lib.name} does not reach recall@10 ${target} in this sweep`)
        continue
      }
      best.set(lib.name, point)
      ctx.record({
        name: `${ds.name}/qps-at-recall-${target}/${lib.name}`,
        metric: 'queries/s',
        value: point.qps,
        unit: 'queries/s',
        ...peerOf(lib),
      })
    }
    for (const peer of ['hnswlib-node', 'hnswlib-wasm']) {
      const ours = best.get(SHOAL)
      const theirs = best.get(peer)
      if (ours !== undefined && theirs !== undefined) {
        ctx.roundRatio(
          `${ds.name}/qps-at-recall-${target}-ratio-vs-${peer}`,
          ours.perRound,
          theirs.perRound,
          peer,
        )
      }
    }
  }

  // The batch entry point: all queries in one call per 256, at the smallest ef reaching recall 0.95.
  const ef95 = curves.get(SHOAL)!.find((p) => p.recall >= 0.95)?.ef ?? efs[efs.length - 1]!
  const index = ours.index
  await ctx.measure(
    `${ds.name}/search-batch/${SHOAL}/ef-${ef95}`,
    () => index.searchBatch(ds.queries, 10, { efSearch: ef95 }),
    {
      opsPerCall: ds.queryCount,
      iterations: ctx.smoke ? 2 : 5,
    },
  )
  for (const lib of libs) lib.dispose()
}

export default defineSuite({
  peers: { npm: ['hnswlib-node', 'hnswlib-wasm'] },
  description:
    'HNSW, single thread, cosine on normalised clustered vectors and on Fashion-MNIST images (real, from Debian), M 16, efConstruction 200, builds and searches in interleaved rounds: @shoal/hnsw (AssemblyScript WASM + SIMD) vs hnswlib-node (native) and hnswlib-wasm (emscripten); build rate, efSearch sweep (recall@10, queries/s), queries/s at recall 0.95 and 0.99, bytes per vector',
  async run(ctx) {
    // Full runs: one synthetic set (smaller than the 100k×128 and 20k×384 of earlier runs, to keep the
    // run affordable on a shared machine) and one real set (fashion-mnist.ts).
    const sets = ctx.smoke
      ? [{ count: 3_000, dimensions: 128, queries: 100 }]
      : [{ count: 30_000, dimensions: 128, queries: 300 }]
    const efs = ctx.smoke ? [16, 64] : [10, 16, 24, 32, 48, 64, 96, 128, 256]
    for (const set of sets) {
      const ds = await loadDataset(ctx.seed, set.count, set.dimensions, set.queries, ctx.log)
      await runDataset(ctx, ds, efs)
    }
    if (fashionMnistAvailable()) {
      const ds = await loadFashionMnist(ctx.smoke ? 500 : 10_000, ctx.smoke ? 20 : 200, ctx.log)
      await runDataset(ctx, ds, efs)
    } else if (ctx.smoke) {
      ctx.log(
        'fashion-mnist: dataset-fashion-mnist not installed, skipped in smoke mode (scripts/install-peers.sh)',
      )
    } else {
      throw new Error('dataset-fashion-mnist is needed for a full run: bash scripts/install-peers.sh')
    }
  },
})
