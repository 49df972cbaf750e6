import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { noop } from 'cockatiel'
import { Etcd3 } from 'etcd3'
import { freePort } from '../examples/kv/cluster.ts'

/** The etcd server binary (`ETCD_BINARY` env to use another build). */
export const ETCD_BINARY = process.env.ETCD_BINARY ?? '/usr/bin/etcd'

const live = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

interface EtcdMember {
  args: string[]
  name: string
  clientPort: number
  peerPort: number
  child: ChildProcess | null
}

export interface EtcdClusterOptions {
  heartbeatMs: number
  electionMs: number
  /** Pre-vote before a real election (Shoal's core always pre-votes; etcd 3.4 defaults to off). */
  preVote: boolean
}

/**
 * `etcd --version` as one line, e.g. `etcd 3.4.23 (Go go1.19.8)`, or null
 * when etcd is not installed.
 */
export function etcdVersion(): string | null {
  if (!existsSync(ETCD_BINARY)) return null
  const text = execFileSync(ETCD_BINARY, ['--version'], { encoding: 'utf8' })
  const version = /etcd Version:\s*(\S+)/.exec(text)?.[1] ?? 'unknown'
  const go = /Go Version:\s*(\S+)/.exec(text)?.[1]
  return go === undefined ? `etcd ${version}` : `etcd ${version} (${go})`
}

/**
 * Three etcd members on loopback with temporary data directories and the
 * given heartbeat/election settings (default fsync behaviour).
 */
export class EtcdCluster {
  readonly members: EtcdMember[] = []
  readonly root: string

  private constructor(root: string) {
    this.root = root
  }

  static available(): boolean {
    return existsSync(ETCD_BINARY)
  }

  static async start(options: EtcdClusterOptions): Promise<EtcdCluster> {
    const cluster = new EtcdCluster(await mkdtemp(path.join(tmpdir(), 'shoal-etcd-')))
    for (let i = 1; i <= 3; i++)
      cluster.members.push({
        name: `e${i}`,
        clientPort: await freePort(),
        peerPort: await freePort(),
        child: null,
        args: [],
      })
    const initial = cluster.members.map((m) => `${m.name}=http://127.0.0.1:${m.peerPort}`).join(',')
    for (const m of cluster.members) {
      m.args = [
        ...['--name', m.name, '--data-dir', path.join(cluster.root, m.name)],
        ...['--listen-client-urls', `http://127.0.0.1:${m.clientPort}`],
        ...['--advertise-client-urls', `http://127.0.0.1:${m.clientPort}`],
        ...['--listen-peer-urls', `http://127.0.0.1:${m.peerPort}`],
        ...['--initial-advertise-peer-urls', `http://127.0.0.1:${m.peerPort}`],
        ...['--initial-cluster', initial, '--initial-cluster-state', 'new'],
        ...['--heartbeat-interval', String(options.heartbeatMs)],
        ...['--election-timeout', String(options.electionMs)],
        `--pre-vote=${options.preVote}`,
        ...['--log-level', 'error'],
      ]
      cluster.#spawn(m)
    }
    const client = new Etcd3({ hosts: cluster.endpoints() })
    try {
      const deadline = Date.now() + 20_000
      for (;;) {
        try {
          await client.put('warmup').value('1')
          break
        } catch (error) {
          if (Date.now() > deadline) throw error
          await new Promise((r) => setTimeout(r, 100))
        }
      }
    } finally {
      client.close()
    }
    return cluster
  }

  #spawn(m: EtcdMember): void {
    const child = spawn(ETCD_BINARY, m.args, { stdio: ['ignore', 'ignore', 'ignore'] })
    live.add(child)
    child.once('exit', () => live.delete(child))
    m.child = child
  }

  /** Restarts a killed member on its data directory. */
  restart(name: string): void {
    const member = this.#member(name)
    if (member.child === null) this.#spawn(member)
  }

  /** The client URLs of the live members (all but `except`). */
  endpoints(except?: string): string[] {
    return this.members
      .filter((m) => m.name !== except && m.child !== null)
      .map((m) => `http://127.0.0.1:${m.clientPort}`)
  }

  endpoint(name: string): string {
    return `http://127.0.0.1:${this.#member(name).clientPort}`
  }

  /**
   * A client of one member only, so every request goes to that member (no
   * spreading over the cluster, no forwarding when the member leads).
   * `direct` turns off the client's retries and circuit breaker (which holds
   * a host off for 5 s after three failures), so a failover is timed by the
   * servers, not by client back-off.
   */
  client(name: string, options: { direct?: boolean } = {}): Etcd3 {
    const faultHandling = options.direct ? { faultHandling: { host: () => noop, global: noop } } : {}
    return new Etcd3({ hosts: this.endpoint(name), ...faultHandling })
  }

  /** The member that leads, by asking each live member's status until one says it leads. */
  async leader(timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      for (const m of this.members) {
        if (m.child === null) continue
        const client = this.client(m.name, { direct: true })
        try {
          const status = await client.maintenance.status()
          if (status.leader === status.header.member_id) return m.name
        } catch {
          // Not up yet, or between leaders: ask the next one.
        } finally {
          client.close()
        }
      }
      await new Promise((r) => setTimeout(r, 50))
    }
    throw new Error(`no etcd leader within ${timeoutMs} ms`)
  }

  async kill(name: string): Promise<void> {
    const member = this.#member(name)
    const child = member.child
    if (child === null) return
    member.child = null
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    }
  }

  /** Stops the member's process where it stands (SIGSTOP); its sockets stay open. */
  pause(name: string): void {
    this.#member(name).child?.kill('SIGSTOP')
  }

  resume(name: string): void {
    this.#member(name).child?.kill('SIGCONT')
  }

  #member(name: string): EtcdMember {
    const member = this.members.find((m) => m.name === name)
    if (member === undefined) throw new Error(`no etcd member ${name}`)
    return member
  }

  async stop(): Promise<void> {
    for (const m of this.members) await this.kill(m.name)
    await rm(this.root, { recursive: true, force: true })
  }
}
