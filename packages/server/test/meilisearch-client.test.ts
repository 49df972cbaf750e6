import { Meilisearch, MeilisearchApiError } from 'meilisearch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ServerProcess, startServerProcess, tempDir } from './harness/server-process.ts'

// The official Meilisearch client against a real `shoal start` process: the
// compatibility promise of the HTTP API, checked on results, not only statuses.

const MASTER = 'e2e-master-key-0123456789'

const MOVIES = [
  {
    id: 1,
    title: 'Star Wars',
    overview: 'A farm boy joins a rebellion among the stars',
    genre: 'scifi',
    year: 1977,
  },
  {
    id: 2,
    title: 'Star Trek',
    overview: 'The crew of a starship meets its past',
    genre: 'scifi',
    year: 2009,
  },
  {
    id: 3,
    title: 'Stardust',
    overview: 'A young man crosses a wall to find a fallen star',
    genre: 'fantasy',
    year: 2007,
  },
  {
    id: 4,
    title: 'Interstellar',
    overview: 'Explorers travel through a wormhole near Saturn',
    genre: 'scifi',
    year: 2014,
  },
  { id: 5, title: 'The Notebook', overview: 'A poor young man falls in love', genre: 'romance', year: 2004 },
  {
    id: 6,
    title: 'A Star Is Born',
    overview: 'A musician helps a young singer find fame',
    genre: 'drama',
    year: 2018,
  },
  { id: 7, title: 'Amélie', overview: 'A shy waitress in Paris changes lives', genre: 'romance', year: 2001 },
  {
    id: 8,
    title: 'Alien',
    overview: 'The crew of a starship meets a deadly creature',
    genre: 'scifi',
    year: 1979,
  },
]

async function apiError(promise: Promise<unknown>): Promise<{ code?: string; httpStatus?: number }> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(MeilisearchApiError)
    const e = error as MeilisearchApiError
    return { code: e.cause?.code, httpStatus: e.response.status }
  }
  throw new Error('expected the call to fail')
}

describe('meilisearch client against a shoal process', () => {
  let server: ServerProcess
  let client: Meilisearch
  let removeDir: () => Promise<void>

  beforeAll(async () => {
    const tmp = await tempDir('shoal-e2e-')
    removeDir = tmp.remove
    server = await startServerProcess(tmp.dir, ['--master-key', MASTER])
    client = new Meilisearch({ host: server.url, apiKey: MASTER, defaultWaitOptions: { interval: 20 } })
  })
  afterAll(async () => {
    expect(await server.stop('SIGTERM')).toBe(0)
    await removeDir()
  })

  it('reports health and version', async () => {
    expect(await client.health()).toEqual({ status: 'available' })
    expect((await client.getVersion()).pkgVersion).toMatch(/^\d+\.\d+\.\d+/)
  })

  it('creates an index, updates its settings and adds documents as tasks', async () => {
    const created = await client.createIndex('movies', { primaryKey: 'id' }).waitTask()
    expect(created.status).toBe('succeeded')
    expect(created.type).toBe('indexCreation')
    const index = client.index('movies')
    const settings = await index
      .updateSettings({
        searchableAttributes: ['title', 'overview'],
        filterableAttributes: ['genre', 'year'],
        sortableAttributes: ['year', 'title'],
      })
      .waitTask()
    expect(settings.status).toBe('succeeded')
    const fetched = await index.getSettings()
    expect(fetched.filterableAttributes).toEqual(['genre', 'year'])
    expect(fetched.sortableAttributes).toEqual(['title', 'year'])
    expect(fetched.searchableAttributes).toEqual(['title', 'overview'])
    const added = await index.addDocuments(MOVIES).waitTask()
    expect(added.status).toBe('succeeded')
    expect(added.details?.indexedDocuments).toBe(MOVIES.length)
    const info = await client.getIndex('movies')
    expect(info.primaryKey).toBe('id')
  })

  it('searches with q, filter, facets, sort, offset and limit', async () => {
    const index = client.index('movies')
    const all = await index.search('star')
    expect(all.hits.map((h) => h.id)).toEqual(expect.arrayContaining([1, 2, 3, 6]))
    const filtered = await index.search('star', {
      filter: 'genre = scifi AND year > 1990',
      facets: ['genre'],
      sort: ['year:desc'],
    })
    expect(filtered.hits.map((h) => h.id)).toEqual([2])
    const faceted = await index.search('', { facets: ['genre'], limit: 0 })
    expect(faceted.facetDistribution?.genre).toEqual({ scifi: 4, fantasy: 1, romance: 2, drama: 1 })
    expect(faceted.estimatedTotalHits).toBe(8)
    const sorted = await index.search('', {
      sort: ['year:asc'],
      offset: 1,
      limit: 3,
      filter: ['genre = scifi'],
    })
    expect(sorted.hits.map((h) => h.year)).toEqual([1979, 2009, 2014])
    expect(sorted.offset).toBe(1)
    expect(sorted.limit).toBe(3)
    const retrieved = await index.search('alien', { attributesToRetrieve: ['title'] })
    expect(retrieved.hits[0]).toEqual({ title: 'Alien' })
    const multi = await client.multiSearch({
      queries: [
        { indexUid: 'movies', q: 'notebook' },
        { indexUid: 'movies', q: '', filter: 'genre = drama' },
      ],
    })
    expect(multi.results.map((r) => r.hits.map((h) => h.id))).toEqual([[5], [6]])
  })

  it('gets and deletes documents', async () => {
    const index = client.index('movies')
    expect(await index.getDocument(4)).toMatchObject({ id: 4, title: 'Interstellar' })
    expect(await index.getDocument(4, { fields: ['title'] })).toEqual({ title: 'Interstellar' })
    const page = await index.getDocuments({ offset: 2, limit: 3 })
    expect(page.total).toBe(8)
    expect(page.results).toHaveLength(3)
    expect(await index.getDocuments({ filter: 'genre = romance', limit: 10 })).toMatchObject({ total: 2 })
    expect((await index.deleteDocument(7).waitTask()).status).toBe('succeeded')
    expect(await apiError(index.getDocument(7))).toEqual({ code: 'document_not_found', httpStatus: 404 })
    const batch = await index.deleteDocuments([5, 6]).waitTask()
    expect(batch.details?.deletedDocuments).toBe(2)
    const byFilter = await index.deleteDocuments({ filter: 'year < 1980' }).waitTask()
    expect(byFilter.details?.deletedDocuments).toBe(2)
    const remaining = await index.getDocuments({ limit: 20 })
    expect(remaining.results.map((d) => d.id).sort()).toEqual([2, 3, 4])
  })

  it('lists tasks with filters and reports stats', async () => {
    const tasks = await client.tasks.getTasks({ indexUids: ['movies'], statuses: ['succeeded'] })
    const types = tasks.results.map((t) => t.type)
    expect(types).toEqual(
      expect.arrayContaining([
        'indexCreation',
        'settingsUpdate',
        'documentAdditionOrUpdate',
        'documentDeletion',
      ]),
    )
    expect(tasks.results.every((t) => t.status === 'succeeded' && t.indexUid === 'movies')).toBe(true)
    const uids = tasks.results.map((t) => t.uid)
    expect(uids).toEqual([...uids].sort((a, b) => b - a))
    const one = await client.tasks.getTask(uids[uids.length - 1]!)
    expect(one.type).toBe('indexCreation')
    const stats = await client.index('movies').getStats()
    expect(stats.numberOfDocuments).toBe(3)
    const global = await client.getStats()
    expect(global.indexes.movies?.numberOfDocuments).toBe(3)
  })

  it('manages API keys: a search key searches its index and can do nothing else', async () => {
    const key = await client.createKey({
      description: 'frontend',
      actions: ['search'],
      indexes: ['movies'],
      expiresAt: null,
    })
    expect(key.key).toMatch(/^[0-9a-f]{64}$/)
    expect((await client.getKeys()).results.map((k) => k.uid)).toContain(key.uid)
    const scoped = new Meilisearch({ host: server.url, apiKey: key.key })
    expect((await scoped.index('movies').search('interstellar')).hits.map((h) => h.id)).toEqual([4])
    expect(await apiError(scoped.index('movies').addDocuments([{ id: 9, title: 'x' }]))).toEqual({
      code: 'invalid_api_key',
      httpStatus: 403,
    })
    expect(await apiError(scoped.getKeys())).toEqual({ code: 'invalid_api_key', httpStatus: 403 })
    const renamed = await client.updateKey(key.uid, { name: 'renamed' })
    expect(renamed.name).toBe('renamed')
    await client.deleteKey(key.uid)
    expect(await apiError(scoped.index('movies').search('interstellar'))).toEqual({
      code: 'invalid_api_key',
      httpStatus: 403,
    })
    const anonymous = new Meilisearch({ host: server.url })
    expect(await apiError(anonymous.index('movies').search('x'))).toEqual({
      code: 'missing_authorization_header',
      httpStatus: 401,
    })
  })

  it('cancels and deletes tasks', async () => {
    const canceled = await client.tasks.cancelTasks({ statuses: ['enqueued'] }).waitTask()
    expect(canceled.type).toBe('taskCancelation')
    expect(canceled.status).toBe('succeeded')
    const deleted = await client.tasks.deleteTasks({ types: ['documentDeletion'] }).waitTask()
    expect(deleted.details?.deletedTasks).toBe(3)
    const left = await client.tasks.getTasks({ types: ['documentDeletion'] })
    expect(left.results).toEqual([])
    expect(await apiError(client.tasks.deleteTasks({}))).toEqual({
      code: 'missing_task_filters',
      httpStatus: 400,
    })
  })

  it('deletes an index', async () => {
    expect((await client.deleteIndex('movies').waitTask()).status).toBe('succeeded')
    expect(await apiError(client.getIndex('movies'))).toEqual({ code: 'index_not_found', httpStatus: 404 })
  })
})
