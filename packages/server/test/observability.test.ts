import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ServerProcess, startServerProcess, tempDir } from './harness/server-process.ts'

// Limits and what an operator sees: rate limiting per key, request ids,
// Prometheus metrics, the OpenAPI description, graceful shutdown.

const MASTER = 'observability-master-key-0123'

describe('operating a shoal process', () => {
  let server: ServerProcess
  let removeDir: () => Promise<void>
  let root: string
  const auth = { authorization: `Bearer ${MASTER}` }

  beforeAll(async () => {
    const tmp = await tempDir('shoal-ops-')
    removeDir = tmp.remove
    root = tmp.dir
    server = await startServerProcess(path.join(tmp.dir, 'main'), ['--master-key', MASTER])
  })
  afterAll(async () => {
    await removeDir()
  })

  it('answers a key past its rate with 429 too_many_requests and Retry-After, other keys unaffected', async () => {
    const limitedServer = await startServerProcess(path.join(root, 'limited'), [
      '--master-key',
      MASTER,
      '--rate-limit-per-second',
      '1',
      '--rate-limit-burst',
      '8',
    ])
    try {
      const statuses: number[] = []
      let limited: Response | undefined
      for (let i = 0; i < 10; i++) {
        const response = await fetch(`${limitedServer.url}/indexes`, {
          headers: { authorization: 'Bearer wrong-key' },
        })
        statuses.push(response.status)
        if (response.status === 429) limited ??= response
        else await response.text()
      }
      expect(statuses.slice(0, 8).every((s) => s === 403)).toBe(true)
      expect(statuses.slice(8)).toEqual([429, 429])
      expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
      expect(await limited?.json()).toMatchObject({ code: 'too_many_requests', type: 'system' })
      expect((await fetch(`${limitedServer.url}/indexes`, { headers: auth })).status).toBe(200)
    } finally {
      await limitedServer.stop()
    }
  })

  it('tags each response with a request id, taken from x-request-id when the client sends one', async () => {
    const generated = await fetch(`${server.url}/health`)
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
    const given = await fetch(`${server.url}/health`, { headers: { 'x-request-id': 'trace-42' } })
    expect(given.headers.get('x-request-id')).toBe('trace-42')
  })

  it('serves Prometheus metrics: requests per route, latency, task queue depth, index sizes, process', async () => {
    const created = await fetch(`${server.url}/indexes`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ uid: 'metrics_test' }),
    })
    expect(created.status).toBe(202)
    await fetch(`${server.url}/indexes/metrics_test/documents`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify([{ id: 1 }, { id: 2 }]),
    })
    let text = ''
    // The documents become searchable a moment before their task is recorded as finished.
    const settled = (t: string) =>
      /shoal_index_documents\{index="metrics_test"\} 2/.test(t) && /shoal_task_queue_depth 0/.test(t)
    for (let i = 0; i < 100 && !settled(text); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      text = await (await fetch(`${server.url}/metrics`, { headers: auth })).text()
    }
    expect(text).toMatch(/shoal_index_documents\{index="metrics_test"\} 2/)
    expect(text).toMatch(/shoal_http_requests_total\{method="POST",route="\/indexes",status="202"\} 1/)
    expect(text).toMatch(
      /shoal_http_request_duration_seconds_bucket\{.*route="\/indexes\/:indexUid\/documents"/,
    )
    expect(text).toMatch(/shoal_task_queue_depth 0/)
    expect(text).toMatch(/shoal_tasks_finished_total\{type="documentAdditionOrUpdate",status="succeeded"\} 1/)
    expect(text).toMatch(/shoal_task_log_fsync_duration_seconds_count [1-9]/)
    expect(text).toMatch(/shoal_engine_wal_fsync_duration_seconds_count [1-9]/)
    expect(text).toMatch(/shoal_vector_backlog 0/)
    expect(text).toMatch(/process_resident_memory_bytes \d+/)
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401)
  })

  it('times backups, dumps, snapshot tasks and engine snapshot writes in histograms', async () => {
    const timed = await startServerProcess(path.join(root, 'timed'), [
      '--master-key',
      MASTER,
      '--engine-snapshot-every',
      '2',
    ])
    try {
      const post = async (route: string, body?: unknown) => {
        const response = await fetch(`${timed.url}${route}`, {
          method: 'POST',
          headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        })
        expect(response.status, route).toBe(202)
        return ((await response.json()) as { taskUid: number }).taskUid
      }
      await post('/indexes', { uid: 'timed' })
      await post('/indexes/timed/documents', [{ id: 1 }, { id: 2 }, { id: 3 }])
      const uids = [await post('/dumps'), await post('/snapshots'), await post('/admin/backups')]
      for (const uid of uids)
        for (let i = 0; i < 200; i++) {
          const task = (await (await fetch(`${timed.url}/tasks/${uid}`, { headers: auth })).json()) as {
            status: string
          }
          expect(task.status).not.toBe('failed')
          if (task.status === 'succeeded') break
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
      const text = await (await fetch(`${timed.url}/metrics`, { headers: auth })).text()
      for (const type of ['dumpCreation', 'snapshotCreation', 'backupCreation', 'documentAdditionOrUpdate'])
        expect(text).toMatch(
          new RegExp(`shoal_task_duration_seconds_count\\{type="${type}",status="succeeded"\\} 1`),
        )
      expect(text).toMatch(/shoal_backup_duration_seconds_count\{mode="standalone",status="succeeded"\} 1/)
      expect(text).toMatch(/shoal_engine_snapshot_duration_seconds_count [1-9]/)
      // The cluster-only histograms exist with no observation on a standalone node.
      expect(text).toMatch(/shoal_raft_snapshot_send_duration_seconds_count 0/)
    } finally {
      await timed.stop()
    }
  })

  it('answers CORS preflights so that browsers can search with a search key', async () => {
    const preflight = await fetch(`${server.url}/indexes/movies/search`, {
      method: 'OPTIONS',
      headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*')
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST')
    const health = await fetch(`${server.url}/health`, { headers: { origin: 'https://shop.example' } })
    expect(health.headers.get('access-control-allow-origin')).toBe('*')
  })

  it('serves its OpenAPI description without a key', async () => {
    const spec = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
      openapi: string
      paths: Record<string, unknown>
    }
    expect(spec.openapi).toBe('3.1.0')
    expect(Object.keys(spec.paths)).toContain('/indexes/{indexUid}/search')
  })

  it('stops gracefully on SIGTERM with exit code 0', async () => {
    expect(await server.stop('SIGTERM')).toBe(0)
    expect(server.output()).not.toMatch(/"level":50/)
  })
})
