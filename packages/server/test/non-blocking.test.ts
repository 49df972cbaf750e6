import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ServerProcess, startServerProcess, tempDir } from './harness/server-process.ts'

// A server that never freezes (issue 24): a large documents body is parsed in a worker thread
// (src/internal/document-parser.ts), so a health check sent meanwhile is answered at once. The
// latency is measured through the public HTTP API against a real process; the bound asserted is
// generous, because the machine running the tests may be loaded: on two shared cores at load
// 14–23 the worst check took 0.6–1.05 s (copying the received body, and waiting for a core),
// while the same 100 MB body parsed on the event loop held it 12 s. `pnpm bench server-health`
// records the figures.

const MASTER = 'non-blocking-master-key-0123456789'
const HEALTH_BOUND_MS = 2500

/**
 * A JSON array of `count` small documents (about 88 bytes each), written straight into one buffer:
 * the test process keeps no million small strings whose collection would pause its own probe.
 */
function documentsJson(count: number, broken = false): Buffer {
  const out = Buffer.allocUnsafe(count * 100 + 16)
  let at = out.write('[', 0)
  for (let i = 0; i < count; i++) {
    const doc = `{"id":${i},"title":"document number ${i}","tags":["a","b","c"],"rank":${i % 97},"ok":true}`
    at += out.write(i > 0 ? `,${doc}` : doc, at)
  }
  at += out.write(broken ? ',' : ']', at)
  return out.subarray(0, at)
}

describe('health checks while a large body is parsed', () => {
  let server: ServerProcess
  let removeDir: () => Promise<void>

  const call = async (method: string, path: string, body?: Buffer) => {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' },
      ...(body !== undefined ? { body } : {}),
    })
    return { status: response.status, body: (await response.json()) as Record<string, unknown> }
  }

  /** Sends GET /health one after another until `work` settles; returns each answer's latency. */
  const probeHealth = async (work: Promise<unknown>): Promise<number[]> => {
    const latencies: number[] = []
    let done = false
    void work.finally(() => {
      done = true
    })
    while (!done) {
      const sent = performance.now()
      const response = await fetch(`${server.url}/health`)
      expect(response.status).toBe(200)
      await response.text()
      latencies.push(performance.now() - sent)
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    return latencies
  }

  beforeAll(async () => {
    const tmp = await tempDir('shoal-nonblocking-')
    removeDir = tmp.remove
    server = await startServerProcess(tmp.dir, [
      '--master-key',
      MASTER,
      '--payload-limit-bytes',
      String(200 * 1024 * 1024),
    ])
  })

  afterAll(async () => {
    await server?.stop()
    await removeDir?.()
  })

  it('answers health checks within the bound while a 100 MB body is parsed (and refused at its end)', async () => {
    // Malformed only at its very end: the whole body is parsed, then refused, and no task runs,
    // so what the probe measures is the parse alone.
    const body = documentsJson(1_150_000, true)
    expect(body.byteLength).toBeGreaterThan(100_000_000)
    const request = call('POST', '/indexes/big/documents', body)
    const latencies = await probeHealth(request)
    const answer = await request
    expect(answer.status).toBe(400)
    expect(answer.body.code).toBe('malformed_payload')
    expect(latencies.length).toBeGreaterThan(0)
    expect(Math.max(...latencies)).toBeLessThan(HEALTH_BOUND_MS)
  })

  it('counts the documents of a body parsed in the worker, and the task indexes them all', async () => {
    const body = documentsJson(20_000)
    expect(body.byteLength).toBeGreaterThan(1 << 20)
    const answer = await call('POST', '/indexes/counted/documents', body)
    expect(answer.status).toBe(202)
    const uid = answer.body.taskUid as number
    let task: Record<string, unknown>
    for (;;) {
      task = (await call('GET', `/tasks/${uid}`)).body
      if (task.status === 'succeeded' || task.status === 'failed') break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(task.status).toBe('succeeded')
    expect(task.details).toEqual({ receivedDocuments: 20_000, indexedDocuments: 20_000 })
    const stats = await call('GET', '/indexes/counted/stats')
    expect(stats.body.numberOfDocuments).toBe(20_000)
  })

  it('refuses a malformed large body with the error an inline parse gives', async () => {
    const body = Buffer.concat([documentsJson(15_000).subarray(0, -1), Buffer.from(',42]')])
    const answer = await call('POST', '/indexes/counted/documents', body)
    expect(answer.status).toBe(400)
    expect(answer.body.code).toBe('malformed_payload')
    expect(answer.body.message).toContain('document 15000 is not an object')
  })
})
