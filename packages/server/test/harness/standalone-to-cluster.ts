import { copyFile, mkdir, rm } from 'node:fs/promises'
import path from 'node:path'
import { waitFor } from '@shoal/testkit/wait'
import { Meilisearch } from 'meilisearch'
import { expect } from 'vitest'
import { runCli } from './cli-run.ts'
import { type ClusterProcess, MASTER_KEY, startClusterProcess, writeKeyFile } from './cluster-processes.ts'
import { type ServerProcess, startServerProcess, tempDir } from './server-process.ts'

/**
 * `shoal cluster init --from-standalone` as docs/operations/standalone-to-cluster.md runs it: a
 * standalone node with data becomes the first node of a cluster, `grow` nodes join and the index
 * is rebalanced onto them, and the official client sees the same results, documents, keys and task
 * history as before, on every node. standalone-to-cluster.test.ts runs it without growing;
 * standalone-to-cluster.soak.test.ts grows to three nodes.
 */

const MOVIES = Array.from({ length: 120 }, (_, id) => ({
  id,
  title: `${['Night', 'River', 'Glass', 'Stone'][id % 4]} ${['Harbour', 'Garden', 'Signal'][id % 3]} ${id}`,
  genre: ['drama', 'comedy', 'noir'][id % 3],
  year: 1950 + (id % 60),
}))

/** What the client sees of the data: searches, documents, keys, the task history. */
async function observe(client: Meilisearch) {
  const movies = client.index('movies')
  const searches = await Promise.all([
    movies.search('river', { filter: 'genre = noir', sort: ['year:asc'], limit: 10 }),
    movies.search('glass signal', { facets: ['genre'] }),
    movies.search('', { filter: 'year > 2000', limit: 50 }),
  ])
  const documents = await movies.getDocuments({ limit: 1000 })
  const keys = await client.getKeys({ limit: 100 })
  const tasks = await client.tasks.getTasks({ limit: 1000, reverse: true })
  return {
    searches: searches.map((s) => ({
      hits: s.hits,
      estimatedTotalHits: s.estimatedTotalHits,
      facets: s.facetDistribution,
    })),
    documents: [...documents.results].sort((a, b) => (a.id as number) - (b.id as number)),
    keys: keys.results.map((k) => ({ uid: k.uid, key: k.key, actions: k.actions, indexes: k.indexes })),
    tasks: tasks.results.map((t) => ({ uid: t.uid, type: t.type, status: t.status, indexUid: t.indexUid })),
    settings: await movies.getSettings(),
  }
}

export async function standaloneToCluster(grow: readonly string[]): Promise<void> {
  const scratch = await tempDir('shoal-standalone-to-cluster-')
  let standalone: ServerProcess | undefined
  const nodes: ClusterProcess[] = []
  try {
    const dataDir = path.join(scratch.dir, 'n0')
    standalone = await startServerProcess(dataDir, ['--master-key', MASTER_KEY, '--sync', 'none'])
    const client = new Meilisearch({ host: standalone.url, apiKey: MASTER_KEY })
    await client
      .index('movies')
      .updateSettings({ filterableAttributes: ['genre', 'year'], sortableAttributes: ['year'] })
      .waitTask()
    await client.index('movies').addDocuments(MOVIES, { primaryKey: 'id' }).waitTask()
    await client.index('movies').deleteDocument(7).waitTask()
    await client.createIndex('empty', { primaryKey: 'sku' }).waitTask()
    const searchKey = await client.createKey({ actions: ['search'], indexes: ['movies'], expiresAt: null })
    const before = await observe(client)
    await standalone.stop()
    standalone = undefined

    // The runbook: the same folder, now the first node of a cluster.
    const keyFile = await writeKeyFile(scratch.dir, 'cluster.key', 'standalone-to-cluster-key-0000000')
    const n0 = await startClusterProcess({
      name: 'n0',
      dataDir,
      keyFile,
      firstCommand: ['cluster', 'init', '--from-standalone', '--shard-count', grow.length === 0 ? '1' : '3'],
    })
    nodes.push(n0)
    expect(n0.output()).toMatch(/Converted the standalone data: 2 index\(es\), 119 document\(s\)/)
    const onCluster = new Meilisearch({ host: n0.url, apiKey: MASTER_KEY })
    const converted = await observe(onCluster)
    expect(converted.searches).toEqual(before.searches)
    expect(converted.documents).toEqual(before.documents)
    expect(converted.keys).toEqual(before.keys)
    expect(converted.settings).toEqual(before.settings)
    // The history is there, uid for uid; the conversion's own tasks come after it.
    expect(converted.tasks.slice(0, before.tasks.length)).toEqual(before.tasks)
    expect((await onCluster.getIndex('empty')).primaryKey).toBe('sku')

    if (grow.length === 0) {
      // The runbook's rollback before any write to the cluster: stop, remove the cluster state,
      // start standalone on the same folder — everything is as it was.
      await n0.stop()
      await rm(path.join(dataDir, 'cluster'), { recursive: true })
      await rm(path.join(dataDir, 'shards'), { recursive: true, force: true })
      standalone = await startServerProcess(dataDir, ['--master-key', MASTER_KEY, '--sync', 'none'])
      const back = await observe(new Meilisearch({ host: standalone.url, apiKey: MASTER_KEY }))
      expect(back).toEqual(before)
      return
    }
    // Nodes join (each with the first node's key store, so the keys work on every node).
    for (const name of grow) {
      const dir = path.join(scratch.dir, name)
      await mkdir(dir, { recursive: true })
      await copyFile(path.join(dataDir, 'keys.json'), path.join(dir, 'keys.json'))
      nodes.push(await startClusterProcess({ name, dataDir: dir, keyFile, join: [n0.gossipAddr] }))
    }
    await waitFor(
      'three active nodes',
      async () => {
        const view = await n0.request<{ nodes: { state: string; alive: boolean }[] }>(
          'GET',
          '/_admin/cluster',
        )
        return view.body.nodes.filter((n) => n.state === 'active' && n.alive).length === 3
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    )
    const rebalanced = await runCli(['cluster', 'rebalance', '--url', n0.url, '--api-key', MASTER_KEY], {
      timeoutMs: 90_000,
    })
    expect(rebalanced.code, rebalanced.stdout + rebalanced.stderr).toBe(0)
    // The shards of `movies` now live on more than the first node.
    const shards = await n0.request<{ shards: { replicas: { node: string }[] }[] }>(
      'GET',
      '/indexes/movies/_shards',
    )
    const holders = new Set(shards.body.shards.flatMap((s) => s.replicas.map((r) => r.node)))
    expect(holders.size).toBeGreaterThan(1)
    // Then every shard on every node: the replication factor goes from 1 to the node count.
    const replicated = await runCli(
      [
        ...['cluster', 'replicate', 'movies', '--replication-factor', String(nodes.length)],
        ...['--url', n0.url, '--api-key', MASTER_KEY],
      ],
      { timeoutMs: 120_000 },
    )
    expect(replicated.code, replicated.stdout + replicated.stderr).toBe(0)
    const spread = await n0.request<{ shards: { replicas: { state: string }[] }[] }>(
      'GET',
      '/indexes/movies/_shards',
    )
    for (const shard of spread.body.shards)
      expect(shard.replicas.filter((r) => r.state === 'active').length).toBe(nodes.length)

    for (const node of nodes) {
      const view = await observe(new Meilisearch({ host: node.url, apiKey: MASTER_KEY }))
      expect(view.searches).toEqual(before.searches)
      expect(view.documents).toEqual(before.documents)
      const scoped = new Meilisearch({ host: node.url, apiKey: searchKey.key })
      expect(
        (
          await scoped
            .index('movies')
            .search('river', { filter: 'genre = noir', sort: ['year:asc'], limit: 10 })
        ).hits,
      ).toEqual(before.searches[0]!.hits)
    }
  } finally {
    await standalone?.stop()
    await Promise.all(nodes.map((n) => n.kill()))
    await scratch.remove()
  }
}
