import { readdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { Rng, testSeed } from '@shoal/testkit/rng'
import { afterEach, describe, expect, it } from 'vitest'
import {
  type Command,
  CommandLogCorruptionError,
  type Engine,
  type EngineEvent,
  open,
  SnapshotCorruptionError,
} from '../src/index.ts'
import { removeDir, tempDir } from './helpers.ts'

const SEED = testSeed(7)
const dirs: string[] = []

async function freshDir(): Promise<string> {
  const dir = await tempDir()
  dirs.push(dir)
  return dir
}

afterEach(async () => {
  for (const dir of dirs.splice(0)) await removeDir(dir)
})

async function exported(engine: Engine): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of engine.exportSnapshot()) chunks.push(chunk)
  return Buffer.concat(chunks)
}

/** A seeded command sequence touching every command type. */
function commands(seed: number): Command[] {
  const rng = new Rng(seed)
  const at = '2026-11-29T00:00:00.000Z'
  const out: Command[] = [
    {
      type: 'createIndex',
      uid: 'docs',
      primaryKey: 'id',
      settings: {
        filterableAttributes: ['kind', 'n'],
        embedders: { e: { source: 'userProvided', dimensions: 4 } },
      },
      at,
    },
  ]
  const words = ['alpha', 'beta', 'gamma', 'delta', 'kernel', 'server', 'editor', 'library']
  for (let b = 0; b < 15; b++) {
    const documents = Array.from({ length: 20 }, () => ({
      id: rng.int(200),
      kind: rng.pick(['a', 'b', 'c']),
      n: rng.int(100),
      text: Array.from({ length: 5 }, () => rng.pick(words)).join(' '),
      _vectors: { e: Array.from({ length: 4 }, () => rng.next()) },
    }))
    out.push({ type: 'addDocuments', uid: 'docs', documents, primaryKey: null, merge: rng.chance(0.3), at })
    if (rng.chance(0.3))
      out.push({ type: 'deleteDocuments', uid: 'docs', ids: [rng.int(200), rng.int(200)], at })
    if (rng.chance(0.2))
      out.push({ type: 'deleteDocumentsByFilter', uid: 'docs', filter: `n > ${90 + rng.int(10)}`, at })
    if (b === 7)
      out.push({
        type: 'updateSettings',
        uid: 'docs',
        settings: { searchableAttributes: ['text', 'kind'] },
        at,
      })
  }
  out.push({
    type: 'addDocuments',
    uid: 'docs',
    documents: [{ title: 'no id' }],
    primaryKey: null,
    merge: false,
    at,
  })
  return out
}

describe('determinism', () => {
  it('two engines fed the same commands produce byte-identical snapshots', async () => {
    const a = await open(await freshDir(), { sync: 'none' })
    const b = await open(await freshDir(), { sync: 'none' })
    const results = []
    for (const command of commands(SEED)) {
      const ra = await a.apply(command)
      const rb = await b.apply(command)
      expect(ra.ok).toBe(rb.ok)
      results.push(ra.ok)
    }
    expect(results.at(-1)).toBe(false) // the invalid batch failed on both, changing nothing
    // The graphs are identical once each engine has indexed its vector backlog.
    await a.whenVectorsIndexed()
    await b.whenVectorsIndexed()
    const sa = await exported(a)
    const sb = await exported(b)
    expect(sa.equals(sb)).toBe(true)
    expect(a.index('docs').search({ q: 'kernel', filter: 'kind = a' })).toEqual({
      ...b.index('docs').search({ q: 'kernel', filter: 'kind = a' }),
      processingTimeMs: expect.any(Number),
    })
    await a.close()
    await b.close()
  })

  it('replaying the log on reopen rebuilds a byte-identical state', async () => {
    const dir = await freshDir()
    const engine = await open(dir, { sync: 'none' })
    await engine.createIndex('docs', { primaryKey: 'id', settings: { filterableAttributes: ['n'] } })
    for (let b = 0; b < 5; b++) {
      await engine
        .index('docs')
        .addDocuments(Array.from({ length: 50 }, (_, i) => ({ id: b * 50 + i, n: i, t: `word${i}` })))
    }
    await engine.index('docs').deleteDocumentsByFilter('n < 10')
    const before = await exported(engine)
    await engine.close()
    const reopened = await open(dir, { sync: 'none' })
    expect((await exported(reopened)).equals(before)).toBe(true)
    await reopened.close()
  })
})

async function fill(engine: Engine, from: number, batches: number): Promise<void> {
  for (let b = from; b < from + batches; b++) {
    await engine
      .index('docs')
      .addDocuments(Array.from({ length: 10 }, (_, i) => ({ id: b * 10 + i, b, text: `batch ${b}` })))
  }
}

describe('snapshots', () => {
  it('a snapshot plus the log tail recovers the state, and the events say so', async () => {
    const dir = await freshDir()
    const engine = await open(dir, { sync: 'none', snapshotEvery: 0 })
    await engine.createIndex('docs', { primaryKey: 'id' })
    await fill(engine, 0, 3)
    const snap = await engine.snapshot()
    expect(snap.index).toBe(4)
    await fill(engine, 3, 2)
    const before = await exported(engine)
    await engine.close()
    const events: EngineEvent[] = []
    const reopened = await open(dir, { sync: 'none', onEvent: (e) => events.push(e) })
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'recovered', snapshotIndex: 4, replayedCommands: 2 }),
    )
    expect((await exported(reopened)).equals(before)).toBe(true)
    await reopened.close()
  })

  it('automatic snapshots keep the two newest and compact the log', async () => {
    const dir = await freshDir()
    const engine = await open(dir, { sync: 'none', snapshotEvery: 3, walSegmentBytes: 4096 })
    await engine.createIndex('docs', { primaryKey: 'id' })
    await fill(engine, 0, 20)
    await engine.snapshot()
    const files = (await readdir(path.join(dir, 'snapshots'))).filter((f) => f.endsWith('.snap'))
    expect(files.length).toBe(2)
    const before = await exported(engine)
    await engine.close()
    const walFiles = await readdir(path.join(dir, 'wal'))
    const reopened = await open(dir, { sync: 'none' })
    expect((await exported(reopened)).equals(before)).toBe(true)
    expect(reopened.index('docs').getDocuments().total).toBe(200)
    await reopened.close()
    expect(walFiles.length).toBeGreaterThan(0)
  })

  it('a corrupt newest snapshot falls back to the previous one and a longer replay', async () => {
    const dir = await freshDir()
    const engine = await open(dir, { sync: 'none', snapshotEvery: 0 })
    await engine.createIndex('docs', { primaryKey: 'id' })
    await fill(engine, 0, 2)
    await engine.snapshot()
    await fill(engine, 2, 2)
    const newest = await engine.snapshot()
    await fill(engine, 4, 1)
    const before = await exported(engine)
    await engine.close()
    const file = path.join(dir, 'snapshots', `snapshot-${String(newest.index).padStart(20, '0')}.snap`)
    const bytes = await readFile(file)
    bytes[100] = bytes[100]! ^ 0xff
    await writeFile(file, bytes)
    const events: EngineEvent[] = []
    const reopened = await open(dir, { sync: 'none', onEvent: (e) => events.push(e) })
    expect(events).toContainEqual(expect.objectContaining({ type: 'snapshot-rejected', file }))
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'recovered', snapshotIndex: 3, replayedCommands: 3 }),
    )
    expect((await exported(reopened)).equals(before)).toBe(true)
    await reopened.close()
  })

  it('no valid snapshot and a compacted log is a clear error', async () => {
    const dir = await freshDir()
    const engine = await open(dir, { sync: 'none', snapshotEvery: 4, walSegmentBytes: 2048 })
    await engine.createIndex('docs', { primaryKey: 'id' })
    await fill(engine, 0, 30)
    await engine.close()
    for (const name of await readdir(path.join(dir, 'snapshots'))) {
      const file = path.join(dir, 'snapshots', name)
      const bytes = await readFile(file)
      bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1
      await writeFile(file, bytes)
    }
    const error = await open(dir, { sync: 'none' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SnapshotCorruptionError)
    expect(error).toMatchObject({ code: 'internal', httpStatus: 500 })
  })

  it('a log that ends before the newest snapshot is refused (new commands would be skipped on replay)', async () => {
    const dir = await freshDir()
    const engine = await open(dir, { sync: 'none', snapshotEvery: 0 })
    await engine.createIndex('docs', { primaryKey: 'id' })
    await fill(engine, 0, 2)
    await engine.snapshot()
    await engine.close()
    await rm(path.join(dir, 'wal'), { recursive: true, force: true })
    await expect(open(dir, { sync: 'none' })).rejects.toThrow(CommandLogCorruptionError)
  })

  it('a streamed snapshot installs elsewhere; a damaged stream is refused and changes nothing', async () => {
    const source = await open(await freshDir(), { sync: 'none' })
    await source.createIndex('docs', { primaryKey: 'id', settings: { filterableAttributes: ['b'] } })
    await fill(source, 0, 3)
    const target = await open(await freshDir(), { sync: 'none' })
    await target.createIndex('other')
    const bytes = await exported(source)
    const damaged = Buffer.from(bytes)
    damaged[50] = damaged[50]! ^ 0xff
    await expect(
      target.installSnapshot(
        (async function* () {
          yield damaged
        })(),
      ),
    ).rejects.toThrow(SnapshotCorruptionError)
    expect(target.listIndexes().map((i) => i.uid)).toEqual(['other'])
    await target.installSnapshot(source.exportSnapshot())
    expect(target.listIndexes().map((i) => i.uid)).toEqual(['docs'])
    expect(target.index('docs').search({ q: 'batch', filter: 'b = 1' }).estimatedTotalHits).toBe(10)
    await target.index('docs').addDocuments([{ id: 1000, b: 9 }])
    const dir = target.dir
    const after = await exported(target)
    await target.close()
    const reopened = await open(dir, { sync: 'none' })
    expect((await exported(reopened)).equals(after)).toBe(true)
    await reopened.close()
    await source.close()
  })
})
