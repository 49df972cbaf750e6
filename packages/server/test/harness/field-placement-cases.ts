import { waitFor } from '@shoal/testkit/wait'
import { beforeAll, describe, expect, it } from 'vitest'
import type { ClusterProcess } from './cluster-processes.ts'

// `field` sharding, shard pruning, node labels and placement constraints, on the real 3-process
// cluster of cluster-sharded.test.ts started with `FIELD_PLACEMENT_LABELS` (n0 eu/hot/ssd,
// n1 us/hot, n2 eu/warm). Kept apart so that file stays readable; it shares the processes.

/** Per node: the arguments these cases expect the cluster to be started with. */
export const FIELD_PLACEMENT_LABELS = [
  ['--region', 'eu', '--label', 'tier=hot', '--label', 'disk=ssd'],
  ['--region', 'us', '--label', 'tier=hot'],
  ['--region', 'eu', '--label', 'tier=warm'],
]

interface TaskView {
  status: string
  error: { code: string; message: string } | null
  details: Record<string, unknown> | null
}

async function run(node: ClusterProcess, method: string, route: string, body?: unknown): Promise<TaskView> {
  const response = await node.request<{ taskUid: number }>(method, route, body)
  expect(response.status, JSON.stringify(response.body)).toBe(202)
  let task: TaskView | undefined
  await waitFor(
    `task ${response.body.taskUid} ended`,
    async () => {
      const view = await node.request<TaskView>('GET', `/tasks/${response.body.taskUid}`)
      task = view.status === 200 ? view.body : undefined
      return task !== undefined && ['succeeded', 'failed', 'canceled'].includes(task.status)
    },
    { timeoutMs: 60_000, intervalMs: 50 },
  )
  return task!
}

interface SearchAnswer {
  hits: Array<{ id: number; tenant: string }>
  estimatedTotalHits: number
  performanceDetails: { shardsSearched: number; shardsPruned: number; searchedShards: number[] }
}

const TENANTS = Array.from({ length: 12 }, (_, i) => `tenant-${i}`)
const docs = Array.from({ length: 180 }, (_, i) => ({
  id: i,
  tenant: TENANTS[i % TENANTS.length]!,
  title: `invoice ${i} for ${i % 5 === 0 ? 'lighthouse' : 'harbour'} repairs`,
}))

/** The cases; `cluster()` gives the running nodes (at least three, all up). */
export function describeFieldShardingAndPlacement(cluster: () => readonly ClusterProcess[]): void {
  let nodes: readonly ClusterProcess[] = []
  describe('field sharding, node labels and placement constraints', () => {
    beforeAll(async () => {
      nodes = cluster()
      const created = await run(nodes[0]!, 'POST', '/indexes', {
        uid: 'invoices',
        primaryKey: 'id',
        sharding: { strategy: 'field', field: 'tenant', shardCount: 4, replicationFactor: 2 },
      })
      expect(created.status, JSON.stringify(created.error)).toBe('succeeded')
      const settings = await run(nodes[1]!, 'PATCH', '/indexes/invoices/settings', {
        filterableAttributes: ['tenant', 'id'],
      })
      expect(settings.status).toBe('succeeded')
      const added = await run(nodes[2]!, 'POST', '/indexes/invoices/documents', docs)
      expect(added.status, JSON.stringify(added.error)).toBe('succeeded')
    }, 60_000)

    describe('a field-sharded index', () => {
      it('keeps one tenant in one shard, and searches pinned to tenants only their shards', async () => {
        const one = await nodes[1]!.request<SearchAnswer>('POST', '/indexes/invoices/search', {
          q: 'lighthouse',
          filter: 'tenant = TENANT-5',
          showPerformanceDetails: true,
        })
        expect(one.status, JSON.stringify(one.body)).toBe(200)
        expect(one.body.performanceDetails).toMatchObject({ shardsSearched: 1, shardsPruned: 3 })
        const expected = docs
          .filter((d) => d.tenant === 'tenant-5' && d.title.includes('lighthouse'))
          .map((d) => d.id)
        expect(one.body.hits.map((h) => h.id).sort((a, b) => a - b)).toEqual(expected)

        const some = await nodes[2]!.request<SearchAnswer>('POST', '/indexes/invoices/search', {
          filter: [['tenant = tenant-1', 'tenant = tenant-2'], 'id > 10'],
          showPerformanceDetails: true,
          limit: 200,
        })
        expect(some.body.performanceDetails.shardsSearched).toBeLessThanOrEqual(2)
        expect(some.body.hits.map((h) => h.id).sort((a, b) => a - b)).toEqual(
          docs.filter((d) => ['tenant-1', 'tenant-2'].includes(d.tenant) && d.id > 10).map((d) => d.id),
        )
        const listed = await nodes[0]!.request<SearchAnswer>('POST', '/indexes/invoices/search', {
          filter: 'tenant IN [tenant-3, tenant-4] AND id < 100',
          showPerformanceDetails: true,
          limit: 200,
        })
        expect(listed.body.performanceDetails.shardsSearched).toBeLessThanOrEqual(2)
        expect(listed.body.estimatedTotalHits).toBe(
          docs.filter((d) => ['tenant-3', 'tenant-4'].includes(d.tenant) && d.id < 100).length,
        )
        // Not pinned: every shard.
        for (const filter of ['tenant != tenant-5', 'id = 3', 'NOT tenant = tenant-5'])
          expect(
            (
              await nodes[0]!.request<SearchAnswer>('POST', '/indexes/invoices/search', {
                filter,
                showPerformanceDetails: true,
              })
            ).body.performanceDetails,
          ).toMatchObject({ shardsSearched: 4, shardsPruned: 0 })
      })

      it('refuses a batch with a missing or invalid shard key as a whole', async () => {
        for (const [bad, message] of [
          [{ id: 1000, title: 'no tenant' }, /position 1 has no `tenant` attribute/],
          [{ id: 1000, tenant: 2.5 }, /`tenant` must be a non-empty string or an integer/],
          [{ id: 1000, tenant: ['a', 'b'] }, /invalid shard key/],
          [{ id: 1000, tenant: { name: 'a' } }, /invalid shard key/],
        ] as const) {
          const task = await run(nodes[0]!, 'POST', '/indexes/invoices/documents', [
            { id: 999, tenant: 'tenant-0', title: 'fine' },
            bad,
          ])
          expect(task.status).toBe('failed')
          expect(task.error?.code).toBe('invalid_document_shard_key')
          expect(task.error?.message).toMatch(message)
        }
        const stats = await nodes[1]!.request<{ numberOfDocuments: number }>('GET', '/indexes/invoices/stats')
        expect(stats.body.numberOfDocuments).toBe(docs.length)
        expect((await nodes[2]!.request('GET', '/indexes/invoices/documents/999')).status).toBe(404)
      })

      it('moves a document whose shard key changes; readers see it exactly once throughout', async () => {
        // Two tenants in different shards, as pruning reports them.
        const shardOf = async (tenant: string) =>
          (
            await nodes[0]!.request<SearchAnswer>('POST', '/indexes/invoices/search', {
              filter: `tenant = ${tenant}`,
              showPerformanceDetails: true,
            })
          ).body.performanceDetails.searchedShards[0]
        const from = 'tenant-7'
        let to = 'tenant-0'
        for (const candidate of TENANTS)
          if ((await shardOf(candidate)) !== (await shardOf(from))) to = candidate
        expect(await shardOf(to)).not.toBe(await shardOf(from))
        const id = 7 // starts in `from`
        const seen = { byId: new Set<string>(), bySearch: new Set<string>(), reads: 0 }
        const anomalies: string[] = []
        let writing = true
        const reader = async (node: ClusterProcess) => {
          while (writing) {
            const doc = await node.request<{ tenant: string }>('GET', `/indexes/invoices/documents/${id}`)
            if (doc.status !== 200) anomalies.push(`GET via ${node.name}: ${doc.status}`)
            else seen.byId.add(doc.body.tenant)
            const found = await node.request<SearchAnswer>('POST', '/indexes/invoices/search', {
              filter: `id = ${id}`,
            })
            if (found.body.hits.length !== 1)
              anomalies.push(`search via ${node.name}: ${found.body.hits.length} hits`)
            else seen.bySearch.add(found.body.hits[0]!.tenant)
            seen.reads++
          }
        }
        const readers = nodes.map(reader)
        try {
          for (let round = 0; round < 1; round++) {
            // A partial update (the rest of the document comes along) and a full replacement.
            const there = await run(nodes[round % 3]!, 'PUT', '/indexes/invoices/documents', [
              { id, tenant: to },
            ])
            expect(there.status, JSON.stringify(there.error)).toBe('succeeded')
            const back = await run(nodes[(round + 1) % 3]!, 'POST', '/indexes/invoices/documents', [
              { ...docs[id]!, tenant: from },
            ])
            expect(back.status, JSON.stringify(back.error)).toBe('succeeded')
          }
          const final = await run(nodes[0]!, 'PUT', '/indexes/invoices/documents', [{ id, tenant: to }])
          expect(final.status).toBe('succeeded')
        } finally {
          writing = false
          await Promise.all(readers)
        }
        expect(anomalies).toEqual([])
        expect(seen.reads).toBeGreaterThan(10)
        expect([...seen.byId].sort()).toEqual([from, to].sort())
        const moved = await nodes[1]!.request<{ tenant: string; title: string }>(
          'GET',
          `/indexes/invoices/documents/${id}`,
        )
        expect(moved.body).toEqual({ ...docs[id], tenant: to })
        const old = await nodes[2]!.request<SearchAnswer>('POST', '/indexes/invoices/search', {
          filter: `tenant = ${from} AND id = ${id}`,
        })
        expect(old.body.hits).toEqual([])
        const stats = await nodes[0]!.request<{ numberOfDocuments: number }>('GET', '/indexes/invoices/stats')
        expect(stats.body.numberOfDocuments).toBe(docs.length)
        // Deleting by id finds the document wherever it lives.
        const deleted = await run(nodes[2]!, 'POST', '/indexes/invoices/documents/delete-batch', [id])
        expect(deleted.details).toMatchObject({ deletedDocuments: 1 })
        expect((await nodes[0]!.request('GET', `/indexes/invoices/documents/${id}`)).status).toBe(404)
      })
    })

    describe('node labels and placement constraints', () => {
      it('lists each node with its labels', async () => {
        const members = await nodes[2]!.request<{
          members: Array<{ id: string; region: string; labels: Record<string, string> }>
        }>('GET', '/cluster/members')
        const byId = new Map(members.body.members.map((m) => [m.id, m]))
        expect(byId.get(nodes[0]!.nodeId)).toMatchObject({
          region: 'eu',
          labels: { tier: 'hot', disk: 'ssd' },
        })
        expect(byId.get(nodes[1]!.nodeId)).toMatchObject({ region: 'us', labels: { tier: 'hot' } })
        expect(byId.get(nodes[2]!.nodeId)).toMatchObject({ region: 'eu', labels: { tier: 'warm' } })
      })

      it('places replicas only where required, leaders where preferred, and refuses what cannot be met', async () => {
        const created = await run(nodes[2]!, 'POST', '/indexes', {
          uid: 'hot',
          primaryKey: 'id',
          sharding: {
            shardCount: 3,
            replicationFactor: 2,
            placement: { require: { tier: 'hot' }, spreadBy: 'region', leaderPrefers: { region: 'us' } },
          },
        })
        expect(created.status, JSON.stringify(created.error)).toBe('succeeded')
        const hot = [nodes[0]!.nodeId, nodes[1]!.nodeId].sort()
        let layout: Array<{ leader: string | null; replicas: Array<{ node: string }> }> = []
        await waitFor(
          'every shard led from region us',
          async () => {
            const view = await nodes[0]!.request<{ shards: typeof layout }>('GET', '/indexes/hot/_shards')
            layout = view.body.shards
            return layout.every((s) => s.leader === nodes[1]!.nodeId)
          },
          { timeoutMs: 30_000, intervalMs: 200 },
        )
        for (const shard of layout) expect(shard.replicas.map((r) => r.node).sort()).toEqual(hot)
        const health = await nodes[1]!.request<{ status: string }>('GET', '/_cluster/health')
        expect(health.body.status).toBe('green')

        for (const [placement, message] of [
          [{ require: { tier: 'hot' } }, /2 active nodes qualify with tier=hot/],
          [{ spreadBy: 'region' }, /span 2 values of `region`/],
          [{ require: { disk: 'nvme' } }, /no active data node meets/],
        ] as const) {
          const refused = await nodes[0]!.request<{ code: string; message: string }>('POST', '/indexes', {
            uid: 'refused',
            sharding: { replicationFactor: 3, placement },
          })
          expect(refused.status, JSON.stringify(refused.body)).toBe(400)
          expect(refused.body.code).toBe('unsatisfiable_placement')
          expect(refused.body.message).toMatch(message)
        }
        const malformed = await nodes[0]!.request<{ code: string }>('POST', '/indexes', {
          uid: 'refused',
          sharding: { placement: { require: { tier: 1 } } },
        })
        expect(malformed.body.code).toBe('invalid_sharding')
      })
    })
  })
}
