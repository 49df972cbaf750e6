import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { waitFor } from '@shoal/testkit/wait'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backupInProcess } from './harness/backup-cli.ts'
import { BackupLoad, documentFor } from './harness/backup-load.ts'
import {
  type ClusterProcess,
  MASTER_KEY,
  startClusterProcess,
  writeKeyFile,
} from './harness/cluster-processes.ts'
import { type InProcessServer, type Json, startInProcess } from './harness/in-process.ts'
import { tempDir } from './harness/server-process.ts'

// Backups across deployment shapes (docs/backups.md), on real processes: a standalone backup
// restored into a two-node cluster with another shard count, then that cluster backed up while
// writes go on and restored into a standalone node. The long version (three nodes, a cluster of
// another size) is cluster-backup.soak.test.ts.

const backup = (args: Parameters<typeof backupInProcess>[1]) => backupInProcess(MASTER_KEY, args)

interface Target {
  request<T>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }>
}

function inProcessTarget(node: InProcessServer): Target {
  return {
    async request<T>(method: string, route: string, body?: unknown) {
      const answer = await node.call(method, route, body)
      return { status: answer.status, body: answer.body as T }
    },
  }
}

async function documentsById(target: Target, uid: string): Promise<Map<number, Json>> {
  const page = await target.request<{ results: Json[] }>('GET', `/indexes/${uid}/documents?limit=100000`)
  return new Map(page.body.results.map((d) => [d.id as number, d]))
}

let scratch: { dir: string; remove: () => Promise<void> }
const nodes: ClusterProcess[] = []
const servers: InProcessServer[] = []

beforeAll(async () => {
  scratch = await tempDir('shoal-cluster-backup-')
  const keyFile = await writeKeyFile(scratch.dir, 'cluster.key', 'cluster-backup-test-key-000000000')
  const n0 = await startClusterProcess({ name: 'n0', dataDir: `${scratch.dir}/n0`, keyFile, bootstrap: true })
  nodes.push(n0)
  nodes.push(
    await startClusterProcess({ name: 'n1', dataDir: `${scratch.dir}/n1`, keyFile, join: [n0.gossipAddr] }),
  )
  await waitFor(
    'two active nodes',
    async () => {
      const view = await n0.request<{ nodes: { state: string; alive: boolean }[] }>('GET', '/_admin/cluster')
      return view.body.nodes.filter((n) => n.state === 'active' && n.alive).length === 2
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  )
}, 120_000)

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.kill()))
  for (const server of servers) await server.close()
  await scratch?.remove()
})

describe('backups between a standalone node and a cluster', () => {
  it('a standalone backup restores into a cluster with 3 shards; a cluster backup taken under writes restores into a standalone node', async () => {
    // A standalone node with 200 documents, settings and a key.
    const source = await startInProcess(MASTER_KEY)
    servers.push(source)
    await source.write('PATCH', '/indexes/notes/settings', { filterableAttributes: ['tag'] })
    const original = Array.from({ length: 200 }, (_, id) => documentFor(id))
    await source.write('POST', '/indexes/notes/documents?primaryKey=id', original)
    const standaloneFolder = path.join(scratch.dir, 'standalone-backup')
    expect((await backup({ sub: 'create', to: standaloneFolder, url: source.server.url })).code).toBe(0)

    // Standalone -> cluster, resharded from one shard to three.
    const [n0, n1] = nodes as [ClusterProcess, ClusterProcess]
    const restored = await backup({
      sub: 'restore',
      positionals: [standaloneFolder],
      url: n1.url,
      shardCount: 3,
      replicationFactor: 1,
    })
    expect(restored.stdout + restored.stderr).toMatch(/restored 1 index\(es\), 200 document\(s\)/)
    expect(restored.code).toBe(0)
    const shards = await n0.request<{ shards: { shard: number }[] }>('GET', '/indexes/notes/_shards')
    expect(shards.body.shards.length).toBe(3)
    // One replica per shard, then two: the cluster adds the second ones as it repairs a shard.
    const replicate = await n0.request<Json>('POST', '/admin/indexes/notes/replication', {
      replicationFactor: 2,
    })
    expect([replicate.status, replicate.body]).toEqual([
      202,
      { indexUid: 'notes', replicationFactor: 2, previous: 1 },
    ])
    await waitFor(
      'two active replicas of every shard',
      async () => {
        const view = await n0.request<{ shards: { replicas: { state: string }[] }[] }>(
          'GET',
          '/indexes/notes/_shards',
        )
        return view.body.shards.every((s) => s.replicas.filter((r) => r.state === 'active').length === 2)
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    )
    const tooMany = await n0.request<Json>('POST', '/admin/indexes/notes/replication', {
      replicationFactor: 3,
    })
    expect([tooMany.status, tooMany.body.code]).toEqual([400, 'invalid_cluster_request'])
    const inCluster = await documentsById(n0, 'notes')
    expect(inCluster.size).toBe(200)
    for (const doc of original) expect(inCluster.get(doc.id)).toEqual(doc)
    const query = { q: 'harbour', filter: 'tag = t2', limit: 5 }
    const standaloneHits = await source.call('POST', '/indexes/notes/search', query)
    const clusterHits = await n0.request<Json>('POST', '/indexes/notes/search', query)
    expect(clusterHits.body.hits).toEqual(standaloneHits.body.hits)

    // Cluster backup while a writer keeps adding documents through the other node.
    const load = new BackupLoad(n0, 'notes', 10_000)
    load.start()
    await load.progress(40)
    const acknowledgedBefore = [...load.acknowledged]
    const clusterFolder = path.join(scratch.dir, 'cluster-backup')
    const created = await backup({ sub: 'create', to: clusterFolder, url: n1.url })
    expect(created.stdout + created.stderr).toMatch(/verified/)
    expect(created.code).toBe(0)
    await load.progress(20)
    await load.stop()
    const manifest = JSON.parse(await readFile(path.join(clusterFolder, 'manifest.json'), 'utf8'))
    expect(manifest.source).toMatchObject({ mode: 'cluster', node: n1.nodeId })
    // Its task is in the cluster-wide list, with its progress, on every node.
    const tasks = await n0.request<{ results: Json[] }>('GET', '/tasks?types=backupCreation')
    expect(tasks.body.results[0]).toMatchObject({
      uid: manifest.source.taskUid,
      status: 'succeeded',
      details: { backupUid: manifest.backupUid, node: n1.nodeId, shardsTotal: 3, shardsWritten: 3 },
    })
    // The node that wrote it timed it (docs/operations/metrics.md).
    const metrics = await fetch(`${n1.url}/metrics`, { headers: { authorization: `Bearer ${MASTER_KEY}` } })
    expect(await metrics.text()).toMatch(
      /shoal_backup_duration_seconds_count\{mode="cluster",status="succeeded"\} 1/,
    )
    // The documents were spread over the three shards by the restore.
    const perShard = manifest.indexes[0].shards.map((s: Json) => s.documents)
    expect(perShard.length).toBe(3)
    expect(perShard.every((n: number) => n > 0)).toBe(true)

    // Cluster -> standalone: every write acknowledged before the backup is there, nothing unsent is.
    const target = await startInProcess(MASTER_KEY)
    servers.push(target)
    const back = await backup({ sub: 'restore', positionals: [clusterFolder], url: target.server.url })
    expect(back.code, back.stdout + back.stderr).toBe(0)
    const documents = await documentsById(inProcessTarget(target), 'notes')
    for (const doc of original) expect(documents.get(doc.id)).toEqual(doc)
    for (const id of acknowledgedBefore) expect(documents.get(id)).toEqual(documentFor(id))
    for (const id of documents.keys()) expect(id < 200 || load.sent.has(id)).toBe(true)
    expect((await target.call('GET', '/indexes/notes/settings')).body.filterableAttributes).toEqual(['tag'])
  }, 120_000)
})
