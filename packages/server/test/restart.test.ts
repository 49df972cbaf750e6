import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ServerProcess, startServerProcess, tempDir } from './harness/server-process.ts'

// Acknowledged = durable: kill -9 the server in the middle of an import, start
// it again on the same folder; every task that had succeeded is still there
// with its documents, and the tasks still queued run to the end.

const BATCHES = 24
const DOCS_PER_BATCH = 250

interface Summary {
  taskUid: number
}

async function post(url: string, path: string, body: unknown): Promise<Summary> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  if (response.status !== 202) throw new Error(`POST ${path}: ${response.status} ${await response.text()}`)
  return (await response.json()) as Summary
}

async function getJson<T>(url: string, path: string): Promise<T> {
  const response = await fetch(`${url}${path}`)
  return (await response.json()) as T
}

function batch(b: number) {
  return Array.from({ length: DOCS_PER_BATCH }, (_, i) => {
    const id = b * DOCS_PER_BATCH + i
    return { id, title: `package ${id}`, summary: `batch ${b} document ${i} of the import` }
  })
}

describe('kill -9 during an import', () => {
  let dir: string
  let removeDir: () => Promise<void>
  let server: ServerProcess | undefined

  beforeAll(async () => {
    const tmp = await tempDir('shoal-restart-')
    dir = tmp.dir
    removeDir = tmp.remove
  })
  afterAll(async () => {
    await server?.stop('SIGKILL')
    await removeDir()
  })

  it('keeps every succeeded task and its documents, and resumes the queue', async () => {
    server = await startServerProcess(dir)
    const first = server
    await post(first.url, '/indexes', { uid: 'packages', primaryKey: 'id' })
    const acknowledged = new Map<number, number>()
    let succeededBeforeKill: number[] = []
    // Send batches without waiting for them to run; kill once some have succeeded and some have not.
    for (let b = 0; b < BATCHES; b++) {
      const summary = await post(first.url, '/indexes/packages/documents', batch(b))
      acknowledged.set(summary.taskUid, b)
      if (b === BATCHES / 2) {
        for (;;) {
          const done = await getJson<{ results: { uid: number }[] }>(
            first.url,
            '/tasks?statuses=succeeded&types=documentAdditionOrUpdate&limit=1000',
          )
          if (done.results.length > 0) {
            succeededBeforeKill = done.results.map((t) => t.uid)
            break
          }
          await new Promise((resolve) => setTimeout(resolve, 5))
        }
      }
    }
    const queued = await getJson<{ total: number }>(first.url, '/tasks?statuses=enqueued,processing&limit=1')
    expect(await first.stop('SIGKILL')).toBe('SIGKILL')
    expect(succeededBeforeKill.length).toBeGreaterThan(0)
    expect(queued.total).toBeGreaterThan(0)

    server = await startServerProcess(dir)
    const second = server
    // Every task that had succeeded still has, and its documents are all there.
    for (const uid of succeededBeforeKill) {
      const task = await getJson<{ status: string }>(second.url, `/tasks/${uid}`)
      expect(task.status).toBe('succeeded')
      const b = acknowledged.get(uid)!
      const ids = [b * DOCS_PER_BATCH, b * DOCS_PER_BATCH + DOCS_PER_BATCH - 1]
      for (const id of ids) {
        const response = await fetch(`${second.url}/indexes/packages/documents/${id}`)
        expect(response.status, `document ${id} of succeeded task ${uid}`).toBe(200)
      }
    }
    // The queue resumes: every acknowledged task finishes, and succeeds.
    for (const uid of acknowledged.keys()) {
      for (;;) {
        const task = await getJson<{ status: string; error: unknown }>(second.url, `/tasks/${uid}`)
        if (task.status === 'succeeded') break
        expect(task.status, JSON.stringify(task.error)).not.toBe('failed')
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    }
    const stats = await getJson<{ numberOfDocuments: number }>(second.url, '/indexes/packages/stats')
    expect(stats.numberOfDocuments).toBe(BATCHES * DOCS_PER_BATCH)
    const next = await post(second.url, '/indexes/packages/documents', [
      { id: 'after-restart', title: 'new' },
    ])
    expect(next.taskUid).toBeGreaterThan(Math.max(...acknowledged.keys()))
    expect(await second.stop('SIGTERM')).toBe(0)
  })
})
