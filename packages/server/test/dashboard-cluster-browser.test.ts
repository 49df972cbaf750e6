import { waitFor } from '@shoal/testkit/wait'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { browserAvailable, launchBrowser, type TestBrowser } from './harness/browser.ts'
import { type ClusterProcess, MASTER_KEY, startThreeNodeCluster } from './harness/cluster-processes.ts'
import { tempDir } from './harness/server-process.ts'

// The dashboard of a real 3-process cluster in a real browser (docs/dashboard.md): log in, see
// the nodes and the shard map, kill a node and watch the health turn yellow with its reasons,
// run a search. Screenshots go to packages/server/test-artifacts/dashboard/.

let scratch: { dir: string; remove: () => Promise<void> }
let nodes: ClusterProcess[] = []
let browser: TestBrowser

async function enqueueAndWait(node: ClusterProcess, method: string, route: string, body: unknown) {
  const response = await node.request<{ taskUid: number }>(method, route, body)
  expect(response.status, JSON.stringify(response.body)).toBe(202)
  await waitFor(
    `task ${response.body.taskUid}`,
    async () =>
      (await node.request<{ status: string }>('GET', `/tasks/${response.body.taskUid}`)).body.status ===
      'succeeded',
    { timeoutMs: 30_000, intervalMs: 100 },
  )
}

describe.runIf(browserAvailable())('the dashboard of a three-node cluster, in Chromium', () => {
  beforeAll(async () => {
    scratch = await tempDir('shoal-dash-cluster-')
    const [cluster, launched] = await Promise.all([
      startThreeNodeCluster(scratch.dir, 'dashboard-browser-cluster-key-000'),
      launchBrowser(),
    ])
    nodes = cluster
    browser = launched
    const n0 = nodes[0]!
    await enqueueAndWait(n0, 'POST', '/indexes', {
      uid: 'books',
      primaryKey: 'id',
      sharding: { shardCount: 2, replicationFactor: 3 },
    })
    await enqueueAndWait(n0, 'PATCH', '/indexes/books/settings', { filterableAttributes: ['genre'] })
    await enqueueAndWait(
      n0,
      'POST',
      '/indexes/books/documents',
      Array.from({ length: 40 }, (_, i) => ({
        id: i,
        title: `${i % 4 === 0 ? 'lighthouse' : 'river'} stories volume ${i}`,
        genre: i % 2 === 0 ? 'poetry' : 'history',
      })),
    )
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await Promise.all(nodes.map((n) => n.kill()))
    await scratch?.remove()
  })

  it('logs in and shows the three nodes live, the shard map with leaders, and green health', async () => {
    const { page } = browser
    await page.goto(`${nodes[0]!.url}/dashboard`)
    await page.fill('#api-key', MASTER_KEY)
    await page.click('#login button[type=submit]')
    await page.waitForSelector('#nodes')
    expect(await page.getAttribute('#node-label', 'data-mode')).toBe('cluster')
    await expect.poll(() => page.locator('#nodes tr[data-alive=true]').count(), { timeout: 15_000 }).toBe(3)
    for (const name of ['n0', 'n1', 'n2'])
      expect(await page.textContent(`#nodes tr[data-node=${name}]`)).toMatch(/active.*live.*z1.*bm25/)
    await expect.poll(() => page.getAttribute('#health', 'data-status'), { timeout: 20_000 }).toBe('green')
    expect(await page.locator('#shard-map tr[data-index=books] td.shard-cell').count()).toBe(2)
    await expect
      .poll(() => page.locator('#shard-map tr[data-index=books] .replica-leader').count(), {
        timeout: 15_000,
      })
      .toBe(2)
    expect(await page.locator('#charts polyline[data-series=lag]').count()).toBe(1)
    await browser.screenshot('cluster-green')
  })

  it('turns yellow when a node is killed, naming the node and the shards it leaves short', async () => {
    const { page } = browser
    await nodes[2]!.kill()
    await expect.poll(() => page.getAttribute('#health', 'data-status'), { timeout: 25_000 }).toBe('yellow')
    await expect
      .poll(() => page.getAttribute('#nodes tr[data-node=n2]', 'data-alive'), { timeout: 10_000 })
      .toBe('false')
    await expect.poll(() => page.locator('#health li.diagnosis').count(), { timeout: 10_000 }).toBe(2)
    const reasons = (await page.textContent('#health')) ?? ''
    expect(reasons).toContain(`nodes not live: ${nodes[2]!.nodeId}`)
    expect(reasons).toMatch(/books shard 0 \(yellow\)[\s\S]*the replica on n2 .* is unreachable/)
    expect(reasons).toContain('every live data node already holds one')
    expect(await page.locator('#shard-map .replica-unreachable').count()).toBe(2)
    await browser.screenshot('cluster-yellow')
    // The same explanation over plain HTTP, as an operator's script reads it.
    const diagnosis = await nodes[0]!.request<{
      shards: Array<{
        index: string
        shard: number
        status: string
        live_replicas: number
        problems: string[]
      }>
    }>('GET', '/_cluster/diagnosis')
    expect(diagnosis.status).toBe(200)
    expect(diagnosis.body.shards.map((s) => [s.index, s.shard, s.status, s.live_replicas])).toEqual([
      ['books', 0, 'yellow', 2],
      ['books', 1, 'yellow', 2],
    ])
    expect(diagnosis.body.shards[0]!.problems[0]).toContain(`n2 (${nodes[2]!.nodeId}) is unreachable`)
  })

  it('searches the sharded index from its view, with hits, facets and timings', async () => {
    const { page } = browser
    await page.goto(`${nodes[0]!.url}/dashboard#/indexes/books`)
    await expect.poll(() => page.textContent('[data-stat=documents]'), { timeout: 15_000 }).toBe('40')
    await page.fill('#search-form input[name=q]', 'lighthouse')
    await page.click('#search-form button')
    await page.waitForSelector('#search-results')
    expect(await page.locator('#search-results .hit').count()).toBe(10)
    expect(await page.textContent('.search-timing')).toMatch(/^10 hits · \d+ ms on the node/)
    expect(await page.textContent('.facet[data-facet=genre]')).toContain('poetry (10)')
    await browser.screenshot('cluster-index-search')
    expect(
      browser.problems.filter((p) => p.startsWith('uncaught:') || /Content.Security.Policy/i.test(p)),
    ).toEqual([])
  })
})
