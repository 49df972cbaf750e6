import { afterEach, describe, expect, it } from 'vitest'
import { Engine, MemoryCommandLog, SnapshotCorruptionError } from '../src/index.ts'
import { bm25TextIndexes } from '../src/internal/bm25-text-index.ts'
import { hnswVectorIndexes } from '../src/internal/hnsw-vector-index.ts'
import {
  frameSnapshot,
  frameSnapshotInSlices,
  unframeSnapshot,
  unframeSnapshotInSlices,
} from '../src/internal/snapshot-file.ts'
import { removeDir, tempDir } from './helpers.ts'

// Restoring an image loads its document columns (key map, digests, field entries) a chunk of
// documents at a time, pausing between chunks; the state is swapped in only once loaded.

const dirs: string[] = []
afterEach(async () => {
  for (const dir of dirs.splice(0)) await removeDir(dir)
})

async function start(pause: (() => Promise<void>) | undefined): Promise<Engine> {
  const dir = await tempDir()
  dirs.push(dir)
  const components = { text: bm25TextIndexes, vector: hnswVectorIndexes, ...(pause ? { pause } : {}) }
  return Engine.start(dir, { snapshotEvery: 0 }, { log: new MemoryCommandLog(), components })
}

const settings = { filterableAttributes: ['genre'], searchableAttributes: ['title'] }
const GENRES = ['sf', 'crime', 'poetry']

function observe(engine: Engine): string {
  const index = engine.index('books')
  return JSON.stringify({
    text: index.search({ q: 'volume 12', limit: 20, showRankingScore: true }).hits,
    filtered: index.search({ filter: 'genre = crime', facets: ['genre'], limit: 5 }).facetDistribution,
    document: index.getDocument(2999),
    digest: engine.stats().indexes.books,
  })
}

describe('restoring an image in slices', () => {
  it('pauses between chunks of documents and restores the same state as in one go', async () => {
    const source = await start(undefined)
    await source.createIndex('books', { primaryKey: 'id', settings })
    const docs = Array.from({ length: 3000 }, (_, id) => ({
      id,
      title: `volume ${id % 97} of ${GENRES[id % 3]}`,
      genre: GENRES[id % 3]!,
    }))
    await source.index('books').addDocuments(docs)
    await source.index('books').deleteDocuments([5, 6, 7])
    const image = source.image()

    let pauses = 0
    let seenDuringRestore: string | undefined
    let sliced: Engine | undefined
    sliced = await start(async () => {
      pauses++
      await new Promise<void>((resolve) => setImmediate(resolve))
      // The engine answers from its state before the restore until the restore is done.
      if (sliced?.hasIndex('old'))
        seenDuringRestore ??= JSON.stringify(sliced.index('old').search({ q: 'x' }).hits)
    })
    await sliced.createIndex('old', { primaryKey: 'id' })
    await sliced.index('old').addDocuments([{ id: 1, title: 'x' }])
    const pausesBefore = pauses
    await sliced.restoreImage(image)
    // 3000 documents, 1024 a chunk: at least two pauses within the document columns.
    expect(pauses - pausesBefore).toBeGreaterThanOrEqual(2)
    expect(seenDuringRestore).toBe(JSON.stringify([{ id: 1, title: 'x' }]))
    expect(sliced.hasIndex('old')).toBe(false)

    const whole = await start(undefined)
    await whole.restoreImage(image)
    expect(observe(sliced)).toBe(observe(source))
    expect(observe(whole)).toBe(observe(source))
    // The frames differ in the applied index they name (each engine's own log); the bodies not.
    const body = (engine: Engine) => Buffer.from(unframeSnapshot(engine.image(), 'image').body)
    expect(body(sliced).equals(body(whole))).toBe(true)
    expect(body(sliced).equals(body(source))).toBe(true)
    expect(sliced.index('books').merkleNodes(0, [0])).toEqual(source.index('books').merkleNodes(0, [0]))

    // A corrupted image is refused before anything changes.
    const corrupt = image.slice()
    corrupt[Math.floor(corrupt.length / 2)]! ^= 0xff
    await expect(sliced.restoreImage(corrupt)).rejects.toThrow(SnapshotCorruptionError)
    expect(observe(sliced)).toBe(observe(source))
    await Promise.all([source.close(), sliced.close(), whole.close()])
  }, 60_000)
})

describe('snapshot frames in slices', () => {
  it('are the bytes of the one-shot frame, and a flipped byte anywhere is still caught', async () => {
    let pauses = 0
    const pause = async () => {
      pauses++
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
    const MiB = 1 << 20
    for (const size of [0, 1, MiB - 1, MiB, MiB + 3, 2 * MiB + MiB / 2]) {
      const body = Uint8Array.from({ length: size }, (_, i) => (i * 31 + (i >> 11)) & 0xff)
      pauses = 0
      const sliced = await frameSnapshotInSlices(42, body, pause)
      expect(pauses).toBe(Math.max(0, Math.ceil(size / MiB) - 1))
      expect(Buffer.from(sliced).equals(Buffer.from(frameSnapshot(42, body)))).toBe(true)
      const frame = await unframeSnapshotInSlices(sliced, 'test', pause)
      expect(frame.index).toBe(42)
      expect(Buffer.from(frame.body).equals(Buffer.from(body))).toBe(true)
      for (const at of [0, 20, 32 + Math.floor(size / 2), sliced.length - 1]) {
        const corrupt = Buffer.from(sliced)
        corrupt[at]! ^= 0x10
        await expect(unframeSnapshotInSlices(corrupt, 'test', pause)).rejects.toThrow(SnapshotCorruptionError)
        expect(() => unframeSnapshot(corrupt, 'test')).toThrow(SnapshotCorruptionError)
      }
    }
  })
})
