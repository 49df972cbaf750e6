import { Meilisearch } from 'meilisearch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcessServer, startInProcess } from './harness/in-process.ts'

// `skipCreation` and `customMetadata` on document writes (Meilisearch's
// documents reference: skipCreation updates only documents that exist;
// customMetadata is an arbitrary string kept on the task).

const MASTER = 'in-process-master-key-0123456789'

describe('document write options', () => {
  let node: InProcessServer
  let client: Meilisearch

  beforeAll(async () => {
    node = await startInProcess(MASTER)
    client = new Meilisearch({ host: node.server.url, apiKey: MASTER })
    await node.write('PATCH', '/indexes/books/settings', { filterableAttributes: ['id'] })
    await node.write('POST', '/indexes/books/documents?primaryKey=id', [
      { id: 1, title: 'Dune', year: 1965 },
      { id: 2, title: 'Emma', year: 1815 },
    ])
  })
  afterAll(() => node.close())

  it('skipCreation writes the documents that exist and skips the others', async () => {
    const index = client.index('books')
    const task = await index
      .updateDocuments(
        [
          { id: 1, year: 1966 },
          { id: 3, title: 'New' },
        ],
        { skipCreation: true },
      )
      .waitTask()
    expect(task).toMatchObject({
      status: 'succeeded',
      details: { receivedDocuments: 2, indexedDocuments: 1 },
    })
    expect(await index.getDocument(1)).toEqual({ id: 1, title: 'Dune', year: 1966 })
    expect((await node.call('GET', '/indexes/books/documents/3')).body.code).toBe('document_not_found')
    await index.addDocuments([{ id: 2, title: 'Emma!' }, { id: 4 }], { skipCreation: true }).waitTask()
    expect(await index.getDocument(2)).toEqual({ id: 2, title: 'Emma!' })
    expect((await index.getDocuments()).total).toBe(2)
  })

  it('skipCreation on a missing index creates nothing', async () => {
    const task = await client
      .index('ghost')
      .addDocuments([{ id: 1 }], { skipCreation: true })
      .waitTask()
    expect(task).toMatchObject({ status: 'succeeded', details: { indexedDocuments: 0 } })
    expect((await node.call('GET', '/indexes/ghost')).status).toBe(404)
  })

  it('customMetadata is kept on the task of every document write', async () => {
    const index = client.index('books')
    const tasks = [
      await index.addDocuments([{ id: 7 }], { customMetadata: 'import#1' }).waitTask(),
      await index.updateDocuments([{ id: 7, a: 1 }], { customMetadata: 'import#2' }).waitTask(),
      await index.deleteDocument(7, { customMetadata: 'del one' }).waitTask(),
      await index.deleteDocuments([8, 9], { customMetadata: 'del batch' }).waitTask(),
      await index.deleteDocuments({ filter: 'id = 9' }, { customMetadata: 'del filter' }).waitTask(),
    ]
    expect(tasks.map((t) => t.customMetadata)).toEqual([
      'import#1',
      'import#2',
      'del one',
      'del batch',
      'del filter',
    ])
    expect((await client.tasks.getTask(tasks[0]!.uid)).customMetadata).toBe('import#1')
    const plain = await index.addDocuments([{ id: 10 }]).waitTask()
    expect('customMetadata' in plain).toBe(false)
  })

  it('refuses a bad skipCreation and unknown parameters on delete routes', async () => {
    const bad = await node.call('POST', '/indexes/books/documents?skipCreation=yes', [{ id: 1 }])
    expect([bad.status, bad.body.code]).toEqual([400, 'bad_request'])
    for (const [method, url] of [
      ['DELETE', '/indexes/books/documents/1?dryRun=true'],
      ['DELETE', '/indexes/books/documents?dryRun=true'],
    ] as const) {
      const answer = await node.call(method, url)
      expect([answer.status, answer.body.code], url).toEqual([400, 'bad_request'])
    }
  })
})
