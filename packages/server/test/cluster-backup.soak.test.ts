import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { waitFor } from '@shoal/testkit/wait'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BackupLoad, documentFor } from './harness/backup-load.ts'
import { runCli } from './harness/cli-run.ts'
import {
  type ClusterProcess,
  MASTER_KEY,
  startClusterProcess,
  startThreeNodeCluster,
  writeKeyFile,
} from './harness/cluster-processes.ts'
import { tempDir } from './harness/server-process.ts'

// Soak, and the runbook docs/operations/recover-majority-loss.md with its exact commands: a
// three-node cluster is backed up with `shoal backup create` while a writer keeps going, loses two
// of its nodes, and is rebuilt as a new two-node cluster with `shoal backup verify` and
// `shoal backup restore --shard-count 2`. Every write acknowledged before the backup started is
// there; nothing that was never sent is; the API keys work again.

let scratch: { dir: string; remove: () => Promise<void> }
let old: ClusterProcess[] = []
const fresh: ClusterProcess[] = []

const cli = (...args: string[]) => runCli([...args, '--api-key', MASTER_KEY], { timeoutMs: 120_000 })

async function waitTask(node: ClusterProcess, uid: number): Promise<void> {
  await waitFor(
    `task ${uid} succeeded`,
    async () => (await node.request<{ status: string }>('GET', `/tasks/${uid}`)).body?.status === 'succeeded',
    { timeoutMs: 60_000, intervalMs: 100 },
  )
}

beforeAll(async () => {
  scratch = await tempDir('shoal-backup-soak-')
  await mkdir(path.join(scratch.dir, 'old'))
  old = await startThreeNodeCluster(path.join(scratch.dir, 'old'), 'backup-soak-old-cluster-key-00000')
}, 180_000)

afterAll(async () => {
  await Promise.all([...old, ...fresh].map((n) => n.kill()))
  await scratch?.remove()
})

describe('recovering from the loss of a majority with a backup (soak)', () => {
  it('restores a backup taken under writes into a cluster of another size and shard count', async () => {
    const [n0, n1, n2] = old as [ClusterProcess, ClusterProcess, ClusterProcess]
    const created = await n0.request<{ taskUid: number }>('POST', '/indexes', {
      uid: 'notes',
      primaryKey: 'id',
      sharding: { shardCount: 4, replicationFactor: 3 },
    })
    await waitTask(n0, created.body.taskUid)
    const settings = await n1.request<{ taskUid: number }>('PATCH', '/indexes/notes/settings', {
      filterableAttributes: ['tag'],
    })
    await waitTask(n0, settings.body.taskUid)
    const key = await n0.request<{ key: string; uid: string }>('POST', '/keys', {
      uid: '5f0c3c3e-7f4b-4b8e-9a35-2f8f0f4a6d11',
      actions: ['search'],
      indexes: ['notes'],
      expiresAt: null,
    })
    expect(key.status).toBe(201)

    const writers = [new BackupLoad(n1, 'notes', 0), new BackupLoad(n2, 'notes', 1_000_000)]
    for (const writer of writers) writer.start(50)
    for (const writer of writers) await writer.progress(500)
    const acknowledgedBefore = writers.flatMap((w) => [...w.acknowledged])
    // The runbook's regular backup, through n0, while both writers go on.
    const folder = path.join(scratch.dir, 'backup')
    const backup = await cli('backup', 'create', '--to', folder, '--url', n0.url)
    expect(backup.code, backup.stdout + backup.stderr).toBe(0)
    for (const writer of writers) await writer.progress(200)

    // Two of the three nodes are lost: the cluster has no majority left.
    await n1.kill()
    await n2.kill()
    for (const writer of writers) await writer.stop()
    await n0.kill()

    // A new, two-node cluster: verify, then restore with two shards.
    const keyFile = await writeKeyFile(scratch.dir, 'new.key', 'backup-soak-new-cluster-key-00000')
    const m0 = await startClusterProcess({
      name: 'm0',
      dataDir: path.join(scratch.dir, 'new', 'm0'),
      keyFile,
      bootstrap: true,
    })
    fresh.push(m0)
    fresh.push(
      await startClusterProcess({
        name: 'm1',
        dataDir: path.join(scratch.dir, 'new', 'm1'),
        keyFile,
        join: [m0.gossipAddr],
      }),
    )
    await waitFor(
      'two active nodes',
      async () => {
        const view = await m0.request<{ nodes: { state: string; alive: boolean }[] }>(
          'GET',
          '/_admin/cluster',
        )
        return view.body.nodes.filter((n) => n.state === 'active' && n.alive).length === 2
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    )
    const verified = await runCli(['backup', 'verify', folder])
    expect(verified.code, verified.stdout).toBe(0)
    const restored = await cli(
      ...['backup', 'restore', folder, '--url', m0.url],
      ...['--shard-count', '2', '--replication-factor', '2'],
    )
    expect(restored.code, restored.stdout + restored.stderr).toBe(0)

    const sharding = await m0.request<{ sharding: { shardCount: number; replicationFactor: number } }>(
      'GET',
      '/indexes/notes/_shards',
    )
    expect(sharding.body.sharding).toMatchObject({ shardCount: 2, replicationFactor: 2 })
    const page = await m0.request<{ results: { id: number }[] }>(
      'GET',
      '/indexes/notes/documents?limit=1000000',
    )
    const restoredIds = new Map(page.body.results.map((d) => [d.id, d]))
    for (const id of acknowledgedBefore) expect(restoredIds.get(id)).toEqual(documentFor(id))
    const sent = new Set(writers.flatMap((w) => [...w.sent]))
    for (const [id, doc] of restoredIds) {
      expect(sent.has(id)).toBe(true)
      expect(doc).toEqual(documentFor(id))
    }
    // The search key is back with its uid, hence its secret (same master key).
    const search = await fetch(`${m0.url}/indexes/notes/search`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key.body.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ q: 'harbour', filter: 'tag = t2', limit: 3 }),
    })
    expect(search.status).toBe(200)
    console.log(
      `backup soak: ${acknowledgedBefore.length} acknowledged before the backup, ${restoredIds.size} restored, ${sent.size} sent`,
    )
  }, 600_000)
})
