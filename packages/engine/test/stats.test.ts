import { readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { open } from '../src/index.ts'
import { removeDir, tempDir } from './helpers.ts'

const dirs: string[] = []
afterEach(async () => {
  for (const dir of dirs.splice(0)) await removeDir(dir)
})

function folderBytes(dir: string): number {
  let total = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    total += entry.isDirectory() ? folderBytes(full) : statSync(full).size
  }
  return total
}

describe('stats', () => {
  it('databaseSize settles on the folder size after the last write and snapshot', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const engine = await open(dir, { sync: 'none', snapshotEvery: 0 })
    await engine.createIndex('docs', { primaryKey: 'id' })
    const docs = Array.from({ length: 500 }, (_, i) => ({ id: i, text: `document ${i} `.repeat(20) }))
    await engine.index('docs').addDocuments(docs)
    await engine.snapshot()
    // Closing waits for the background measurement; nothing changes the folder afterwards.
    await engine.close()
    const stats = engine.stats()
    expect(stats.databaseSize).toBe(folderBytes(dir))
    expect(stats.indexes.docs).toEqual({
      numberOfDocuments: 500,
      isIndexing: false,
      fieldDistribution: { id: 500, text: 500 },
    })
  })
})
