import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcessServer, startInProcess } from './harness/in-process.ts'

// Nothing accepted and ignored: input Shoal does not implement is refused with a clear error.

describe('refused rather than ignored', () => {
  let node: InProcessServer
  beforeAll(async () => {
    node = await startInProcess()
    await node.write('POST', '/indexes', { uid: 'books', primaryKey: 'id' })
    await node.write('POST', '/indexes/books/documents', [{ id: 1, title: 'Dune' }])
  })
  afterAll(() => node.close())

  it.each([
    ['POST', '/indexes/books/documents?dryRun=true'],
    ['GET', '/indexes?unknown=1'],
    ['GET', '/indexes/books/search?q=dune&facetStats=true'],
  ])('%s %s answers bad_request naming the parameter', async (method, url) => {
    const answer = await node.call(method, url, method === 'POST' ? [{ id: 2 }] : undefined)
    expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 400, code: 'bad_request' })
    expect(answer.body.message).toContain('Unknown parameter')
    expect((await node.call('GET', '/indexes/books/documents')).body.total).toBe(1)
  })

  it('documents routes take retrieveVectors and check sort and ids', async () => {
    await node.write('POST', '/indexes/books/documents', [
      { id: 7, title: 'Solaris', _vectors: { other: [1, 2] } },
    ])
    const plain = await node.call('GET', '/indexes/books/documents/7')
    expect(plain.body).toEqual({ id: 7, title: 'Solaris' })
    const withVectors = await node.call('GET', '/indexes/books/documents/7?retrieveVectors=true')
    expect(withVectors.body._vectors).toEqual({ other: [1, 2] })
    const fetched = await node.call('POST', '/indexes/books/documents/fetch', {
      ids: [7],
      retrieveVectors: true,
    })
    expect(fetched.body.results[0]._vectors).toEqual({ other: [1, 2] })
    const listed = await node.call('GET', '/indexes/books/documents?retrieveVectors=true&limit=100')
    expect(listed.body.results.find((d: { id: number }) => d.id === 7)._vectors).toEqual({ other: [1, 2] })
    for (const [body, code] of [
      [{ sort: ['title:asc'] }, 'invalid_document_sort'],
      [{ sort: 'title:asc' }, 'invalid_document_sort'],
      [{ ids: 7 }, 'invalid_document_ids'],
      [{ ids: ['bad id!'] }, 'invalid_document_ids'],
      [{ retrieveVectors: 'yes' }, 'invalid_document_retrieve_vectors'],
      [{ unknown: 1 }, 'bad_request'],
    ] as const) {
      const answer = await node.call('POST', '/indexes/books/documents/fetch', body)
      expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 400, code })
    }
    await node.write('DELETE', '/indexes/books/documents/7')
  })

  it.each([
    ['POST', '/indexes/books/documents/edit', 'editDocumentsByFunction'],
    ['GET', '/tasks/0/documents', 'getTaskDocumentsRoute'],
    ['GET', '/network', 'network'],
    ['PATCH', '/network', 'network'],
  ])('%s %s answers feature_not_enabled naming the %s experimental feature', async (method, url, feature) => {
    const answer = await node.call(method, url, method === 'GET' ? undefined : {})
    expect({ status: answer.status, code: answer.body.code }).toEqual({
      status: 400,
      code: 'feature_not_enabled',
    })
    expect(answer.body.message).toContain(`\`${feature}\``)
    expect((await node.call('GET', '/experimental-features')).body[feature]).toBe(false)
  })

  it('an unknown route answers 404 not_found', async () => {
    const answer = await node.call('GET', '/no-such-route')
    expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 404, code: 'not_found' })
  })

  // Renaming (a new `uid`) works since swap-indexes: see index-admin.test.ts.
  it('an index update with an unknown field or nothing to change is refused, and the index keeps its uid', async () => {
    for (const body of [{ uid: 'novels', name: 'x' }, {}]) {
      const answer = await node.call('PATCH', '/indexes/books', body)
      expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 400, code: 'bad_request' })
    }
    expect((await node.call('GET', '/indexes/books')).status).toBe(200)
  })
})

describe('task details in Meilisearch shape', () => {
  let node: InProcessServer
  beforeAll(async () => {
    node = await startInProcess()
    await node.write('POST', '/indexes', { uid: 'books', primaryKey: 'id' })
    await node.write('PATCH', '/indexes/books/settings', { filterableAttributes: ['genre'] })
    await node.write('POST', '/indexes/books/documents', [
      { id: 1, genre: 'sf' },
      { id: 2, genre: 'drama' },
    ])
  })
  afterAll(() => node.close())

  it('a failed index deletion keeps details, never null', async () => {
    const answer = await node.call('DELETE', '/indexes/missing')
    const task = await node.waitTask(answer.body.taskUid)
    expect(task.status).toBe('failed')
    expect(task.details).toEqual({ deletedDocuments: null })
  })

  it('a settings reset lists the settings it resets', async () => {
    const task = await node.write('DELETE', '/indexes/books/settings')
    expect(task.details).toMatchObject({ filterableAttributes: null, searchableAttributes: null })
    await node.write('PATCH', '/indexes/books/settings', { filterableAttributes: ['genre'] })
  })

  it('delete by filter reports originalFilter as JSON text, before and after it runs', async () => {
    const answer = await node.call('POST', '/indexes/books/documents/delete', { filter: 'genre = sf' })
    const task = await node.waitTask(answer.body.taskUid)
    expect(task.details).toEqual({ providedIds: 0, deletedDocuments: 1, originalFilter: '"genre = sf"' })
  })
})
