import path from 'node:path'
import { open } from '@shoal/engine'
import { type CreateServerOptions, createServer, resolveConfig, type ShoalServer } from '../../src/index.ts'
import { tempDir } from './server-process.ts'

/** A JSON answer, read loosely by the tests (each test states the shape it expects). */
// biome-ignore lint/suspicious/noExplicitAny: tests assert on the shape themselves
export type Json = any

/**
 * A real server on a loopback port inside the test process (real engine,
 * disk and sockets; no fsync, for speed). `call` speaks HTTP to it.
 */
export interface InProcessServer {
  server: ShoalServer
  /** The data folder (removed by `close`). */
  dir: string
  call(method: string, url: string, body?: unknown): Promise<{ status: number; body: Json }>
  /** Polls a task until it has finished; returns it. */
  waitTask(uid: number): Promise<Json>
  /** Sends a write and waits for its task; fails the test unless it succeeded. */
  write(method: string, url: string, body?: unknown): Promise<Json>
  close(): Promise<void>
}

export async function startInProcess(
  masterKey = 'in-process-master-key-0123456789',
  flags: Record<string, string> = {},
  options: Omit<CreateServerOptions, 'config' | 'engine'> = {},
): Promise<InProcessServer> {
  const { dir, remove } = await tempDir('shoal-inproc-')
  const config = resolveConfig({
    flags: {
      'data-dir': dir,
      'http-addr': '127.0.0.1:0',
      'master-key': masterKey,
      'log-level': 'silent',
      sync: 'none',
      ...flags,
    },
  })
  const engine = await open(path.join(dir, 'engine'), { sync: 'none', snapshotEvery: 0 })
  const server = await createServer({ ...options, config, engine })
  async function call(method: string, url: string, body?: unknown) {
    const headers: Record<string, string> = { authorization: `Bearer ${masterKey}` }
    if (body !== undefined) headers['content-type'] = 'application/json'
    const response = await fetch(`${server.url}${url}`, {
      method,
      headers,
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    })
    const text = await response.text()
    return { status: response.status, body: text === '' ? {} : JSON.parse(text) }
  }
  async function waitTask(uid: number) {
    for (;;) {
      const task = (await call('GET', `/tasks/${uid}`)).body
      if (['succeeded', 'failed', 'canceled'].includes(task.status)) return task
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  }
  return {
    server,
    dir,
    call,
    waitTask,
    async write(method, url, body) {
      const answer = await call(method, url, body)
      if (answer.status !== 202)
        throw new Error(`${method} ${url}: ${answer.status} ${JSON.stringify(answer.body)}`)
      const task = await waitTask(answer.body.taskUid)
      if (task.status !== 'succeeded') throw new Error(`${method} ${url}: task ${JSON.stringify(task)}`)
      return task
    },
    async close() {
      await server.close()
      await remove()
    },
  }
}
