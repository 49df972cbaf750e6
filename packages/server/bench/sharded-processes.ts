/**
 * The processes and the HTTP client of the sharded-index benchmark: `shoal start` processes (one
 * standalone node, and a three-node cluster on loopback), JSON requests for setup, task waits, and
 * one keep-alive search client used the same way against both.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { chmod, writeFile } from 'node:fs/promises'
import { Agent, request as httpRequest } from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { traceEnv } from './sharded-trace.ts'

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
export const MASTER_KEY = 'sharded-bench-master-key'

/** One running `shoal start` process. */
export interface ShoalProcess {
  readonly name: string
  readonly url: string
  readonly pid: number
  /** The gossip address (cluster nodes only). */
  readonly gossip: string | null
  output(): string
  stop(): Promise<void>
}

const READY_SINGLE = /listening on (http:\/\/\S+)/
const READY_CLUSTER =
  /listening on (http:\/\/\S+)[\s\S]*cluster:\s+\S+ as node \S+\n\s+p2p:\s+\S+[^\n]*\n\s+gossip:\s+(\S+)/

/** Starts `shoal start <args>` and waits until it says where it listens. */
export async function startShoal(
  name: string,
  dataDir: string,
  args: readonly string[],
  clustered: boolean,
): Promise<ShoalProcess> {
  // SHARDED_CPU_PROF=<dir>: each process writes a V8 CPU profile there when it stops.
  const profile = process.env.SHARDED_CPU_PROF
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...(profile === undefined || profile === ''
        ? []
        : ['--cpu-prof', '--cpu-prof-dir', profile, '--cpu-prof-name', `${name}.cpuprofile`]),
      CLI,
      'start',
      '--data-dir',
      dataDir,
      '--http-addr',
      '127.0.0.1:0',
      '--master-key',
      MASTER_KEY,
      '--log-level',
      'warn',
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...traceEnv(name) } },
  )
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => resolve(String(code ?? signal))),
  )
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start in 90 s:\n${output}`)), 90_000)
    const check = () => {
      const found = (clustered ? READY_CLUSTER : READY_SINGLE).exec(output)
      if (found === null) return
      clearTimeout(timer)
      child.stdout?.off('data', check)
      resolve(found)
    }
    child.stdout?.on('data', check)
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`${name} exited (${code}) before it was ready:\n${output}`))
    })
  })
  return {
    name,
    url: match[1] as string,
    pid: child.pid as number,
    gossip: clustered ? (match[2] as string) : null,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await gone
      clearTimeout(timer)
    },
  }
}

/** Resident set size of a process, from /proc/<pid>/status, in MiB. */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/^VmRSS:\s*(\d+) kB/m.exec(status)?.[1] ?? Number.NaN) / 1024
}

/** A standalone node. */
export function startSingle(dir: string): Promise<ShoalProcess> {
  return startShoal('single', path.join(dir, 'single'), [], false)
}

/**
 * Three cluster nodes on loopback (`local` gossip profile, default Raft timing): n0 bootstraps,
 * n1 and n2 join it; resolves once all three are metadata voters.
 */
export async function startCluster(dir: string): Promise<ShoalProcess[]> {
  const keyFile = path.join(dir, 'cluster.key')
  await writeFile(keyFile, 'sharded-bench-cluster-key-000000000\n', { mode: 0o600 })
  await chmod(keyFile, 0o600)
  const common = (i: number) => [
    '--p2p-addr',
    '127.0.0.1:0',
    '--gossip-addr',
    '127.0.0.1:0',
    '--gossip-profile',
    'local',
    '--cluster-key-file',
    keyFile,
    '--node-name',
    `n${i}`,
    '--zone',
    'z1',
  ]
  const nodes: ShoalProcess[] = []
  try {
    const first = await startShoal('n0', path.join(dir, 'n0'), [...common(0), '--bootstrap'], true)
    nodes.push(first)
    for (const i of [1, 2])
      nodes.push(
        await startShoal(`n${i}`, path.join(dir, `n${i}`), [...common(i), '--join', first.gossip!], true),
      )
    await until('three metadata voters', 90_000, async () => {
      const view = (await json(first.url, 'GET', '/_cluster/nodes')) as { nodes: Array<{ roles: string[] }> }
      return view.nodes.filter((n) => n.roles.includes('metadata_voter')).length === 3
    })
    return nodes
  } catch (error) {
    await Promise.all(nodes.map((n) => n.stop()))
    throw error
  }
}

/** Polls `check` every 100 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last: unknown = null
  for (;;) {
    try {
      if (await check()) return
    } catch (error) {
      last = error
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`, { cause: last })
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/**
 * Answers of 500 and above seen by `json` (which sends the request again, up to 5 times, half a
 * second apart): the suite records them, since a node should never answer 500.
 */
export const serverErrors: string[] = []

/**
 * An authenticated JSON request for setup and task polling. A 5xx is noted in `serverErrors` and
 * the request sent again (safe here: a dropped enqueue was not committed, and adding the same
 * documents twice leaves the same index); any other status but 2xx throws.
 */
export async function json(url: string, method: string, route: string, body?: unknown): Promise<unknown> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await jsonOnce(url, method, route, body)
    } catch (error) {
      const status = (error as { status?: number }).status ?? 0
      if (status < 500 || attempt >= 5) throw error
      serverErrors.push(String((error as Error).message).slice(0, 300))
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
  }
}

async function jsonOnce(url: string, method: string, route: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${url}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${MASTER_KEY}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(120_000),
  })
  const text = await response.text()
  if (!response.ok)
    throw Object.assign(new Error(`${method} ${route}: ${response.status} ${text.slice(0, 500)}`), {
      status: response.status,
    })
  return text === '' ? null : JSON.parse(text)
}

/** A task as `GET /tasks/{uid}` shows it (the fields this benchmark reads). */
export interface TaskView {
  uid: number
  status: string
  error: unknown
  details: Record<string, unknown> | null
  enqueuedAt: string
  startedAt: string | null
  finishedAt: string | null
}

/**
 * How many times a node answered 404 to `GET /tasks/{uid}` for a uid it had just returned in a
 * 202 (a cluster node that does not lead the metadata answers from its own copy, which may not
 * have applied the enqueue yet). Recorded by the suite; such a 404 is retried for up to 10 s.
 */
export const taskNotFoundAfterEnqueue = { count: 0 }

/** Waits for a task to end; resolves with it when it succeeded, throws when it did not. */
export async function waitTask(url: string, uid: number, timeoutMs = 600_000): Promise<TaskView> {
  const task = await endTask(url, uid, timeoutMs)
  if (task.status !== 'succeeded')
    throw new Error(`task ${uid} ${task.status}: ${JSON.stringify(task.error)}`)
  return task
}

/** Waits for a task to end (succeeded, failed or canceled) and resolves with it. */
export async function endTask(url: string, uid: number, timeoutMs = 600_000): Promise<TaskView> {
  const deadline = Date.now() + timeoutMs
  const started = Date.now()
  let missing = false
  for (;;) {
    let task: TaskView
    try {
      task = (await json(url, 'GET', `/tasks/${uid}`)) as TaskView
    } catch (error) {
      if (!String(error).includes(': 404 ') || Date.now() - started > 10_000) throw error
      if (!missing) taskNotFoundAfterEnqueue.count++
      missing = true
      await new Promise((resolve) => setTimeout(resolve, 10))
      continue
    }
    if (['succeeded', 'failed', 'canceled'].includes(task.status)) return task
    if (Date.now() > deadline) throw new Error(`task ${uid} still ${task.status} after ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/**
 * The search client: node:http over one keep-alive connection per target, one request at a time,
 * timed from the write of the request to the last byte of the answer. The same code runs against
 * the standalone node and the cluster, so the client's share of each latency is the same.
 */
export class SearchClient {
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 1 })

  /** POSTs `body` to `url`; resolves with the latency in ms and the answer's text. */
  post(url: string, body: unknown): Promise<{ ms: number; text: string }> {
    const payload = JSON.stringify(body)
    return new Promise((resolve, reject) => {
      const started = performance.now()
      const request = httpRequest(
        url,
        {
          method: 'POST',
          agent: this.#agent,
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${MASTER_KEY}`,
            'content-length': Buffer.byteLength(payload),
          },
        },
        (response) => {
          const chunks: Buffer[] = []
          response.on('data', (chunk: Buffer) => chunks.push(chunk))
          response.on('end', () => {
            const ms = performance.now() - started
            const text = Buffer.concat(chunks).toString('utf8')
            if (response.statusCode !== 200)
              reject(new Error(`search answered ${response.statusCode}: ${text.slice(0, 300)}`))
            else resolve({ ms, text })
          })
        },
      )
      request.setTimeout(60_000, () => request.destroy(new Error('search timed out after 60 s')))
      request.on('error', reject)
      request.end(payload)
    })
  }

  close(): void {
    this.#agent.destroy()
  }
}

/**
 * The sums of the named counters a node exposes on `/metrics`, keyed `name{labels}` as written
 * there (every label set of each name).
 */
export async function counters(url: string, names: readonly string[]): Promise<Map<string, number>> {
  const response = await fetch(`${url}/metrics`, {
    headers: { authorization: `Bearer ${MASTER_KEY}` },
    signal: AbortSignal.timeout(30_000),
  })
  const text = await response.text()
  if (!response.ok) throw new Error(`GET /metrics: ${response.status} ${text.slice(0, 300)}`)
  const values = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    const key = line.slice(0, space)
    if (names.some((name) => key === name || key.startsWith(`${name}{`)))
      values.set(key, Number(line.slice(space + 1)))
  }
  return values
}
