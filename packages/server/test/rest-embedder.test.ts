import { Writable } from 'node:stream'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createLogger } from '../src/index.ts'
import { type EmbeddingService, embedText, startEmbeddingService } from './harness/embedding-service.ts'
import { type InProcessServer, type Json, startInProcess } from './harness/in-process.ts'

// Meilisearch's `rest` embedder source, through the HTTP API, against a real local embedding
// service (harness/embedding-service.ts).

const KEY = 'sk-embedder-secret-0123456789'
const MOVIES = [
  { id: 1, title: 'Star Wars', genre: 'space opera with a farm boy' },
  { id: 2, title: 'Finding Nemo', genre: 'fish lost in the ocean' },
  { id: 3, title: 'Alien', genre: 'space horror on a ship' },
  { id: 4, title: 'Ratatouille', genre: 'a rat who cooks in Paris' },
  { id: 5, title: 'Jaws', genre: 'shark in the ocean' },
]

function restEmbedder(service: EmbeddingService, extra: Record<string, unknown> = {}) {
  return {
    source: 'rest',
    url: service.url,
    apiKey: KEY,
    documentTemplate: 'A movie: {{doc.title}}, {{ doc.genre }}',
    request: { input: ['{{text}}', '{{..}}'], model: 'tiny' },
    response: { data: [{ embedding: '{{embedding}}' }, '{{..}}'] },
    headers: { 'x-team': 'search' },
    ...extra,
  }
}

let service: EmbeddingService
let node: InProcessServer
let logs: string

beforeEach(async () => {
  service = await startEmbeddingService({ apiKey: KEY, dimensions: 64 })
  logs = ''
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs += chunk.toString()
      done()
    },
  })
  node = await startInProcess(
    undefined,
    { 'embedder-timeout-ms': '300' },
    {
      logger: createLogger('debug', 'test', sink),
      embedder: { batchSize: 2, retries: 2, backoffMs: 10 },
    },
  )
})

afterEach(async () => {
  await node.close()
  await service.close()
})

async function failedTask(method: string, url: string, body: unknown): Promise<Json> {
  const answer = await node.call(method, url, body)
  expect(answer.status).toBe(202)
  const task = await node.waitTask(answer.body.taskUid)
  expect(task.status).toBe('failed')
  return task
}

async function withMovies(extra: Record<string, unknown> = {}): Promise<void> {
  await node.write('PATCH', '/indexes/movies/settings', {
    filterableAttributes: ['genre'],
    embedders: { e: restEmbedder(service, extra) },
  })
  await node.write('POST', '/indexes/movies/documents?primaryKey=id', MOVIES)
}

async function semantic(q: string, body: Record<string, unknown> = {}): Promise<Json> {
  const answer = await node.call('POST', '/indexes/movies/search', {
    q,
    hybrid: { embedder: 'e', semanticRatio: 1 },
    ...body,
  })
  expect(answer.status).toBe(200)
  return answer.body
}

describe('rest embedder: indexing', () => {
  it('finds the dimensions by a probe and embeds documents in batches of the request template', async () => {
    await withMovies()
    const settings = (await node.call('GET', '/indexes/movies/settings')).body
    expect(settings.embedders.e).toMatchObject({
      source: 'rest',
      dimensions: 64,
      documentTemplateMaxBytes: 400,
    })
    // One probe, then 5 documents in batches of 2.
    expect(service.requests.map((r) => (r.body as { input: string[] }).input.length)).toEqual([1, 2, 2, 1])
    expect(service.requests[1]!.body).toEqual({
      input: [
        'A movie: Star Wars, space opera with a farm boy',
        'A movie: Finding Nemo, fish lost in the ocean',
      ],
      model: 'tiny',
    })
    expect(service.requests[1]!.headers['x-team']).toBe('search')
    const doc = (await node.call('GET', '/indexes/movies/documents/3?retrieveVectors=true')).body
    expect(doc._vectors.e).toEqual(embedText('A movie: Alien, space horror on a ship', 64))
  })

  it('sends one text per request when the template has no {{..}}', async () => {
    await withMovies({
      request: { text: '{{text}}' },
      response: { embedding: '{{embedding}}' },
      dimensions: 64,
    })
    expect(service.requests).toHaveLength(MOVIES.length)
    expect(service.requests[0]!.body).toEqual({ text: 'A movie: Star Wars, space opera with a farm boy' })
  })

  it('keeps a vector the document brings, and does not embed it', async () => {
    await withMovies()
    const before = service.texts.length
    const own = [1, ...new Array(63).fill(0)]
    await node.write('POST', '/indexes/movies/documents', [
      { id: 6, title: 'Up', genre: 'a flying house', _vectors: { e: own } },
      {
        id: 7,
        title: 'Cars',
        genre: 'racing cars',
        _vectors: { e: { embeddings: [own], regenerate: false } },
      },
    ])
    expect(service.texts.length).toBe(before)
    for (const id of [6, 7]) {
      const doc = (await node.call('GET', `/indexes/movies/documents/${id}?retrieveVectors=true`)).body
      expect(doc._vectors.e).toEqual(own)
    }
  })

  it('embeds a document whose _vectors asks for it, and refuses a malformed one', async () => {
    await withMovies()
    const before = service.texts.length
    await node.write('POST', '/indexes/movies/documents', [
      { id: 6, title: 'Up', genre: 'a flying house', _vectors: { e: null } },
      { id: 7, title: 'Cars', genre: 'racing cars', _vectors: { e: { regenerate: true } } },
    ])
    expect(service.texts.slice(before)).toEqual(['A movie: Up, a flying house', 'A movie: Cars, racing cars'])
    for (const bad of ['x', { regenerate: false }, { embeddings: [[1]] }]) {
      const task = await failedTask('POST', '/indexes/movies/documents', [
        { id: 8, title: 'Coco', _vectors: { e: bad } },
      ])
      expect(task.error.code).toBe('invalid_document_fields')
    }
    expect(service.texts.length).toBe(before + 2)
  })

  it('embeds a partial update again only when its text changes', async () => {
    await withMovies()
    const before = service.texts.length
    await node.write('PUT', '/indexes/movies/documents', [{ id: 5, rating: 9 }])
    expect(service.texts.length).toBe(before)
    await node.write('PUT', '/indexes/movies/documents', [{ id: 5, genre: 'space shark' }])
    expect(service.texts.slice(before)).toEqual(['A movie: Jaws, space shark'])
    const doc = (await node.call('GET', '/indexes/movies/documents/5?retrieveVectors=true')).body
    expect(doc).toMatchObject({ rating: 9, genre: 'space shark' })
  })

  it('embeds again when the searchable attributes the default template renders change', async () => {
    await withMovies({ documentTemplate: null })
    expect(service.texts).toContain('id: 1\ntitle: Star Wars\ngenre: space opera with a farm boy\n')
    const before = service.texts.length
    await node.write('PATCH', '/indexes/movies/settings', { searchableAttributes: ['title'] })
    expect(service.texts.slice(before)).toHaveLength(MOVIES.length)
    expect(service.texts.slice(before)).toContain('title: Alien\n')
    // Settings that change no text call nothing.
    await node.write('PATCH', '/indexes/movies/settings', { sortableAttributes: ['title'] })
    expect(service.texts.length).toBe(before + MOVIES.length)
  })

  it('embeds the stored documents when the embedder is added to a filled index', async () => {
    await node.write('POST', '/indexes/movies/documents?primaryKey=id', MOVIES)
    await node.write('PATCH', '/indexes/movies/settings', { embedders: { e: restEmbedder(service) } })
    const hits = (await semantic('ocean shark')).hits.map((h: Json) => h.id)
    expect(hits[0]).toBe(5)
    expect(service.texts).toContain('A movie: Ratatouille, a rat who cooks in Paris')
  })
})

describe('rest embedder: failures', () => {
  it('fails the task with vector_embedding_error and indexes nothing when the embedder refuses', async () => {
    await withMovies()
    service.failNext(1, 400)
    const task = await failedTask('POST', '/indexes/movies/documents', [
      { id: 9, title: 'Heat', genre: 'crime' },
    ])
    expect(task.error.code).toBe('vector_embedding_error')
    expect(task.error.message).toContain('answered 400')
    expect(task.error.message).not.toContain(KEY)
    expect((await node.call('GET', '/indexes/movies/documents/9')).status).toBe(404)
  })

  it('retries a 5xx or 429 answer with backoff', async () => {
    await withMovies()
    const before = service.requests.length
    service.failNext(1, 503)
    service.failNext(1, 429)
    await node.write('POST', '/indexes/movies/documents', [{ id: 9, title: 'Heat', genre: 'crime' }])
    expect(service.requests.length - before).toBe(3)
  })

  it('gives up after the retries, naming the attempts', async () => {
    await withMovies()
    service.failNext(3, 500)
    const task = await failedTask('POST', '/indexes/movies/documents', [
      { id: 9, title: 'Heat', genre: 'crime' },
    ])
    expect(task.error.code).toBe('vector_embedding_error')
    expect(task.error.message).toMatch(/after 3 attempts/)
  })

  it('times out a stalled request and tries it again', async () => {
    await withMovies()
    service.stallNext(1, 1000)
    await node.write('POST', '/indexes/movies/documents', [{ id: 9, title: 'Heat', genre: 'crime' }])
    service.stallNext(3, 1000)
    const task = await failedTask('POST', '/indexes/movies/documents', [
      { id: 10, title: 'Big', genre: 'toys' },
    ])
    expect(task.error.message).toMatch(/no answer within 300 ms/)
  })

  it('fails the settings task when the key is wrong, leaving no embedder', async () => {
    await node.write('POST', '/indexes/movies/documents?primaryKey=id', MOVIES)
    const task = await failedTask('PATCH', '/indexes/movies/settings', {
      embedders: { e: restEmbedder(service, { apiKey: 'wrong-key', dimensions: 64 }) },
    })
    expect(task.error.code).toBe('vector_embedding_error')
    expect(task.error.message).toContain('answered 401')
    expect((await node.call('GET', '/indexes/movies/settings/embedders')).body).toEqual({})
    // Nothing was written: no stored document holds a vector for the refused embedder.
    const docs = (await node.call('GET', '/indexes/movies/documents?retrieveVectors=true')).body
    expect(docs.results.every((d: Json) => d._vectors === undefined)).toBe(true)
  })

  it('refuses unsupported template syntax with invalid_settings_embedders', async () => {
    const task = await failedTask('PATCH', '/indexes/movies/settings', {
      embedders: {
        e: restEmbedder(service, { dimensions: 64, documentTemplate: '{% for f in fields %}x{% endfor %}' }),
      },
    })
    expect(task.error.code).toBe('invalid_settings_embedders')
    expect(service.requests).toHaveLength(0)
  })

  it('answers a query the embedder cannot embed with vector_embedding_error, not 500', async () => {
    await withMovies()
    service.failNext(1, 400)
    const answer = await node.call('POST', '/indexes/movies/search', { q: 'x', hybrid: { embedder: 'e' } })
    expect(answer.status).toBe(400)
    expect(answer.body.code).toBe('vector_embedding_error')
  })
})

describe('rest embedder: search', () => {
  it('embeds q for a semantic search, and caches the query vector', async () => {
    await withMovies()
    const before = service.requests.length
    expect((await semantic('space ship horror')).hits[0].id).toBe(3)
    expect((await semantic('space ship horror')).hits[0].id).toBe(3)
    expect(service.requests.length - before).toBe(1)
    // Hybrid (keyword and semantic), and multi-search, take the same way.
    const hybrid = await node.call('POST', '/indexes/movies/search', {
      q: 'rat Paris',
      hybrid: { embedder: 'e', semanticRatio: 0.5 },
    })
    expect(hybrid.body.hits[0].id).toBe(4)
    const multi = await node.call('POST', '/multi-search', {
      queries: [{ indexUid: 'movies', q: 'fish ocean', hybrid: { embedder: 'e', semanticRatio: 1 } }],
    })
    expect(multi.status).toBe(200)
    expect(multi.body.results[0].hits[0].id).toBe(2)
    const facets = await node.call('POST', '/indexes/movies/facet-search', {
      facetName: 'genre',
      q: 'fish ocean',
      hybrid: { embedder: 'e', semanticRatio: 1 },
    })
    expect(facets.status, JSON.stringify(facets.body)).toBe(200)
  })

  it('answers a hybrid search without q as a placeholder search', async () => {
    await withMovies()
    const answer = await node.call('POST', '/indexes/movies/search', { hybrid: { embedder: 'e' } })
    expect(answer.status).toBe(200)
    expect(answer.body.hits).toHaveLength(MOVIES.length)
  })
})

describe('rest embedder: the apiKey is secret', () => {
  it('is masked in settings and task details, sent to the embedder, and never logged', async () => {
    await withMovies()
    const all = (await node.call('GET', '/indexes/movies/settings')).body
    expect(all.embedders.e.apiKey).toBe('sk-emXXXXXX...')
    const one = (await node.call('GET', '/indexes/movies/settings/embedders')).body
    expect(one.e.apiKey).toBe('sk-emXXXXXX...')
    const tasks = (await node.call('GET', '/tasks?types=settingsUpdate')).body
    expect(JSON.stringify(tasks)).not.toContain(KEY)
    expect(JSON.stringify((await node.call('GET', '/batches')).body)).not.toContain(KEY)
    expect(service.requests.every((r) => r.headers.authorization === `Bearer ${KEY}`)).toBe(true)
    // Sent back as read, the masked key keeps the real one.
    await node.write('PATCH', '/indexes/movies/settings', { embedders: { e: all.embedders.e } })
    service.failNext(1, 400)
    await failedTask('POST', '/indexes/movies/documents', [{ id: 9, title: 'Heat', genre: 'crime' }])
    await node.write('POST', '/indexes/movies/documents', [{ id: 9, title: 'Heat', genre: 'crime' }])
    expect(service.requests.at(-1)!.headers.authorization).toBe(`Bearer ${KEY}`)
    node.server.logger.info({ settings: { embedders: { e: { apiKey: KEY } } } }, 'a component logs settings')
    expect(logs).toContain('a component logs settings')
    expect(logs).not.toContain(KEY)
  })
})

describe('rest embedder: the embedded engine stays free of network I/O', () => {
  let other: InProcessServer
  beforeAll(async () => {
    other = await startInProcess()
  })
  afterAll(() => other.close())
  it('an index of the engine refuses documents without the vector', async () => {
    const engine = other.server.engine
    await engine.createIndex('raw', { primaryKey: 'id' })
    await engine.index('raw').updateSettings({
      embedders: {
        e: {
          ...restEmbedder({ url: 'http://127.0.0.1:9/', dimensions: 2 } as EmbeddingService),
          dimensions: 2,
        } as never,
      },
    })
    await expect(engine.index('raw').addDocuments([{ id: 1, title: 'x' }])).rejects.toThrow(
      /does not call it/,
    )
  })
})
