import { afterEach, describe, expect, it } from 'vitest'
import { CommandLogCorruptionError, type Engine, open } from '../src/index.ts'
import { removeDir, tempDir } from './helpers.ts'

// A hot standby follows its primary's command log: it reads the primary's logged bytes
// (`readLog`), appends and applies them (`appendFollowed`), and starts over from a snapshot
// (`installSnapshot`) when the range it needs was compacted away.

const dirs: string[] = []
const engines: Engine[] = []

async function fresh(options: Parameters<typeof open>[1] = {}): Promise<Engine> {
  const dir = await tempDir()
  dirs.push(dir)
  const engine = await open(dir, { sync: 'none', ...options })
  engines.push(engine)
  return engine
}

afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.close().catch(() => {})
  for (const dir of dirs.splice(0)) await removeDir(dir)
})

async function writeSome(engine: Engine, from: number, count: number): Promise<void> {
  if (!engine.hasIndex('docs')) await engine.createIndex('docs', { primaryKey: 'id' })
  for (let i = from; i < from + count; i++) {
    await engine.index('docs').addDocuments([{ id: i, title: `document number ${i}` }])
  }
}

async function follow(primary: Engine, standby: Engine, fromIndex: number): Promise<number> {
  let next = fromIndex
  for (;;) {
    const read = await primary.readLog(next, 1024)
    if (!read.ok) throw new Error('compacted')
    if (read.entries.length === 0) return next
    await standby.appendFollowed(read.entries)
    next += read.entries.length
  }
}

async function image(engine: Engine): Promise<unknown> {
  return engine.index('docs').getDocuments({ limit: 1000 })
}

describe('following another engine’s command log', () => {
  it('a follower fed every logged command ends with the same documents and the same applied index', async () => {
    const primary = await fresh()
    const standby = await fresh()
    await writeSome(primary, 0, 30)
    await primary.index('docs').deleteDocument(3)
    const next = await follow(primary, standby, 1)
    expect(next).toBe(primary.appliedIndex + 1)
    expect(standby.appliedIndex).toBe(primary.appliedIndex)
    expect(await image(standby)).toEqual(await image(primary))
    expect(standby.index('docs').search({ q: 'number 7' }).hits[0]).toMatchObject({ id: 7 })
  })

  it('readLog stops near maxBytes and returns nothing past the end', async () => {
    const primary = await fresh()
    await writeSome(primary, 0, 10)
    const some = await primary.readLog(1, 1)
    expect(some).toMatchObject({ ok: true })
    if (some.ok) expect(some.entries).toHaveLength(1)
    const none = await primary.readLog(primary.logRange().lastIndex + 1, 1 << 20)
    expect(none).toEqual({ ok: true, entries: [] })
  })

  it('a followed command survives the follower’s restart (it was logged durably)', async () => {
    const primary = await fresh()
    const dir = await tempDir()
    dirs.push(dir)
    const standby = await open(dir, { sync: 'always' })
    await writeSome(primary, 0, 5)
    await follow(primary, standby, 1)
    await standby.close()
    const reopened = await open(dir, { sync: 'none' })
    engines.push(reopened)
    expect(reopened.appliedIndex).toBe(primary.appliedIndex)
    expect(await image(reopened)).toEqual(await image(primary))
  })

  it('bytes that are not a command are refused before anything is logged', async () => {
    const standby = await fresh()
    const before = standby.logRange()
    await expect(standby.appendFollowed([new Uint8Array([0xc1, 0xc1])])).rejects.toBeInstanceOf(
      CommandLogCorruptionError,
    )
    expect(standby.logRange()).toEqual(before)
  })

  it('a compacted range answers compacted, and a snapshot plus the log after it catches up', async () => {
    const primary = await fresh({ snapshotEvery: 10, walSegmentBytes: 4096 })
    await writeSome(primary, 0, 120)
    await primary.snapshot()
    await primary.snapshot()
    expect(primary.logRange().firstIndex).toBeGreaterThan(1)
    expect(await primary.readLog(1, 1024)).toEqual({ ok: false, reason: 'compacted' })
    const standby = await fresh()
    const installed = await standby.installSnapshot(primary.exportSnapshot())
    expect(installed.sourceIndex).toBe(primary.appliedIndex)
    await writeSome(primary, 120, 5)
    await follow(primary, standby, installed.sourceIndex + 1)
    expect(await image(standby)).toEqual(await image(primary))
  })
})
