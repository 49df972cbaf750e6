import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NodeClient } from '../src/internal/http-client.ts'
import { type InProcessServer, startInProcess } from './harness/in-process.ts'
import { type ServerProcess, startServerProcess, tempDir } from './harness/server-process.ts'

// Meilisearch's POST /export: indexes copied to a second Shoal process on 127.0.0.1 as a task.

const TARGET_KEY = 'export-target-master-key-0123456789'

describe('POST /export', () => {
  let source: InProcessServer
  let target: ServerProcess
  let targetDir: { dir: string; remove: () => Promise<void> }
  let remote: NodeClient

  beforeAll(async () => {
    source = await startInProcess()
    targetDir = await tempDir('shoal-export-target-')
    target = await startServerProcess(targetDir.dir, ['--master-key', TARGET_KEY, '--sync', 'none'])
    remote = new NodeClient(target.url, TARGET_KEY)
    await source.write('POST', '/indexes', { uid: 'books', primaryKey: 'isbn' })
    await source.write('PATCH', '/indexes/books/settings', {
      filterableAttributes: ['genre'],
      embedders: { e: { source: 'userProvided', dimensions: 2 } },
    })
    const books = Array.from({ length: 60 }, (_, i) => ({
      isbn: i,
      title: `Book ${i} ${'x'.repeat(40)}`,
      genre: i % 3 === 0 ? 'sf' : 'drama',
      _vectors: { e: [i, 1] },
    }))
    await source.write('POST', '/indexes/books/documents', books)
    await source.write('POST', '/indexes/films/documents?primaryKey=id', [{ id: 1, title: 'Solaris' }])
  }, 60_000)
  afterAll(async () => {
    await source?.close()
    await target?.stop()
    await targetDir?.remove()
  })

  it('copies the matching indexes with settings, filtered documents and vectors, in bounded bodies', async () => {
    const answer = await source.call('POST', '/export', {
      url: target.url,
      apiKey: TARGET_KEY,
      payloadSize: '1 KiB',
      indexes: { 'bo*': { filter: 'genre = sf' } },
    })
    expect(answer.status).toBe(202)
    expect(answer.body.type).toBe('export')
    const task = await source.waitTask(answer.body.taskUid)
    expect(task.status, JSON.stringify(task.error)).toBe('succeeded')
    expect(task.details).toMatchObject({
      url: target.url,
      apiKey: 'XXX...',
      payloadSize: '1 KiB',
      indexes: { 'bo*': { filter: 'genre = sf', overrideSettings: false } },
      exported: { books: { documents: 20 } },
    })
    const index = await remote.request<{ primaryKey: string }>('GET', '/indexes/books')
    expect(index.primaryKey).toBe('isbn')
    const settings = await remote.request<{ filterableAttributes: string[] }>(
      'GET',
      '/indexes/books/settings',
    )
    expect(settings.filterableAttributes).toEqual(['genre'])
    const copied = await remote.request<{ total: number; results: { isbn: number; _vectors: unknown }[] }>(
      'GET',
      '/indexes/books/documents?limit=100&retrieveVectors=true',
    )
    expect(copied.total).toBe(20)
    expect(copied.results.find((doc) => doc.isbn === 3)?._vectors).toEqual({ e: [3, 1] })
    // 20 documents of about 100 bytes in bodies of at most 1 KiB: several document tasks.
    const tasks = await remote.request<{ results: unknown[] }>(
      'GET',
      '/tasks?types=documentAdditionOrUpdate&indexUids=books',
    )
    expect(tasks.results.length).toBeGreaterThan(1)
    await expect(remote.request('GET', '/indexes/films')).rejects.toMatchObject({ status: 404 })
  })

  it('fails the task with export_remote_failed when the remote refuses the key', async () => {
    const answer = await source.call('POST', '/export', { url: target.url, apiKey: 'wrong-key' })
    const task = await source.waitTask(answer.body.taskUid)
    expect(task.status).toBe('failed')
    expect(task.error.code).toBe('export_remote_failed')
  })

  it.each([
    [{}, 'invalid_export_url'],
    [{ url: 'ftp://x' }, 'invalid_export_url'],
    [{ url: 'http://127.0.0.1:1', apiKey: 5 }, 'invalid_export_api_key'],
    [{ url: 'http://127.0.0.1:1', payloadSize: 'lots' }, 'invalid_export_payload_size'],
    [{ url: 'http://127.0.0.1:1', indexes: { 'a b': {} } }, 'invalid_export_indexes_patterns'],
    [{ url: 'http://127.0.0.1:1', indexes: { '*': { filter: 5 } } }, 'invalid_export_index_filter'],
    [
      { url: 'http://127.0.0.1:1', indexes: { '*': { overrideSettings: 'yes' } } },
      'invalid_export_index_override_settings',
    ],
    [{ url: 'http://127.0.0.1:1', other: true }, 'bad_request'],
  ])('refuses %j with %s before enqueuing', async (body, code) => {
    const answer = await source.call('POST', '/export', body)
    expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 400, code })
  })
})
