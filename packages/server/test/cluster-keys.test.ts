import { waitFor } from '@shoal/testkit/wait'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ClusterProcess, startThreeNodeCluster } from './harness/cluster-processes.ts'
import { tempDir } from './harness/server-process.ts'

// API keys live in the cluster's metadata: a key created, renamed or deleted through one node is
// so on every node (packages/server/README.md, Guarantees). Three real processes.

interface Key {
  uid: string
  key: string
  name: string | null
}

describe('API keys on a cluster', () => {
  let scratch: { dir: string; remove: () => Promise<void> }
  let nodes: ClusterProcess[] = []

  beforeAll(async () => {
    scratch = await tempDir('shoal-cluster-keys-')
    nodes = await startThreeNodeCluster(scratch.dir, 'cluster-keys-cluster-key-0123456')
  }, 180_000)
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.kill()))
    await scratch.remove()
  })

  async function uids(node: ClusterProcess): Promise<string[]> {
    const listed = await node.request<{ results: Key[] }>('GET', '/keys?limit=100')
    expect(listed.status).toBe(200)
    return listed.body.results.map((k) => k.uid).sort()
  }

  async function status(node: ClusterProcess, token: string): Promise<number> {
    const response = await fetch(`${node.url}/indexes`, { headers: { authorization: `Bearer ${token}` } })
    await response.arrayBuffer()
    return response.status
  }

  it('every node lists the same keys: the first node’s defaults, not one set per node', async () => {
    const first = await uids(nodes[0]!)
    expect(first).toHaveLength(2)
    for (const node of nodes.slice(1)) expect(await uids(node)).toEqual(first)
  })

  it('a key created through one node works on every node, renamed through another, deleted through a third', async () => {
    const created = await nodes[1]!.request<Key>('POST', '/keys', {
      name: 'reader',
      actions: ['indexes.get'],
      indexes: ['*'],
      expiresAt: null,
    })
    expect(created.status, JSON.stringify(created.body)).toBe(201)
    const { uid, key } = created.body
    for (const node of nodes)
      await waitFor(`the key accepted by ${node.name}`, async () => (await status(node, key)) === 200, {
        timeoutMs: 10_000,
        intervalMs: 100,
      })
    const renamed = await nodes[2]!.request<Key>('PATCH', `/keys/${uid}`, { name: 'renamed' })
    expect(renamed.status).toBe(200)
    await waitFor(
      'the new name on n0',
      async () => (await nodes[0]!.request<Key>('GET', `/keys/${uid}`)).body.name === 'renamed',
      { timeoutMs: 10_000, intervalMs: 100 },
    )
    expect((await nodes[0]!.request('DELETE', `/keys/${uid}`)).status).toBe(204)
    for (const node of nodes)
      await waitFor(`the key refused by ${node.name}`, async () => (await status(node, key)) === 403, {
        timeoutMs: 10_000,
        intervalMs: 100,
      })
  }, 60_000)

  it('a restarted node serves the cluster’s keys', async () => {
    const before = await uids(nodes[0]!)
    await nodes[2]!.stop()
    await nodes[2]!.restart()
    await waitFor('n2 serves', async () => (await nodes[2]!.request('GET', '/keys')).status === 200, {
      timeoutMs: 30_000,
      intervalMs: 200,
    })
    expect(await uids(nodes[2]!)).toEqual(before)
  }, 90_000)
})
