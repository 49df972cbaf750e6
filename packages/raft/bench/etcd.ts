import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { noop } from 'cockatiel'
import { Etcd3 } from 'etcd3'
import { freePort } from '../examples/kv/cluster.ts'

export const ETCD_BINARY = '/usr/bin/etcd'

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

  static async start(options: { heartbeatMs: number; electionMs: number }): Promise<EtcdCluster> {
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
        ...[
          '--heartbeat-interval',
          String(options.heartbeatMs),
          '--election-timeout',
          String(options.electionMs),
        ],
        ...['--log-level', 'error'],
      ]
      cluster.#spawn(m)
    }
    const client = cluster.client()
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
    const member = this.members.find((m) => m.name === name)
    if (member !== undefined && member.child === null) this.#spawn(member)
  }

  endpoints(except?: string): string[] {
    return this.members
      .filter((m) => m.name !== except && m.child !== null)
      .map((m) => `http://127.0.0.1:${m.clientPort}`)
  }

  /**
   * A client of the live members. `direct` turns off the client's retries and
   * circuit breaker (which holds a host off for 5 s after three failures), so
   * a failover is timed by the servers, not by client back-off.
   */
  client(except?: string, options: { direct?: boolean } = {}): Etcd3 {
    const faultHandling = options.direct ? { faultHandling: { host: () => noop, global: noop } } : {}
    return new Etcd3({ hosts: this.endpoints(except), ...faultHandling })
  }

  /** The member that leads, by asking each member's status. */
  async leader(): Promise<string> {
    for (const m of this.members) {
      if (m.child === null) continue
      const client = new Etcd3({ hosts: `http://127.0.0.1:${m.clientPort}` })
      try {
        const status = await client.maintenance.status()
        if (status.leader === status.header.member_id) return m.name
      } finally {
        client.close()
      }
    }
    throw new Error('no etcd leader')
  }

  async kill(name: string): Promise<void> {
    const member = this.members.find((m) => m.name === name)
    const child = member?.child
    if (member === undefined || child == null) return
    member.child = null
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    }
  }

  async stop(): Promise<void> {
    for (const m of this.members) await this.kill(m.name)
    await rm(this.root, { recursive: true, force: true })
  }
}
