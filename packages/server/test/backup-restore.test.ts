import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backupInProcess } from './harness/backup-cli.ts'
import { runCli } from './harness/cli-run.ts'
import { type InProcessServer, type Json, startInProcess } from './harness/in-process.ts'
import { tempDir } from './harness/server-process.ts'

// Backups (docs/backups.md): POST /admin/backups writes a checksummed folder as a task;
// `shoal backup create | verify | restore` download, check and load it into an empty node.

const MASTER = 'backup-test-master-key-0123456789'

const BOOKS = Array.from({ length: 250 }, (_, i) => ({
  id: i,
  title: `book ${i} ${i % 3 === 0 ? 'ocean' : 'forest'}`,
  shelf: i % 5,
  _vectors: { e: [i % 7, 1] },
}))

async function allDocuments(node: InProcessServer, uid: string): Promise<Json[]> {
  const page = (await node.call('GET', `/indexes/${uid}/documents?limit=10000&retrieveVectors=true`)).body
  return [...page.results].sort((a: Json, b: Json) => a.id - b.id)
}

describe('backups on a standalone node', () => {
  let source: InProcessServer
  let folder: string
  const cleanups: (() => Promise<void>)[] = []

  async function freshDir(): Promise<string> {
    const { dir, remove } = await tempDir('shoal-backup-test-')
    cleanups.push(remove)
    return dir
  }
  const backup = (args: Parameters<typeof backupInProcess>[1]) => backupInProcess(MASTER, args)

  beforeAll(async () => {
    source = await startInProcess(MASTER)
    cleanups.push(() => source.close())
    await source.write('PATCH', '/indexes/books/settings', {
      filterableAttributes: ['shelf'],
      embedders: { e: { source: 'userProvided', dimensions: 2 } },
      synonyms: { sea: ['ocean'] },
    })
    await source.write('POST', '/indexes/books/documents?primaryKey=id', BOOKS)
    await source.write('POST', '/indexes', { uid: 'empty', primaryKey: 'sku' })
    const key = await source.call('POST', '/keys', {
      uid: '0b0f1a5e-1c0d-4e6a-9d7e-5d0c6a7b8c9d',
      actions: ['search'],
      indexes: ['books'],
      expiresAt: null,
    })
    expect(key.status).toBe(201)
    folder = path.join(await freshDir(), 'backup')
  })
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup()
  })

  it('POST /admin/backups is a task that writes a manifest, the image, the keys and the task history', async () => {
    const answer = await source.call('POST', '/admin/backups')
    expect(answer.status).toBe(202)
    const task = await source.waitTask(answer.body.taskUid)
    expect(task).toMatchObject({ status: 'succeeded', type: 'backupCreation' })
    const dir = task.details.path as string
    const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8'))
    expect(manifest).toMatchObject({ format: 'shoal-backup', version: 1, source: { mode: 'standalone' } })
    expect(manifest.indexes.map((i: Json) => [i.uid, i.shards[0].documents])).toEqual([
      ['books', 250],
      ['empty', 0],
    ])
    const tasks = JSON.parse(await readFile(path.join(dir, 'tasks.json'), 'utf8'))
    expect(tasks.length).toBeGreaterThanOrEqual(3)
    expect(tasks.every((t: Json) => t.uid < answer.body.taskUid)).toBe(true)
  })

  it('shoal backup create --to DIR downloads a verified copy; shoal backup verify accepts it', async () => {
    const created = await backup({ sub: 'create', to: folder, url: source.server.url })
    expect(created.stderr + created.stdout).toMatch(/verified/)
    expect(created.code).toBe(0)
    // The real binary, once: flags as an operator types them.
    const verified = await runCli(['backup', 'verify', folder])
    expect(verified.stdout).toMatch(/is whole/)
    expect(verified.code).toBe(0)
  }, 60_000)

  it('shoal backup restore loads it into an empty node: documents, settings and keys', async () => {
    const target = await startInProcess(MASTER)
    cleanups.push(() => target.close())
    const restored = await backup({ sub: 'restore', positionals: [folder], url: target.server.url })
    // The source's two default keys and the one made above.
    expect(restored.stdout).toMatch(/restored 2 index\(es\), 250 document\(s\), 3 API key/)
    expect(restored.code).toBe(0)
    expect(await allDocuments(target, 'books')).toEqual(await allDocuments(source, 'books'))
    const search = { q: 'sea', filter: 'shelf = 3' }
    expect((await target.call('POST', '/indexes/books/search', search)).body.hits).toEqual(
      (await source.call('POST', '/indexes/books/search', search)).body.hits,
    )
    expect((await target.call('GET', '/indexes/empty')).body.primaryKey).toBe('sku')
    const sourceKey = (await source.call('GET', '/keys/0b0f1a5e-1c0d-4e6a-9d7e-5d0c6a7b8c9d')).body.key
    expect((await target.call('GET', '/keys/0b0f1a5e-1c0d-4e6a-9d7e-5d0c6a7b8c9d')).body.key).toBe(sourceKey)
  }, 60_000)

  it('refuses to restore into a node that already holds an index, writing nothing', async () => {
    const target = await startInProcess(MASTER)
    cleanups.push(() => target.close())
    await target.write('POST', '/indexes', { uid: 'other' })
    const refused = await backup({ sub: 'restore', positionals: [folder], url: target.server.url })
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/already holds 1 index/)
    expect((await target.call('GET', '/indexes')).body.total).toBe(1)
  }, 60_000)

  it('a corrupted file is named by verify and refused by restore before anything is written', async () => {
    const image = path.join(folder, 'engine.image')
    const original = await readFile(image)
    const damaged = Buffer.from(original)
    damaged[damaged.byteLength >> 1] = damaged[damaged.byteLength >> 1]! ^ 0x40
    await writeFile(image, damaged)
    try {
      const verified = await backup({ sub: 'verify', positionals: [folder] })
      expect(verified.code).toBe(1)
      expect(verified.stdout).toMatch(/BAD engine\.image: checksum mismatch/)
      const target = await startInProcess(MASTER)
      cleanups.push(() => target.close())
      const refused = await backup({ sub: 'restore', positionals: [folder], url: target.server.url })
      expect(refused.code).toBe(1)
      expect(refused.stderr).toMatch(/failed verification: engine\.image: checksum mismatch/)
      expect((await target.call('GET', '/indexes')).body.total).toBe(0)
    } finally {
      await writeFile(image, original)
    }
  }, 60_000)

  it('a damaged manifest is detected too', async () => {
    const file = path.join(folder, 'manifest.json')
    const original = await readFile(file, 'utf8')
    await writeFile(file, original.replace('"books"', '"bookz"'))
    try {
      const verified = await backup({ sub: 'verify', positionals: [folder] })
      expect(verified.code).toBe(1)
      expect(verified.stdout).toMatch(/BAD manifest\.json: checksum mismatch/)
    } finally {
      await writeFile(file, original)
    }
  }, 60_000)

  it('POST /admin/backups takes no body, and a file outside the manifest is not served', async () => {
    const withBody = await source.call('POST', '/admin/backups', { to: '/tmp' })
    expect([withBody.status, withBody.body.code]).toEqual([400, 'bad_request'])
    const task = await source.waitTask((await source.call('POST', '/admin/backups')).body.taskUid)
    const uid = task.details.backupUid
    const outside = await source.call('GET', `/admin/backups/${uid}/files/..%2F..%2Fkeys.json`)
    expect(outside.status).toBe(404)
    const unknown = await source.call('GET', '/admin/backups/nope/files/manifest.json')
    expect([unknown.status, unknown.body.code]).toEqual([404, 'backup_not_found'])
  })
})
