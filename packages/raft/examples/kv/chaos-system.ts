/**
 * The example key-value service as a system under test for the nemesis runner
 * (`@shoal/testkit/chaos`): real member processes whose Raft links all pass a
 * fault proxy, clients that tell certain failures from unknown outcomes, data
 * directories on small tmpfs mounts where this machine allows mounting (for
 * the disk-full fault), and replica comparison by local reads.
 *
 * Not supported: membership changes (the service has no request for them).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import {
  type ChaosClient,
  type FaultNetwork,
  fillUp,
  type OpOutcome,
  type ReplicaState,
  type SystemCapabilities,
  type SystemUnderTest,
  tryMountTmpfs,
  unmountTmpfs,
} from '@shoal/testkit/chaos'
import { Connection, ConnectionClosedError, KvClient } from './client.ts'
import { KvProcessCluster } from './cluster.ts'
import { NOT_LEADER, OK } from './protocol.ts'

export interface KvChaosOptions {
  /** @defaultValue 3 */
  size?: number
  /** @defaultValue 20 */
  tickMs?: number
  /** @defaultValue 10 */
  electionTicks?: number
  /** @defaultValue 500 */
  snapshotEntries?: number
  /** Give up on an operation after this long (its outcome is then unknown). @defaultValue 5000 */
  operationTimeoutMs?: number
  /** Size of each member's tmpfs, when mounting works here. @defaultValue 64 */
  tmpfsMiB?: number
  /**
   * A deliberately wrong client for testing the checks: reads go to a random
   * member and return its local state without asking the leader. @defaultValue false
   */
  staleReads?: boolean
}

interface Status {
  role: string
  commitIndex: number
  appliedIndex: number
}

export class KvChaosSystem implements SystemUnderTest {
  readonly name = 'raft-kv'
  readonly nodes: readonly string[]
  readonly capabilities: SystemCapabilities
  readonly #cluster: KvProcessCluster
  readonly #root: string
  readonly #operationTimeoutMs: number
  readonly #tmpfs: boolean
  readonly #staleReads: boolean

  private constructor(cluster: KvProcessCluster, root: string, tmpfs: boolean, options: KvChaosOptions) {
    this.#cluster = cluster
    this.#root = root
    this.#tmpfs = tmpfs
    this.#operationTimeoutMs = options.operationTimeoutMs ?? 5000
    this.#staleReads = options.staleReads ?? false
    this.nodes = cluster.members.map((m) => m.id)
    this.capabilities = { pause: true, clock: true, diskFull: tmpfs, fsyncFailure: true, membership: false }
  }

  static async create(options: KvChaosOptions = {}): Promise<KvChaosSystem> {
    const root = await mkdtemp(path.join(tmpdir(), 'shoal-chaos-kv-'))
    const cluster = await KvProcessCluster.create({
      size: options.size ?? 3,
      tickMs: options.tickMs ?? 20,
      electionTicks: options.electionTicks ?? 10,
      snapshotEntries: options.snapshotEntries ?? 500,
      root,
    })
    let tmpfs = true
    for (const member of cluster.members) {
      await mkdir(member.dir, { recursive: true })
      tmpfs = tmpfs && tryMountTmpfs(member.dir, options.tmpfsMiB ?? 64)
    }
    if (!tmpfs) for (const member of cluster.members) unmountTmpfs(member.dir)
    return new KvChaosSystem(cluster, root, tmpfs, options)
  }

  async start(network: FaultNetwork): Promise<void> {
    await network.tcpMesh(Object.fromEntries(this.#cluster.members.map((m) => [m.id, { port: m.raftPort }])))
    this.#cluster.setDial((from, to) => network.dial(from, to))
    await this.#cluster.startAll()
  }

  client(_id: string): ChaosClient {
    return new KvChaosClient(this.#cluster.clientAddresses, this.#operationTimeoutMs, this.#staleReads)
  }

  async leader(timeoutMs: number): Promise<string | null> {
    return this.#cluster.leader(timeoutMs).catch(() => null)
  }

  running(node: string): boolean {
    return this.#cluster.running(node)
  }

  kill(node: string): Promise<void> {
    return this.#cluster.kill(node, 'SIGKILL')
  }

  restart(node: string): Promise<void> {
    return this.#cluster.restart(node)
  }

  pause(node: string): void {
    this.#cluster.pause(node)
  }

  resume(node: string): void {
    this.#cluster.resume(node)
  }

  setClockRate(node: string, rate: number): Promise<void> {
    return this.#cluster.setClockRate(node, rate)
  }

  /** Writes a filler file until the member's tmpfs has no space left. */
  fillDisk(node: string): Promise<void> {
    return fillUp(this.#filler(node))
  }

  async freeDisk(node: string): Promise<void> {
    await rm(this.#filler(node), { force: true })
  }

  failFsync(node: string): void {
    this.#cluster.failNextFsync(node)
  }

  async settled(): Promise<boolean> {
    const statuses = await Promise.all(this.nodes.map((n) => this.#status(n)))
    if (statuses.some((s) => s === null)) return false
    const all = statuses as Status[]
    const leader = all.find((s) => s.role === 'leader')
    if (leader === undefined) return false
    return all.every((s) => s.appliedIndex === leader.commitIndex)
  }

  async replicaStates(keys: readonly string[]): Promise<ReplicaState[]> {
    const client = new KvClient(this.#cluster.clientAddresses, { attemptTimeoutMs: 5000 })
    try {
      return await Promise.all(
        this.nodes.map(async (node) => {
          const address = this.#cluster.address(node)
          const status = (await client.direct(address, 'status')) as Status
          const values = new Map<string, string | null>()
          for (const key of keys)
            values.set(key, (await client.direct(address, 'local', key)) as string | null)
          return { node, appliedIndex: status.appliedIndex, values }
        }),
      )
    } finally {
      client.close()
    }
  }

  crashes(): string[] {
    return this.#cluster.members.flatMap((m) => m.crashes.map((c) => `${m.id} exited ${c}`))
  }

  async stop(): Promise<void> {
    await this.#cluster.stop()
    if (this.#tmpfs) for (const member of this.#cluster.members) unmountTmpfs(member.dir)
    await rm(this.#root, { recursive: true, force: true })
  }

  #filler(node: string): string {
    const member = this.#cluster.members.find((m) => m.id === node)
    if (member === undefined) throw new Error(`no member ${node}`)
    return path.join(member.dir, 'filler')
  }

  async #status(node: string): Promise<Status | null> {
    if (!this.#cluster.running(node)) return null
    const client = new KvClient([this.#cluster.address(node)], { attemptTimeoutMs: 1000 })
    try {
      return (await client.direct(this.#cluster.address(node), 'status')) as Status
    } catch {
      return null
    } finally {
      client.close()
    }
  }
}

/**
 * One attempt chain per operation, never a blind retry: a request refused
 * before it reached a member, or answered "not leader", is retried elsewhere
 * (it certainly had no effect); a time-out, a connection lost after sending, or
 * a proposal the leader gave up on ends the operation as unknown.
 */
class KvChaosClient implements ChaosClient {
  readonly #addresses: string[]
  readonly #timeoutMs: number
  readonly #staleReads: boolean
  #connections = new Map<string, Connection>()
  #current = 0
  #nextId = 1
  #readCount = 0

  constructor(addresses: string[], timeoutMs: number, staleReads: boolean) {
    this.#addresses = addresses
    this.#timeoutMs = timeoutMs
    this.#staleReads = staleReads
  }

  async write(key: string, value: string): Promise<OpOutcome<void>> {
    const outcome = await this.#call(['put', key, value, null])
    return outcome.status === 'ok' ? { status: 'ok', value: undefined } : outcome
  }

  async read(key: string): Promise<OpOutcome<string | null>> {
    if (this.#staleReads) this.#current = this.#readCount++
    const outcome = await this.#call([this.#staleReads ? 'local' : 'get', key])
    return outcome.status === 'ok' ? { status: 'ok', value: outcome.value as string | null } : outcome
  }

  close(): void {
    for (const connection of this.#connections.values()) connection.close()
    this.#connections.clear()
  }

  async #call(body: unknown[]): Promise<OpOutcome<unknown>> {
    const deadline = Date.now() + this.#timeoutMs
    let lastRefusal = 'no member reachable'
    while (Date.now() < deadline) {
      const address = this.#addresses[this.#current % this.#addresses.length] as string
      let response: [number, number, unknown]
      try {
        response = await this.#connection(address).request(this.#nextId++, body, deadline - Date.now())
      } catch (error) {
        if (error instanceof ConnectionClosedError && !error.connected) {
          lastRefusal = 'connection refused'
          this.#current++
          await sleep(20)
          continue
        }
        const reason = error instanceof ConnectionClosedError ? 'connection lost' : 'timeout'
        return { status: 'info', reason }
      }
      if (response[1] === OK) return { status: 'ok', value: response[2] }
      if (response[1] === NOT_LEADER) {
        lastRefusal = 'not leader'
        const at = response[2] === null ? -1 : this.#addresses.indexOf(response[2] as string)
        if (at >= 0 && at !== this.#current % this.#addresses.length) this.#current = at
        else {
          this.#current++
          await sleep(20)
        }
        continue
      }
      return { status: 'info', reason: String(response[2]).slice(0, 160) }
    }
    return { status: 'fail', reason: lastRefusal }
  }

  #connection(address: string): Connection {
    let connection = this.#connections.get(address)
    if (connection === undefined || connection.closed) {
      connection = new Connection(address)
      this.#connections.set(address, connection)
    }
    return connection
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
