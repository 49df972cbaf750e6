import { describe, expect, it } from 'vitest'
import { SimFileSystem } from '../src/fs/index.ts'
import { Rng } from '../src/rng/index.ts'

const bytes = (...values: number[]) => Uint8Array.from(values)

async function readAllOf(fs: SimFileSystem, path: string): Promise<Uint8Array> {
  const file = await fs.openRead(path)
  const out = new Uint8Array(await file.size())
  await file.read(out, 0, out.length, 0)
  return out
}

describe('SimFileSystem', () => {
  it('reads back what was written, zero-filling gaps and truncations', async () => {
    const fs = new SimFileSystem()
    await fs.mkdirp('/d')
    const file = await fs.openWrite('/d/a', { create: true })
    await file.write(bytes(1, 2, 3), 0, 3, 0)
    await file.write(bytes(9), 0, 1, 5)
    expect(await readAllOf(fs, '/d/a')).toEqual(bytes(1, 2, 3, 0, 0, 9))
    await file.truncate(2)
    await file.truncate(4)
    expect(await readAllOf(fs, '/d/a')).toEqual(bytes(1, 2, 0, 0))
    expect(await fs.list('/d')).toEqual(['a'])
    await expect(fs.openWrite('/d/a', { create: true })).rejects.toMatchObject({ code: 'EEXIST' })
    await expect(fs.openRead('/d/missing')).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('keeps synced bytes and synced names in every crash image', async () => {
    const fs = new SimFileSystem({ sectorBytes: 4 })
    await fs.mkdirp('/d')
    const file = await fs.openWrite('/d/a', { create: true })
    await file.write(bytes(1, 2, 3, 4, 5, 6, 7, 8), 0, 8, 0)
    await file.sync()
    await fs.syncDir('/d')
    await file.write(bytes(10, 11, 12, 13, 14, 15, 16, 17), 0, 8, 8)
    const rng = new Rng(1)
    const seen = new Set<string>()
    for (let i = 0; i < 200; i++) {
      const image = fs.crashImage(rng)
      const content = await readAllOf(image, '/d/a')
      expect(content.subarray(0, 8)).toEqual(bytes(1, 2, 3, 4, 5, 6, 7, 8))
      seen.add(Array.from(content.subarray(8)).join(','))
    }
    // Unsynced bytes are kept whole, dropped, or torn per 4-byte sector.
    expect(seen).toContain('')
    expect(seen).toContain('10,11,12,13,14,15,16,17')
    expect(seen).toContain('10,11,12,13,0,0,0,0')
    expect(seen).toContain('0,0,0,0,14,15,16,17')
  })

  it('loses an unsynced creation or rename in some crash images and never after syncDir', async () => {
    const fs = new SimFileSystem()
    await fs.mkdirp('/d')
    const file = await fs.openWrite('/d/new', { create: true })
    await file.sync()
    const rng = new Rng(2)
    const outcomes = new Set<string>()
    for (let i = 0; i < 50; i++) outcomes.add((await fs.crashImage(rng).list('/d')).join(','))
    expect(outcomes).toEqual(new Set(['', 'new']))
    await fs.syncDir('/d')
    await fs.rename('/d/new', '/d/renamed')
    expect(await fs.durableImage().list('/d')).toEqual(['new'])
    await fs.syncDir('/d')
    expect(await fs.durableImage().list('/d')).toEqual(['renamed'])
  })

  it('fails matching operations with the injected errno after the allowed count', async () => {
    const fs = new SimFileSystem()
    await fs.mkdirp('/d')
    const file = await fs.openWrite('/d/a', { create: true })
    fs.fail({ operation: 'sync', code: 'EIO', after: 1 })
    await file.sync()
    await expect(file.sync()).rejects.toMatchObject({ code: 'EIO' })
    fs.clearFaults()
    await file.sync()
  })
})
