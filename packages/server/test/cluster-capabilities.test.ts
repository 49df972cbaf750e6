import { waitFor } from '@shoal/testkit/wait'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ClusterProcess, startClusterProcess, writeKeyFile } from './harness/cluster-processes.ts'
import { tempDir } from './harness/server-process.ts'

// Issue 21, "Capability routing", on four real processes: two `bm25,vector` nodes, one `bm25`
// node and one `coordinator`. Placement keeps every replica off the coordinator and the vector
// index off the text-only node; answers through the coordinator (which holds nothing, so every
// read goes remote) equal the same requests through a data node.

let scratch: { dir: string; remove: () => Promise<void> }
const nodes: ClusterProcess[] = []
const CAPABILITIES = ['bm25,vector', 'bm25,vector', 'bm25', 'coordinator']
const vectorA = () => nodes[0]!
const textOnly = () => nodes[2]!
const coordinator = () => nodes[3]!

interface TaskView {
  status: string
  error: { code: string; message: string } | null
}

async function enqueueAndWait(node: ClusterProcess, method: string, route: string, body?: unknown) {
  const response = await node.request<{ taskUid: number }>(method, route, body)
  expect(response.status, JSON.stringify(response.body)).toBe(202)
  let task: TaskView | undefined
  await waitFor(
    `task ${response.body.taskUid}`,
    async () => {
      task = (await node.request<TaskView>('GET', `/tasks/${response.body.taskUid}`)).body
      return task.status === 'succeeded' || task.status === 'failed'
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  )
  expect(task?.status, JSON.stringify(task?.error)).toBe('succeeded')
}

/** The body without what differs between two runs of the same request (timings). */
function comparable(body: unknown): unknown {
  return JSON.parse(JSON.stringify(body), (key, value) =>
    key === 'processingTimeMs' || key === 'processingTimeMS' ? undefined : value,
  )
}

/** The same request through the coordinator and through a vector node: the same status and answer. */
async function sameThroughCoordinator(method: string, route: string, body?: unknown): Promise<unknown> {
  const viaData = await vectorA().request<unknown>(method, route, body)
  const viaCoordinator = await coordinator().request<unknown>(method, route, body)
  expect(viaData.status, `${route}: ${JSON.stringify(viaData.body)}`).toBe(200)
  expect(viaCoordinator.status, route).toBe(viaData.status)
  expect(comparable(viaCoordinator.body), route).toEqual(comparable(viaData.body))
  return viaData.body
}

const GENRES = ['poetry', 'history', 'science']
const books = Array.from({ length: 60 }, (_, i) => ({
  id: i,
  title: `book ${i} about ${GENRES[i % 3]} and ${i % 5 === 0 ? 'lighthouses' : 'rivers'}`,
  genre: GENRES[i % 3],
}))
const films = Array.from({ length: 40 }, (_, i) => ({
  id: i,
  title: `film ${i} on ${i % 4 === 0 ? 'oceans' : 'mountains'}`,
  _vectors: { plot: [Math.cos(i / 7), Math.sin(i / 7), (i % 5) / 5 + 0.1] },
}))

beforeAll(async () => {
  scratch = await tempDir('shoal-capabilities-')
  const keyFile = await writeKeyFile(scratch.dir, 'cluster.key', 'capabilities-cluster-key-00000000')
  for (const [i, capabilities] of CAPABILITIES.entries())
    nodes.push(
      await startClusterProcess({
        name: `n${i}`,
        dataDir: `${scratch.dir}/n${i}`,
        keyFile,
        ...(i === 0 ? { bootstrap: true } : { join: [nodes[0]!.gossipAddr] }),
        extraArgs: ['--capabilities', capabilities],
      }),
    )
  await waitFor(
    'four active nodes',
    async () => {
      const view = await vectorA().request<{ nodes: Array<{ state: string; alive: boolean }> }>(
        'GET',
        '/_cluster/nodes',
      )
      return view.body.nodes.filter((n) => n.state === 'active' && n.alive).length === 4
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  )
}, 120_000)

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.kill()))
  await scratch?.remove()
})

describe('a cluster of vector, text-only and coordinator nodes', () => {
  it('shows each node its capabilities and roles', async () => {
    const view = await coordinator().request<{
      nodes: Array<{ id: string; capabilities: string[]; roles: string[] }>
    }>('GET', '/_cluster/nodes')
    const byId = new Map(view.body.nodes.map((n) => [n.id, n]))
    for (const [i, capabilities] of CAPABILITIES.entries())
      expect(byId.get(nodes[i]!.nodeId)?.capabilities).toEqual(capabilities.split(','))
    expect(byId.get(coordinator().nodeId)?.roles).toContain('coordinator')
    expect(byId.get(coordinator().nodeId)?.roles).not.toContain('data')
    expect(byId.get(textOnly().nodeId)?.roles).toContain('data')
    const members = await vectorA().request<{ members: Array<{ id: string; capabilities: string[] }> }>(
      'GET',
      '/cluster/members',
    )
    expect(members.body.members.find((m) => m.id === coordinator().nodeId)?.capabilities).toEqual([
      'coordinator',
    ])
    const health = await coordinator().request<{ number_of_nodes: number; number_of_data_nodes: number }>(
      'GET',
      '/_cluster/health',
    )
    expect(health.body).toMatchObject({ number_of_nodes: 4, number_of_data_nodes: 3 })
  })

  it('places a text index on the data nodes and a vector index on the vector nodes only', async () => {
    await enqueueAndWait(coordinator(), 'POST', '/indexes', { uid: 'books', primaryKey: 'id' })
    await enqueueAndWait(coordinator(), 'POST', '/indexes', {
      uid: 'films',
      primaryKey: 'id',
      sharding: { placement: { capabilities: ['vector'] } },
    })
    const shards = await coordinator().request<{
      indexes: Array<{ indexUid: string; shards: Array<{ replicas: Array<{ node: string }> }> }>
    }>('GET', '/cluster/shards')
    const holders = (uid: string) =>
      new Set(
        shards.body.indexes
          .find((i) => i.indexUid === uid)
          ?.shards.flatMap((s) => s.replicas.map((r) => r.node)),
      )
    expect([...holders('books')].sort()).toEqual(
      [vectorA().nodeId, nodes[1]!.nodeId, textOnly().nodeId].sort(),
    )
    expect([...holders('films')].sort()).toEqual([vectorA().nodeId, nodes[1]!.nodeId].sort())
    expect(holders('books').has(coordinator().nodeId)).toBe(false)
  })

  it('refuses an embedder on an index with replicas on the text-only node, naming it, and enqueues nothing', async () => {
    const before = await coordinator().request<{ total: number }>('GET', '/tasks?limit=1')
    const refused = await coordinator().request<{ code: string; message: string }>(
      'PATCH',
      '/indexes/books/settings',
      { embedders: { plot: { source: 'userProvided', dimensions: 3 } } },
    )
    expect(refused.status).toBe(400)
    expect(refused.body.code).toBe('missing_node_capability')
    expect(refused.body.message).toContain(textOnly().nodeId)
    const after = await coordinator().request<{ total: number }>('GET', '/tasks?limit=1')
    expect(after.body.total).toBe(before.body.total)
  })

  it('answers searches, documents, facets, similar and stats through the coordinator as through a data node', async () => {
    await enqueueAndWait(coordinator(), 'PATCH', '/indexes/books/settings', {
      filterableAttributes: ['genre'],
    })
    await enqueueAndWait(coordinator(), 'PATCH', '/indexes/films/settings', {
      embedders: { plot: { source: 'userProvided', dimensions: 3 } },
    })
    await enqueueAndWait(coordinator(), 'POST', '/indexes/books/documents', books)
    await enqueueAndWait(coordinator(), 'POST', '/indexes/films/documents', films)

    const hits = (await sameThroughCoordinator('POST', '/indexes/books/search', {
      q: 'lighthouses',
      filter: 'genre = poetry',
      facets: ['genre'],
    })) as { estimatedTotalHits: number }
    expect(hits.estimatedTotalHits).toBeGreaterThan(0)
    await sameThroughCoordinator('POST', '/indexes/books/search', { q: 'rivers', consistency: 'eventual' })
    const hybrid = (await sameThroughCoordinator('POST', '/indexes/films/search', {
      q: 'oceans',
      vector: [1, 0, 0.5],
      hybrid: { embedder: 'plot', semanticRatio: 0.6 },
      limit: 5,
    })) as { hits: unknown[] }
    expect(hybrid.hits).toHaveLength(5)
    await sameThroughCoordinator('POST', '/indexes/films/similar', { id: 3, embedder: 'plot', limit: 4 })
    await sameThroughCoordinator('POST', '/multi-search', {
      queries: [
        { indexUid: 'books', q: 'science' },
        { indexUid: 'films', q: 'mountains', vector: [0, 1, 0.2], hybrid: { embedder: 'plot' } },
      ],
    })
    await sameThroughCoordinator('POST', '/indexes/books/facet-search', {
      facetName: 'genre',
      facetQuery: 'hist',
    })
    await sameThroughCoordinator('GET', '/indexes/films/documents/7?retrieveVectors=true')
    await sameThroughCoordinator('GET', '/indexes/books/documents?limit=15&offset=10')
    const stats = (await sameThroughCoordinator('GET', '/indexes/films/stats')) as {
      numberOfDocuments: number
    }
    expect(stats.numberOfDocuments).toBe(films.length)
  })

  it('places an index created by a settings update with embedders on the vector nodes', async () => {
    await enqueueAndWait(coordinator(), 'PATCH', '/indexes/clips/settings', {
      embedders: { plot: { source: 'userProvided', dimensions: 3 } },
    })
    const shards = await coordinator().request<{
      shards: Array<{ replicas: Array<{ node: string }> }>
    }>('GET', '/indexes/clips/_shards')
    const holders = new Set(shards.body.shards.flatMap((s) => s.replicas.map((r) => r.node)))
    expect([...holders].sort()).toEqual([vectorA().nodeId, nodes[1]!.nodeId].sort())
  })
})
