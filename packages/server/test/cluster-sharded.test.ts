import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { waitFor } from '@shoal/testkit/wait'
import { Meilisearch } from 'meilisearch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ClusterProcess, MASTER_KEY, startThreeNodeCluster } from './harness/cluster-processes.ts'
import { describeFieldShardingAndPlacement, FIELD_PLACEMENT_LABELS } from './harness/field-placement-cases.ts'
import { metrics, sample } from './harness/metrics-text.ts'
import { tempDir } from './harness/server-process.ts'

// A sharded, replicated index on a real 3-process cluster, driven through the HTTP API of
// every node: placement, writes split by shard, cluster-wide tasks, reads from any node. The nodes
// carry labels, for the `field` sharding and placement constraint cases run first on the same
// processes (harness/field-placement-cases.ts).

let scratch: { dir: string; remove: () => Promise<void> }
let nodes: ClusterProcess[] = []

interface TaskView {
  uid: number
  status: string
  error: { code: string } | null
  details: Record<string, unknown> | null
}

async function waitTask(node: ClusterProcess, uid: number): Promise<TaskView> {
  let task: TaskView | undefined
  await waitFor(
    `task ${uid} ended`,
    async () => {
      const response = await node.request<TaskView>('GET', `/tasks/${uid}`)
      task = response.status === 200 ? response.body : undefined
      return task !== undefined && ['succeeded', 'failed', 'canceled'].includes(task.status)
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  )
  return task!
}

/** Waits for task `uid` and expects it succeeded, naming its error otherwise. */
async function succeeded(node: ClusterProcess, uid: number): Promise<TaskView> {
  const task = await waitTask(node, uid)
  expect(task.status, `task ${uid}: ${JSON.stringify(task.error)}`).toBe('succeeded')
  return task
}

async function enqueue(node: ClusterProcess, method: string, route: string, body?: unknown): Promise<number> {
  const response = await node.request<{ taskUid: number }>(method, route, body)
  expect(response.status, JSON.stringify(response.body)).toBe(202)
  return response.body.taskUid
}

const GENRES = ['poetry', 'history', 'science', 'fiction']
const docs = Array.from({ length: 240 }, (_, i) => ({
  id: i,
  title: `book ${i} about ${GENRES[i % 4]} and ${i % 7 === 0 ? 'lighthouses' : 'rivers'}`,
  genre: GENRES[i % 4],
  year: 1900 + (i % 100),
}))

beforeAll(async () => {
  scratch = await tempDir('shoal-sharded-')
  nodes = await startThreeNodeCluster(
    scratch.dir,
    'sharded-index-cluster-key-0000000',
    [],
    (i) => FIELD_PLACEMENT_LABELS[i]!,
  )
}, 120_000)

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.kill()))
  await scratch?.remove()
})

describeFieldShardingAndPlacement(() => nodes)

describe('a sharded index on three nodes', () => {
  it('refuses sharding it cannot place with a typed 400, and enqueues nothing', async () => {
    const before = await nodes[0]!.request<{ total: number }>('GET', '/tasks?limit=1')
    for (const sharding of [
      { replicationFactor: 4 },
      { shardCount: 0 },
      { strategy: 'range' },
      { replicas: 2 },
    ]) {
      const response = await nodes[1]!.request<{ code: string; message: string }>('POST', '/indexes', {
        uid: 'refused',
        sharding,
      })
      expect(response.status, JSON.stringify(response.body)).toBe(400)
      expect(response.body.code).toBe('invalid_sharding')
    }
    const after = await nodes[0]!.request<{ total: number }>('GET', '/tasks?limit=1')
    expect(after.body.total).toBe(before.body.total)
  })

  it('creates, fills and searches it through any node, with one task list cluster-wide', async () => {
    const created = await enqueue(nodes[1]!, 'POST', '/indexes', {
      uid: 'books',
      primaryKey: 'id',
      sharding: { shardCount: 6, replicationFactor: 3 },
    })
    const createdTask = await waitTask(nodes[2]!, created)
    expect(createdTask.status, JSON.stringify(createdTask.error)).toBe('succeeded')

    const settings = await enqueue(nodes[2]!, 'PATCH', '/indexes/books/settings', {
      filterableAttributes: ['genre', 'year'],
    })
    const added = await enqueue(nodes[2]!, 'POST', '/indexes/books/documents', docs)
    expect(added).toBeGreaterThan(settings)
    await succeeded(nodes[0]!, settings)
    const addedTask = await waitTask(nodes[0]!, added)
    expect(addedTask.status, JSON.stringify(addedTask.error)).toBe('succeeded')
    expect(addedTask.details).toMatchObject({ receivedDocuments: 240, indexedDocuments: 240 })

    for (const node of nodes) {
      // Read-your-writes: every node sees the task's documents as soon as it reports success.
      const stats = await node.request<{ numberOfDocuments: number }>('GET', '/indexes/books/stats')
      expect(stats.body.numberOfDocuments).toBe(240)
      const doc = await node.request<{ title: string }>('GET', '/indexes/books/documents/77')
      expect(doc.body.title).toBe(docs[77]!.title)
      const search = await node.request<{ hits: Array<{ id: number }>; estimatedTotalHits: number }>(
        'POST',
        '/indexes/books/search',
        { q: 'lighthouses', filter: 'genre = poetry', limit: 100 },
      )
      const expected = docs
        .filter((d) => d.genre === 'poetry' && d.title.includes('lighthouses'))
        .map((d) => d.id)
      expect(search.body.hits.map((h) => h.id).sort((a, b) => a - b)).toEqual(expected)
      expect(search.body.estimatedTotalHits).toBe(expected.length)
    }

    const deleted = await enqueue(nodes[0]!, 'POST', '/indexes/books/documents/delete-batch', [1, 2, 3])
    expect((await waitTask(nodes[1]!, deleted)).details).toMatchObject({ deletedDocuments: 3 })
    const missing = await nodes[2]!.request<{ code: string }>('GET', '/indexes/books/documents/2')
    expect(missing.status).toBe(404)
    const page = await nodes[1]!.request<{ results: Array<{ id: number }>; total: number }>(
      'GET',
      '/indexes/books/documents?limit=5&offset=2',
    )
    expect(page.body.total).toBe(237)
    expect(page.body.results.map((d) => d.id)).toEqual([5, 6, 7, 8, 9])

    const lists = await Promise.all(
      nodes.map(async (node) => {
        const uids: number[] = []
        await waitFor('task list', async () => {
          const tasks = await node.request<{ results: Array<{ uid: number }> }>('GET', '/tasks?limit=100')
          uids.splice(0, uids.length, ...tasks.body.results.map((t) => t.uid))
          return uids.includes(deleted)
        })
        return uids
      }),
    )
    expect(lists[1]).toEqual(lists[0])
    expect(lists[2]).toEqual(lists[0])
  })

  it('creates a missing index for a document addition and keeps the documents, as one index does', async () => {
    // The task creates the index on its shards, then writes to them: the write must not pass for
    // a re-sent copy of the creation.
    const added = await enqueue(nodes[1]!, 'POST', '/indexes/autocreated/documents?primaryKey=id', [
      { id: 1, title: 'first' },
      { id: 2, title: 'second' },
    ])
    const task = await succeeded(nodes[2]!, added)
    expect(task.details).toMatchObject({ receivedDocuments: 2, indexedDocuments: 2 })
    for (const node of nodes) {
      const listed = await node.request<{ total: number }>('GET', '/indexes/autocreated/documents')
      expect(listed.body.total).toBe(2)
    }
    // The same for a settings change to a missing index.
    const set = await enqueue(nodes[0]!, 'PATCH', '/indexes/autoset/settings', {
      filterableAttributes: ['genre'],
    })
    await succeeded(nodes[1]!, set)
    const settings = await nodes[2]!.request<{ filterableAttributes: string[] }>(
      'GET',
      '/indexes/autoset/settings',
    )
    expect(settings.body.filterableAttributes).toEqual(['genre'])
    await succeeded(nodes[0]!, await enqueue(nodes[0]!, 'DELETE', '/indexes/autocreated'))
    await succeeded(nodes[0]!, await enqueue(nodes[0]!, 'DELETE', '/indexes/autoset'))
  })

  it('refuses a bad batch as a whole before any shard replicates a part of it', async () => {
    type Shards = { shards: Array<{ replicas: Array<{ node: string; appliedIndex: number | null }> }> }
    const applied = async () => {
      const view = await nodes[0]!.request<Shards>('GET', '/indexes/books/_shards')
      return view.body.shards.flatMap((s) => s.replicas.map((r) => `${r.node}:${r.appliedIndex}`)).sort()
    }
    const before = await applied()
    const batches = [
      // The last document lacks the primary key: found by the coordinator.
      {
        docs: [...docs.slice(0, 5).map((d) => ({ ...d, id: d.id + 1000 })), { title: 'no id' }],
        code: 'missing_document_id',
      },
      // One document carries a malformed `_vectors`: found only by the shard that would hold it.
      {
        docs: [
          ...docs.slice(0, 20).map((d) => ({ ...d, id: d.id + 2000 })),
          { id: 2999, title: 'bad vectors', _vectors: 5 },
        ],
        code: 'invalid_document_fields',
      },
    ]
    for (const batch of batches) {
      const uid = await enqueue(nodes[1]!, 'POST', '/indexes/books/documents', batch.docs)
      const task = await waitTask(nodes[1]!, uid)
      expect(task.status).toBe('failed')
      expect(task.error?.code).toBe(batch.code)
    }
    expect(await applied()).toEqual(before)
    const stats = await nodes[2]!.request<{ numberOfDocuments: number }>('GET', '/indexes/books/stats')
    expect(stats.body.numberOfDocuments).toBe(237)
  })

  it('reports each shard with its replicas, leader and lag', async () => {
    const view = await nodes[2]!.request<{
      sharding: { shardCount: number; replicationFactor: number }
      shards: Array<{
        shard: number
        leader: string | null
        replicas: Array<{ node: string; leader: boolean; lag: number | null; appliedIndex: number | null }>
      }>
    }>('GET', '/indexes/books/_shards')
    expect(view.status).toBe(200)
    expect(view.body.sharding).toMatchObject({ shardCount: 6, replicationFactor: 3 })
    expect(view.body.shards.map((s) => s.shard)).toEqual([0, 1, 2, 3, 4, 5])
    for (const shard of view.body.shards) {
      expect(new Set(shard.replicas.map((r) => r.node)).size).toBe(3)
      expect(shard.replicas.filter((r) => r.leader)).toHaveLength(1)
      expect(shard.leader).toBe(shard.replicas.find((r) => r.leader)?.node)
      for (const replica of shard.replicas) expect(replica.appliedIndex).toBeGreaterThan(0)
    }
    const all = await nodes[0]!.request<{ indexes: Array<{ indexUid: string }> }>('GET', '/cluster/shards')
    expect(all.body.indexes.map((i) => i.indexUid)).toContain('books')
  })

  it('reads any replica in eventual mode and says how far behind it was', async () => {
    const search = await nodes[1]!.request<{
      hits: unknown[]
      replicaLag: { max: number; shards: Record<string, number> }
    }>('POST', '/indexes/books/search', { q: 'rivers', consistency: 'eventual' })
    expect(search.status).toBe(200)
    expect(search.body.hits.length).toBeGreaterThan(0)
    expect(Object.keys(search.body.replicaLag.shards)).toHaveLength(6)
    const bad = await nodes[1]!.request<{ code: string }>('POST', '/indexes/books/search', {
      consistency: 'weak',
    })
    expect(bad.status).toBe(400)
    expect(bad.body.code).toBe('invalid_search_consistency')
  })

  it('works through the official Meilisearch client pointed at a node that does not lead the metadata', async () => {
    const health = await nodes[0]!.request<{ metadata_leader: string }>('GET', '/_cluster/health')
    const follower = nodes.find((n) => n.nodeId !== health.body.metadata_leader)!
    const client = new Meilisearch({ host: follower.url, apiKey: MASTER_KEY })
    const options = { primaryKey: 'id', sharding: { shardCount: 4, replicationFactor: 2 } }
    const created = await client.createIndex('films', options as { primaryKey: string }).waitTask()
    expect(created.status).toBe('succeeded')
    const index = client.index('films')
    const settings = await index
      .updateSettings({ filterableAttributes: ['genre'], sortableAttributes: ['year'] })
      .waitTask()
    expect(settings.status).toBe('succeeded')
    expect((await index.getSettings()).sortableAttributes).toEqual(['year'])
    const added = await index.addDocuments(docs.slice(0, 60)).waitTask()
    expect(added.status).toBe('succeeded')
    expect(added.details?.indexedDocuments).toBe(60)
    const updated = await index.updateDocuments([{ id: 5, title: 'renamed lighthouse keeper' }]).waitTask()
    expect(updated.status).toBe('succeeded')
    expect((await index.getDocument(5)).title).toBe('renamed lighthouse keeper')
    expect((await index.getDocument(5)).genre).toBe(docs[5]!.genre)
    const removed = await index.deleteDocuments([6, 7]).waitTask()
    expect(removed.status).toBe('succeeded')
    const sorted = await index.search('book', {
      filter: 'genre = history',
      sort: ['year:desc'],
      facets: ['genre'],
      limit: 5,
    })
    const expectedIds = docs
      .slice(0, 60)
      .filter((d) => d.genre === 'history' && d.id !== 7 && d.id !== 6 && d.id !== 5)
      .sort((a, b) => b.year - a.year || a.id - b.id)
      .slice(0, 5)
      .map((d) => d.id)
    expect(sorted.hits.map((h) => h.id)).toEqual(expectedIds)
    expect(sorted.facetDistribution?.genre?.history).toBeGreaterThan(0)
    expect((await index.getStats()).numberOfDocuments).toBe(58)
    const tasks = await client.tasks.getTasks({ indexUids: ['films'] })
    expect(tasks.results.map((t) => t.status).every((s) => s === 'succeeded')).toBe(true)
  })

  it('applies rankingRules, synonyms and prefixSearch across shards, answers facet searches, distinctAttribute and narrowing parameters', async () => {
    const index = new Meilisearch({ host: nodes[0]!.url, apiKey: MASTER_KEY }).index('films')
    const ranked = await index
      .updateSettings({
        rankingRules: ['year:desc', 'words', 'typo', 'proximity', 'attribute', 'exactness', 'sort'],
        synonyms: { tome: ['book'] },
        prefixSearch: 'disabled',
      })
      .waitTask()
    expect(ranked.status, JSON.stringify(ranked.error)).toBe('succeeded')
    // Document 5 was renamed without "book"; 6 and 7 were deleted.
    const held = docs.slice(0, 60).filter((d) => ![5, 6, 7].includes(d.id))
    // The custom rule outranks relevance: every match (each title says "book") newest first.
    const found = await index.search('tome', { limit: 100 })
    expect(found.hits.map((h) => h.id)).toEqual(
      [...held].sort((a, b) => b.year - a.year || a.id - b.id).map((d) => d.id),
    )
    expect((await index.search('lightho')).hits).toEqual([])
    expect((await index.search('lighthouses')).hits.length).toBeGreaterThan(0)
    // A facet search counts over every shard, exactly: as the documents say, and as a search's facets.
    const held60 = docs.slice(0, 60).filter((d) => d.id !== 6 && d.id !== 7)
    const counted = (list: typeof docs) =>
      GENRES.map((genre) => ({ value: genre, count: list.filter((d) => d.genre === genre).length }))
        .filter((hit) => hit.count > 0)
        .sort((a, b) => (a.value < b.value ? -1 : 1))
    const all = await index.searchForFacetValues({ facetName: 'genre' })
    expect(all.facetHits).toEqual(counted(held60))
    const narrowed = await index.searchForFacetValues({
      facetName: 'genre',
      facetQuery: 'HI',
      filter: 'genre != poetry',
    })
    expect(narrowed.facetHits).toEqual(counted(held60.filter((d) => d.genre === 'history')))
    const searched = await index.search('lighthouses', { facets: ['genre'] })
    const matched = await index.searchForFacetValues({ facetName: 'genre', q: 'lighthouses' })
    expect(Object.fromEntries(matched.facetHits.map((hit) => [hit.value, hit.count]))).toEqual(
      searched.facetDistribution?.genre,
    )
    const refused = await nodes[1]!.request<{ code: string }>('POST', '/indexes/films/facet-search', {
      facetName: 'title',
    })
    expect(refused.body.code).toBe('invalid_facet_search_facet_name')
    // One hit per genre, collection-wide: each genre's first document in the ranking rules' order.
    const distinct = await index.updateDistinctAttribute('genre').waitTask()
    expect(distinct.status, JSON.stringify(distinct.error)).toBe('succeeded')
    const newest = [...held].sort((a, b) => b.year - a.year || a.id - b.id)
    const firstOfGenre = newest.filter((d, i) => newest.findIndex((e) => e.genre === d.genre) === i)
    const one = await index.search('tome', { limit: 100, facets: ['genre'] })
    expect(one.hits.map((h) => h.id)).toEqual(firstOfGenre.map((d) => d.id))
    expect(one.estimatedTotalHits).toBe(GENRES.length)
    expect(one.facetDistribution?.genre).toEqual(Object.fromEntries(GENRES.map((g) => [g, 1])))
    // Phrases, exclusions, matchingStrategy, attributesToSearchOn and rankingScoreThreshold, through every node.
    const history = newest.filter((d) => d.genre === 'history' && d.id % 7 !== 0 && d.id !== 5)
    for (const node of nodes) {
      const narrowed = await node.request<{ hits: Array<{ id: number }>; estimatedTotalHits: number }>(
        'POST',
        '/indexes/films/search',
        {
          q: '"about history" book -lighthouses',
          matchingStrategy: 'all',
          attributesToSearchOn: ['title'],
          rankingScoreThreshold: 0.1,
        },
      )
      expect(narrowed.status, JSON.stringify(narrowed.body)).toBe(200)
      expect(narrowed.body.hits.map((h) => h.id)).toEqual([history[0]!.id])
      expect(narrowed.body.estimatedTotalHits).toBe(1)
    }
    const reset = await index.resetSettings().waitTask()
    expect(reset.status).toBe('succeeded')
    expect(await index.getSettings()).toMatchObject({ synonyms: {}, prefixSearch: 'indexingTime' })
  })

  it('swaps and renames indexes cluster-wide: documents, settings and task history follow, shards stay put', async () => {
    const made: number[] = []
    for (const [uid, shardCount] of [
      ['left', 2],
      ['right', 3],
    ] as const) {
      made.push(
        await enqueue(nodes[0]!, 'POST', '/indexes', { uid, primaryKey: 'id', sharding: { shardCount } }),
      )
      made.push(
        await enqueue(nodes[0]!, 'POST', `/indexes/${uid}/documents`, [
          { id: 1, side: uid, title: `the ${uid} lighthouse` },
          { id: 2, side: uid, title: `the ${uid} river` },
        ]),
      )
    }
    made.push(await enqueue(nodes[1]!, 'PATCH', '/indexes/left/settings', { filterableAttributes: ['side'] }))
    for (const uid of made) await succeeded(nodes[0]!, uid)

    const swapped = await enqueue(nodes[2]!, 'POST', '/swap-indexes', [{ indexes: ['left', 'right'] }])
    await succeeded(nodes[1]!, swapped)
    for (const node of nodes) {
      const doc = await node.request<{ side: string }>('GET', '/indexes/left/documents/1')
      expect(doc.body.side).toBe('right')
      const settings = await node.request<{ filterableAttributes: string[] }>(
        'GET',
        '/indexes/right/settings',
      )
      expect(settings.body.filterableAttributes).toEqual(['side'])
      const shards = await node.request<{ shards: unknown[] }>('GET', '/indexes/left/_shards')
      expect(shards.body.shards).toHaveLength(3)
    }
    // The task history follows the indexes; the swap task names none.
    const history = await nodes[0]!.request<{ results: Array<{ uid: number; indexUid: string | null }> }>(
      'GET',
      `/tasks?uids=${made.join(',')}`,
    )
    const indexOf = new Map(history.body.results.map((t) => [t.uid, t.indexUid]))
    expect(made.map((uid) => indexOf.get(uid))).toEqual(['right', 'right', 'left', 'left', 'right'])

    // Writes and searches after the swap reach the shards now behind each name.
    const wrote = await enqueue(nodes[1]!, 'POST', '/indexes/left/documents', [
      { id: 3, side: 'right', title: 'the third lighthouse' },
    ])
    await succeeded(nodes[1]!, wrote)
    const found = await nodes[2]!.request<{ hits: Array<{ id: number }> }>('POST', '/indexes/left/search', {
      q: 'lighthouse',
    })
    expect(found.body.hits.map((h) => h.id).sort()).toEqual([1, 3])

    // A rename through PATCH, then a new index under the old name: the two never share shards.
    const renamed = await enqueue(nodes[0]!, 'PATCH', '/indexes/left', { uid: 'renamed' })
    expect((await waitTask(nodes[0]!, renamed)).details).toMatchObject({
      oldIndexUid: 'left',
      newIndexUid: 'renamed',
    })
    const again = await enqueue(nodes[0]!, 'POST', '/indexes', { uid: 'left', primaryKey: 'id' })
    await succeeded(nodes[0]!, again)
    for (const node of nodes) {
      const count = await node.request<{ numberOfDocuments: number }>('GET', '/indexes/renamed/stats')
      expect(count.body.numberOfDocuments).toBe(3)
      const empty = await node.request<{ numberOfDocuments: number }>('GET', '/indexes/left/stats')
      expect(empty.body.numberOfDocuments).toBe(0)
    }

    // A swap that names a missing index fails as a whole and changes nothing.
    const refused = await enqueue(nodes[0]!, 'POST', '/swap-indexes', [
      { indexes: ['renamed', 'right'] },
      { indexes: ['left', 'nowhere'] },
    ])
    const failed = await waitTask(nodes[0]!, refused)
    expect(failed.status).toBe('failed')
    expect(failed.error?.code).toBe('index_not_found')
    const still = await nodes[1]!.request<{ side: string }>('GET', '/indexes/renamed/documents/1')
    expect(still.body.side).toBe('right')
  })

  it('keeps webhooks in the cluster: any node manages them, the node running tasks delivers them', async () => {
    const deliveries: { authorization: string | undefined; uids: number[] }[] = []
    const receiver = createServer((request, response) => {
      let body = ''
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString()
      })
      request.on('end', () => {
        const uids = body
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => (JSON.parse(line) as { uid: number }).uid)
        deliveries.push({ authorization: request.headers.authorization, uids })
        response.writeHead(200).end()
      })
    })
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
    try {
      const port = (receiver.address() as AddressInfo).port
      const created = await nodes[1]!.request<{ uuid: string; headers: Record<string, string> }>(
        'POST',
        '/webhooks',
        { url: `http://127.0.0.1:${port}/hook`, headers: { authorization: 'Bearer hook-secret' } },
      )
      expect(created.status, JSON.stringify(created.body)).toBe(201)
      expect(created.body.headers.authorization).toBe('Bear…')
      for (const node of nodes) {
        const listed = await node.request<{ results: Array<{ uuid: string }> }>('GET', '/webhooks')
        expect(listed.body.results.map((h) => h.uuid)).toEqual([created.body.uuid])
      }
      // The secret header is kept out of the cluster settings view.
      const settings = await nodes[2]!.request<{ persistent: Record<string, string> }>(
        'GET',
        '/_cluster/settings',
      )
      expect(JSON.stringify(settings.body)).not.toContain('hook-secret')

      const uid = await enqueue(nodes[2]!, 'POST', '/indexes/books/documents', [
        { id: 9001, title: 'hooked' },
      ])
      await succeeded(nodes[0]!, uid)
      await waitFor('the webhook delivery', () => deliveries.some((d) => d.uids.includes(uid)), {
        timeoutMs: 15_000,
      })
      expect(deliveries.find((d) => d.uids.includes(uid))?.authorization).toBe('Bearer hook-secret')

      const bad = await nodes[0]!.request<{ code: string }>('POST', '/webhooks', { url: 'ftp://x' })
      expect(bad.body.code).toBe('invalid_webhook_url')
      const removed = await nodes[0]!.request('DELETE', `/webhooks/${created.body.uuid}`)
      expect(removed.status).toBe(204)
      const gone = await nodes[2]!.request<{ code: string }>('GET', `/webhooks/${created.body.uuid}`)
      expect(gone.body.code).toBe('webhook_not_found')
    } finally {
      await new Promise((resolve) => receiver.close(resolve))
    }
  })

  it('hedges an eventual read to another replica when the first does not answer in time', async () => {
    const created = await enqueue(nodes[0]!, 'POST', '/indexes', {
      uid: 'hedged',
      primaryKey: 'id',
      sharding: { shardCount: 3, replicationFactor: 2 },
    })
    await succeeded(nodes[0]!, created)
    const added = await enqueue(nodes[0]!, 'POST', '/indexes/hedged/documents', docs)
    await succeeded(nodes[0]!, added)
    const layout = await nodes[0]!.request<{
      shards: Array<{ shard: number; replicas: Array<{ node: string }> }>
    }>('GET', '/indexes/hedged/_shards')
    // A coordinator and a shard it holds no replica of: its eventual read goes to the first
    // holder listed. Six replica slots over three nodes leave at least one node without some shard.
    const holds = (node: ClusterProcess, s: { replicas: Array<{ node: string }> }) =>
      s.replicas.some((r) => r.node === node.nodeId)
    const coordinator = nodes.find((n) => layout.body.shards.some((s) => !holds(n, s)))!
    const remote = layout.body.shards.find((s) => !holds(coordinator, s))!
    const slow = nodes.find((n) => n.nodeId === remote.replicas[0]!.node)!
    const search = () =>
      coordinator.request<{ hits: unknown[] }>('POST', '/indexes/hedged/search', {
        q: 'book',
        limit: 1000,
        consistency: 'eventual',
      })
    for (let i = 0; i < 10; i++) expect((await search()).status).toBe(200)
    const before = sample(await metrics(coordinator), 'shoal_shard_read_hedges_total')
    slow.child.kill('SIGSTOP')
    try {
      // Without a hedge this read would wait for its time-out and answer 503 for that shard.
      const answer = await search()
      expect(answer.status, JSON.stringify(answer.body)).toBe(200)
      expect(answer.body.hits).toHaveLength(docs.length)
    } finally {
      slow.child.kill('SIGCONT')
    }
    expect(sample(await metrics(coordinator), 'shoal_shard_read_hedges_total')).toBeGreaterThan(before)
  })

  it('fails a search with 503 naming the shards nobody can serve, or answers partially when asked', async () => {
    const created = await enqueue(nodes[0]!, 'POST', '/indexes', {
      uid: 'thin',
      primaryKey: 'id',
      sharding: { shardCount: 3, replicationFactor: 1 },
    })
    await succeeded(nodes[0]!, created)
    const added = await enqueue(nodes[0]!, 'POST', '/indexes/thin/documents', docs)
    await succeeded(nodes[0]!, added)
    const layout = await nodes[0]!.request<{
      shards: Array<{ shard: number; replicas: Array<{ node: string }> }>
    }>('GET', '/indexes/thin/_shards')
    const victim = nodes[2]!
    const lost = layout.body.shards.filter((s) => s.replicas[0]!.node === victim.nodeId).map((s) => s.shard)
    expect(lost.length).toBeGreaterThan(0)
    await victim.kill()
    nodes = nodes.filter((n) => n !== victim)
    let failed: { status: number; body: { code: string; message: string } } | undefined
    await waitFor(
      'the search fails for the lost shards',
      async () => {
        failed = await nodes[0]!.request('POST', '/indexes/thin/search', { q: 'book' })
        return failed.status === 503
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    )
    expect(failed!.body.code).toBe('shards_unavailable')
    for (const shard of lost) expect(failed!.body.message).toContain(String(shard))
    const partial = await nodes[1]!.request<{
      hits: Array<{ id: number }>
      partial: { missingShards: number[] }
    }>('POST', '/indexes/thin/search', { q: 'book', allowPartialResults: true, limit: 1000 })
    expect(partial.status).toBe(200)
    expect(partial.body.partial.missingShards).toEqual(lost)
    expect(partial.body.hits.length).toBeGreaterThan(0)
    expect(partial.body.hits.length).toBeLessThan(docs.length)
  })
})
