import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { waitFor } from '@shoal/testkit/wait'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type ClusterProcess,
  MASTER_KEY,
  startClusterProcess,
  startThreeNodeCluster,
} from './harness/cluster-processes.ts'
import { sample } from './harness/metrics-text.ts'
import { type ServerProcess, startServerProcess, tempDir } from './harness/server-process.ts'

// docs/operations/rotate-keys.md, run as written against real processes: the cluster key of a
// live three-node cluster and the master key of a node, rotated without a restart.

const OLD_CLUSTER_KEY = 'rotation-old-cluster-key-0123456789'
const NEW_CLUSTER_KEY = 'rotation-new-cluster-key-9876543210'

async function writeSecret(file: string, text: string): Promise<void> {
  await writeFile(file, text === '' ? '' : `${text}\n`, { mode: 0o600 })
}

async function call(url: string, key: string, method: string, route: string, body?: unknown) {
  const response = await fetch(`${url}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(30_000),
  })
  const text = await response.text()
  return { status: response.status, body: (text === '' ? null : JSON.parse(text)) as Record<string, unknown> }
}

/** Adds one document through `node` and waits until its task succeeded. */
async function writeThrough(node: ClusterProcess, id: number): Promise<void> {
  const added = await node.request<{ taskUid: number }>('POST', '/indexes/notes/documents', [
    { id, text: `note ${id}` },
  ])
  expect(added.status).toBe(202)
  await waitFor(
    `task ${added.body.taskUid}`,
    async () => {
      const task = await node.request<{ status: string }>('GET', `/tasks/${added.body.taskUid}`)
      if (task.body.status === 'failed') throw new Error(`task failed: ${JSON.stringify(task.body)}`)
      return task.body.status === 'succeeded'
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  )
}

describe('rotating the cluster key on a live cluster', () => {
  let scratch: { dir: string; remove: () => Promise<void> }
  const nodes: ClusterProcess[] = []
  beforeAll(async () => {
    scratch = await tempDir('shoal-key-rotation-')
  })
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.kill()))
    await scratch.remove()
  })

  it('accept, send, drop: three reloads of every node, writes succeeding throughout, new connections on the new key', async () => {
    const acceptFile = path.join(scratch.dir, 'cluster.accept')
    await writeSecret(acceptFile, '')
    nodes.push(
      ...(await startThreeNodeCluster(scratch.dir, OLD_CLUSTER_KEY, [
        '--cluster-key-accept-file',
        acceptFile,
      ])),
    )
    const keyFile = path.join(scratch.dir, 'cluster.key')
    const created = await nodes[0]!.request<{ taskUid: number }>('POST', '/indexes', {
      uid: 'notes',
      primaryKey: 'id',
    })
    expect(created.status).toBe(202)
    let id = 0
    await writeThrough(nodes[0]!, id++)
    const before = await nodes[0]!.request<{ clusterKey: { sending: string; accepted: string[] } }>(
      'GET',
      '/admin/secrets',
    )
    const oldPrint = before.body.clusterKey.sending
    expect(before.body.clusterKey.accepted).toEqual([])

    const reloadEvery = async (afterFirst?: () => Promise<void>) => {
      for (const node of nodes) {
        const reloaded = await node.request<{ clusterKey: { sending: string; accepted: string[] } }>(
          'POST',
          '/admin/secrets/reload',
        )
        expect(reloaded.status).toBe(200)
        // No downtime: a write through another node succeeds right after each reload.
        await writeThrough(nodes[(nodes.indexOf(node) + 1) % nodes.length]!, id++)
        if (node === nodes[0]) await afterFirst?.()
      }
      return (
        await nodes[0]!.request<{ clusterKey: { sending: string; accepted: string[] } }>(
          'GET',
          '/admin/secrets',
        )
      ).body.clusterKey
    }
    // 1. Every node accepts the new key, still sending with the old one.
    await writeSecret(acceptFile, NEW_CLUSTER_KEY)
    const accepting = await reloadEvery()
    expect(accepting.sending).toBe(oldPrint)
    expect(accepting.accepted).toHaveLength(1)
    const newPrint = accepting.accepted[0]!
    // 2. Every node sends with the new key and still accepts the old one. While the first node
    // already sends with the new key, the others (still sending with the old one, accepting the
    // new) verify its gossip with their other accepted key, and count it.
    const otherKeyPackets = async () => {
      let total = 0
      for (const node of nodes) total += sample(await metricsOf(node), 'shoal_gossip_packets_other_key_total')
      return total
    }
    await writeSecret(keyFile, NEW_CLUSTER_KEY)
    await writeSecret(acceptFile, OLD_CLUSTER_KEY)
    expect(
      await reloadEvery(() =>
        waitFor('gossip verified with the other accepted key', async () => (await otherKeyPackets()) > 0, {
          timeoutMs: 15_000,
          intervalMs: 200,
        }),
      ),
    ).toMatchObject({ sending: newPrint, accepted: [oldPrint] })
    // 3. The old key is dropped.
    await writeSecret(acceptFile, '')
    expect(await reloadEvery()).toMatchObject({ sending: newPrint, accepted: [] })

    // New connections use the new key: a node restarted now reconnects and catches up, and a
    // fourth node holding only the new key joins.
    await nodes[2]!.kill()
    await writeThrough(nodes[0]!, id++)
    await nodes[2]!.restart()
    await writeThrough(nodes[2]!, id++)
    const fourth = await startClusterProcess({
      name: 'n3',
      dataDir: path.join(scratch.dir, 'n3'),
      keyFile,
      join: [nodes[0]!.gossipAddr],
    })
    nodes.push(fourth)
    await waitFor(
      'four active nodes',
      async () => {
        const view = await nodes[0]!.request<{ nodes: Array<{ state: string; alive: boolean }> }>(
          'GET',
          '/_admin/cluster',
        )
        return view.body.nodes.filter((n) => n.state === 'active' && n.alive).length === 4
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    )
    const stats = await fourth.request<{ numberOfDocuments: number }>('GET', '/indexes/notes/stats')
    expect(stats.body.numberOfDocuments).toBe(id)
    // Nothing arrives on the old key any more; a connection that tried would be counted `none`.
    expect(await metricsOf(nodes[0]!)).not.toMatch(/shoal_p2p_pnet_inbound_keys_total\{key="none"\} [1-9]/)
  }, 240_000)
})

async function metricsOf(node: ClusterProcess): Promise<string> {
  const response = await fetch(`${node.url}/metrics`, { headers: { authorization: `Bearer ${MASTER_KEY}` } })
  return response.text()
}

describe('rotating the master key without a restart', () => {
  let scratch: { dir: string; remove: () => Promise<void> }
  let server: ServerProcess | undefined
  beforeAll(async () => {
    scratch = await tempDir('shoal-master-rotation-')
  })
  afterAll(async () => {
    await server?.stop()
    await scratch.remove()
  })

  it('accepts the old and the new master key and API key values during the window, then only the new', async () => {
    const OLD = 'old-master-key-0123456789'
    const NEW = 'new-master-key-9876543210'
    const keyFile = path.join(scratch.dir, 'master.key')
    const acceptFile = path.join(scratch.dir, 'master.accept')
    await writeSecret(keyFile, OLD)
    await writeSecret(acceptFile, '')
    server = await startServerProcess(path.join(scratch.dir, 'data'), [
      ...['--master-key-file', keyFile, '--master-key-accept-file', acceptFile, '--sync', 'none'],
    ])
    const url = server.url
    const created = await call(url, OLD, 'POST', '/keys', {
      actions: ['search'],
      indexes: ['*'],
      expiresAt: null,
    })
    expect(created.status).toBe(201)
    const oldApiKey = created.body.key as string
    const uid = created.body.uid as string

    // A file that cannot be used changes nothing.
    await writeFile(acceptFile, 'short\n', { mode: 0o600 })
    const refused = await call(url, OLD, 'POST', '/admin/secrets/reload')
    expect(refused.status).toBe(400)
    expect(refused.body.code).toBe('invalid_secret_file')
    expect((await call(url, OLD, 'GET', '/keys')).status).toBe(200)

    // The window: the new key is the master key, the old one still accepted.
    await writeSecret(keyFile, NEW)
    await writeSecret(acceptFile, OLD)
    const window = await call(url, OLD, 'POST', '/admin/secrets/reload')
    expect(window.status, JSON.stringify(window.body)).toBe(200)
    expect((window.body.masterKey as { accepted: string[] }).accepted).toHaveLength(1)
    expect((await call(url, OLD, 'GET', '/keys')).status).toBe(200)
    const shown = await call(url, NEW, 'GET', `/keys/${uid}`)
    expect(shown.status).toBe(200)
    const newApiKey = shown.body.key as string
    expect(newApiKey).not.toBe(oldApiKey)
    for (const key of [oldApiKey, newApiKey])
      expect((await call(url, key, 'GET', '/indexes/x/search?q=a')).status).toBe(404)

    // The end of the window: only the new master key and the new API key values.
    await writeSecret(acceptFile, '')
    expect((await call(url, NEW, 'POST', '/admin/secrets/reload')).status).toBe(200)
    expect((await call(url, OLD, 'GET', '/keys')).status).toBe(403)
    expect((await call(url, oldApiKey, 'GET', '/indexes/x/search?q=a')).status).toBe(403)
    expect((await call(url, newApiKey, 'GET', '/indexes/x/search?q=a')).status).toBe(404)
  }, 60_000)

  it('refuses a reload on a node that reads no key from a file', async () => {
    const other = await startServerProcess(path.join(scratch.dir, 'plain'), ['--master-key', MASTER_KEY])
    try {
      const answer = await call(other.url, MASTER_KEY, 'POST', '/admin/secrets/reload')
      expect(answer.status).toBe(409)
      expect(answer.body.code).toBe('secrets_not_reloadable')
    } finally {
      await other.stop()
    }
  }, 30_000)
})
