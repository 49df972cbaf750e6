/**
 * The cluster's metadata group as a system under test for the nemesis runner
 * (`@shoal/testkit/chaos`): three real `shoal start` processes, clients that
 * write and read cluster settings (`PUT /_cluster/settings`, a metadata write;
 * `GET /_cluster/settings?consistency=linearizable`), and replicas compared by
 * each node's local copy of the settings and its metadata version.
 *
 * How the links pass the fault proxy: each node advertises one p2p address
 * and one gossip address (learned by the others through gossip and the
 * metadata), so each node gets a `NodeFront` for each, which finds the peer a
 * connection or datagram comes from and passes it to that link's proxy:
 * - p2p (libp2p over TCP): the dialer's socket is looked up in /proc and its
 *   owner matched with the node processes' pids (Linux only);
 * - gossip over UDP: by sender address, since each node's SWIM socket is
 *   bound to its own gossip port;
 * - gossip's TCP streams (push-pull state exchange): as for p2p, through
 *   link proxies of their own (not in the network's counters).
 * Every inter-node link fault therefore applies per directed link. A client
 * talks to the nodes' HTTP addresses directly (clients are not nodes).
 *
 * Membership changes: with `spares`, extra nodes start outside the cluster
 * (their links already through the proxies); `join` starts one on fresh data
 * with a member as its seed, and `leave` stops a member for good. The
 * controller then adds the newcomer to the metadata group (a learner, a voter
 * when one is missing) and replaces a voter that stays dead.
 *
 * Faults inside the processes (clock steps and rates, a full disk, a failed
 * fsync) come from the harness's preload (`chaos-node-faults.ts`), never from
 * the server, which has no hidden injection point.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import type { RemoteInfo } from 'node:dgram'
import { appendFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import type net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import {
  type ChaosClient,
  type Endpoint,
  type FaultNetwork,
  NodeFront,
  type ReplicaState,
  type SystemCapabilities,
  type SystemUnderTest,
  TcpLinkProxy,
  tcpDialerPid,
} from '@shoal/testkit/chaos'
import { MetaClient, type Settings } from './chaos-meta-client.ts'
import { NodeFaults } from './chaos-node-faults.ts'
import { MASTER_KEY, writeKeyFile } from './cluster-processes.ts'
import { freePort } from './free-port.ts'
import { CLI } from './server-process.ts'

export interface ShoalMetaOptions {
  /** @defaultValue 3 */
  size?: number
  /** @defaultValue 50 */
  raftTickMs?: number
  /** Give up on an operation after this long (a write's outcome is then unknown). @defaultValue 5000 */
  operationTimeoutMs?: number
  /**
   * Nodes beyond `size` that start outside the cluster, for the membership
   * scenario: they join (with fresh data) and members stop for good.
   * @defaultValue 0
   */
  spares?: number
  /** More `shoal start` flags for every node (e.g. `--replica-grace-ms`). @defaultValue none */
  extraArgs?: readonly string[]
  /**
   * A folder for each node's whole output at log level `info`, appended to `<node>.log` (the
   * report keeps the last lines of warnings and errors only). @defaultValue none: level `warn`
   */
  nodeLogDir?: string
  /**
   * Faults inside the node processes (`NodeFaults`): wall-clock steps, clock rates, failing fsyncs and, where
   * mounting works, each data folder on a tmpfs of this many MiB that can fill up.
   * @defaultValue none (no clock, disk or fsync faults)
   */
  nodeFaultsTmpfsMiB?: number
}

interface Member {
  name: string
  dataDir: string
  http: number
  p2p: number
  gossip: number
  p2pFront: NodeFront | null
  gossipFront: NodeFront | null
  child: ChildProcess | null
  nodeId: string | null
  expectedExit: boolean
  paused: boolean
  /** A member of the cluster now (false for a spare, or a node that stopped for good). */
  inSystem: boolean
  crashes: string[]
  output: string
}

/**
 * How long a node process may take to start (to print its banner, joined to its cluster). A
 * node started 25 s after its first log line at a load average of 25 on 2 cores, with module
 * loading before that.
 */
const START_TIMEOUT_MS = 120_000

/** Node processes running now, killed when this process exits (Ctrl-C of `pnpm chaos` included). */
const LIVE_CHILDREN = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of LIVE_CHILDREN) child.kill('SIGKILL')
})

export class ShoalMetaSystem implements SystemUnderTest {
  readonly name = 'shoal-meta'
  readonly nodes: readonly string[]
  readonly capabilities: SystemCapabilities
  /**
   * Raft's leases assume bounded drift: a follower gives up 20% of its lease to it
   * (`followerLeaseDriftMargin`), and a leader's lease is half an election timeout. Rates within
   * ±10% keep any two clocks within that margin (1.1 / 0.9 < 1.25).
   */
  readonly clockDrift = 0.1
  readonly #root: string
  readonly #keyFile: string
  readonly #members: Member[]
  readonly #raftTickMs: number
  readonly #timeoutMs: number
  readonly #extraArgs: readonly string[]
  readonly #nodeLogDir: string | undefined
  readonly #gossipLinks: TcpLinkProxy[] = []
  readonly #faults: NodeFaults | null
  #metadataView: string[] = []

  private constructor(
    root: string,
    keyFile: string,
    members: Member[],
    options: ShoalMetaOptions,
    faults: NodeFaults | null,
  ) {
    this.#root = root
    this.#faults = faults
    this.#keyFile = keyFile
    this.#members = members
    this.#raftTickMs = options.raftTickMs ?? 50
    this.#timeoutMs = options.operationTimeoutMs ?? 5000
    this.#extraArgs = options.extraArgs ?? []
    this.#nodeLogDir = options.nodeLogDir
    this.nodes = members.map((m) => m.name)
    this.capabilities = {
      pause: true,
      clock: faults !== null,
      diskFull: faults?.diskFull ?? false,
      fsyncFailure: faults !== null,
      membership: members.some((m) => !m.inSystem),
    }
  }

  static async create(options: ShoalMetaOptions = {}): Promise<ShoalMetaSystem> {
    const root = await mkdtemp(path.join(tmpdir(), 'shoal-chaos-meta-'))
    const keyFile = await writeKeyFile(root, 'cluster.key', 'chaos-metadata-cluster-key-0000000')
    const members: Member[] = []
    const size = options.size ?? 3
    const faults = options.nodeFaultsTmpfsMiB === undefined ? null : new NodeFaults(root)
    for (let i = 1; i <= size + (options.spares ?? 0); i++) {
      const dataDir = path.join(root, `n${i}`)
      await mkdir(dataDir, { recursive: true })
      faults?.add(`n${i}`, dataDir, options.nodeFaultsTmpfsMiB as number)
      members.push({
        name: `n${i}`,
        dataDir,
        http: await freePort(),
        p2p: await freePort(),
        gossip: await freePort(true),
        p2pFront: null,
        gossipFront: null,
        child: null,
        nodeId: null,
        expectedExit: false,
        paused: false,
        inSystem: i <= size,
        crashes: [],
        output: '',
      })
    }
    return new ShoalMetaSystem(root, keyFile, members, options, faults)
  }

  async start(network: FaultNetwork): Promise<void> {
    const p2pTargets: Record<string, Endpoint> = {}
    const gossipTargets: Record<string, Endpoint> = {}
    for (const m of this.#members) {
      p2pTargets[m.name] = { port: m.p2p }
      gossipTargets[m.name] = { port: m.gossip }
    }
    await network.tcpMesh(p2pTargets)
    await network.udpMesh(gossipTargets)
    const gossipTcp = new Map<string, TcpLinkProxy>()
    for (const from of this.#members)
      for (const to of this.#members) {
        if (from === to) continue
        const proxy = new TcpLinkProxy({
          table: network.table,
          from: from.name,
          to: to.name,
          target: { host: '127.0.0.1', port: to.gossip },
        })
        await proxy.start()
        this.#gossipLinks.push(proxy)
        gossipTcp.set(`${from.name}>${to.name}`, proxy)
      }
    const byGossipPort = new Map(this.#members.map((m) => [m.gossip, m.name]))
    const identifyTcp = async (socket: net.Socket): Promise<string | null> => {
      const pids = new Map<number, string>()
      for (const m of this.#members) if (m.child?.pid !== undefined) pids.set(m.child.pid, m.name)
      const pid = await tcpDialerPid(socket, [...pids.keys()])
      return pid === null ? null : (pids.get(pid) ?? null)
    }
    const identifyUdp = (sender: RemoteInfo) => byGossipPort.get(sender.port) ?? null
    for (const m of this.#members) {
      m.p2pFront = new NodeFront({
        node: m.name,
        tcp: {
          identify: identifyTcp,
          route: (source) => (source === m.name ? { port: m.p2p } : endpoint(network.dial(source, m.name))),
        },
      })
      m.gossipFront = new NodeFront({
        node: m.name,
        tcp: {
          identify: identifyTcp,
          route: (source) =>
            source === m.name
              ? { port: m.gossip }
              : endpoint((gossipTcp.get(`${source}>${m.name}`) as TcpLinkProxy).address),
        },
        // A node's traffic to its own advertised address (seen from a node
        // that joined during a partition) is no link: it goes straight to it.
        udp: {
          identify: identifyUdp,
          route: (source) =>
            source === m.name ? { port: m.gossip } : endpoint(network.dial(source, m.name, 'udp')),
        },
      })
      await m.p2pFront.start()
      await m.gossipFront.start()
    }
    const active = this.#active()
    const [first, ...others] = active as [Member, ...Member[]]
    await this.#spawn(first, ['--bootstrap'])
    for (const m of others) await this.#spawn(m, ['--join', first.gossipFront?.address as string])
    // Every node a metadata voter before the faults begin.
    const deadline = Date.now() + 60_000
    while (Date.now() < deadline) {
      const view = await this.#get<{ nodes: Array<{ roles: string[] }> }>(first, '/_cluster/nodes', 2000)
      const voters = view?.nodes.filter((n) => n.roles.includes('metadata_voter')).length ?? 0
      if (voters === active.length) return
      await sleep(200)
    }
    throw new Error('the metadata group did not reach every node as a voter within 60 s')
  }

  client(id: string): ChaosClient {
    const index = Number(/\d+/.exec(id)?.[0] ?? 0)
    return new MetaClient(this.#members, index, this.#timeoutMs)
  }

  async leader(timeoutMs: number): Promise<string | null> {
    const deadline = Date.now() + timeoutMs
    do {
      for (const m of this.#members) {
        if (!this.running(m.name) || m.paused) continue
        const health = await this.#get<{ metadata_leader: string | null }>(m, '/_cluster/health', 1000)
        const leader = this.#members.find((x) => x.nodeId !== null && x.nodeId === health?.metadata_leader)
        if (leader !== undefined && this.running(leader.name) && !leader.paused) return leader.name
      }
      await sleep(100)
    } while (Date.now() < deadline)
    return null
  }

  running(node: string): boolean {
    const child = this.#member(node).child
    return child !== null && child.exitCode === null && child.signalCode === null
  }

  async kill(node: string): Promise<void> {
    const m = this.#member(node)
    const child = m.child
    if (child === null || !this.running(node)) return
    m.expectedExit = true
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGKILL')
    await gone
    m.paused = false
  }

  /**
   * Starts a stopped member again on its data, as an operator would
   * (docs/operations.md): with the gossip addresses of the other members as
   * `--join` seeds; a node no longer a member is not restarted. Without seeds a restarted node knows no peer to gossip
   * with, and the others, having declared it dead, no longer probe it, so
   * it would stay cut off from the membership for good.
   */
  async restart(node: string): Promise<void> {
    const m = this.#member(node)
    // A node that stopped for good, or was drained, is never started again on its data.
    if (this.running(node) || !m.inSystem) return
    const seeds = this.#active()
      .filter((x) => x !== m)
      .map((x) => x.gossipFront?.address as string)
    await this.#spawn(m, seeds.length === 0 ? [] : ['--join', seeds.join(',')])
  }

  pause(node: string): void {
    const m = this.#member(node)
    if (!this.running(node) || m.paused) return
    m.child?.kill('SIGSTOP')
    m.paused = true
  }

  resume(node: string): void {
    const m = this.#member(node)
    if (!this.running(node) || !m.paused) return
    m.child?.kill('SIGCONT')
    m.paused = false
  }

  /**
   * Settled when every node runs and its local copy has the metadata version
   * that a linearizable read through the leader reports (so it applied all
   * that was committed).
   */
  async settled(): Promise<boolean> {
    if (this.#active().some((m) => !this.running(m.name) || m.paused)) return false
    const leaderName = await this.leader(2000)
    if (leaderName === null) return false
    const current = await this.#get<Settings>(
      this.#member(leaderName),
      '/_cluster/settings?consistency=linearizable',
      3000,
    )
    if (current === null) return false
    const locals = await Promise.all(
      this.#active().map((m) => this.#get<Settings>(m, '/_cluster/settings', 2000)),
    )
    if (!locals.every((s) => s !== null && s.metadata_version === current.metadata_version)) return false
    const view = await this.#get<{
      nodes: Array<{ name: string; state: string; alive: boolean; roles: string[] }>
    }>(this.#member(leaderName), '/_cluster/nodes', 3000)
    this.#metadataView = (view?.nodes ?? [])
      .map((n) => {
        const role = n.roles.find((r) => r.startsWith('metadata_'))?.slice('metadata_'.length) ?? 'none'
        return `${n.name} ${n.state}${n.alive ? '' : ' (down)'} ${role}`
      })
      .sort()
    return true
  }

  /**
   * The metadata's nodes as the leader saw them when the replicas last
   * settled: `name state role` (role voter, learner or none), sorted.
   */
  metadataView(): readonly string[] {
    return this.#metadataView
  }

  async replicaStates(keys: readonly string[]): Promise<ReplicaState[]> {
    return Promise.all(
      this.#active().map(async (m) => {
        const local = await this.#get<Settings>(m, '/_cluster/settings', 5000)
        if (local === null) throw new Error(`${m.name} did not answer its local settings`)
        return {
          node: m.name,
          appliedIndex: local.metadata_version,
          values: new Map(keys.map((k) => [k, local.persistent[k] ?? null])),
        }
      }),
    )
  }

  members(): string[] {
    return this.#active().map((m) => m.name)
  }

  async setClockOffset(node: string, offsetMs: number): Promise<void> {
    this.#nodeFaults().setClockOffset(node, offsetMs)
  }

  async setClockRate(node: string, rate: number): Promise<void> {
    this.#nodeFaults().setClockRate(node, rate)
  }

  failFsync(node: string): void {
    this.#nodeFaults().failFsync(node)
  }

  fillDisk(node: string): Promise<void> {
    return this.#nodeFaults().fillDisk(node)
  }

  freeDisk(node: string): Promise<void> {
    return this.#nodeFaults().freeDisk(node)
  }

  #nodeFaults(): NodeFaults {
    if (this.#faults === null) throw new Error(`${this.name} was created without node faults`)
    return this.#faults
  }

  /** Starts the spare `node` on a fresh data dir (a new node id), joining through `via`'s gossip address. */
  async join(node: string, via: string): Promise<void> {
    const m = this.#member(node)
    const seed = this.#member(via)
    if (m.inSystem || this.running(node)) throw new Error(`${node} is already a member`)
    if (this.#faults === null) await rm(m.dataDir, { recursive: true, force: true })
    else await this.#faults.wipe(node)
    await mkdir(m.dataDir, { recursive: true })
    m.inSystem = true
    m.output = ''
    m.nodeId = null
    await this.#spawn(m, ['--join', seed.gossipFront?.address as string])
  }

  /**
   * kill -9 of the member `node`, never restarted: it is gone for good (its
   * slot becomes a spare). Refused (false) while any member counts a voter
   * that is not running: the controller replaces a dead voter only after a grace period,
   * and a second voter lost for good before that could cost the group its
   * majority for ever.
   */
  async leave(node: string): Promise<boolean> {
    const m = this.#member(node)
    if (!(await this.#everyVoterRuns())) return false
    if (m.paused) this.resume(node)
    m.inSystem = false
    await this.kill(node)
    return true
  }

  /**
   * The member `node` is no longer one (a drained node): it is neither
   * restarted nor compared, and its process may end by itself (not a crash).
   */
  release(node: string): void {
    const m = this.#member(node)
    m.inSystem = false
    m.expectedExit = true
  }

  /** Whether a member could stop for good now without risking the metadata majority (see `leave`). */
  canSpare(): Promise<boolean> {
    return this.#everyVoterRuns()
  }

  /**
   * Whether every voter of the metadata group is a node running now, in the
   * view of every running member (each answers from its own copy, so no
   * leader is needed during a partition): then stopping one for good still
   * leaves a majority. False when a member does not answer.
   */
  async #everyVoterRuns(): Promise<boolean> {
    const live = this.#active().filter((x) => this.running(x.name) && !x.paused)
    const running = new Set(live.map((x) => x.nodeId))
    const views = await Promise.all(
      live.map((x) =>
        this.#get<{ nodes: Array<{ id: string; roles: string[] }> }>(x, '/_cluster/nodes', 3000),
      ),
    )
    return views.every((view) => {
      if (view === null) return false
      const voters = view.nodes.filter((n) => n.roles.includes('metadata_voter'))
      return voters.every((n) => running.has(n.id))
    })
  }

  crashes(): string[] {
    return this.#members.flatMap((m) => m.crashes.map((c) => `${m.name} exited ${c}`))
  }

  async stop(): Promise<void> {
    for (const m of this.#members) {
      if (m.paused) m.child?.kill('SIGCONT')
      m.paused = false
      await this.kill(m.name)
    }
    for (const m of this.#members) {
      await m.p2pFront?.stop()
      await m.gossipFront?.stop()
    }
    await Promise.all(this.#gossipLinks.map((p) => p.stop()))
    this.#faults?.unmountAll()
    await rm(this.#root, { recursive: true, force: true })
  }

  /** Where `node` answers HTTP, and its node id once it has started (for systems built on these processes). */
  address(node: string): { http: number; nodeId: string | null; paused: boolean } {
    const m = this.#member(node)
    return { http: m.http, nodeId: m.nodeId, paused: m.paused }
  }

  /** The output of every node, for a failing run's report. */
  outputs(): string {
    return this.#members.map((m) => `--- ${m.name}\n${m.output.slice(-4000)}`).join('\n')
  }

  #active(): Member[] {
    return this.#members.filter((m) => m.inSystem)
  }

  #member(node: string): Member {
    const m = this.#members.find((x) => x.name === node)
    if (m === undefined) throw new Error(`no node ${node}`)
    return m
  }

  async #spawn(m: Member, extra: string[]): Promise<void> {
    const args = [
      CLI,
      'start',
      '--data-dir',
      m.dataDir,
      '--http-addr',
      `127.0.0.1:${m.http}`,
      '--p2p-addr',
      `127.0.0.1:${m.p2p}`,
      '--gossip-addr',
      `127.0.0.1:${m.gossip}`,
      '--p2p-advertise-addr',
      m.p2pFront?.address as string,
      '--gossip-advertise-addr',
      m.gossipFront?.address as string,
      '--gossip-profile',
      'local',
      '--raft-tick-ms',
      String(this.#raftTickMs),
      '--cluster-key-file',
      this.#keyFile,
      '--master-key',
      MASTER_KEY,
      '--node-name',
      m.name,
      '--log-level',
      this.#nodeLogDir === undefined ? 'warn' : 'info',
      ...this.#extraArgs,
      ...extra,
    ]
    // A restart is ready when its own output says so, not the previous run's.
    const STARTED = `--- ${m.name} started ---\n`
    m.output = `${m.output}${STARTED}`.slice(-64 * 1024)
    const faults = this.#faults?.spawnOptions(m.name)
    const child = spawn(process.execPath, [...(faults?.execArgv ?? []), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(faults === undefined ? {} : { env: faults.env }),
    })
    m.child = child
    m.expectedExit = false
    m.paused = false
    const logDir = this.#nodeLogDir
    const append = (chunk: Buffer) => {
      if (logDir !== undefined) appendFileSync(path.join(logDir, `${m.name}.log`), chunk)
      // With every line in the file, the output kept for the report leaves the info lines out.
      const text = chunk.toString()
      const kept =
        logDir === undefined
          ? text
          : text
              .split('\n')
              .filter((line) => !line.startsWith('{"level":30'))
              .join('\n')
      m.output = (m.output + kept).slice(-64 * 1024)
    }
    child.stdout?.on('data', append)
    child.stderr?.on('data', append)
    LIVE_CHILDREN.add(child)
    child.once('exit', (code, signal) => {
      LIVE_CHILDREN.delete(child)
      if (!m.expectedExit) m.crashes.push(String(code ?? signal))
    })
    const deadline = Date.now() + START_TIMEOUT_MS
    while (Date.now() < deadline) {
      const at = m.output.lastIndexOf(STARTED)
      const own = at === -1 ? m.output : m.output.slice(at)
      const match = /cluster:\s+\S+ as node (\S+)/.exec(own)
      if (match !== null && /listening on http/.test(own)) {
        m.nodeId = match[1] as string
        return
      }
      if (!this.running(m.name)) throw new Error(`${m.name} exited before it was ready:\n${m.output}`)
      await sleep(50)
    }
    throw new Error(`${m.name} did not start within ${START_TIMEOUT_MS / 1000} s:\n${m.output}`)
  }

  async #get<T>(m: Member, route: string, timeoutMs: number): Promise<T | null> {
    if (!this.running(m.name)) return null
    try {
      const response = await fetch(`http://127.0.0.1:${m.http}${route}`, {
        headers: { authorization: `Bearer ${MASTER_KEY}` },
        signal: AbortSignal.timeout(timeoutMs),
      })
      if (response.status !== 200) {
        await response.arrayBuffer()
        return null
      }
      return (await response.json()) as T
    } catch {
      return null
    }
  }
}
function endpoint(address: string): Endpoint {
  const at = address.lastIndexOf(':')
  return { host: address.slice(0, at), port: Number(address.slice(at + 1)) }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
