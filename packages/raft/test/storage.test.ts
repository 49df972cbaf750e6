import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  MemoryRaftStorage,
  type RaftStorage,
  RaftStorageCorruptionError,
  WalRaftStorage,
} from '../src/index.ts'
import { storageCompliance } from '../src/testing/index.ts'

const dirs: string[] = []
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'shoal-raft-'))
  dirs.push(dir)
  return dir
}
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true })
})

describe('MemoryRaftStorage compliance', () => {
  storageCompliance(
    { it, expect },
    async (conf) => MemoryRaftStorage.bootstrap(conf),
    async (storage) => new MemoryRaftStorage((storage as MemoryRaftStorage).loadSync()),
  )
})

describe('WalRaftStorage compliance', () => {
  storageCompliance(
    { it, expect },
    async (conf) => new WalRaftStorage(await freshDir(), { bootstrap: conf }),
    async (storage: RaftStorage) => {
      await storage.close()
      return new WalRaftStorage((storage as WalRaftStorage).dir)
    },
  )
})

describe('WalRaftStorage corruption', () => {
  it('reports a damaged snapshot file with RaftStorageCorruptionError and leaves it untouched', async () => {
    const dir = await freshDir()
    const storage = new WalRaftStorage(dir, { bootstrap: { voters: ['a'], learners: [] } })
    await storage.load()
    await storage.save({
      hardState: { term: 1, vote: null, commit: 4 },
      entries: [{ kind: 'normal', index: 2, term: 1, data: new Uint8Array([9]) }],
      snapshot: null,
    })
    await storage.saveSnapshot({
      meta: { index: 2, term: 1, confState: { voters: ['a'], learners: [] } },
      data: new Uint8Array(64),
    })
    await storage.close()
    const name = (await readdir(dir)).find((n) => n.startsWith('snap-')) as string
    const bytes = new Uint8Array(80)
    bytes.set([0x52, 0x53, 0x4e, 0x50, 1, 0, 0, 0, 0xef, 0xbe, 0xad, 0xde, 64, 0, 0, 0])
    await writeFile(path.join(dir, name), bytes)
    await expect(new WalRaftStorage(dir).load()).rejects.toBeInstanceOf(RaftStorageCorruptionError)
    await expect(new WalRaftStorage(dir).load()).rejects.toThrow(/checksum/)
  })

  it('reports an unreadable META with RaftStorageCorruptionError', async () => {
    const dir = await freshDir()
    const storage = new WalRaftStorage(dir, { bootstrap: { voters: ['a'], learners: [] } })
    await storage.load()
    await storage.close()
    await writeFile(path.join(dir, 'META'), '{not json')
    await expect(new WalRaftStorage(dir).load()).rejects.toBeInstanceOf(RaftStorageCorruptionError)
  })
})
