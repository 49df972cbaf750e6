import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { KvClient } from './client.ts'

const serverPath = path.join(path.dirname(fileURLToPath(import.meta.url)), 'server.ts')
const live = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

export interface KvClusterOptions {
  size?: number
  tickMs?: number
  electionTicks?: number
  heartbeatTicks?: number
  snapshotEntries?: number
  /**
   * The address member `from` dials to reach member `to`'s Raft port (a fault
   * proxy per link). @defaultValue `to`'s own Raft address
   */
  dial?: ((from: string, to: string) => string) | null
  /** Where the members' data directories go. @defaultValue a new temporary directory */
  root?: string | null
  /**
   * A module that provides the member-to-member transport instead of raw TCP
   * framing (`server.ts --transport-module`). @defaultValue raw TCP
   */
  transportModule?: string | null
  /** Extra environment variables for the member processes (for the transport module). */
  env?: Readonly<Record<string, string>>
}

interface Member {
  id: string
  raftPort: number
  clientPort: number
  dir: string
  child: ChildProcess | null
  /** The member's clock rate (1 = real time); kept across restarts. */
  clockRate: number
  /** Exit codes or signals of the member's processes that ended without `kill`. */
  crashes: string[]
}

/** Ports this process has handed out: a port released after the check may come back from the OS. */
const handedOut = new Set<number>()

/**
 * Finds a free loopback port (the OS picks it), never one this process handed out before: the
 * check releases the port, and the OS may offer it again for the next member's other port.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer()
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => {
        const chosen = (server.address() as net.AddressInfo).port
        server.close(() => resolve(chosen))
      })
    })
    if (handedOut.has(port)) continue
    handedOut.add(port)
    return port
  }
}

/** The example service as real processes on loopback, for fault tests and benchmarks. */
export class KvProcessCluster {
  readonly members: Member[] = []
  readonly root: string
  readonly #options: Required<KvClusterOptions>

  private constructor(root: string, options: Required<KvClusterOptions>) {
    this.root = root
    this.#options = options
  }

  /** Starts every member. */
  static async start(options: KvClusterOptions = {}): Promise<KvProcessCluster> {
    const cluster = await KvProcessCluster.create(options)
    await cluster.startAll()
    return cluster
  }

  /**
   * Chooses ports and data directories without starting anything, so a fault
   * proxy can be put between the members first (then `setDial`, `startAll`).
   */
  static async create(options: KvClusterOptions = {}): Promise<KvProcessCluster> {
    const resolved = {
      size: 3,
      tickMs: 100,
      electionTicks: 10,
      heartbeatTicks: 1,
      snapshotEntries: 10_000,
      dial: null,
      root: null,
      transportModule: null,
      env: {},
      ...options,
    }
    const root = resolved.root ?? (await mkdtemp(path.join(tmpdir(), 'shoal-kv-')))
    const cluster = new KvProcessCluster(root, resolved)
    for (let i = 1; i <= resolved.size; i++) {
      cluster.members.push({
        id: `n${i}`,
        raftPort: await freePort(),
        clientPort: await freePort(),
        dir: path.join(cluster.root, `n${i}`),
        child: null,
        clockRate: 1,
        crashes: [],
      })
    }
    return cluster
  }

  async startAll(): Promise<void> {
    await Promise.all(this.members.filter((m) => m.child === null).map((m) => this.#spawn(m)))
  }

  /** Sets how members dial each other (takes effect at each member's next start). */
  setDial(dial: (from: string, to: string) => string): void {
    this.#options.dial = dial
  }

  get clientAddresses(): string[] {
    return this.members.map((m) => `127.0.0.1:${m.clientPort}`)
  }

  client(options?: ConstructorParameters<typeof KvClient>[1]): KvClient {
    return new KvClient(this.clientAddresses, options)
  }

  async #spawn(member: Member): Promise<void> {
    const peers = this.members.map((m) => `${m.id}=127.0.0.1:${m.raftPort}:${m.clientPort}`).join(',')
    const o = this.#options
    const dial = o.dial
    const dialArgs =
      dial === null
        ? []
        : [
            '--dial',
            this.members
              .filter((m) => m.id !== member.id)
              .map((m) => `${m.id}=${dial(member.id, m.id)}`)
              .join(','),
          ]
    const child = spawn(
      process.execPath,
      [
        serverPath,
        ...['--id', member.id, '--peers', peers, '--dir', member.dir],
        ...['--tick-ms', String(o.tickMs), '--election-ticks', String(o.electionTicks)],
        ...['--heartbeat-ticks', String(o.heartbeatTicks), '--snapshot-entries', String(o.snapshotEntries)],
        ...['--clock-rate', String(member.clockRate), ...dialArgs],
        ...(o.transportModule === null ? [] : ['--transport-module', o.transportModule]),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...o.env } },
    )
    live.add(child)
    member.child = child
    let errors = ''
    child.stderr?.on('data', (chunk: Buffer) => {
      errors += chunk.toString()
    })
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('ready')) resolve()
      })
      child.once('exit', (code, signal) => {
        live.delete(child)
        if (member.child === child) {
          member.child = null
          member.crashes.push(`${code ?? signal}: ${errors.trim()}`)
        }
        reject(new Error(`member ${member.id} exited with ${code ?? signal}: ${errors}`))
      })
    })
  }

  /** Sends `signal` (default SIGKILL: no chance to flush anything) and waits for the exit. */
  async kill(id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const member = this.#member(id)
    const child = member.child
    if (child === null) return
    member.child = null
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill(signal)
      await exited
    }
    live.delete(child)
  }

  async restart(id: string): Promise<void> {
    await this.#spawn(this.#member(id))
  }

  /** Stops the member's process where it stands (SIGSTOP: a long GC pause); its sockets stay open. */
  pause(id: string): void {
    this.#member(id).child?.kill('SIGSTOP')
  }

  resume(id: string): void {
    this.#member(id).child?.kill('SIGCONT')
  }

  /** Makes the member's next WAL fsync fail with EIO (the member then stops: it is fail-stop). */
  failNextFsync(id: string): void {
    this.#member(id).child?.kill('SIGUSR2')
  }

  /** Sets the member's clock rate now (if it runs) and for its later starts. */
  async setClockRate(id: string, rate: number): Promise<void> {
    const member = this.#member(id)
    member.clockRate = rate
    if (member.child === null) return
    const client = new KvClient([this.address(id)], { attemptTimeoutMs: 1000 })
    try {
      await client.direct(this.address(id), 'clock', undefined, String(rate))
    } finally {
      client.close()
    }
  }

  /** The member's process id (null while it is not running): for CPU accounting in benchmarks. */
  pid(id: string): number | null {
    return this.#member(id).child?.pid ?? null
  }

  running(id: string): boolean {
    return this.#member(id).child !== null
  }

  /** The member that currently reports itself leader, asking each in turn. */
  async leader(timeoutMs = 10_000): Promise<string> {
    const client = new KvClient(this.clientAddresses, { attemptTimeoutMs: 500 })
    const deadline = Date.now() + timeoutMs
    try {
      while (Date.now() < deadline) {
        for (const member of this.members) {
          if (member.child === null) continue
          const status = (await client
            .direct(`127.0.0.1:${member.clientPort}`, 'status')
            .catch(() => null)) as {
            role: string
          } | null
          if (status?.role === 'leader') return member.id
        }
        await new Promise((r) => setTimeout(r, 50))
      }
    } finally {
      client.close()
    }
    throw new Error('no leader')
  }

  address(id: string): string {
    return `127.0.0.1:${this.#member(id).clientPort}`
  }

  #member(id: string): Member {
    const member = this.members.find((m) => m.id === id)
    if (member === undefined) throw new Error(`no member ${id}`)
    return member
  }

  /** Kills every member and removes the data directories (unless they were given as `root`). */
  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => this.kill(m.id)))
    if (this.#options.root === null) await rm(this.root, { recursive: true, force: true })
  }
}
