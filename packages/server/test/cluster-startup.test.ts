import { spawn } from 'node:child_process'
import { waitFor } from '@shoal/testkit/wait'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MASTER_KEY, writeKeyFile } from './harness/cluster-processes.ts'
import { freePort } from './harness/free-port.ts'
import { CLI, tempDir } from './harness/server-process.ts'

// A cluster node listens on HTTP before it has rejoined its cluster (it may wait for its seeds,
// and it replays its metadata log first). Until then it must refuse every request with 503
// `cluster_unavailable`: it used to answer as a standalone node, from its empty local engine and
// task queue — an index of the cluster read as not found, and a write was taken by the local queue,
// acknowledged, and never reached the cluster (found by `pnpm chaos --system shoal-shards
// --scenario kill-leader --seed 1`: searches through a restarting node answered 404
// index_not_found). Here the node waits for a seed that never answers.

let scratch: { dir: string; remove: () => Promise<void> }
let child: ReturnType<typeof spawn> | undefined
let url = ''

beforeAll(async () => {
  scratch = await tempDir('shoal-cluster-startup-')
  const keyFile = await writeKeyFile(scratch.dir, 'cluster.key', 'cluster-startup-key-000000000000000')
  const http = await freePort()
  url = `http://127.0.0.1:${http}`
  child = spawn(
    process.execPath,
    [
      CLI,
      'start',
      '--data-dir',
      `${scratch.dir}/node`,
      '--http-addr',
      `127.0.0.1:${http}`,
      '--p2p-addr',
      `127.0.0.1:${await freePort()}`,
      '--gossip-addr',
      `127.0.0.1:${await freePort(true)}`,
      '--gossip-profile',
      'local',
      '--cluster-key-file',
      keyFile,
      '--master-key',
      MASTER_KEY,
      '--join',
      `127.0.0.1:${await freePort(true)}`,
      '--log-level',
      'warn',
    ],
    { stdio: 'ignore' },
  )
  await waitFor(
    'the HTTP port listening',
    async () => {
      try {
        await fetch(`${url}/health`)
        return true
      } catch {
        return false
      }
    },
    { timeoutMs: 20_000, intervalMs: 50 },
  )
}, 30_000)

afterAll(async () => {
  if (child !== undefined && child.exitCode === null) {
    const gone = new Promise((resolve) => child?.once('exit', resolve))
    child.kill('SIGKILL')
    await gone
  }
  await scratch?.remove()
})

async function call(method: string, route: string, body?: unknown) {
  const response = await fetch(`${url}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${MASTER_KEY}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  return { status: response.status, body: (await response.json()) as { code?: string } }
}

describe('a cluster node that has not rejoined its cluster yet', () => {
  it('refuses reads, writes and task lookups with 503 cluster_unavailable instead of answering as a standalone node', async () => {
    for (const [method, route, body] of [
      ['GET', '/indexes'],
      ['GET', '/indexes/chaos/documents/k1'],
      ['POST', '/indexes/chaos/search', { q: '' }],
      ['POST', '/indexes', { uid: 'chaos', primaryKey: 'id' }],
      ['POST', '/indexes/chaos/documents', [{ id: 'k1', value: 'v' }]],
      ['GET', '/tasks/0'],
    ] as const) {
      const answer = await call(method, route, body)
      expect({ method, route, ...answer }).toMatchObject({
        method,
        route,
        status: 503,
        body: { code: 'cluster_unavailable' },
      })
    }
    expect(child?.exitCode).toBeNull()
  })
})
