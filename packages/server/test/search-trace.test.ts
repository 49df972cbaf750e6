/**
 * `SHOAL_SEARCH_TRACE=<file>` (docs/distributed-search.md, Performance): a node writes the stages
 * of every search it answered, its garbage collections and its event loop's delay to the file when
 * it exits; a file it cannot write stops it at start, naming the variable.
 */
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startServerProcess, tempDir } from './harness/server-process.ts'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function post(url: string, route: string, body: unknown): Promise<unknown> {
  const response = await fetch(`${url}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  expect(response.status, route).toBeLessThan(300)
  return response.json()
}

interface Dump {
  requests: { uid: string; atMs: number; stages: [string, number, number][]; cpuMs: number }[]
  loop: number[][]
  gc: number[][]
}

describe('SHOAL_SEARCH_TRACE', () => {
  it('a node writes every search it answered, stage by stage in order, when it exits', async () => {
    const { dir, remove } = await tempDir('shoal-search-trace-')
    cleanups.push(remove)
    const file = path.join(dir, 'trace.json')
    const node = await startServerProcess(path.join(dir, 'data'), [], { SHOAL_SEARCH_TRACE: file })
    cleanups.push(() => node.stop())
    const task = (await post(node.url, '/indexes/books/documents', [
      { id: 1, title: 'the hobbit' },
      { id: 2, title: 'the silmarillion' },
    ])) as { taskUid: number }
    for (;;) {
      const view = (await (await fetch(`${node.url}/tasks/${task.taskUid}`)).json()) as { status: string }
      if (view.status === 'succeeded') break
      expect(['enqueued', 'processing']).toContain(view.status)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const startedMs = Date.now()
    await post(node.url, '/indexes/books/search', { q: 'hobbit' })
    await post(node.url, '/indexes/books/search', { q: 'silmarillion', limit: 1 })
    // Other routes are not traced.
    await post(node.url, '/indexes/books/documents/fetch', {})
    expect(await node.stop()).toBe(0)

    const dump = JSON.parse(await readFile(file, 'utf8')) as Dump
    expect(dump.requests).toHaveLength(2)
    for (const request of dump.requests) {
      expect(request.uid).toBe('books')
      expect(request.atMs).toBeGreaterThanOrEqual(startedMs - 1_000)
      expect(request.stages.map(([stage]) => stage)).toEqual([
        'auth',
        'body',
        'route',
        'index',
        'parse',
        'search',
        'serialize',
        'send',
      ])
      for (const [, ms, cpuMs] of request.stages) {
        expect(ms).toBeGreaterThanOrEqual(0)
        expect(cpuMs).toBeGreaterThanOrEqual(0)
      }
      expect(request.cpuMs).toBeGreaterThanOrEqual(0)
    }
    expect(Array.isArray(dump.loop) && Array.isArray(dump.gc)).toBe(true)
  })

  it('a node whose trace file cannot be written does not start, and says why', async () => {
    const { dir, remove } = await tempDir('shoal-search-trace-')
    cleanups.push(remove)
    const file = path.join(dir, 'no-such-folder', 'trace.json')
    await expect(
      startServerProcess(path.join(dir, 'data'), [], { SHOAL_SEARCH_TRACE: file }),
    ).rejects.toThrow(/SHOAL_SEARCH_TRACE=.*cannot write the search trace/)
  })
})
