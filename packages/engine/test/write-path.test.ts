import { afterEach, describe, expect, it } from 'vitest'
import { type CommandLog, Engine, EngineClosedError, MemoryCommandLog } from '../src/index.ts'
import { referenceEngine, removeDir, tempDir } from './helpers.ts'
import { referenceComponents } from './reference/cores.ts'

const dirs: string[] = []
afterEach(async () => {
  for (const dir of dirs.splice(0)) await removeDir(dir)
})

/** A log whose appends start failing (as after EIO on fsync) once `failing` is set. */
class FailingLog extends MemoryCommandLog implements CommandLog {
  failing = false
  appends = 0

  override async appendBatch(payloads: Uint8Array[]): Promise<number> {
    this.appends++
    if (this.failing) throw new Error('EIO: i/o error, fsync')
    return super.appendBatch(payloads)
  }
}

describe('the write path', () => {
  it('concurrent writes share appends, apply in call order and all resolve', async () => {
    const log = new FailingLog()
    const { engine, dir } = await referenceEngine({}, log)
    dirs.push(dir)
    await engine.createIndex('docs', { primaryKey: 'id' })
    const before = log.appends
    const writes = Array.from({ length: 30 }, (_, i) =>
      engine.index('docs').addDocuments([{ id: i % 10, round: i }]),
    )
    await Promise.all(writes)
    expect(log.appends - before).toBeLessThan(30)
    // The last write of each id wins: call order is log order.
    expect(
      engine
        .index('docs')
        .getDocuments({ limit: 100 })
        .results.map((d) => d.round),
    ).toEqual(Array.from({ length: 10 }, (_, i) => 20 + i))
    await engine.close()
  })

  it('an invalid command in a group is rejected alone', async () => {
    const { engine, dir } = await referenceEngine()
    dirs.push(dir)
    await engine.createIndex('docs', { primaryKey: 'id' })
    const docs = engine.index('docs')
    const results = await Promise.allSettled([
      docs.addDocuments([{ id: 1 }]),
      docs.addDocuments([{ id: 'bad id' }]),
      docs.addDocuments([{ id: 2 }]),
    ])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect(docs.getDocuments().total).toBe(2)
    await engine.close()
  })

  it('a failed append is never acknowledged and the database refuses further writes', async () => {
    const log = new FailingLog()
    const dir = await tempDir()
    dirs.push(dir)
    const engine = await Engine.start(dir, {}, { log, components: referenceComponents })
    await engine.createIndex('docs', { primaryKey: 'id' })
    await engine.index('docs').addDocuments([{ id: 1 }])
    log.failing = true
    await expect(engine.index('docs').addDocuments([{ id: 2 }])).rejects.toThrow(EngineClosedError)
    expect(engine.index('docs').getDocuments().total).toBe(1)
    log.failing = false
    await expect(engine.index('docs').addDocuments([{ id: 3 }])).rejects.toThrow(/refuses writes/)
    expect(engine.index('docs').search({}).hits).toEqual([{ id: 1 }])
  })

  it('writes after close are refused', async () => {
    const { engine, dir } = await referenceEngine()
    dirs.push(dir)
    await engine.createIndex('docs')
    await engine.close()
    await expect(engine.createIndex('more')).rejects.toThrow(EngineClosedError)
  })
})

describe('large writes', () => {
  it('analyse their text in slices: other work runs meanwhile, and readers see the whole batch or none of it', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const { open } = await import('../src/index.ts')
    const engine = await open(dir, { sync: 'none' })
    await engine.createIndex('docs', {
      primaryKey: 'id',
      // The totals below count past Meilisearch's default cap of 1000 hits.
      settings: { searchableAttributes: ['text'], pagination: { maxTotalHits: 100_000 } },
    })
    await engine.index('docs').addDocuments([{ id: 'first', text: 'alpha' }])
    const batch = Array.from({ length: 2000 }, (_, i) => ({ id: i, text: `word${i % 97} common batch ${i}` }))
    let settled = false
    const write = engine
      .index('docs')
      .addDocuments(batch)
      .finally(() => {
        settled = true
      })
    const seen: number[] = []
    let turns = 0
    while (!settled) {
      await new Promise((resolve) => setImmediate(resolve))
      turns++
      seen.push(engine.index('docs').search({ q: 'common', limit: 1 }).estimatedTotalHits ?? 0)
    }
    await write
    // The 2000 documents are analysed 64 at a time, each chunk in its own turn of the event loop.
    expect(turns).toBeGreaterThan(2000 / 64)
    // Before the write resolved, no search saw any of it; after, every search sees all of it.
    expect(seen.slice(0, -1).every((hits) => hits === 0)).toBe(true)
    expect(engine.index('docs').search({ q: 'common', limit: 1 }).estimatedTotalHits).toBe(2000)
    expect(engine.index('docs').search({ q: 'word5 batch', limit: 3 }).hits.length).toBe(3)
    await engine.close()
  })
})
