import { Meilisearch } from 'meilisearch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcessServer, startInProcess } from './harness/in-process.ts'

// Meilisearch's documents routes (reference/api/documents): `ids`, `filter` and `sort` together on
// `GET /indexes/{uid}/documents` and `POST /indexes/{uid}/documents/fetch`.

const MASTER = 'in-process-master-key-0123456789'

const BOOKS = [
  { id: 1, title: 'Dune', year: 1965, genre: 'scifi' },
  { id: 2, title: 'Emma', year: 1815, genre: 'romance' },
  { id: 3, title: 'Solaris', year: 1961, genre: 'scifi' },
  { id: 4, title: 'Ubik', year: 1969, genre: 'scifi' },
]

describe('documents by ids, filter and sort', () => {
  let node: InProcessServer
  let client: Meilisearch

  beforeAll(async () => {
    node = await startInProcess(MASTER)
    client = new Meilisearch({ host: node.server.url, apiKey: MASTER })
    await node.write('PATCH', '/indexes/books/settings', {
      filterableAttributes: ['genre'],
      sortableAttributes: ['year'],
    })
    await node.write('POST', '/indexes/books/documents?primaryKey=id', BOOKS)
  })
  afterAll(() => node.close())

  it('fetches by ids and filter together, sorted, through the client', async () => {
    const page = await client
      .index('books')
      .getDocuments({ ids: [1, 2, 3, 99], filter: 'genre = scifi', sort: ['year:desc'] })
    expect(page.results.map((d) => d.id)).toEqual([1, 3])
    expect(page.total).toBe(2)
  })

  it('sorts every document, and pages after the sort', async () => {
    const page = await client.index('books').getDocuments({ sort: ['year:asc'], offset: 1, limit: 2 })
    expect(page.results.map((d) => d.id)).toEqual([3, 1])
    expect(page.total).toBe(4)
  })

  it('GET /documents takes ids and sort as comma-separated lists', async () => {
    const answer = await node.call('GET', '/indexes/books/documents?ids=4,2,1&sort=year:desc&fields=id')
    expect(answer.body.results).toEqual([{ id: 4 }, { id: 1 }, { id: 2 }])
  })

  it.each([
    ['POST', '/indexes/books/documents/fetch', { sort: ['title:asc'] }, 'invalid_document_sort'],
    ['POST', '/indexes/books/documents/fetch', { sort: ['year'] }, 'invalid_document_sort'],
    ['POST', '/indexes/books/documents/fetch', { ids: [{}] }, 'invalid_document_ids'],
    ['GET', '/indexes/books/documents?sort=title:asc', undefined, 'invalid_document_sort'],
    ['GET', '/indexes/books/documents?ids=bad%20id', undefined, 'invalid_document_ids'],
  ])('%s %s %j is refused with %s', async (method, url, body, code) => {
    const answer = await node.call(method, url, body)
    expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 400, code })
  })
})
