import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { Meilisearch } from 'meilisearch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcessServer, startInProcess } from './harness/in-process.ts'
import { type ServerProcess, startServerProcess, tempDir } from './harness/server-process.ts'

// POST /dumps and POST /snapshots write real files as tasks; a fresh
// `shoal start --import-dump` / `--import-snapshot` process serves the same
// indexes from them (Meilisearch's dumps and snapshots reference).

const MASTER = 'in-process-master-key-0123456789'

const MOVIES = [
  { id: 1, title: 'Star Wars', genre: 'scifi', _vectors: { e: [1, 0] } },
  { id: 2, title: 'Amélie', genre: 'romance', _vectors: { e: [0, 1] } },
  { id: 3, title: 'Alien', genre: 'scifi', _vectors: { e: [0.8, 0.2] } },
]

async function call(url: string, method: string, route: string, body?: unknown) {
  const answer = await fetch(`${url}${route}`, {
    method,
    headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  return { status: answer.status, body: (await answer.json()) as Record<string, unknown> }
}

/** Settings that shape ranking and matching travel with dumps and snapshots too. */
const RANKING = {
  rankingRules: ['words', 'typo', 'proximity', 'attribute', 'exactness', 'sort', 'id:desc'],
  synonyms: { film: ['alien'] },
  distinctAttribute: 'id',
  searchCutoffMs: 1000,
}

/** What a restored node must answer as the original did. */
async function sameContent(url: string): Promise<void> {
  const settings = (await call(url, 'GET', '/indexes/movies/settings')).body
  expect(settings).toMatchObject({
    filterableAttributes: ['genre'],
    embedders: { e: { dimensions: 2 } },
    ...RANKING,
  })
  const synonym = await call(url, 'POST', '/indexes/movies/search', { q: 'film' })
  expect((synonym.body.hits as { id: number }[]).map((h) => h.id)).toEqual([3])
  const filtered = await call(url, 'POST', '/indexes/movies/search', { filter: 'genre = scifi' })
  expect((filtered.body.hits as { id: number }[]).map((h) => h.id).sort()).toEqual([1, 3])
  const nearest = await call(url, 'POST', '/indexes/movies/search', { vector: [0, 1], limit: 1 })
  expect((nearest.body.hits as { id: number }[])[0]?.id).toBe(2)
}

describe('dumps and snapshots', () => {
  let node: InProcessServer
  let client: Meilisearch
  let searchKey: string
  const processes: ServerProcess[] = []
  const removals: (() => Promise<void>)[] = []

  async function freshDir(): Promise<string> {
    const { dir, remove } = await tempDir('shoal-backup-')
    removals.push(remove)
    return dir
  }

  beforeAll(async () => {
    node = await startInProcess(MASTER)
    client = new Meilisearch({ host: node.server.url, apiKey: MASTER })
    await node.write('PATCH', '/indexes/movies/settings', {
      filterableAttributes: ['genre'],
      embedders: { e: { source: 'userProvided', dimensions: 2 } },
      ...RANKING,
    })
    await node.write('POST', '/indexes/movies/documents?primaryKey=id', MOVIES)
    searchKey = (await client.createKey({ actions: ['search'], indexes: ['movies'], expiresAt: null })).key
  })
  afterAll(async () => {
    for (const p of processes) await p.stop()
    await node.close()
    for (const remove of removals) await remove()
  })

  it('POST /dumps writes a dump task by task; --import-dump serves it, vectors included', async () => {
    const task = await client.createDump().waitTask()
    expect(task).toMatchObject({ status: 'succeeded', type: 'dumpCreation', indexUid: null })
    const dumpUid = task.details?.dumpUid as string
    expect(dumpUid).toMatch(/^\d{8}-\d{9}$/)
    const file = path.join(node.dir, 'dumps', `${dumpUid}.dump`)
    expect(existsSync(file)).toBe(true)
    const restored = await startServerProcess(await freshDir(), [
      '--master-key',
      MASTER,
      '--import-dump',
      file,
    ])
    processes.push(restored)
    expect(restored.output()).toMatch(/Imported 1 index\(es\) and 3 document\(s\)/)
    await sameContent(restored.url)
  }, 60_000)

  it('POST /snapshots writes a snapshot; --import-snapshot serves it with the same API keys', async () => {
    const task = await client.createSnapshot().waitTask()
    expect(task).toMatchObject({ status: 'succeeded', type: 'snapshotCreation' })
    const file = path.join(node.dir, 'snapshots', 'shoal.snapshot')
    const restored = await startServerProcess(await freshDir(), [
      '--master-key',
      MASTER,
      '--import-snapshot',
      file,
    ])
    processes.push(restored)
    await sameContent(restored.url)
    const withKey = await fetch(`${restored.url}/indexes/movies/search`, {
      method: 'POST',
      headers: { authorization: `Bearer ${searchKey}`, 'content-type': 'application/json' },
      body: '{}',
    })
    expect(withKey.status).toBe(200)
  }, 60_000)

  it('refuses to import into a data folder that already holds indexes', async () => {
    const snapshot = path.join(node.dir, 'snapshots', 'shoal.snapshot')
    const target = await freshDir()
    const full = await startServerProcess(target, ['--master-key', MASTER, '--import-snapshot', snapshot])
    await full.stop()
    await expect(
      startServerProcess(target, ['--master-key', MASTER, '--import-snapshot', snapshot]),
    ).rejects.toThrow(/already holds 1 index/)
  }, 60_000)

  it('refuses a snapshot whose keys fail their checksum', async () => {
    const snapshot = path.join(node.dir, 'snapshots', 'shoal.snapshot')
    const damaged = path.join(await freshDir(), 'damaged.snapshot')
    const bytes = await readFile(snapshot)
    bytes[60] = bytes[60]! ^ 0xff
    await writeFile(damaged, bytes)
    await expect(
      startServerProcess(await freshDir(), ['--master-key', MASTER, '--import-snapshot', damaged]),
    ).rejects.toThrow(/not a usable Shoal snapshot/)
  }, 60_000)

  it('refuses a snapshot cut short', async () => {
    const snapshot = path.join(node.dir, 'snapshots', 'shoal.snapshot')
    const bytes = await readFile(snapshot)
    const cut = path.join(await freshDir(), 'cut.snapshot')
    await writeFile(cut, bytes.subarray(0, bytes.byteLength - 10))
    await expect(
      startServerProcess(await freshDir(), ['--master-key', MASTER, '--import-snapshot', cut]),
    ).rejects.toThrow(/snapshot is corrupt/)
  }, 60_000)

  it('POST /dumps and /snapshots take no body', async () => {
    for (const route of ['/dumps', '/snapshots']) {
      const answer = await node.call('POST', route, { compress: true })
      expect([answer.status, answer.body.code]).toEqual([400, 'bad_request'])
    }
  })
})
