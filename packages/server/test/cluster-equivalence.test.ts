import { Rng, testSeed } from '@shoal/testkit/rng'
import {
  type CorpusDoc,
  corpusSearchParams,
  corpusSettings,
  loadSearchCorpus,
} from '@shoal/testkit/search-corpus'
import { waitFor } from '@shoal/testkit/wait'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ClusterProcess, MASTER_KEY, startThreeNodeCluster } from './harness/cluster-processes.ts'
import { type ServerProcess, startServerProcess, tempDir } from './harness/server-process.ts'

// A 3-node cluster holding an index of 6 shards with replication factor 3 answers exactly like
// one standalone node holding the same documents: the same Debian-corpus documents and writes go
// to both, then generated queries of every kind (keyword, filtered, faceted, sorted, paginated,
// vector, hybrid, placeholder; ranking scores shown) are asked of the single node and, in turn,
// of every cluster node. The answers must be equal in full, `processingTimeMs` aside. The same
// documents also fill a `field`-sharded index (by `section`, which the generated filters pin, so
// its searches are pruned to fewer shards): it must answer exactly like the single node too.

const SEED = testSeed(20261207)
const DIMENSIONS = 16
const QUERIES = 200

let scratch: { dir: string; remove: () => Promise<void> }
let nodes: ClusterProcess[] = []
let single: ServerProcess
let docs: CorpusDoc[]
const rng = new Rng(SEED)

async function call<T>(
  url: string,
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${url}${route}`, {
    method,
    headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(60_000),
  })
  const text = await response.text()
  return { status: response.status, body: (text === '' ? null : JSON.parse(text)) as T }
}

/**
 * Runs the same write on the single node and the cluster (both cluster indexes), and waits for
 * every task to succeed. The single node and the cluster work at the same time; the cluster runs
 * its two tasks in order.
 */
async function writeBoth(method: string, route: string, body: unknown): Promise<void> {
  const writes: [string, string][] = [
    [single.url, route],
    [nodes[0]!.url, route],
    [nodes[1]!.url, route.replace('/indexes/pkgs/', '/indexes/pkgs_by_section/')],
  ]
  const enqueued: { url: string; taskUid: number }[] = []
  for (const [url, path] of writes) {
    const answer = await call<{ taskUid: number }>(url, method, path, body)
    expect(answer.status, JSON.stringify(answer.body)).toBe(202)
    enqueued.push({ url, taskUid: answer.body.taskUid })
  }
  for (const { url, taskUid } of enqueued) {
    await waitFor(
      `task ${taskUid} on ${url}`,
      async () => {
        const task = await call<{ status: string; error: unknown }>(url, 'GET', `/tasks/${taskUid}`)
        if (task.body?.status === 'failed') throw new Error(`task failed: ${JSON.stringify(task.body.error)}`)
        return task.body?.status === 'succeeded'
      },
      { timeoutMs: 120_000, intervalMs: 100 },
    )
  }
}

function withoutTime(result: Record<string, unknown>): Record<string, unknown> {
  const { processingTimeMs: _, ...rest } = result
  return rest
}

beforeAll(async () => {
  scratch = await tempDir('shoal-equivalence-')
  // Both sides apply Meilisearch's default matching strategy (`last`) to searches that name none.
  single = await startServerProcess(`${scratch.dir}/single`, ['--master-key', MASTER_KEY])
  nodes = await startThreeNodeCluster(scratch.dir, 'equivalence-cluster-key-000000000')
  docs = loadSearchCorpus(rng, { every: 21, dimensions: DIMENSIONS })
  const settings = corpusSettings(DIMENSIONS)
  const created = await call<{ taskUid: number }>(single.url, 'POST', '/indexes', {
    uid: 'pkgs',
    primaryKey: 'id',
  })
  expect(created.status).toBe(202)
  const sharded = await call<{ taskUid: number }>(nodes[1]!.url, 'POST', '/indexes', {
    uid: 'pkgs',
    primaryKey: 'id',
    sharding: { shardCount: 6, replicationFactor: 3 },
  })
  expect(sharded.status, JSON.stringify(sharded.body)).toBe(202)
  const bySection = await call<{ taskUid: number }>(nodes[2]!.url, 'POST', '/indexes', {
    uid: 'pkgs_by_section',
    primaryKey: 'id',
    sharding: { strategy: 'field', field: 'section', shardCount: 6, replicationFactor: 3 },
  })
  expect(bySection.status, JSON.stringify(bySection.body)).toBe(202)
  await writeBoth('PATCH', '/indexes/pkgs/settings', settings)
  for (let at = 0; at < docs.length; at += 1000)
    await writeBoth('POST', '/indexes/pkgs/documents', docs.slice(at, at + 1000))
  // Updates and deletions, so internal ids are reused and removed postings linger differently.
  const updates = Array.from({ length: 150 }, () => {
    const doc = docs[rng.int(docs.length)]!
    return { id: doc.id, summary: docs[rng.int(docs.length)]!.summary, size: rng.int(400) }
  })
  await writeBoth('PUT', '/indexes/pkgs/documents', updates)
  // Shard key changes: in the field-sharded index these documents move to another shard.
  const moves = Array.from({ length: 40 }, () => ({
    id: docs[rng.int(docs.length)]!.id,
    section: docs[rng.int(docs.length)]!.section,
  }))
  await writeBoth('PUT', '/indexes/pkgs/documents', moves)
  await writeBoth(
    'POST',
    '/indexes/pkgs/documents/delete-batch',
    Array.from({ length: 100 }, () => docs[rng.int(docs.length)]!.id),
  )
}, 400_000)

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.kill()))
  await single?.stop('SIGKILL')
  await scratch?.remove()
})

describe(`a 3-node cluster with 6 shards answers like one node (SEED=${SEED})`, () => {
  it(`answers ${QUERIES} generated queries identically through every node`, async () => {
    const kinds = { keyword: 0, vector: 0, hybrid: 0, placeholder: 0, withHits: 0, pruned: 0 }
    for (let n = 0; n < QUERIES; n++) {
      const params = corpusSearchParams(rng, docs, DIMENSIONS)
      const expected = await call<Record<string, unknown>>(single.url, 'POST', '/indexes/pkgs/search', params)
      expect(expected.status, JSON.stringify(expected.body)).toBe(200)
      if ((expected.body.hits as unknown[]).length > 0) kinds.withHits++
      kinds[params.hybrid ? 'hybrid' : params.vector ? 'vector' : params.q ? 'keyword' : 'placeholder']++
      // Every node in turn; the first queries through all three.
      const via = n < 10 ? nodes : [nodes[n % nodes.length]!]
      for (const node of via) {
        const actual = await call<Record<string, unknown>>(node.url, 'POST', '/indexes/pkgs/search', params)
        expect(actual.status, JSON.stringify(actual.body)).toBe(200)
        expect(withoutTime(actual.body), `query ${n} via ${node.name}: ${JSON.stringify(params)}`).toEqual(
          withoutTime(expected.body),
        )
      }
      // The field-sharded index, through one node in turn, with its pruning shown: every filtered
      // query (the filters pinning `section` are pruned) and one in four of the others.
      if (params.filter === undefined && n % 4 !== 0) continue
      const node = nodes[(n + 1) % nodes.length]!
      const byField = await call<Record<string, unknown>>(
        node.url,
        'POST',
        '/indexes/pkgs_by_section/search',
        {
          ...params,
          showPerformanceDetails: true,
        },
      )
      expect(byField.status, JSON.stringify(byField.body)).toBe(200)
      const { performanceDetails, ...answer } = byField.body as {
        performanceDetails: { shardsPruned: number }
      }
      if (performanceDetails.shardsPruned > 0) kinds.pruned++
      expect(
        withoutTime(answer),
        `query ${n} by section via ${node.name}: ${JSON.stringify(params)}`,
      ).toEqual(withoutTime(expected.body))
    }
    expect(kinds.pruned).toBeGreaterThan(10)
    expect(kinds.keyword).toBeGreaterThan(50)
    expect(kinds.vector + kinds.hybrid).toBeGreaterThan(50)
    expect(kinds.placeholder).toBeGreaterThan(10)
    expect(kinds.withHits).toBeGreaterThan(QUERIES / 2)
  }, 400_000)

  it('answers similar documents identically, errors included', async () => {
    const pick = () => docs[rng.int(docs.length)]!
    const cases: Record<string, unknown>[] = []
    for (let n = 0; n < 3; n++) {
      const doc = pick()
      cases.push(
        { id: doc.id, embedder: 'default' },
        { id: doc.id, embedder: 'default', offset: 3, limit: 5, showRankingScore: true },
        {
          id: doc.id,
          embedder: 'default',
          filter: `section = "${pick().section}"`,
          attributesToRetrieve: ['id', 'package'],
          showRankingScore: true,
        },
        { id: doc.id, embedder: 'default', rankingScoreThreshold: 0.6, limit: 40, showRankingScore: true },
        { id: String(doc.id), embedder: 'default', filter: 'size > 200', offset: 10, limit: 10 },
        { id: doc.id, embedder: 'default', retrieveVectors: true, limit: 2 },
      )
    }
    cases.push(
      { id: 'no-such-document', embedder: 'default' },
      { id: pick().id, embedder: 'other' },
      { id: pick().id, embedder: 'default', filter: 'nowhere = 1' },
      { id: pick().id, embedder: 'default', limit: -1 },
      { id: 'not an id', embedder: 'default' },
    )
    let withHits = 0
    for (const [n, body] of cases.entries()) {
      const expected = await call<Record<string, unknown>>(single.url, 'POST', '/indexes/pkgs/similar', body)
      if (expected.status === 200 && (expected.body.hits as unknown[]).length > 0) withHits++
      const via: [ClusterProcess, string][] = [
        [nodes[n % nodes.length]!, 'pkgs'],
        [nodes[(n + 1) % nodes.length]!, 'pkgs_by_section'],
      ]
      for (const [node, uid] of via) {
        const actual = await call<Record<string, unknown>>(node.url, 'POST', `/indexes/${uid}/similar`, body)
        const what = `similar ${n} on ${uid} via ${node.name}: ${JSON.stringify(body)}`
        expect(actual.status, `${what}: ${JSON.stringify(actual.body)}`).toBe(expected.status)
        expect(withoutTime(actual.body), what).toEqual(withoutTime(expected.body))
      }
    }
    expect(withHits).toBeGreaterThan(cases.length / 2)
  }, 120_000)

  it('lists documents by ids, filter and sort identically', async () => {
    const someIds = (count: number) => Array.from({ length: count }, () => docs[rng.int(docs.length)]!.id)
    const section = docs[rng.int(docs.length)]!.section
    const requests: [string, string, unknown?][] = [
      ['GET', '/documents?sort=size:desc&offset=5&limit=30'],
      [
        'GET',
        `/documents?sort=package:asc,size:desc&fields=id,package&filter=${encodeURIComponent(`section = "${section}"`)}`,
      ],
      ['GET', `/documents?ids=${someIds(12).join(',')}&sort=size:asc&fields=id,size`],
      ['GET', '/documents?sort=size:asc&limit=3&retrieveVectors=true'],
      [
        'POST',
        '/documents/fetch',
        { ids: [...someIds(40), 999_999_999], sort: ['size:asc'], fields: ['id', 'size'] },
      ],
      [
        'POST',
        '/documents/fetch',
        { ids: someIds(60), filter: 'size > 100', sort: ['package:desc'], offset: 2, limit: 7 },
      ],
      [
        'POST',
        '/documents/fetch',
        { filter: 'popular = true', sort: ['size:desc', 'package:asc'], limit: 100 },
      ],
      ['POST', '/documents/fetch', { sort: ['size:asc'], offset: 990, limit: 20 }],
      ['POST', '/documents/fetch', { sort: ['summary:asc'] }],
      ['GET', '/documents?ids=bad%20id'],
    ]
    for (const [n, [method, route, body]] of requests.entries()) {
      const expected = await call<Record<string, unknown>>(single.url, method, `/indexes/pkgs${route}`, body)
      for (const [node, uid] of [
        [nodes[n % nodes.length]!, 'pkgs'],
        [nodes[(n + 2) % nodes.length]!, 'pkgs_by_section'],
      ] as const) {
        const actual = await call<Record<string, unknown>>(node.url, method, `/indexes/${uid}${route}`, body)
        const what = `${method} ${route} ${JSON.stringify(body)} on ${uid} via ${node.name}`
        expect(actual.status, `${what}: ${JSON.stringify(actual.body)}`).toBe(expected.status)
        expect(actual.body, what).toEqual(expected.body)
      }
    }
    // Without `sort` one node lists in its internal order, a cluster in primary key order.
    const ids = someIds(30)
    const one = await call<{ results: { id: number }[]; total: number }>(
      single.url,
      'POST',
      '/indexes/pkgs/documents/fetch',
      {
        ids,
        fields: ['id'],
        limit: 100,
      },
    )
    const sharded = await call<{ results: { id: number }[]; total: number }>(
      nodes[1]!.url,
      'POST',
      '/indexes/pkgs/documents/fetch',
      {
        ids,
        fields: ['id'],
        limit: 100,
      },
    )
    expect(sharded.body.total).toBe(one.body.total)
    expect(sharded.body.results).toEqual([...one.body.results].sort((a, b) => a.id - b.id))
  }, 120_000)

  it('lists the same documents and statistics', async () => {
    const one = await call<{ numberOfDocuments: number; fieldDistribution: unknown }>(
      single.url,
      'GET',
      '/indexes/pkgs/stats',
    )
    for (const node of nodes) {
      for (const uid of ['pkgs', 'pkgs_by_section']) {
        const stats = await call<{ numberOfDocuments: number; fieldDistribution: unknown }>(
          node.url,
          'GET',
          `/indexes/${uid}/stats`,
        )
        expect(stats.body.numberOfDocuments).toBe(one.body.numberOfDocuments)
        expect(stats.body.fieldDistribution).toEqual(one.body.fieldDistribution)
      }
    }
  })
})
