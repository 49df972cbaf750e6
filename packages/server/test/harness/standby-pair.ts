import { spawn } from 'node:child_process'
import { chmod, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { waitFor } from '@shoal/testkit/wait'
import { freePort } from './free-port.ts'
import { CLI, type ServerProcess, startServerProcess, tempDir } from './server-process.ts'

/**
 * A primary and a hot standby as real `shoal start` processes on 127.0.0.1 (docs/standby.md),
 * with a master key, one cluster key, and fixed p2p ports chosen before start (so a fault proxy
 * can sit in front of them).
 */
export const MASTER_KEY = 'standby-test-master-key-0123456789'

/** A JSON object answer; fields are checked by the tests. */
export type ReplyBody = Record<string, unknown>

export interface Reply {
  status: number
  body: ReplyBody
  headers: Headers
}

export interface TaskView {
  uid: number
  status: string
  error: { code: string; message: string } | null
}

export async function call(url: string, method: string, route: string, body?: unknown): Promise<Reply> {
  const response = await fetch(`${url}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${MASTER_KEY}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(15_000),
  })
  const text = await response.text()
  return {
    status: response.status,
    body: text === '' ? {} : (JSON.parse(text) as ReplyBody),
    headers: response.headers,
  }
}

export interface PairNode {
  readonly dataDir: string
  readonly p2pPort: number
  proc: ServerProcess | undefined
  /** This node's libp2p address as it printed it. */
  p2pAddr: string
  url: string
}

export class StandbyPair {
  readonly root: string
  readonly keyFile: string
  readonly primary: PairNode
  readonly standby: PairNode
  readonly #remove: () => Promise<void>

  private constructor(root: string, remove: () => Promise<void>, ports: [number, number]) {
    this.root = root
    this.#remove = remove
    this.keyFile = path.join(root, 'cluster.key')
    const node = (name: string, p2pPort: number): PairNode => ({
      dataDir: path.join(root, name),
      p2pPort,
      proc: undefined,
      p2pAddr: '',
      url: '',
    })
    this.primary = node('primary', ports[0])
    this.standby = node('standby', ports[1])
  }

  static async create(): Promise<StandbyPair> {
    const { dir, remove } = await tempDir('shoal-standby-')
    const pair = new StandbyPair(dir, remove, [await freePort(), await freePort()])
    await writeFile(pair.keyFile, 'standby-test-cluster-key-0123456789abcdef\n')
    await chmod(pair.keyFile, 0o600)
    return pair
  }

  /** Starts `node` with the shared flags plus `args`; records its URL and p2p address. */
  async start(node: PairNode, args: string[]): Promise<ServerProcess> {
    const proc = await startServerProcess(node.dataDir, [
      '--master-key',
      MASTER_KEY,
      '--cluster-key-file',
      this.keyFile,
      '--p2p-addr',
      `127.0.0.1:${node.p2pPort}`,
      ...args,
    ])
    node.proc = proc
    node.url = proc.url
    const match = /p2p:\s+(\/ip4\/\S+\/p2p\/\S+)/.exec(proc.output())
    if (match?.[1] === undefined) throw new Error(`no p2p address printed:\n${proc.output()}`)
    node.p2pAddr = match[1]
    return proc
  }

  startPrimary(args: string[]): Promise<ServerProcess> {
    return this.start(this.primary, args)
  }

  /** Starts the standby following `of` (default: the primary's printed address). */
  startStandby(args: string[] = [], of = this.primary.p2pAddr): Promise<ServerProcess> {
    return this.start(this.standby, ['--standby-of', of, ...args])
  }

  async stop(): Promise<void> {
    await Promise.all([this.primary.proc?.stop('SIGKILL'), this.standby.proc?.stop('SIGKILL')])
    await this.#remove()
  }
}

/** Adds documents and waits for the task; returns its final state. */
export async function addDocuments(url: string, index: string, docs: object[]): Promise<TaskView> {
  const enqueued = await call(url, 'POST', `/indexes/${index}/documents?primaryKey=id`, docs)
  if (enqueued.status !== 202)
    throw new Error(`enqueue answered ${enqueued.status}: ${JSON.stringify(enqueued.body)}`)
  return waitForTask(url, enqueued.body.taskUid as number)
}

export async function waitForTask(url: string, uid: number, timeoutMs = 20_000): Promise<TaskView> {
  let task: TaskView | undefined
  await waitFor(
    `task ${uid} on ${url} to finish`,
    async () => {
      task = (await call(url, 'GET', `/tasks/${uid}`)).body as unknown as TaskView
      return ['succeeded', 'failed', 'canceled'].includes(task.status)
    },
    { timeoutMs, intervalMs: 25 },
  )
  return task as TaskView
}

/** Every document id of `index` on `url`, read with stale reads allowed (a standby). */
export async function documentIds(url: string, index: string): Promise<number[]> {
  const page = await call(url, 'GET', `/indexes/${index}/documents?limit=100000&fields=id`)
  if (page.status !== 200) throw new Error(`documents answered ${page.status}: ${JSON.stringify(page.body)}`)
  return (page.body.results as { id: number }[]).map((d) => d.id).sort((a, b) => a - b)
}

/** A `shoal witness` process; resolves once it printed its p2p address. */
export async function startWitnessProcess(
  dataDir: string,
  keyFile: string,
): Promise<{ p2pAddr: string; stop(): Promise<void> }> {
  const child = spawn(
    process.execPath,
    [CLI, 'witness', '--data-dir', dataDir, '--p2p-addr', '127.0.0.1:0', '--cluster-key-file', keyFile],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SHOAL_LOG_LEVEL: 'warn' } },
  )
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  let output = ''
  const p2pAddr = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const match = /p2p:\s+(\/ip4\/\S+)/.exec(output)
      if (match?.[1] !== undefined) resolve(match[1])
    })
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    exited.then(() => reject(new Error(`the witness exited:\n${output}`)))
    setTimeout(() => reject(new Error(`the witness did not start:\n${output}`)), 20_000).unref()
  })
  return {
    p2pAddr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    },
  }
}
