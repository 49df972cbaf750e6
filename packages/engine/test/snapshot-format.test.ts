import { cp, readdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { crc32 } from 'node:zlib'
import { afterEach, describe, expect, it } from 'vitest'
import { type Engine, type EngineEvent, open, SnapshotCorruptionError } from '../src/index.ts'
import { removeDir, tempDir } from './helpers.ts'

const dirs: string[] = []

async function freshDir(): Promise<string> {
  const dir = await tempDir()
  dirs.push(dir)
  return dir
}

afterEach(async () => {
  for (const dir of dirs.splice(0)) await removeDir(dir)
})

async function snapshotFile(dir: string): Promise<string> {
  const names = (await readdir(path.join(dir, 'snapshots'))).filter((n) => n.endsWith('.snap')).sort()
  return path.join(dir, 'snapshots', names.at(-1)!)
}

async function formatVersion(dir: string): Promise<number> {
  return (await readFile(await snapshotFile(dir))).readUInt32LE(8)
}

/** What a reader can see of an index: documents, keyword, filtered, faceted and vector results. */
function observe(engine: Engine, uid: string) {
  const index = engine.index(uid)
  const filtered = index.search({ filter: 'genre = sf AND year > 1900', facets: ['genre'] })
  const storage = index.storageStats()
  return {
    documents: index.getDocuments({ limit: 1000, retrieveVectors: true }),
    keyword: index.search({ q: 'dune solaris ulysses', limit: 10 }).hits,
    filtered: { hits: filtered.hits, facets: filtered.facetDistribution },
    vector: index.search({ vector: [1, 0, 0], limit: 3 }).hits.map((hit) => hit.id),
    stats: engine.stats().indexes[uid],
    ids: { documents: storage.documents, idSpace: storage.idSpace, freeIds: storage.freeIds },
    fieldEntries: storage.fieldEntries,
  }
}

const BOOKS = {
  primaryKey: 'id',
  settings: {
    filterableAttributes: ['genre', 'year'],
    embedders: { v: { source: 'userProvided' as const, dimensions: 3 } },
  },
}

describe('snapshot format', () => {
  it('snapshots are written in format 2 and reopen to the same state, documents decoded on demand', async () => {
    const dir = await freshDir()
    const db = await open(dir, { sync: 'none', snapshotEvery: 0 })
    await db.createIndex('books', BOOKS)
    const books = db.index('books')
    await books.addDocuments(
      Array.from({ length: 40 }, (_, i) => ({
        id: i,
        title: ['Dune', 'Solaris', 'Ulysses', 'Emma'][i % 4],
        genre: i % 4 === 3 ? 'romance' : 'sf',
        year: 1900 + i,
        nested: { tags: [`t${i % 3}`] },
        _vectors: { v: [1, i / 40, 0.1] },
      })),
    )
    await books.deleteDocuments([3, 5, 8])
    await db.snapshot()
    const before = observe(db, 'books')
    await db.close()
    expect(await formatVersion(dir)).toBe(2)

    const events: EngineEvent[] = []
    const reopened = await open(dir, { sync: 'none', snapshotEvery: 0, onEvent: (e) => events.push(e) })
    expect(events).toContainEqual(expect.objectContaining({ type: 'recovered', replayedCommands: 0 }))
    expect(observe(reopened, 'books')).toEqual(before)

    // Documents never read since the reopen are replaced, merged, deleted and filtered like any other.
    await reopened.index('books').addDocuments([{ id: 10, title: 'Emma', genre: 'romance', year: 1815 }])
    await reopened.index('books').updateDocuments([{ id: 11, year: 1700 }])
    await reopened.index('books').deleteDocumentsByFilter('year = 1912')
    expect(reopened.index('books').getDocument(11)).toMatchObject({ id: 11, title: 'Emma', year: 1700 })
    await reopened.snapshot()
    const after = observe(reopened, 'books')
    expect(after.documents.total).toBe(36)
    expect(after.filtered.hits.map((hit) => hit.id)).not.toContain(10)
    await reopened.close()
    const third = await open(dir, { sync: 'none', snapshotEvery: 0 })
    expect(observe(third, 'books')).toEqual(after)
    await third.close()
  })

  it('a format 1 snapshot is still read, and the next snapshot is written in format 2', async () => {
    const dir = await freshDir()
    await cp(path.join(import.meta.dirname, 'fixtures', 'database-v1'), dir, { recursive: true })
    expect(await formatVersion(dir)).toBe(1)
    const events: EngineEvent[] = []
    const db = await open(dir, { sync: 'none', snapshotEvery: 0, onEvent: (e) => events.push(e) })
    expect(events.filter((e) => e.type === 'snapshot-rejected')).toEqual([])
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'recovered', snapshotIndex: 3, replayedCommands: 0 }),
    )
    const books = db.index('books')
    expect(books.getDocuments({ limit: 10 }).results.map((doc) => doc.id)).toEqual([1, 3, 4])
    expect(books.search({ filter: 'genre = sf' }).hits.map((hit) => hit.id)).toEqual([1, 3])
    expect(books.search({ vector: [1, 0, 0], limit: 1 }).hits.map((hit) => hit.id)).toEqual([1])
    expect(books.search({ q: 'solaris' }).hits.map((hit) => hit.id)).toEqual([3])
    const before = observe(db, 'books')
    await db.snapshot()
    await db.close()
    expect(await formatVersion(dir)).toBe(2)
    const reopened = await open(dir, { sync: 'none', snapshotEvery: 0 })
    expect(observe(reopened, 'books')).toEqual(before)
    await reopened.close()
  })

  it('an unknown format version is refused with an error naming the versions this build reads', async () => {
    const dir = await freshDir()
    const db = await open(dir, { sync: 'none', snapshotEvery: 0 })
    await db.createIndex('books', BOOKS)
    await db.index('books').addDocuments([{ id: 1, title: 'Dune' }])
    const chunks: Uint8Array[] = []
    for await (const chunk of db.exportSnapshot()) chunks.push(chunk)
    const future = Buffer.concat(chunks)
    future.writeUInt32LE(3, 8)
    future.writeUInt32LE(crc32(future.subarray(0, future.length - 4)), future.length - 4)
    const install = db.installSnapshot(
      (async function* () {
        yield future
      })(),
    )
    await expect(install).rejects.toThrow(SnapshotCorruptionError)
    await expect(install).rejects.toThrow(/unknown format version 3 \(this version reads 1 and 2\)/)
    await db.snapshot()
    await db.close()

    // On open, the refused file is reported and the state rebuilt from the log.
    await writeFile(await snapshotFile(dir), future)
    const events: EngineEvent[] = []
    const reopened = await open(dir, { sync: 'none', onEvent: (e) => events.push(e) })
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'snapshot-rejected', reason: expect.stringMatching(/version 3/) }),
    )
    expect(reopened.index('books').getDocument(1)).toEqual({ id: 1, title: 'Dune' })
    await reopened.close()
  })
})
