import { Meilisearch } from 'meilisearch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcessServer, startInProcess } from './harness/in-process.ts'

// Swapping and renaming indexes, batches, experimental features and key
// action names: through the official client where it has the call, and over
// plain HTTP for exact error codes. Source of truth: Meilisearch's API
// reference (swap-indexes, indexes, batches, experimental features, keys).

const MASTER = 'in-process-master-key-0123456789'

describe('swap-indexes and renaming', () => {
  let node: InProcessServer
  let client: Meilisearch

  beforeAll(async () => {
    node = await startInProcess(MASTER)
    client = new Meilisearch({ host: node.server.url, apiKey: MASTER })
    await node.write('POST', '/indexes/old/documents?primaryKey=id', [{ id: 1, v: 'old' }])
    await node.write('POST', '/indexes/new/documents?primaryKey=id', [{ id: 2, v: 'new' }])
  })
  afterAll(() => node.close())

  it('swaps two indexes through the client, and the task history follows them', async () => {
    const before = await client.tasks.getTasks({ indexUids: ['old'] })
    const task = await client.swapIndexes([{ indexes: ['old', 'new'], rename: false }]).waitTask()
    expect(task).toMatchObject({
      status: 'succeeded',
      type: 'indexSwap',
      indexUid: null,
      details: { swaps: [{ indexes: ['old', 'new'], rename: false }] },
    })
    expect(await client.index('old').getDocument(2)).toEqual({ id: 2, v: 'new' })
    expect(await client.index('new').getDocument(1)).toEqual({ id: 1, v: 'old' })
    // The task that wrote the documents now in `new` is listed under `new`.
    const after = await client.tasks.getTasks({ indexUids: ['new'] })
    expect(after.results.map((t) => t.uid)).toEqual(before.results.map((t) => t.uid))
  })

  it('renames an index with swap-indexes `rename: true`', async () => {
    await client.swapIndexes([{ indexes: ['new', 'newer'], rename: true }]).waitTask()
    expect((await client.getIndexes()).results.map((i) => i.uid)).toEqual(['newer', 'old'])
    expect(await client.index('newer').getDocument(1)).toEqual({ id: 1, v: 'old' })
  })

  it('renames an index with PATCH /indexes/{uid} and a new `uid`', async () => {
    const task = await client.updateIndex('newer', { uid: 'renamed' }).waitTask()
    expect(task).toMatchObject({
      status: 'succeeded',
      type: 'indexUpdate',
      details: { oldIndexUid: 'newer', newIndexUid: 'renamed' },
    })
    expect((await client.index('renamed').getRawInfo()).uid).toBe('renamed')
    expect(await client.index('renamed').getDocument(1)).toEqual({ id: 1, v: 'old' })
  })

  it('fails the task, changing nothing, when an index is missing or a rename target exists', async () => {
    const missing = await node.call('POST', '/swap-indexes', [
      { indexes: ['old', 'renamed'] },
      { indexes: ['ghost', 'phantom'] },
    ])
    expect(missing.status).toBe(202)
    expect(await node.waitTask(missing.body.taskUid)).toMatchObject({
      status: 'failed',
      error: { code: 'index_not_found', message: 'Indexes `ghost`, `phantom` not found.' },
    })
    const taken = await node.call('PATCH', '/indexes/old', { uid: 'renamed' })
    expect(await node.waitTask(taken.body.taskUid)).toMatchObject({
      status: 'failed',
      error: { code: 'index_already_exists' },
    })
    expect((await node.call('GET', '/indexes/old/documents/2')).body).toEqual({ id: 2, v: 'new' })
    expect((await node.call('GET', '/indexes/renamed/documents/1')).body).toEqual({ id: 1, v: 'old' })
  })

  it('refuses a malformed swap before it is enqueued', async () => {
    const cases: [unknown, string][] = [
      [{ indexes: ['a', 'b'] }, 'bad_request'],
      [[{ indexes: ['a'] }], 'invalid_swap_indexes'],
      [[{ indexes: ['a', 'b'], rename: 'yes' }], 'invalid_swap_rename'],
      [[{ rename: true }], 'missing_swap_indexes'],
      [[{ indexes: ['a', 'b'] }, { indexes: ['b', 'c'] }], 'invalid_swap_duplicate_index_found'],
      [[{ indexes: ['a', 'b!'] }], 'invalid_index_uid'],
      [[{ indexes: ['a', 'b'], extra: 1 }], 'bad_request'],
    ]
    for (const [body, code] of cases) {
      const answer = await node.call('POST', '/swap-indexes', body)
      expect([answer.status, answer.body.code], JSON.stringify(body)).toEqual([400, code])
    }
    const rename = await node.call('PATCH', '/indexes/old', { uid: 'no spaces' })
    expect([rename.status, rename.body.code]).toEqual([400, 'invalid_index_uid'])
  })
})

describe('batches', () => {
  let node: InProcessServer
  let client: Meilisearch

  beforeAll(async () => {
    node = await startInProcess(MASTER)
    client = new Meilisearch({ host: node.server.url, apiKey: MASTER })
    await node.write('POST', '/indexes/books/documents?primaryKey=id', [{ id: 1 }, { id: 2 }])
    await node.write('DELETE', '/indexes/books/documents/1')
  })
  afterAll(() => node.close())

  it('lists batches newest first, each with its tasks counted and details merged', async () => {
    const page = await client.batches.getBatches()
    expect(page.total).toBe(2)
    const [deletion, addition] = page.results
    expect(addition).toMatchObject({
      progress: null,
      details: { receivedDocuments: 2, indexedDocuments: 2 },
      stats: {
        totalNbTasks: 1,
        status: { succeeded: 1 },
        types: { documentAdditionOrUpdate: 1 },
        indexUids: { books: 1 },
      },
    })
    expect(deletion?.stats.types).toEqual({ documentDeletion: 1 })
    expect(deletion!.uid).toBeGreaterThan(addition!.uid)
    const task = await client.tasks.getTask(0)
    expect((await client.batches.getBatch(task.batchUid!)).uid).toBe(addition!.uid)
  })

  it('takes the task filters: `uids` select batch uids, the rest select by task', async () => {
    const all = (await node.call('GET', '/batches')).body.results
    const byType = await node.call('GET', '/batches?types=documentDeletion')
    expect(byType.body.results.map((b: { uid: number }) => b.uid)).toEqual([all[0].uid])
    const byUid = await node.call('GET', `/batches?uids=${all[1].uid}`)
    expect(byUid.body.results.map((b: { uid: number }) => b.uid)).toEqual([all[1].uid])
    const paged = await node.call('GET', '/batches?limit=1&reverse=true')
    expect(paged.body).toMatchObject({ total: 2, limit: 1, from: all[1].uid, next: all[0].uid })
  })

  it('answers batch_not_found and invalid_batch_uids', async () => {
    expect((await node.call('GET', '/batches/999')).body.code).toBe('batch_not_found')
    const bad = await node.call('GET', '/batches/x')
    expect([bad.status, bad.body.code]).toEqual([400, 'invalid_batch_uids'])
    const badFilter = await node.call('GET', '/batches?statuses=done')
    expect([badFilter.status, badFilter.body.code]).toEqual([400, 'invalid_task_statuses'])
  })

  it('gives task cancelation and deletion a batch of their own', async () => {
    const canceled = await client.tasks.cancelTasks({ statuses: ['enqueued'] }).waitTask()
    expect(canceled.batchUid).not.toBeNull()
    expect((await client.batches.getBatch(canceled.batchUid!)).stats.types).toEqual({ taskCancelation: 1 })
  })
})

describe('experimental features and key actions', () => {
  let node: InProcessServer
  let client: Meilisearch

  beforeAll(async () => {
    node = await startInProcess(MASTER)
    client = new Meilisearch({ host: node.server.url, apiKey: MASTER })
  })
  afterAll(() => node.close())

  it('reports the features Shoal has, and accepts restating them', async () => {
    const features = await client.getExperimentalFeatures()
    expect(features).toMatchObject({ metrics: true, containsFilter: false, logsRoute: false })
    expect(await client.updateExperimentalFeatures({ metrics: true, network: false })).toEqual(features)
  })

  it('refuses to switch a feature, naming why', async () => {
    for (const body of [{ containsFilter: true }, { metrics: false }, { nope: true }, { metrics: 1 }]) {
      const answer = await node.call('PATCH', '/experimental-features', body)
      expect([answer.status, answer.body.code], JSON.stringify(body)).toEqual([400, 'bad_request'])
    }
    expect(
      (await node.call('PATCH', '/experimental-features', { containsFilter: true })).body.message,
    ).toMatch(/CONTAINS/)
  })

  it('creates keys with every action name of a current Meilisearch', async () => {
    const actions = [
      'indexes.swap',
      'dumps.create',
      'dumps.*',
      'snapshots.create',
      'snapshots.*',
      'experimental.get',
      'experimental.update',
      'network.get',
      'network.update',
      'chatCompletions',
      'chats.*',
      'chatsSettings.update',
    ]
    const key = await client.createKey({ actions, indexes: ['*'], expiresAt: null })
    expect(key.actions).toEqual(actions)
    const bad = await node.call('POST', '/keys', { actions: ['dumps.get'], indexes: ['*'], expiresAt: null })
    expect(bad.body.code).toBe('invalid_api_key_actions')
  })

  it('a key with `indexes.swap` may swap its indexes and nothing else', async () => {
    await node.write('POST', '/indexes/s1/documents?primaryKey=id', [{ id: 1 }])
    await node.write('POST', '/indexes/s2/documents?primaryKey=id', [{ id: 2 }])
    const key = await client.createKey({ actions: ['indexes.swap'], indexes: ['s*'], expiresAt: null })
    const scoped = new Meilisearch({ host: node.server.url, apiKey: key.key })
    const enqueued = await scoped.swapIndexes([{ indexes: ['s1', 's2'], rename: false }])
    expect((await node.waitTask(enqueued.taskUid)).status).toBe('succeeded')
    const outside = await fetch(`${node.server.url}/swap-indexes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' },
      body: JSON.stringify([{ indexes: ['s1', 'other'] }]),
    })
    expect(outside.status).toBe(403)
    const search = await fetch(`${node.server.url}/indexes/s1/search`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' },
      body: '{}',
    })
    expect(search.status).toBe(403)
  })
})

describe('fields', () => {
  let node: InProcessServer
  let client: Meilisearch

  beforeAll(async () => {
    node = await startInProcess(MASTER)
    client = new Meilisearch({ host: node.server.url, apiKey: MASTER })
    await node.write('PATCH', '/indexes/films/settings', {
      searchableAttributes: ['title'],
      filterableAttributes: ['genre'],
      sortableAttributes: ['year'],
      displayedAttributes: ['id', 'title', 'year'],
    })
    await node.write('POST', '/indexes/films/documents?primaryKey=id', [
      { id: 1, title: 'Alien', genre: 'scifi', year: 1979 },
    ])
  })
  afterAll(() => node.close())

  it("lists the documents' fields with what the settings let each do", async () => {
    const page = await client.index('films').getFields()
    expect(page).toMatchObject({ offset: 0, limit: 20, total: 4 })
    expect(page.results.map((f) => f.name)).toEqual(['genre', 'id', 'title', 'year'])
    expect(page.results[0]).toMatchObject({
      name: 'genre',
      displayed: { enabled: false },
      searchable: { enabled: false },
      filterable: { enabled: true, equality: true, comparison: true, facetSearch: true },
      sortable: { enabled: false },
      distinct: { enabled: false },
    })
    expect(page.results[3]).toMatchObject({
      name: 'year',
      sortable: { enabled: true },
      displayed: { enabled: true },
    })
  })

  it('reports distinct, custom ranking rules, facet search and locales from the settings', async () => {
    await node.write('PATCH', '/indexes/films/settings', {
      distinctAttribute: 'genre',
      rankingRules: ['words', 'typo', 'proximity', 'attribute', 'sort', 'exactness', 'year:desc'],
      facetSearch: false,
      localizedAttributes: [{ attributePatterns: ['ti*'], locales: ['fra', 'eng'] }],
    })
    const fields = (await client.index('films').getFields()).results
    const field = (name: string) => fields.find((f) => f.name === name)!
    expect(field('genre')).toMatchObject({ distinct: { enabled: true }, filterable: { facetSearch: false } })
    expect(field('year').rankingRule).toEqual({ enabled: true })
    expect(field('title').localized).toEqual({ locales: ['eng', 'fra'] })
    expect(field('id')).toMatchObject({ distinct: { enabled: false }, rankingRule: { enabled: false } })
    await node.write('PATCH', '/indexes/films/settings', {
      distinctAttribute: null,
      rankingRules: null,
      facetSearch: null,
      localizedAttributes: null,
    })
  })

  it('filters by capability and attribute pattern, and pages', async () => {
    const index = client.index('films')
    const names = async (query: object) => (await index.getFields(query)).results.map((f) => f.name)
    expect(await names({ filter: { searchable: true } })).toEqual(['title'])
    expect(await names({ filter: { displayed: false } })).toEqual(['genre'])
    expect(await names({ filter: { attributePatterns: ['*e*'], sortable: false } })).toEqual([
      'genre',
      'title',
    ])
    expect(await names({ filter: { attributePatterns: ['y*'] } })).toEqual(['year'])
    expect(await names({ offset: 1, limit: 2 })).toEqual(['id', 'title'])
  })

  it('refuses unknown fields and bad values, and answers index_not_found', async () => {
    for (const body of [
      { filter: { color: true } },
      { filter: { searchable: 'yes' } },
      { page: 1 },
      { limit: -1 },
    ]) {
      const answer = await node.call('POST', '/indexes/films/fields', body)
      expect([answer.status, answer.body.code], JSON.stringify(body)).toEqual([400, 'bad_request'])
    }
    expect((await node.call('POST', '/indexes/none/fields', {})).body.code).toBe('index_not_found')
  })
})
