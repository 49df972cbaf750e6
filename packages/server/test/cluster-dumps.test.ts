import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { waitFor } from '@shoal/testkit/wait'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from './harness/cli-run.ts'
import {
  type ClusterProcess,
  MASTER_KEY,
  startClusterProcess,
  startExpectingFailure,
  writeKeyFile,
} from './harness/cluster-processes.ts'
import type { Json } from './harness/in-process.ts'
import { type ServerProcess, startServerProcess, tempDir } from './harness/server-process.ts'

// Dumps, snapshots and exports through any node of a cluster (docs/backups.md, issue 16), on real
// processes: a 3-node cluster holds an index of 6 shards with 3 replicas each and a second index.
// A dump taken through a node that does not lead the metadata is loaded into a fresh standalone
// node and back into the cluster; an export goes to a second standalone process; a snapshot is a
// cluster backup; a node killed mid-dump leaves a whole dump or a failed task with no dump file.

const SETTINGS = {
  searchableAttributes: ['name', 'summary'],
  filterableAttributes: ['section'],
  sortableAttributes: ['name'],
  synonyms: { editor: ['vim'] },
  embedders: { e: { source: 'userProvided', dimensions: 3 } },
}
const PACKAGES = Array.from({ length: 600 }, (_, id) => ({
  id,
  name: `pkg-${String(id).padStart(4, '0')}`,
  summary: `${id % 2 === 0 ? 'editor' : 'library'} number ${id}`,
  section: `s${id % 5}`,
  _vectors: { e: [id % 7, (id * 3) % 11, 1] },
}))
const NOTES = Array.from({ length: 40 }, (_, id) => ({ id, text: `note ${id}` }))
const TOTAL = PACKAGES.length + NOTES.length

interface Target {
  request<T>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }>
}

function standaloneTarget(server: ServerProcess, key: string): Target {
  return {
    async request<T>(method: string, route: string, body?: unknown) {
      const response = await fetch(`${server.url}${route}`, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      })
      const text = await response.text()
      return { status: response.status, body: (text === '' ? null : JSON.parse(text)) as T }
    },
  }
}

async function waitTask(node: Target, uid: number, timeoutMs = 120_000): Promise<Json> {
  let task: Json = null
  await waitFor(
    `task ${uid} ends`,
    async () => {
      task = (await node.request<Json>('GET', `/tasks/${uid}`)).body
      return ['succeeded', 'failed', 'canceled'].includes(task?.status)
    },
    { timeoutMs, intervalMs: 100 },
  )
  return task
}

async function write(node: Target, method: string, route: string, body: unknown): Promise<void> {
  const answer = await node.request<Json>(method, route, body)
  expect(answer.status, JSON.stringify(answer.body)).toBe(202)
  const task = await waitTask(node, answer.body.taskUid)
  expect(task.status, JSON.stringify(task.error)).toBe('succeeded')
}

/** Every document of an index (vectors included) by id, and its settings. */
async function contents(
  node: Target,
  uid: string,
): Promise<{ documents: Map<number, Json>; settings: Json }> {
  const page = await node.request<{ results: Json[] }>(
    'GET',
    `/indexes/${uid}/documents?limit=100000&retrieveVectors=true`,
  )
  const settings = await node.request<Json>('GET', `/indexes/${uid}/settings`)
  return { documents: new Map(page.body.results.map((d) => [d.id as number, d])), settings: settings.body }
}

async function expectSameIndexes(actual: Target, expected: Target): Promise<void> {
  for (const uid of ['packages', 'notes']) {
    const [got, want] = [await contents(actual, uid), await contents(expected, uid)]
    expect(got.settings, uid).toEqual(want.settings)
    expect(got.documents.size, uid).toBe(want.documents.size)
    for (const [id, doc] of want.documents) expect(got.documents.get(id), `${uid} ${id}`).toEqual(doc)
  }
}

async function dumpFiles(node: ClusterProcess): Promise<string[]> {
  return readdir(path.join(node.dataDir, 'dumps')).catch(() => [])
}

let scratch: { dir: string; remove: () => Promise<void> }
const nodes: ClusterProcess[] = []
const standalones: ServerProcess[] = []
/** A node that does not lead the metadata group (so not the one running the scheduler). */
let follower: ClusterProcess

beforeAll(async () => {
  scratch = await tempDir('shoal-cluster-dumps-')
  const keyFile = await writeKeyFile(scratch.dir, 'cluster.key', 'cluster-dumps-test-key-0000000000')
  const n0 = await startClusterProcess({ name: 'n0', dataDir: `${scratch.dir}/n0`, keyFile, bootstrap: true })
  nodes.push(n0)
  for (const name of ['n1', 'n2'])
    nodes.push(
      await startClusterProcess({ name, dataDir: `${scratch.dir}/${name}`, keyFile, join: [n0.gossipAddr] }),
    )
  await waitFor(
    'three active nodes',
    async () => {
      const view = await n0.request<{ nodes: { state: string; alive: boolean }[] }>('GET', '/_admin/cluster')
      return view.body.nodes.filter((n) => n.state === 'active' && n.alive).length === 3
    },
    { timeoutMs: 90_000, intervalMs: 200 },
  )
  const health = await n0.request<{ metadata_leader: string }>('GET', '/_cluster/health')
  follower = nodes.find((n) => n.nodeId !== health.body.metadata_leader)!
  await write(follower, 'POST', '/indexes', {
    uid: 'packages',
    primaryKey: 'id',
    sharding: { shardCount: 6, replicationFactor: 3 },
  })
  await write(follower, 'PATCH', '/indexes/packages/settings', SETTINGS)
  await write(follower, 'POST', '/indexes/packages/documents', PACKAGES)
  // The second index with the cluster's default sharding.
  await write(follower, 'POST', '/indexes', { uid: 'notes', primaryKey: 'id' })
  await write(follower, 'POST', '/indexes/notes/documents', NOTES)
}, 240_000)

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.kill()))
  await Promise.all(standalones.map((s) => s.stop('SIGKILL')))
  await scratch?.remove()
})

describe('POST /dumps on a cluster node', () => {
  let dumpFile = ''

  it('is a task seen from every node that writes every shard of every index, with progress, on the node that received it', async () => {
    const answer = await follower.request<Json>('POST', '/dumps')
    expect(answer.status).toBe(202)
    expect(answer.body).toMatchObject({ type: 'dumpCreation', status: 'processing' })
    const other = nodes.find((n) => n !== follower)!
    const task = await waitTask(other, answer.body.taskUid)
    expect(task.status, JSON.stringify(task.error)).toBe('succeeded')
    expect(task.details).toMatchObject({
      node: follower.nodeId,
      indexesTotal: 2,
      indexesDone: 2,
      documentsDone: TOTAL,
    })
    expect(Object.keys(task.details.appliedIndexes.packages)).toHaveLength(6)
    dumpFile = path.join(follower.dataDir, 'dumps', `${task.details.dumpUid}.dump`)
    expect(task.details.path).toBe(dumpFile)
    const lines = (await readFile(dumpFile, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
    expect(lines[0]).toMatchObject({ type: 'header', format: 'shoal-dump', version: 1 })
    expect(lines.at(-1)).toEqual({ type: 'end', indexes: 2, documents: TOTAL })
    const indexLines = lines.filter((line) => line.type === 'index')
    expect(indexLines.map((line) => [line.uid, line.sharding])).toEqual([
      ['notes', { shardCount: expect.any(Number), replicationFactor: expect.any(Number), strategy: 'hash' }],
      // Its settings add an embedder, so its shards may live only on nodes with `vector`; the dump
      // keeps that requirement for the restore.
      [
        'packages',
        { shardCount: 6, replicationFactor: 3, strategy: 'hash', placement: { capabilities: ['vector'] } },
      ],
    ])
    expect(await dumpFiles(follower)).toEqual([`${task.details.dumpUid}.dump`])
  })

  it('loads into a fresh standalone node with --import-dump: every document and setting equal', async () => {
    const dir = path.join(scratch.dir, 'standalone-import')
    const server = await startServerProcess(dir, ['--master-key', MASTER_KEY, '--import-dump', dumpFile])
    standalones.push(server)
    await expectSameIndexes(standaloneTarget(server, MASTER_KEY), follower)
    const query = { q: 'editor', filter: 'section = s2', sort: ['name:asc'], limit: 10 }
    const local = await standaloneTarget(server, MASTER_KEY).request<Json>(
      'POST',
      '/indexes/packages/search',
      query,
    )
    const clustered = await follower.request<Json>('POST', '/indexes/packages/search', query)
    expect(local.body.hits).toEqual(clustered.body.hits)
    await server.stop()
  })

  it('loads back into the cluster with `shoal restore`, which recreates each index with its sharding', async () => {
    const before = new Map<string, Awaited<ReturnType<typeof contents>>>()
    for (const uid of ['packages', 'notes']) {
      before.set(uid, await contents(follower, uid))
      await write(follower, 'DELETE', `/indexes/${uid}`, undefined)
    }
    const [n0] = nodes as [ClusterProcess]
    const restored = await runCli(['restore', dumpFile, '--url', n0.url, '--api-key', MASTER_KEY], {
      timeoutMs: 120_000,
    })
    expect(restored.stdout + restored.stderr).toMatch(/restored 2 index\(es\) and 640 document\(s\)/)
    expect(restored.code).toBe(0)
    const shards = await follower.request<{ shards: { replicas: unknown[] }[] }>(
      'GET',
      '/indexes/packages/_shards',
    )
    expect(shards.body.shards).toHaveLength(6)
    expect(shards.body.shards.every((s) => s.replicas.length === 3)).toBe(true)
    for (const uid of ['packages', 'notes']) {
      const now = await contents(follower, uid)
      const then = before.get(uid)!
      expect(now.settings).toEqual(then.settings)
      expect(now.documents).toEqual(then.documents)
    }
  })
})

describe('--import-dump on a cluster node', () => {
  it('is refused before the node starts: a cluster loads a dump with `shoal restore`', async () => {
    const keyFile = path.join(scratch.dir, 'cluster.key')
    const refused = await startExpectingFailure([
      '--data-dir',
      path.join(scratch.dir, 'import-refused'),
      '--http-addr',
      '127.0.0.1:0',
      '--cluster-key-file',
      keyFile,
      '--bootstrap',
      '--master-key',
      MASTER_KEY,
      '--import-dump',
      path.join(scratch.dir, 'any.dump'),
    ])
    expect(refused.code).not.toBe('0')
    expect(refused.output).toMatch(/shoal restore FILE --url/)
  })
})

describe('POST /export on a cluster node', () => {
  it('copies every index with its settings and documents (vectors included) to a standalone process', async () => {
    const targetKey = 'cluster-export-target-key-0123456789'
    const target = await startServerProcess(path.join(scratch.dir, 'export-target'), [
      '--master-key',
      targetKey,
      '--sync',
      'none',
    ])
    standalones.push(target)
    const answer = await follower.request<Json>('POST', '/export', {
      url: target.url,
      apiKey: targetKey,
      payloadSize: '16 KiB',
    })
    expect(answer.status).toBe(202)
    const task = await waitTask(nodes.find((n) => n !== follower)!, answer.body.taskUid)
    expect(task.status, JSON.stringify(task.error)).toBe('succeeded')
    expect(task.details).toMatchObject({
      apiKey: 'XXX...',
      node: follower.nodeId,
      exported: { packages: { documents: PACKAGES.length }, notes: { documents: NOTES.length } },
    })
    await expectSameIndexes(standaloneTarget(target, targetKey), follower)
    await target.stop()
  })

  it('applies a pattern filter through the shards', async () => {
    const targetKey = 'cluster-export-filter-key-0123456789'
    const target = await startServerProcess(path.join(scratch.dir, 'export-filter'), [
      '--master-key',
      targetKey,
      '--sync',
      'none',
    ])
    standalones.push(target)
    const answer = await follower.request<Json>('POST', '/export', {
      url: target.url,
      apiKey: targetKey,
      indexes: { 'pack*': { filter: 'section = s1' } },
    })
    const task = await waitTask(follower, answer.body.taskUid)
    expect(task.status, JSON.stringify(task.error)).toBe('succeeded')
    expect(task.details.exported).toEqual({ packages: { documents: 120 } })
    const copied = await contents(standaloneTarget(target, targetKey), 'packages')
    expect([...copied.documents.keys()].sort((a, b) => a - b)).toEqual(
      PACKAGES.filter((p) => p.section === 's1').map((p) => p.id),
    )
    await target.stop()
  })
})

describe('POST /snapshots on a cluster node', () => {
  it('runs a cluster backup and answers with its task', async () => {
    const answer = await follower.request<Json>('POST', '/snapshots')
    expect(answer.status).toBe(202)
    expect(answer.body.type).toBe('backupCreation')
    const task = await waitTask(follower, answer.body.taskUid)
    expect(task.status, JSON.stringify(task.error)).toBe('succeeded')
    expect(task.details).toMatchObject({ node: follower.nodeId, shardsWritten: task.details.shardsTotal })
    const manifest = JSON.parse(await readFile(path.join(task.details.path, 'manifest.json'), 'utf8'))
    expect(manifest.source).toMatchObject({ mode: 'cluster', taskUid: answer.body.taskUid })
    expect(manifest.indexes.map((i: Json) => i.uid).sort()).toEqual(['notes', 'packages'])
  })
})

describe('a node killed during a dump', () => {
  it('a shard leader killed mid-dump: the dump succeeds whole or fails with no dump file', async () => {
    // The victim leads a shard of `packages` read late in the dump (shards are read in order).
    const view = await follower.request<{ shards: { shard: number; leader: string | null }[] }>(
      'GET',
      '/indexes/packages/_shards',
    )
    const lateLeaders = view.body.shards
      .sort((a, b) => b.shard - a.shard)
      .map((s) => s.leader)
      .filter((id) => id !== follower.nodeId)
    const victim = nodes.find((n) => n.nodeId === lateLeaders[0]) ?? nodes.find((n) => n !== follower)!
    const answer = await follower.request<Json>('POST', '/dumps')
    expect(answer.status).toBe(202)
    // Killed once the first shard is written and the task still runs.
    let seen: Json = null
    await waitFor(
      'the dump under way',
      async () => {
        seen = (await follower.request<Json>('GET', `/tasks/${answer.body.taskUid}`)).body
        return seen.details.documentsDone > 0 || seen.status !== 'processing'
      },
      { timeoutMs: 60_000, intervalMs: 10 },
    )
    await victim.kill()
    expect(seen.status, 'the dump ended before the kill').toBe('processing')
    const task = await waitTask(follower, answer.body.taskUid, 240_000)
    const file = `${task.details.dumpUid}.dump`
    const files = await dumpFiles(follower)
    if (task.status === 'succeeded') {
      const text = await readFile(path.join(follower.dataDir, 'dumps', file), 'utf8')
      const last = JSON.parse(text.trim().split('\n').at(-1)!)
      expect(last).toEqual({ type: 'end', indexes: 2, documents: TOTAL })
    } else {
      expect(task.status).toBe('failed')
      expect(files).not.toContain(file)
    }
    // No partial file or scratch folder is left beside it.
    expect(files.filter((f) => f.startsWith(task.details.dumpUid) && f !== file)).toEqual([])
    await victim.restart()
  })

  it('the node writing the dump killed: no dump file, and its next start fails the task', async () => {
    const answer = await follower.request<Json>('POST', '/dumps')
    expect(answer.status).toBe(202)
    await follower.kill()
    const before = await dumpFiles(follower)
    await follower.restart()
    const task = await waitTask(follower, answer.body.taskUid, 120_000)
    const dumpUid = task.details.dumpUid as string
    if (task.status === 'succeeded') {
      // It ended before the kill: the file is whole.
      expect(before).toContain(`${dumpUid}.dump`)
    } else {
      expect(task.error.code).toBe('dump_interrupted')
      expect(before).not.toContain(`${dumpUid}.dump`)
    }
    // The next dump on that node clears what the stopped one left (a partial file, a scratch folder).
    const next = await follower.request<Json>('POST', '/dumps')
    expect((await waitTask(follower, next.body.taskUid)).status).toBe('succeeded')
    expect((await dumpFiles(follower)).filter((f) => !f.endsWith('.dump'))).toEqual([])
  })
})
