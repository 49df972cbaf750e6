import { Rng, testSeed } from '@shoal/testkit/rng'
import { afterEach, describe, expect, it } from 'vitest'
import { Engine, MemoryCommandLog, SnapshotCorruptionError } from '../src/index.ts'
import { bm25TextIndexes } from '../src/internal/bm25-text-index.ts'
import { hnswVectorIndexes } from '../src/internal/hnsw-vector-index.ts'
import { removeDir, tempDir } from './helpers.ts'

// An image of an index with vectors is built and loaded in slices: the HNSW graph is copied and
// checksummed a MiB at a time, held unchanged (writes wait in the vector backlog) until its bytes
// are out, and the bytes are those of `image()` as of the call.

const D = 64
const SEED = testSeed(31)
const dirs: string[] = []
afterEach(async () => {
  for (const dir of dirs.splice(0)) await removeDir(dir)
})

/** An engine whose pauses are counted and, when `between` is set, run it (other work) each time. */
type Pauses = { count: number; between?: () => Promise<void> | void }

async function start(): Promise<{ engine: Engine; pauses: Pauses }> {
  const dir = await tempDir()
  dirs.push(dir)
  const pauses: Pauses = { count: 0 }
  const pause = async () => {
    pauses.count++
    await new Promise<void>((resolve) => setImmediate(resolve))
    await pauses.between?.()
  }
  const components = { text: bm25TextIndexes, vector: hnswVectorIndexes, pause }
  const engine = await Engine.start(dir, { snapshotEvery: 0 }, { log: new MemoryCommandLog(), components })
  return { engine, pauses }
}

/** The seeded vector of `D` numbers in [-1, 1) of document (or query) `seed`. */
function vector(seed: number): number[] {
  const rng = new Rng(SEED + seed)
  return Array.from({ length: D }, () => rng.next() * 2 - 1)
}

const documents = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => ({
    id: from + i,
    title: `item ${from + i}`,
    _vectors: { v: vector(from + i + 1) },
  }))

async function withVectors(engine: Engine, count: number): Promise<void> {
  await engine.createIndex('items', {
    primaryKey: 'id',
    settings: { embedders: { v: { source: 'userProvided', dimensions: D } } },
  })
  await engine.index('items').addDocuments(documents(0, count))
  await engine.whenVectorsIndexed()
}

const nearest = (engine: Engine, seed: number) =>
  engine
    .index('items')
    .search({ vector: vector(seed), limit: 5 })
    .hits.map((hit) => hit.id)

describe('images of vector indexes in slices', () => {
  // 6,000 vectors of 64 floats: the graph's vector section alone is 1.5 MiB, so several slices.
  it('gives the bytes of image() as of its call while writes and searches go on, holding the graph until done', async () => {
    const { engine, pauses } = await start()
    await withVectors(engine, 6_000)
    const before = Buffer.from(engine.image())
    let backlogSeen = 0
    let written: Promise<unknown> | undefined
    pauses.between = async () => {
      // At the first pause, a write of new vectors; every slice waits until it is applied and
      // vector indexing has had turns: the graph is held, so the vectors wait in the backlog.
      written ??= engine
        .index('items')
        .addDocuments(documents(6_000, 50))
        .then(() => new Promise((resolve) => setTimeout(resolve, 30)))
      await written
      backlogSeen = Math.max(backlogSeen, engine.vectorBacklog())
      nearest(engine, 6_001)
    }
    const counted = pauses.count
    const sliced = await engine.imageInSlices()
    pauses.between = undefined
    expect(pauses.count - counted).toBeGreaterThan(10)
    expect(Buffer.from(sliced).equals(before)).toBe(true)
    await written
    // The write was accepted while the image was built; its vectors reach the graph afterwards.
    expect(backlogSeen).toBe(50)
    await engine.whenVectorsIndexed()
    expect(engine.vectorBacklog()).toBe(0)
    expect(nearest(engine, 6_001)[0]).toBe(6_000)
    expect(Buffer.from(await engine.imageInSlices()).equals(Buffer.from(engine.image()))).toBe(true)
    // The graph was never asked to change while held (it would have refused, failing the engine).
    const later = await engine.index('items').addDocuments(documents(6_050, 1))
    expect(later).toBeDefined()
    await engine.close()
  })

  it('restores in slices to the same vector search answers, and refuses a damaged image', async () => {
    const source = await start()
    await withVectors(source.engine, 6_000)
    const image = await source.engine.imageInSlices()
    const target = await start()
    const counted = target.pauses.count
    await target.engine.restoreImage(image)
    expect(target.pauses.count - counted).toBeGreaterThan(10)
    for (const seed of [3, 77, 4_242])
      expect(nearest(target.engine, seed)).toEqual(nearest(source.engine, seed))
    const damaged = Buffer.from(image)
    damaged.writeUInt8(damaged.readUInt8(damaged.length - 100_000) ^ 0x04, damaged.length - 100_000)
    const other = await start()
    await expect(other.engine.restoreImage(damaged)).rejects.toBeInstanceOf(SnapshotCorruptionError)
    for (const engine of [source.engine, target.engine, other.engine]) await engine.close()
  })
})
