import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { waitFor } from '@shoal/testkit/wait'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ClusterProcess, startThreeNodeCluster } from './harness/cluster-processes.ts'
import { metrics, sample } from './harness/metrics-text.ts'
import { regionAddressOf, regionArgs } from './harness/regions.ts'
import { tempDir } from './harness/server-process.ts'

// Two regions, each a real 3-process cluster (docs/multi-region.md, "Regions made of clusters"):
// eu shards `items` over 3 shards, us over 2, so every remote write is re-hashed. Writes made in
// both before the link conflict and settle by last-writer-wins with every loser logged; writes in
// both after it converge, and a kill -9 of a shard leader in eu loses no committed write of the feed.

let scratch: { dir: string; remove: () => Promise<void> }
let eu: ClusterProcess[] = []
let us: ClusterProcess[] = []

interface Task {
  status: string
  error: { code: string } | null
}

async function ask<T>(nodes: readonly ClusterProcess[], method: string, route: string, body?: unknown) {
  let last: unknown
  for (const node of nodes) {
    try {
      return await node.request<T>(method, route, body)
    } catch (error) {
      last = error
    }
  }
  throw last
}

async function write(nodes: readonly ClusterProcess[], docs: object[]): Promise<boolean> {
  const response = await ask<{ taskUid: number }>(nodes, 'POST', '/indexes/items/documents', docs)
  if (response.status !== 202) return false
  let task: Task | undefined
  await waitFor(
    `task ${response.body.taskUid}`,
    async () => {
      task = (await ask<Task>(nodes, 'GET', `/tasks/${response.body.taskUid}`)).body
      return ['succeeded', 'failed', 'canceled'].includes(task?.status ?? '')
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  )
  return task?.status === 'succeeded'
}

async function documents(nodes: readonly ClusterProcess[]): Promise<Map<string, unknown>> {
  const page = await ask<{ results: Array<{ id: number }> }>(
    nodes,
    'GET',
    '/indexes/items/documents?limit=10000',
  )
  return new Map((page.body.results ?? []).map((d) => [String(d.id), d]))
}

function regionAddress(node: ClusterProcess): string {
  const address = regionAddressOf(node.output())
  if (address === undefined) throw new Error(`no region address in the output of ${node.name}`)
  return address
}

beforeAll(async () => {
  scratch = await tempDir('shoal-region-clusters-')
  const keyFile = path.join(scratch.dir, 'region.key')
  await writeFile(keyFile, 'region-clusters-test-key-0123456789\n', { mode: 0o600 })
  await mkdir(path.join(scratch.dir, 'eu'))
  await mkdir(path.join(scratch.dir, 'us'))
  eu = await startThreeNodeCluster(
    path.join(scratch.dir, 'eu'),
    'region-clusters-eu-key-00000000',
    regionArgs('eu', keyFile, ['items']),
  )
  us = await startThreeNodeCluster(
    path.join(scratch.dir, 'us'),
    'region-clusters-us-key-00000000',
    regionArgs('us', keyFile, ['items']),
  )
  for (const [nodes, shardCount] of [
    [eu, 3],
    [us, 2],
  ] as const) {
    const created = await ask<{ taskUid: number }>(nodes, 'POST', '/indexes', {
      uid: 'items',
      primaryKey: 'id',
      sharding: { shardCount, replicationFactor: 3 },
    })
    expect(created.status).toBe(202)
    await waitFor(
      'index created',
      async () =>
        (await ask<Task>(nodes, 'GET', `/tasks/${created.body.taskUid}`)).body.status === 'succeeded',
      {
        timeoutMs: 60_000,
      },
    )
  }
}, 240_000)

afterAll(async () => {
  await Promise.all([...eu, ...us].map((n) => n.kill()))
  await scratch?.remove()
})

describe('regions made of clusters', () => {
  it('settles writes made before the link by last-writer-wins, logging every loser in both regions', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => i)
    // eu writes first, us later: us's versions are later everywhere.
    expect(
      await write(
        eu,
        ids.map((id) => ({ id, from: 'eu' })),
      ),
    ).toBe(true)
    await new Promise((r) => setTimeout(r, 20))
    expect(
      await write(
        us,
        ids.map((id) => ({ id, from: 'us' })),
      ),
    ).toBe(true)
    for (const node of eu)
      expect((await node.request('PATCH', '/admin/regions', { seeds: us.map(regionAddress) })).status).toBe(
        200,
      )
    for (const node of us)
      expect((await node.request('PATCH', '/admin/regions', { seeds: eu.map(regionAddress) })).status).toBe(
        200,
      )
    await waitFor(
      'both regions serve us’s versions',
      async () => {
        const [a, b] = [await documents(eu), await documents(us)]
        return ids.every(
          (id) =>
            (a.get(String(id)) as { from?: string })?.from === 'us' &&
            (b.get(String(id)) as { from?: string })?.from === 'us',
        )
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    )
    for (const region of [eu, us])
      await waitFor(
        'every loser in the conflict log',
        async () => {
          const log = await ask<{
            results: Array<{
              documentId: string
              loser: { region: string; document: { from?: string } }
              winner: { region: string }
            }>
          }>(region, 'GET', '/admin/conflicts')
          const losers = new Set(
            log.body.results
              .filter(
                (c) => c.loser.region === 'eu' && c.loser.document?.from === 'eu' && c.winner.region === 'us',
              )
              .map((c) => c.documentId),
          )
          return ids.every((id) => losers.has(String(id)))
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      )
  }, 120_000)

  it('exports shoal_region_* on cluster nodes: entries published and applied, each losing write counted once, lag 0 once caught up', async () => {
    for (const [region, other] of [
      [eu, 'us'],
      [us, 'eu'],
    ] as const) {
      const total = (await ask<{ total: number }>(region, 'GET', '/admin/conflicts')).body.total
      expect(total).toBeGreaterThanOrEqual(20)
      let texts: string[] = []
      const sum = (name: string, labels: Record<string, string> = {}) =>
        texts.reduce((n, text) => n + sample(text, name, labels), 0)
      // Conflicts are logged by every replica and counted by each shard's leader alone.
      await waitFor(
        `${other}'s losing writes counted once`,
        async () => {
          texts = await Promise.all(region.map(metrics))
          return (
            sum('shoal_region_conflicts_total', { index: 'items' }) === total &&
            sum('shoal_region_lag_entries', { region: other }) === 0
          )
        },
        { timeoutMs: 20_000, intervalMs: 250 },
      )
      expect(sum('shoal_region_entries_published_total')).toBeGreaterThan(0)
      expect(sum('shoal_region_entries_applied_total', { region: other })).toBeGreaterThan(0)
      expect(sum('shoal_region_replication_delay_seconds_count', { region: other })).toBeGreaterThan(0)
      expect(sum('shoal_region_feed_bytes_total', { direction: 'sent' })).toBeGreaterThan(0)
      expect(sum('shoal_region_feed_bytes_total', { direction: 'received' })).toBeGreaterThan(0)
      expect(sum('shoal_region_lag_seconds', { region: other })).toBe(0)
      expect(sum('shoal_region_feed_rejected_total')).toBe(0)
    }
  }, 60_000)

  it('converges under writes in both regions, losing no committed write when a shard leader in eu is killed', async () => {
    const acknowledged = new Map<string, string>()
    let next = 1000
    let killed = false
    let euAfterKill = 0
    // Writes until `until`, and in eu until 3 batches were acknowledged after the kill (at most 40 s more).
    const writer = async (nodes: () => readonly ClusterProcess[], from: string, until: number) => {
      while (Date.now() < until || (from === 'eu' && euAfterKill < 3 && Date.now() < until + 40_000)) {
        const batch = Array.from({ length: 5 }, () => next++)
        try {
          if (
            await write(
              nodes(),
              batch.map((id) => ({ id, from })),
            )
          ) {
            for (const id of batch) acknowledged.set(String(id), from)
            if (from === 'eu' && killed) euAfterKill++
          }
        } catch {
          // Not acknowledged: checked by absence only.
        }
      }
    }
    const health = await eu[0]!.request<{ metadata_leader: string | null }>('GET', '/_cluster/health')
    const layout = await eu[0]!.request<{ shards: Array<{ leader: string | null }> }>(
      'GET',
      '/indexes/items/_shards',
    )
    const leaders = layout.body.shards
      .map((s) => s.leader)
      .filter((id) => id !== null && id !== health.body.metadata_leader)
    const victim =
      eu.find((n) => leaders.includes(n.nodeId)) ?? eu.find((n) => n.nodeId !== health.body.metadata_leader)!
    const euLive = eu.filter((n) => n !== victim)
    let euNodes: readonly ClusterProcess[] = eu
    const until = Date.now() + 8_000
    const writes = Promise.all([writer(() => euNodes, 'eu', until), writer(() => us, 'us', until)])
    await new Promise((r) => setTimeout(r, 2_500))
    await victim.kill()
    killed = true
    euNodes = euLive
    await writes
    expect(euAfterKill).toBeGreaterThanOrEqual(3)
    await waitFor(
      'every acknowledged write in both regions',
      async () => {
        const [a, b] = [await documents(euLive), await documents(us)]
        return [...acknowledged.keys()].every((id) => a.has(id) && b.has(id))
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    )
    const [a, b] = [await documents(euLive), await documents(us)]
    expect(new Map([...a].sort())).toEqual(new Map([...b].sort()))
    // A settings change reaches the other region once, not as a conflict per origin shard.
    const settings = await ask<{ taskUid: number }>(euLive, 'PATCH', '/indexes/items/settings', {
      searchableAttributes: ['from'],
    })
    expect(settings.status).toBe(202)
    await waitFor(
      'us has eu’s settings',
      async () =>
        (await ask<string[]>(us, 'GET', '/indexes/items/settings/searchable-attributes')).body.join() ===
        'from',
      { timeoutMs: 30_000, intervalMs: 250 },
    )
    const log = await ask<{ results: Array<{ documentId: string }> }>(us, 'GET', '/admin/conflicts')
    expect(log.body.results.filter((c) => c.documentId === '(settings)')).toEqual([])
  }, 150_000)

  it('refuses with a typed error what a cluster region does not do yet, changing nothing', async () => {
    const live = eu.filter((n) => n.child.exitCode === null && n.child.signalCode === null)
    const before = await documents(live)
    const refusals = [
      await ask<{ code: string }>(live, 'PATCH', '/admin/regions', {
        indexes: { items: { mode: 'semi_sync' } },
      }),
      await ask<{ code: string }>(live, 'POST', '/admin/regions/eu/promote', {}),
      await ask<{ code: string }>(live, 'POST', '/admin/conflicts/any/resolve', { keep: 'winner' }),
    ]
    for (const refusal of refusals)
      expect([refusal.status, refusal.body.code]).toEqual([409, 'region_cluster_unsupported'])
    for (const [method, route] of [
      ['DELETE', '/indexes/items/documents'],
      ['DELETE', '/indexes/items'],
    ] as const) {
      const enqueued = await ask<{ taskUid: number }>(live, method, route)
      expect(enqueued.status).toBe(202)
      let task: Task | undefined
      await waitFor(
        `${method} ${route} ended`,
        async () => {
          task = (await ask<Task>(live, 'GET', `/tasks/${enqueued.body.taskUid}`)).body
          return ['succeeded', 'failed'].includes(task?.status ?? '')
        },
        { timeoutMs: 30_000 },
      )
      expect([task?.status, task?.error?.code]).toEqual(['failed', 'region_unsupported_operation'])
    }
    expect(await documents(live)).toEqual(before)
  }, 60_000)
})
