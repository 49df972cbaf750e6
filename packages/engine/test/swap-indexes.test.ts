import { afterEach, describe, expect, it } from 'vitest'
import { type Engine, open } from '../src/index.ts'
import { removeDir, tempDir } from './helpers.ts'

// Meilisearch's swap-indexes: pairs swap atomically (all or none); `rename`
// moves the first index to a free uid. The swap is a logged command, so it
// survives a restart.

const dirs: string[] = []
const engines: Engine[] = []

async function fresh(): Promise<{ engine: Engine; dir: string }> {
  const dir = await tempDir()
  dirs.push(dir)
  const engine = await open(dir, { sync: 'none', snapshotEvery: 0 })
  engines.push(engine)
  return { engine, dir }
}

afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.close().catch(() => {})
  for (const dir of dirs.splice(0)) await removeDir(dir)
})

async function twoIndexes(engine: Engine): Promise<void> {
  await engine.createIndex('a', { primaryKey: 'id' })
  await engine.createIndex('b', { primaryKey: 'id' })
  await engine.index('a').addDocuments([{ id: 1, title: 'from a' }])
  await engine.index('b').addDocuments([{ id: 2, title: 'from b' }])
  await engine.index('b').updateSettings({ filterableAttributes: ['title'] })
}

describe('swapIndexes', () => {
  it('exchanges documents and settings of two indexes', async () => {
    const { engine } = await fresh()
    await twoIndexes(engine)
    await engine.swapIndexes([{ indexes: ['a', 'b'] }])
    expect(engine.index('a').getDocument(2)).toEqual({ id: 2, title: 'from b' })
    expect(engine.index('b').getDocument(1)).toEqual({ id: 1, title: 'from a' })
    expect(engine.index('a').getSettings().filterableAttributes).toEqual(['title'])
    expect(engine.getIndex('a').uid).toBe('a')
  })

  it('renames an index to a free uid', async () => {
    const { engine } = await fresh()
    await twoIndexes(engine)
    await engine.swapIndexes([{ indexes: ['a', 'c'], rename: true }])
    expect(engine.hasIndex('a')).toBe(false)
    expect(engine.index('c').getDocument(1)).toEqual({ id: 1, title: 'from a' })
    expect(engine.listIndexes().map((i) => i.uid)).toEqual(['b', 'c'])
  })

  it('changes nothing when one pair of several is invalid', async () => {
    const { engine } = await fresh()
    await twoIndexes(engine)
    await expect(
      engine.swapIndexes([{ indexes: ['a', 'b'] }, { indexes: ['x', 'y'] }]),
    ).rejects.toMatchObject({ code: 'index_not_found', message: 'Indexes `x`, `y` not found.' })
    await expect(engine.swapIndexes([{ indexes: ['a', 'b'], rename: true }])).rejects.toMatchObject({
      code: 'index_already_exists',
    })
    await expect(
      engine.swapIndexes([{ indexes: ['a', 'b'] }, { indexes: ['b', 'c'], rename: true }]),
    ).rejects.toMatchObject({ code: 'invalid_swap_duplicate_index_found' })
    expect(engine.index('a').getDocument(1)).toEqual({ id: 1, title: 'from a' })
    expect(engine.index('b').getDocument(2)).toEqual({ id: 2, title: 'from b' })
  })

  it('survives a restart (replayed from the command log)', async () => {
    const { engine, dir } = await fresh()
    await twoIndexes(engine)
    await engine.swapIndexes([{ indexes: ['a', 'b'] }])
    await engine.swapIndexes([{ indexes: ['b', 'renamed'], rename: true }])
    await engine.close()
    const reopened = await open(dir, { sync: 'none', snapshotEvery: 0 })
    engines.push(reopened)
    expect(reopened.listIndexes().map((i) => i.uid)).toEqual(['a', 'renamed'])
    expect(reopened.index('a').getDocument(2)).toEqual({ id: 2, title: 'from b' })
    expect(reopened.index('renamed').getDocument(1)).toEqual({ id: 1, title: 'from a' })
  })
})
