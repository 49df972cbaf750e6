import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { Engine, MemoryCommandLog } from '../src/index.ts'
import { bm25TextIndexes } from '../src/internal/bm25-text-index.ts'
import { hnswVectorIndexes } from '../src/internal/hnsw-vector-index.ts'
import type { TextIndex, TextIndexFactory } from '../src/internal/ports.ts'
import { removeDir, tempDir } from './helpers.ts'

// A document write is staged in slices (its text postings, field entries and documents under
// ids not yet live) and published in one synchronous step (docs/engine.md, Durability): a reader
// between two slices sees all of a batch or none of it, and replay builds the same state.

const dirs: string[] = []
afterEach(async () => {
  for (const dir of dirs.splice(0)) await removeDir(dir)
})

const WORDS = ['kernel', 'modules', 'linux', 'compression', 'library', 'zstd', 'headers', 'tool']
const GENRES = ['a', 'b', 'c']

const docArb = fc.record({
  id: fc.integer({ min: 0, max: 150 }),
  title: fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 4 }).map((w) => w.join(' ')),
  genre: fc.constantFrom(...GENRES),
})
type Doc = { id: number; title: string; genre: string }

/** Text indexes whose publications are recorded, to test the structure of the commit. */
function recordingText(published: ReturnType<TextIndex['publish']>[]): TextIndexFactory {
  const wrap = (index: TextIndex): TextIndex =>
    new Proxy(index, {
      get(target, name) {
        if (name === 'publish')
          return () => {
            const result = target.publish()
            published.push(result)
            return result
          }
        const value = Reflect.get(target, name, target)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
  return {
    create: async (config) => wrap(await bm25TextIndexes.create(config)),
    deserialize: async (bytes, config) => wrap(await bm25TextIndexes.deserialize(bytes, config)),
  }
}

async function start(
  pause: (() => Promise<void>) | undefined,
  published: ReturnType<TextIndex['publish']>[] = [],
): Promise<Engine> {
  const dir = await tempDir()
  dirs.push(dir)
  const components = {
    text: recordingText(published),
    vector: hnswVectorIndexes,
    ...(pause ? { pause } : {}),
  }
  return Engine.start(dir, { snapshotEvery: 0 }, { log: new MemoryCommandLog(), components })
}

const settings = { filterableAttributes: ['genre'], searchableAttributes: ['title'] }

/** What a reader sees of the index. */
function observe(engine: Engine): string {
  const index = engine.index('docs')
  return JSON.stringify({
    kernel: index.search({ q: 'kernel', limit: 200, showRankingScore: true }),
    extra: index.search({ q: 'extra tool', limit: 200, showRankingScore: true }),
    filtered: index.search({ q: 'zstd linux', filter: 'genre = a', facets: ['genre'], limit: 200 }),
    placeholder: index.search({ limit: 200, facets: ['genre'] }),
    docs: [0, 7, 70, 140].map((id) => {
      try {
        return index.getDocument(id)
      } catch {
        return null
      }
    }),
    stats: engine.stats().indexes.docs?.numberOfDocuments,
    merkle: index.merkleNodes(
      1,
      Array.from({ length: 16 }, (_, i) => i),
    ),
  }).replaceAll(/"processingTimeMs":\d+,?/g, '')
}

/** An engine whose pauses between slices record what a reader sees, while a step is watched. */
async function watchedEngine() {
  const seen: string[] = []
  let watching = false
  const engine: Engine = await start(async () => {
    await new Promise<void>((resolve) => setImmediate(resolve))
    if (watching) seen.push(observe(engine))
  })
  return {
    engine,
    seen,
    /**
     * Runs `step` with readers looking between its slices, and checks that each saw the state
     * before the step or the state after it, nothing in between.
     */
    async wholeOrNone<T>(step: () => Promise<T>): Promise<{ result: T; before: string; after: string }> {
      const before = observe(engine)
      watching = true
      let result: T
      try {
        result = await step()
      } finally {
        watching = false
      }
      const after = observe(engine)
      expect(seen.length).toBeGreaterThan(0)
      for (const state of seen) expect([before, after]).toContain(state)
      return { result, before, after }
    },
  }
}

/** Replays `engine`'s whole log into a fresh engine, without pauses, and checks the images are equal. */
async function expectSameReplay(engine: Engine): Promise<Engine> {
  const plain = await start(undefined)
  const log = await engine.readLog(1, Number.MAX_SAFE_INTEGER)
  if (!log.ok) throw new Error('log compacted')
  await plain.appendFollowed(log.entries)
  await plain.whenVectorsIndexed()
  expect(Buffer.from(engine.image()).equals(Buffer.from(plain.image()))).toBe(true)
  return plain
}

describe('a staged commit', () => {
  it('is seen whole or not at all by searches between its slices', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(docArb, { maxLength: 80 }),
        fc.uniqueArray(docArb, { minLength: 65, maxLength: 151, selector: (doc) => doc.id }),
        async (initial: Doc[], batch: Doc[]) => {
          const { engine, wholeOrNone } = await watchedEngine()
          await engine.createIndex('docs', { primaryKey: 'id', settings })
          if (initial.length > 0) await engine.index('docs').addDocuments(initial)
          await wholeOrNone(() => engine.index('docs').addDocuments(batch))
          await engine.close()
        },
      ),
      { numRuns: 12 },
    )
  }, 120_000)

  it('of a large delete (by filter, by ids) is prepared in slices, seen whole or not at all, and replays the same', async () => {
    // Issue 24: a delete of many documents is worked out in slices and removed in one step.
    const docs = Array.from({ length: 900 }, (_, i) => ({
      id: i,
      title: `${WORDS[i % WORDS.length]} ${WORDS[(i * 7) % WORDS.length]}`,
      genre: GENRES[i % GENRES.length]!,
    }))
    const deletes = [
      (engine: Engine) => engine.index('docs').deleteDocumentsByFilter('genre IN [a, b]'),
      (engine: Engine) =>
        engine.index('docs').deleteDocuments(docs.filter((d) => d.id % 3 !== 1).map((d) => d.id)),
    ]
    for (const remove of deletes) {
      const { engine, seen, wholeOrNone } = await watchedEngine()
      await engine.createIndex('docs', { primaryKey: 'id', settings })
      await engine.index('docs').addDocuments(docs)
      const { result, before } = await wholeOrNone(() => remove(engine))
      expect(result).toEqual({ deletedDocuments: 600 })
      expect(seen.length).toBeGreaterThan(1)
      expect(seen).toContain(before)
      expect(engine.stats().indexes.docs?.numberOfDocuments).toBe(300)
      // Replay without pauses builds the same state.
      const plain = await expectSameReplay(engine)
      await Promise.all([engine.close(), plain.close()])
    }
  })

  it('is seen whole or not at all when it brings new searchable attributes, and replays the same', async () => {
    // With searchableAttributes ['*'], a batch with a new attribute rebuilds the text index: the
    // kept documents and the batch go to a fresh index in slices, swapped in at publish.
    await fc.assert(
      fc.asyncProperty(
        fc.array(docArb, { maxLength: 80 }),
        fc.uniqueArray(docArb, { minLength: 65, maxLength: 151, selector: (doc) => doc.id }),
        fc.constantFrom(...WORDS),
        async (initial: Doc[], batch: Doc[], word: string) => {
          const { engine, wholeOrNone } = await watchedEngine()
          await engine.createIndex('docs', {
            primaryKey: 'id',
            settings: { filterableAttributes: ['genre'] },
          })
          if (initial.length > 0) await engine.index('docs').addDocuments(initial)
          const noted = batch.map((doc) => (doc.id % 2 === 0 ? { ...doc, note: `extra ${word}` } : doc))
          await wholeOrNone(() => engine.index('docs').addDocuments(noted))
          expect(engine.index('docs').search({ q: 'extra' }).estimatedTotalHits).toBe(
            noted.filter((doc) => 'note' in doc).length,
          )
          const plain = await expectSameReplay(engine)
          await Promise.all([engine.close(), plain.close()])
        },
      ),
      { numRuns: 10 },
    )
  }, 120_000)

  it('replays to the same image, and an image taken while a batch is staged holds none of it', async () => {
    let staged: Engine | undefined
    const midImages: Uint8Array[] = []
    staged = await start(async () => {
      await new Promise<void>((resolve) => setImmediate(resolve))
      if (staged?.hasIndex('docs')) {
        midImages.push(staged.image())
        // A search between slices encodes postings the next image must not remember.
        staged.index('docs').search({ q: 'round0 kernel', filter: 'genre = b' })
      }
    })
    const batches = [0, 1, 2].map((round) =>
      Array.from({ length: 300 }, (_, i) => ({
        id: (i * 7 + round * 100) % 500,
        title: `${WORDS[(i + round) % WORDS.length]} ${WORDS[(i * 3) % WORDS.length]} round${round}`,
        genre: GENRES[(i + round) % 3]!,
      })),
    )
    await staged.createIndex('docs', { primaryKey: 'id', settings })
    const prefixes = [observe(staged)]
    for (const batch of batches) {
      await staged.index('docs').addDocuments(batch)
      prefixes.push(observe(staged))
    }
    await staged.index('docs').deleteDocuments([7, 14, 21])
    await staged.whenVectorsIndexed()
    expect(midImages.length).toBeGreaterThan(3)
    // Another database applies the same log without pausing and without images in between.
    const plain = await expectSameReplay(staged)
    // An image taken between slices is the state before the batch being staged.
    const restored = await start(undefined)
    for (const image of midImages) {
      await restored.restoreImage(image)
      expect(prefixes).toContain(observe(restored))
    }
    await Promise.all([staged.close(), plain.close(), restored.close()])
  }, 120_000)

  it('rebuilds for new settings in slices, seen whole or not at all, and replays the same', async () => {
    const { engine, seen, wholeOrNone } = await watchedEngine()
    await engine.createIndex('docs', {
      primaryKey: 'id',
      settings: { searchableAttributes: ['note'], filterableAttributes: ['genre'] },
    })
    const docs = Array.from({ length: 600 }, (_, i) => ({
      id: i,
      title: `${WORDS[i % WORDS.length]} ${WORDS[(i * 3) % WORDS.length]}`,
      genre: GENRES[i % 3]!,
      note: i % 5 === 0 ? 'extra tool' : 'plain',
    }))
    await engine.index('docs').addDocuments(docs)
    // New filterable attributes (field indexes rebuilt) and searchable ones (text index rebuilt).
    const { before, after } = await wholeOrNone(() =>
      engine
        .index('docs')
        .updateSettings({ searchableAttributes: ['title', 'note'], filterableAttributes: ['genre', 'note'] }),
    )
    expect(after).not.toBe(before)
    expect(seen.length).toBeGreaterThan(3)
    const plain = await expectSameReplay(engine)
    expect(observe(plain)).toBe(after)
    await Promise.all([engine.close(), plain.close()])
  })

  it('leaves nothing of a batch whose staging fails part way', async () => {
    let failAt = -1
    const failing: TextIndexFactory = {
      create: async (config) => {
        const index = await bm25TextIndexes.create(config)
        let staged = 0
        return new Proxy(index, {
          get(target, name) {
            if (name === 'stage')
              return (id: number, prepared: Parameters<TextIndex['stage']>[1]) => {
                if (staged++ === failAt) throw new Error('staging failed')
                target.stage(id, prepared)
              }
            const value = Reflect.get(target, name, target)
            return typeof value === 'function' ? value.bind(target) : value
          },
        })
      },
      deserialize: bm25TextIndexes.deserialize,
    }
    const dir = await tempDir()
    dirs.push(dir)
    const pause = () => new Promise<void>((resolve) => setImmediate(resolve))
    const engine = await Engine.start(
      dir,
      { snapshotEvery: 0 },
      { log: new MemoryCommandLog(), components: { text: failing, vector: hnswVectorIndexes, pause } },
    )
    const plain = await start(undefined)
    const first = Array.from({ length: 100 }, (_, i) => ({
      id: i,
      title: `${WORDS[i % 8]} kernel`,
      genre: 'a',
    }))
    const failed = Array.from({ length: 200 }, (_, i) => ({ id: i + 50, title: 'unseen staged', genre: 'b' }))
    const last = Array.from({ length: 100 }, (_, i) => ({
      id: i * 3,
      title: `${WORDS[i % 5]} tool`,
      genre: 'c',
    }))
    for (const db of [engine, plain]) {
      await db.createIndex('docs', { primaryKey: 'id', settings })
      await db.index('docs').addDocuments(first)
    }
    const before = observe(engine)
    failAt = 100 + 120
    await expect(engine.index('docs').addDocuments(failed)).rejects.toThrow('staging failed')
    expect(observe(engine)).toBe(before)
    await engine.index('docs').addDocuments(last)
    await plain.index('docs').addDocuments(last)
    expect(observe(engine)).toBe(observe(plain))
    expect(engine.index('docs').search({ q: 'unseen' }).hits).toHaveLength(0)
    await Promise.all([engine.close(), plain.close()])
  })

  it('publishes a batch in one step over the terms it touches, not its documents', async () => {
    const published: ReturnType<TextIndex['publish']>[] = []
    const engine = await start(() => new Promise<void>((resolve) => setImmediate(resolve)), published)
    await engine.createIndex('docs', { primaryKey: 'id', settings })
    published.length = 0
    const batch = Array.from({ length: 3000 }, (_, i) => ({
      id: i,
      title: 'kernel modules linux',
      genre: 'a',
    }))
    await engine.index('docs').addDocuments(batch)
    expect(published).toEqual([{ documents: 3000, termsTouched: 3, replaced: 0 }])
    expect(engine.stats().indexes.docs?.numberOfDocuments).toBe(3000)
    expect(engine.index('docs').search({ q: 'kernel', limit: 5 }).hits).toHaveLength(5)
    await engine.close()
  })
})
