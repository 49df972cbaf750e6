import { type ChildProcess, spawn } from 'node:child_process'
import { chmod, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { waitFor } from '@shoal/testkit/wait'
import { CLI } from './server-process.ts'

export const MASTER_KEY = 'cluster-test-master-key'

/** One `shoal start` process of a test cluster, restartable on the same data dir and ports. */
export interface ClusterProcess {
  readonly name: string
  readonly dataDir: string
  url: string
  nodeId: string
  gossipAddr: string
  p2pAddr: string
  child: ChildProcess
  output(): string
  /** kill -9; resolves once the process is gone. */
  kill(): Promise<void>
  /** A graceful stop (SIGTERM). */
  stop(): Promise<void>
  /** Starts again on the same data dir, HTTP, p2p and gossip ports. */
  restart(): Promise<void>
  /** Authenticated JSON request to this node's HTTP API. */
  request<T>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }>
}

export interface StartOptions {
  readonly name: string
  readonly dataDir: string
  readonly keyFile: string
  readonly bootstrap?: boolean
  readonly join?: readonly string[]
  readonly zone?: string
  readonly extraArgs?: readonly string[]
  /** The command in place of `start` the first time (`['cluster', 'init', '--from-standalone']`). */
  readonly firstCommand?: readonly string[]
}

/** Writes a cluster key file with mode 0600. */
export async function writeKeyFile(dir: string, name: string, key: string): Promise<string> {
  const file = path.join(dir, name)
  await writeFile(file, `${key}\n`, { mode: 0o600 })
  await chmod(file, 0o600)
  return file
}

/**
 * Starts one node: ephemeral ports the first time (then the same ones on
 * restart), the `local` gossip profile and 50 ms Raft ticks so tests run
 * quickly, a master key, and warnings only in the log.
 */
export async function startClusterProcess(options: StartOptions): Promise<ClusterProcess> {
  let ports = { http: '127.0.0.1:0', p2p: '127.0.0.1:0', gossip: '127.0.0.1:0' }
  let command: readonly string[] = options.firstCommand ?? ['start']
  const spawnNode = async (): Promise<{
    child: ChildProcess
    url: string
    nodeId: string
    gossip: string
    p2p: string
    output: () => string
  }> => {
    const args = [
      CLI,
      ...command,
      '--data-dir',
      options.dataDir,
      '--http-addr',
      ports.http,
      '--p2p-addr',
      ports.p2p,
      '--gossip-addr',
      ports.gossip,
      '--gossip-profile',
      'local',
      '--raft-tick-ms',
      '50',
      '--cluster-key-file',
      options.keyFile,
      '--master-key',
      MASTER_KEY,
      '--node-name',
      options.name,
      '--zone',
      options.zone ?? 'z1',
      '--log-level',
      'warn',
      ...(options.bootstrap === true ? ['--bootstrap'] : []),
      ...(options.join !== undefined && options.join.length > 0 ? ['--join', options.join.join(',')] : []),
      ...(options.extraArgs ?? []),
    ]
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    const exited = new Promise<string>((resolve) =>
      child.once('exit', (code, signal) => resolve(String(code ?? signal))),
    )
    const started = await new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${options.name} did not start in time:\n${output}`)),
        90_000,
      )
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString()
        const match =
          /listening on (http:\/\/\S+)[\s\S]*cluster:\s+(\S+) as node (\S+)\n\s+p2p:\s+(\S+)[^\n]*\n\s+gossip:\s+(\S+)/.exec(
            output,
          )
        if (match !== null) {
          clearTimeout(timer)
          resolve(match)
        }
      })
      child.stderr?.on('data', (chunk: Buffer) => {
        output += chunk.toString()
      })
      void exited.then((code) => {
        clearTimeout(timer)
        reject(new Error(`${options.name} exited (${code}) before it was ready:\n${output}`))
      })
    })
    const url = started[1] as string
    return {
      child,
      url,
      nodeId: started[3] as string,
      p2p: started[4] as string,
      gossip: started[5] as string,
      output: () => output,
    }
  }
  const first = await spawnNode()
  command = ['start']
  const hostPort = (multiaddr: string) => {
    const match = /\/ip4\/([^/]+)\/tcp\/(\d+)/.exec(multiaddr)
    return match === null ? '127.0.0.1:0' : `${match[1]}:${match[2]}`
  }
  ports = { http: new URL(first.url).host, p2p: hostPort(first.p2p), gossip: first.gossip }
  let current = first
  const node: ClusterProcess = {
    name: options.name,
    dataDir: options.dataDir,
    url: first.url,
    nodeId: first.nodeId,
    gossipAddr: first.gossip,
    p2pAddr: first.p2p,
    child: first.child,
    output: () => current.output(),
    async kill() {
      await killChild(current.child, 'SIGKILL')
    },
    async stop() {
      await killChild(current.child, 'SIGTERM')
    },
    async restart() {
      current = await spawnNode()
      node.child = current.child
      node.url = current.url
      node.nodeId = current.nodeId
    },
    async request<T>(method: string, route: string, body?: unknown) {
      const response = await fetch(`${node.url}${route}`, {
        method,
        headers: {
          authorization: `Bearer ${MASTER_KEY}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      })
      const text = await response.text()
      return { status: response.status, body: (text === '' ? null : JSON.parse(text)) as T }
    },
  }
  return node
}

async function killChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill(signal)
  await gone
}

/** Runs `shoal start` expecting it to fail; resolves with its exit code and output. */
export async function startExpectingFailure(
  args: readonly string[],
  timeoutMs = 40_000,
): Promise<{ code: string; output: string }> {
  const child = spawn(process.execPath, [CLI, 'start', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const code = await new Promise<string>((resolve) => child.once('exit', (c, s) => resolve(String(c ?? s))))
  clearTimeout(timer)
  return { code, output }
}

/**
 * Three nodes under `dir` (`n0` bootstraps, `n1` and `n2` join through it) with a key file
 * holding `key`, each started with `extraArgs` too; resolves once all three are metadata voters.
 */
export async function startThreeNodeCluster(
  dir: string,
  key: string,
  extraArgs: readonly string[] = [],
  /** More arguments for node `i` alone (labels, region). */
  argsOf: (i: number) => readonly string[] = () => [],
): Promise<ClusterProcess[]> {
  const keyFile = await writeKeyFile(dir, 'cluster.key', key)
  const first = await startClusterProcess({
    name: 'n0',
    dataDir: `${dir}/n0`,
    keyFile,
    bootstrap: true,
    extraArgs: [...extraArgs, ...argsOf(0)],
  })
  const nodes = [first]
  for (const i of [1, 2])
    nodes.push(
      await startClusterProcess({
        name: `n${i}`,
        dataDir: `${dir}/n${i}`,
        keyFile,
        join: [first.gossipAddr],
        extraArgs: [...extraArgs, ...argsOf(i)],
      }),
    )
  await waitFor(
    'three metadata voters',
    async () => {
      const view = await first.request<{ nodes: Array<{ roles: string[] }> }>('GET', '/_cluster/nodes')
      return view.body.nodes.filter((n) => n.roles.includes('metadata_voter')).length === 3
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  )
  return nodes
}
