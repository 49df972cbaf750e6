import { waitFor } from '@shoal/testkit/wait'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ClusterProcess, startThreeNodeCluster } from './harness/cluster-processes.ts'
import { tempDir } from './harness/server-process.ts'

// The object form of filterableAttributes, typoTolerance.disableOn*, showRankingScoreDetails and
// locales on a sharded index of a real 3-process cluster; showPerformanceDetails refused there.

let scratch: { dir: string; remove: () => Promise<void> }
let nodes: ClusterProcess[] = []

async function write(node: ClusterProcess, method: string, route: string, body?: unknown): Promise<void> {
  const response = await node.request<{ taskUid: number }>(method, route, body)
  expect(response.status, JSON.stringify(response.body)).toBe(202)
  let status = ''
  await waitFor(
    `task ${response.body.taskUid} ended`,
    async () => {
      const task = await node.request<{ status: string }>('GET', `/tasks/${response.body.taskUid}`)
      status = task.status === 200 ? task.body.status : ''
      return ['succeeded', 'failed', 'canceled'].includes(status)
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  )
  expect(status).toBe('succeeded')
}

type Hit = {
  id: number
  _rankingScore: number
  _rankingScoreDetails: Record<string, Record<string, unknown>>
}

beforeAll(async () => {
  scratch = await tempDir('shoal-extras-')
  nodes = await startThreeNodeCluster(scratch.dir, 'search-extras-cluster-key-000000')
  await write(nodes[0]!, 'POST', '/indexes', {
    uid: 'zoo',
    primaryKey: 'id',
    sharding: { shardCount: 3, replicationFactor: 2 },
  })
  await write(nodes[1]!, 'PATCH', '/indexes/zoo/settings', {
    filterableAttributes: [
      'kind',
      {
        attributePatterns: ['we*'],
        features: { facetSearch: false, filter: { equality: true, comparison: false } },
      },
    ],
    typoTolerance: { disableOnAttributes: ['note'] },
  })
  await write(
    nodes[2]!,
    'POST',
    '/indexes/zoo/documents',
    Array.from({ length: 30 }, (_, i) => ({
      id: i,
      name: i % 3 === 0 ? 'elephant' : `animal ${i}`,
      note: i % 3 === 1 ? 'friend of the elephant' : 'grey',
      kind: i % 2 === 0 ? 'big' : 'small',
      weight: i * 10,
    })),
  )
}, 180_000)

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.kill()))
  await scratch?.remove()
})

describe('search extras on a sharded index', () => {
  it('filters by the features of a rule and refuses a disabled operator with invalid_search_filter', async () => {
    const found = await nodes[0]!.request<{ hits: Hit[] }>('POST', '/indexes/zoo/search', {
      filter: 'kind = big AND weight IN [0, 20, 40]',
      limit: 50,
    })
    expect(found.body.hits.map((hit) => hit.id).sort((a, b) => a - b)).toEqual([0, 2, 4])
    const refused = await nodes[1]!.request<{ code: string }>('POST', '/indexes/zoo/search', {
      filter: 'weight > 10',
    })
    expect({ status: refused.status, code: refused.body.code }).toEqual({
      status: 400,
      code: 'invalid_search_filter',
    })
    const settings = await nodes[2]!.request<{ filterableAttributes: unknown[] }>(
      'GET',
      '/indexes/zoo/settings',
    )
    expect(settings.body.filterableAttributes[1]).toEqual({
      attributePatterns: ['we*'],
      features: { facetSearch: false, filter: { equality: true, comparison: false } },
    })
  })

  it('applies disableOnAttributes across shards', async () => {
    // `elephont` reaches `elephant` only through a typo; in `note` that does not count.
    const typo = await nodes[0]!.request<{ hits: Hit[] }>('POST', '/indexes/zoo/search', {
      q: 'elephont',
      limit: 50,
    })
    expect(typo.body.hits.length).toBe(10)
    expect(typo.body.hits.every((hit) => hit.id % 3 === 0)).toBe(true)
    const exact = await nodes[0]!.request<{ hits: Hit[] }>('POST', '/indexes/zoo/search', {
      q: 'elephant',
      limit: 50,
    })
    expect(exact.body.hits.length).toBe(20)
  })

  it('gives _rankingScoreDetails whose bm25 score is _rankingScore, and takes locales', async () => {
    const answer = await nodes[1]!.request<{ hits: Hit[] }>('POST', '/indexes/zoo/search', {
      q: 'elephant',
      showRankingScore: true,
      showRankingScoreDetails: true,
      locales: ['eng'],
    })
    expect(answer.status).toBe(200)
    for (const hit of answer.body.hits) {
      expect(Object.keys(hit._rankingScoreDetails)).toEqual([
        'words',
        'typo',
        'proximity',
        'attribute',
        'exactness',
        'bm25',
      ])
      expect(hit._rankingScoreDetails.bm25!.score).toBe(hit._rankingScore)
    }
  })

  it('answers showPerformanceDetails with the whole gather and the shards it searched', async () => {
    const answer = await nodes[2]!.request<{
      performanceDetails: { search: string; shardsSearched: number; shardsPruned: number }
    }>('POST', '/indexes/zoo/search', { q: 'elephant', showPerformanceDetails: true })
    expect(answer.status).toBe(200)
    expect(answer.body.performanceDetails).toMatchObject({
      search: expect.stringMatching(/^\d+\.\d{2}ms$/),
      shardsPruned: 0,
    })
    expect(answer.body.performanceDetails.shardsSearched).toBeGreaterThan(0)
  })
  // Until nodes route embedding work to the ones with the embed capability, a cluster takes no
  // `rest` embedder: refused at once, never accepted and ignored.
  it('refuses a rest embedder with invalid_settings_embedders, changing nothing', async () => {
    const rest = {
      source: 'rest',
      url: 'http://127.0.0.1:9/embed',
      dimensions: 2,
      request: { text: '{{text}}' },
      response: { embedding: '{{embedding}}' },
    }
    for (const route of ['/indexes/zoo/settings', '/indexes/zoo/settings/embedders']) {
      const body = route.endsWith('embedders') ? { e: rest } : { embedders: { e: rest } }
      const answer = await nodes[1]!.request<{ code: string; message: string }>('PATCH', route, body)
      expect(answer.status).toBe(400)
      expect(answer.body.code).toBe('invalid_settings_embedders')
      expect(answer.body.message).toMatch(/not available on a cluster/)
    }
    const settings = await nodes[2]!.request<{ embedders: unknown }>('GET', '/indexes/zoo/settings')
    expect(settings.body.embedders).toEqual({})
  })
})
