import { Rng, testSeed } from '@shoal/testkit/rng'
import { afterEach, describe, expect, it } from 'vitest'
import { Engine, type EngineEvent, MemoryCommandLog, open } from '../src/index.ts'
import { bm25TextIndexes } from '../src/internal/bm25-text-index.ts'
import { hnswVectorIndexes } from '../src/internal/hnsw-vector-index.ts'
import { removeDir, tempDir } from './helpers.ts'

// Background vector indexing (docs/engine.md, "Vector indexing"): a write is acknowledged once
// durable and applied to documents, filters and text; its vectors enter the graph later, and
// searches see them at once.

const SEED = testSeed(24)
const D = 8
const dirs: string[] = []
const engines: Engine[] = []

afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.close()
  for (const dir of dirs.splice(0)) await removeDir(dir)
})

async function fresh(dir?: string, onEvent?: (event: EngineEvent) => void): Promise<Engine> {
  const at = dir ?? (await tempDir())
  if (dir === undefined) dirs.push(at)
  const engine = await open(at, { sync: 'none', snapshotEvery: 0, ...(onEvent ? { onEvent } : {}) })
  engines.push(engine)
  return engine
}

async function closeEngine(engine: Engine): Promise<void> {
  engines.splice(engines.indexOf(engine), 1)
  await engine.close()
}

function randomVector(rng: Rng): number[] {
  return Array.from({ length: D }, () => rng.next() * 2 - 1)
}

function docs(rng: Rng, from: number, count: number) {
  return Array.from({ length: count }, (_, i) => ({
    id: from + i,
    text: `item ${from + i} ${i % 2 === 0 ? 'even' : 'odd'}`,
    parity: i % 2 === 0 ? 'even' : 'odd',
    _vectors: { v: randomVector(rng) },
  }))
}

/** Exact cosine top-k over `held` (id → vector), ties by id, restricted to `allowed` ids when given. */
function bruteForce(
  held: Map<number, number[]>,
  query: number[],
  k: number,
  allowed?: Set<number>,
): number[] {
  const norm = (v: number[]) => Math.sqrt(v.reduce((sum, x) => sum + x * x, 0))
  const scored = [...held]
    .filter(([id]) => allowed === undefined || allowed.has(id))
    .map(([id, v]) => {
      const f = v.map(Math.fround)
      const dot = f.reduce((sum, x, i) => sum + x * query[i]!, 0)
      return [id, 1 - dot / (norm(f) * norm(query))] as const
    })
  scored.sort((a, b) => a[1] - b[1] || a[0] - b[0])
  return scored.slice(0, k).map(([id]) => id)
}

async function withIndex(engine: Engine): Promise<void> {
  await engine.createIndex('items', {
    primaryKey: 'id',
    settings: {
      filterableAttributes: ['parity'],
      embedders: { v: { source: 'userProvided', dimensions: D } },
    },
  })
}

function vectorIds(engine: Engine, query: number[], limit: number, filter?: string): number[] {
  return engine
    .index('items')
    .search({ vector: query, limit, ...(filter === undefined ? {} : { filter }) })
    .hits.map((hit) => hit.id as number)
}

describe('background vector indexing', () => {
  it('a write resolves before its vectors are in the graph, and searches see them at once, exactly', async () => {
    const rng = new Rng(SEED)
    const engine = await fresh()
    await withIndex(engine)
    const batch = docs(rng, 0, 300)
    await engine.index('items').addDocuments(batch)
    expect(engine.vectorBacklog()).toBe(300)
    expect(engine.index('items').storageStats().vectors.v).toMatchObject({ documents: 0, backlog: 300 })
    const held = new Map(batch.map((doc) => [doc.id, doc._vectors.v]))
    const evens = new Set(batch.filter((doc) => doc.parity === 'even').map((doc) => doc.id))
    for (let q = 0; q < 10; q++) {
      const query = randomVector(rng)
      expect(vectorIds(engine, query, 10)).toEqual(bruteForce(held, query, 10))
      expect(vectorIds(engine, query, 5, 'parity = even')).toEqual(bruteForce(held, query, 5, evens))
    }
    const hybrid = engine.index('items').search({ q: 'item', vector: batch[7]!._vectors.v, limit: 3 })
    expect(hybrid.hits.map((hit) => hit.id)).toContain(7)

    await engine.whenVectorsIndexed()
    expect(engine.vectorBacklog()).toBe(0)
    expect(engine.index('items').storageStats().vectors.v).toMatchObject({ documents: 300, backlog: 0 })
    // Now the graph answers; each document's own vector finds it.
    for (const doc of batch.slice(0, 20)) expect(vectorIds(engine, doc._vectors.v, 1)).toEqual([doc.id])
  })

  it('the backlog drains in slices that yield to the event loop between them', async () => {
    const rng = new Rng(SEED + 1)
    const engine = await fresh()
    await withIndex(engine)
    await engine.index('items').addDocuments(docs(rng, 0, 3000))
    const seen: number[] = [engine.vectorBacklog()]
    while (seen.at(-1)! > 0) {
      await new Promise((resolve) => setImmediate(resolve))
      seen.push(engine.vectorBacklog())
    }
    expect(seen[0]).toBe(3000)
    // More than one turn of the event loop, each taking part of the backlog, in order.
    expect(seen.filter((left) => left > 0 && left < 3000).length).toBeGreaterThan(1)
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeLessThanOrEqual(seen[i - 1]!)
  })

  it('gives way to a write being checked, encoded and applied: no slice runs in its pauses', async () => {
    // Issue 24: the graph takes its slices while writes wait on the disk or nothing is written,
    // not between the chunks of a write's CPU work (engine.ts, INDEXING_GIVES_WAY_FLOATS).
    const rng = new Rng(SEED + 5)
    const backlogAtPause: number[] = []
    let engine: Engine | undefined
    const pause = async () => {
      if (engine !== undefined) backlogAtPause.push(engine.vectorBacklog())
      await new Promise((resolve) => setImmediate(resolve))
    }
    const dir = await tempDir()
    dirs.push(dir)
    engine = await Engine.start(
      dir,
      { snapshotEvery: 0 },
      {
        log: new MemoryCommandLog(),
        components: { text: bm25TextIndexes, vector: hnswVectorIndexes, pause },
      },
    )
    engines.push(engine)
    await withIndex(engine)
    await engine.index('items').addDocuments(docs(rng, 0, 3000))
    const queued = engine.vectorBacklog()
    expect(queued).toBe(3000)
    backlogAtPause.length = 0
    await engine.index('items').addDocuments(docs(rng, 3000, 1000))
    // The second write paused many times (check, encoding, decoding, staging), the backlog
    // untouched at every pause; it grew by the write's vectors once the write was published.
    expect(backlogAtPause.length).toBeGreaterThan(10)
    expect(new Set(backlogAtPause)).toEqual(new Set([queued]))
    expect(engine.vectorBacklog()).toBe(4000)
    await engine.whenVectorsIndexed()
    expect(engine.index('items').storageStats().vectors.v).toMatchObject({ documents: 4000, backlog: 0 })
  })

  it('replacing and deleting vectors not yet indexed is seen at once, and after indexing', async () => {
    const rng = new Rng(SEED + 2)
    const engine = await fresh()
    await withIndex(engine)
    const batch = docs(rng, 0, 200)
    await engine.index('items').addDocuments(batch)
    await engine.whenVectorsIndexed()
    const held = new Map(batch.map((doc) => [doc.id, doc._vectors.v]))
    // Replace some indexed vectors and some queued ones, delete both kinds, add new ones.
    const more = docs(rng, 200, 100)
    await engine.index('items').addDocuments(more)
    for (const doc of more) held.set(doc.id, doc._vectors.v)
    const replaced = [3, 50, 120, 210, 250].map((id) => ({
      id,
      parity: 'odd',
      _vectors: { v: randomVector(rng) },
    }))
    await engine.index('items').addDocuments(replaced)
    for (const doc of replaced) held.set(doc.id, doc._vectors.v)
    await engine.index('items').deleteDocuments([4, 51, 220, 299])
    for (const id of [4, 51, 220, 299]) held.delete(id)
    await engine.index('items').updateDocuments([{ id: 7, _vectors: { v: null } }])
    held.delete(7)
    expect(engine.vectorBacklog()).toBeGreaterThan(0)
    const queries = Array.from({ length: 10 }, () => randomVector(rng))
    const expected = queries.map((query) => bruteForce(held, query, 10))
    expect(queries.map((query) => vectorIds(engine, query, 10))).toEqual(expected)
    for (const doc of replaced) expect(vectorIds(engine, doc._vectors.v, 1)).toEqual([doc.id])
    await engine.whenVectorsIndexed()
    for (const doc of replaced) expect(vectorIds(engine, doc._vectors.v, 1)).toEqual([doc.id])
    const after = queries.map((query) => vectorIds(engine, query, 10))
    for (const ids of after) for (const gone of [4, 7, 51, 220, 299]) expect(ids).not.toContain(gone)
  })

  it('a snapshot taken with a backlog reopens with it, answers exactly, then indexes it', async () => {
    const rng = new Rng(SEED + 3)
    const dir = await tempDir()
    dirs.push(dir)
    const engine = await fresh(dir)
    await withIndex(engine)
    const first = docs(rng, 0, 100)
    await engine.index('items').addDocuments(first)
    await engine.whenVectorsIndexed()
    const second = docs(rng, 100, 400)
    await engine.index('items').addDocuments(second)
    await engine.index('items').deleteDocuments([5, 150])
    const backlog = engine.vectorBacklog()
    expect(backlog).toBeGreaterThan(0)
    await engine.snapshot()
    await closeEngine(engine)

    const events: EngineEvent[] = []
    const reopened = await fresh(dir, (event) => events.push(event))
    expect(events).toContainEqual(expect.objectContaining({ type: 'recovered', replayedCommands: 0 }))
    expect(reopened.vectorBacklog()).toBeGreaterThan(0)
    expect(reopened.vectorBacklog()).toBeLessThanOrEqual(backlog)
    const held = new Map([...first, ...second].map((doc) => [doc.id, doc._vectors.v]))
    held.delete(5)
    held.delete(150)
    const queries = Array.from({ length: 5 }, () => randomVector(rng))
    expect(queries.map((query) => vectorIds(reopened, query, 10))).toEqual(
      queries.map((query) => bruteForce(held, query, 10)),
    )
    await reopened.whenVectorsIndexed()
    expect(reopened.index('items').storageStats().vectors.v).toMatchObject({ documents: 498, backlog: 0 })
  })

  it('recovery by log replay queues the vectors again and indexes them', async () => {
    const rng = new Rng(SEED + 4)
    const dir = await tempDir()
    dirs.push(dir)
    const engine = await fresh(dir)
    await withIndex(engine)
    const batch = docs(rng, 0, 300)
    await engine.index('items').addDocuments(batch)
    expect(engine.vectorBacklog()).toBe(300)
    await closeEngine(engine)
    const reopened = await fresh(dir)
    expect(reopened.vectorBacklog()).toBe(300)
    const held = new Map(batch.map((doc) => [doc.id, doc._vectors.v]))
    const query = randomVector(rng)
    expect(vectorIds(reopened, query, 10)).toEqual(bruteForce(held, query, 10))
    await reopened.whenVectorsIndexed()
    expect(reopened.index('items').storageStats().vectors.v).toMatchObject({ documents: 300, backlog: 0 })
  })

  it('waiting for indexing on a closed engine is refused', async () => {
    const rng = new Rng(SEED + 5)
    const engine = await fresh()
    await withIndex(engine)
    await engine.index('items').addDocuments(docs(rng, 0, 2000))
    const waiting = expect(engine.whenVectorsIndexed()).rejects.toThrow(/closed/)
    await closeEngine(engine)
    await waiting
    await expect(engine.whenVectorsIndexed()).rejects.toThrow(/closed/)
  })
})
