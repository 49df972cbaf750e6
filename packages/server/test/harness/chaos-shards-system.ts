/**
 * A sharded, replicated index as a system under test for the nemesis runner
 * (`@shoal/testkit/chaos`): the three `shoal start` processes of
 * `ShoalMetaSystem` (every p2p and gossip link through a fault proxy), one
 * index of `shardCount` shards with `replicationFactor` replicas, and through
 * the HTTP API of every node:
 * - the workload's writes (a document `{ id: key, value, marker }` replaced,
 *   acknowledged when its task succeeds) and reads by id (strong), checked
 *   per key for linearizability by the runner (`ShardsClient`);
 * - searches beside them (`SearchProbe`), which must answer or fail with 503
 *   `shards_unavailable` / `cluster_unavailable`, and whose complete answers
 *   must agree with the acknowledged writes (`searchViolations`);
 * - at the end, after healing and settling: every key read through every
 *   node, a search for every marker through every node matching the final
 *   values, each node's own replicas read with `consistency: "eventual"`
 *   (compared as the runner's replicas, their lag 0), and no 5xx other than
 *   503 answered to any request of the run.
 *
 * `leader()` is the leader of one shard, a different shard at each call, so
 * leader-targeted faults (kill -9, SIGSTOP, isolation) visit every shard's
 * leader in turn. Settled means: no task enqueued or processing in any
 * node's view, and every replica of every shard reachable with the same
 * applied index as its leader's commit index.
 */
import { shardOfDocument } from '@shoal/cluster'
import type {
  ChaosClient,
  FaultNetwork,
  FinalState,
  ReplicaState,
  SystemCapabilities,
  SystemCheck,
  SystemUnderTest,
} from '@shoal/testkit/chaos'
import type { Rng } from '@shoal/testkit/rng'
import { ShoalMetaSystem } from './chaos-meta-system.ts'
import { MARKERS, markerOf, ShardsClient } from './chaos-shards-client.ts'
import { describeOutcome, HttpLog, type NodeAddress, request, sleep } from './chaos-shards-http.ts'
import { ShardMoves } from './chaos-shards-moves.ts'
import { SearchProbe, searchCounts, searchOnce, searchViolations } from './chaos-shards-search.ts'
import { describeShard, names, type ShardsView } from './chaos-shards-view.ts'

export interface ShoalShardsOptions {
  /** @defaultValue 6 */
  shardCount?: number
  /** @defaultValue 3 */
  replicationFactor?: number
  /** @defaultValue 50 */
  raftTickMs?: number
  /** Give up on a write or read after this long (a write's outcome is then unknown). @defaultValue 10000 */
  operationTimeoutMs?: number
  /** Give up on a search after this long (its two phases may each wait out a 10 s shard read). @defaultValue 25000 */
  searchTimeoutMs?: number
  /**
   * Nodes beyond the three that start outside the cluster, for the
   * `moves-partition` scenario: they join (replicas rebalance to them), and
   * members are drained or replaced. @defaultValue 0
   */
  spares?: number
  /** `--replica-grace-ms` of every node. @defaultValue the server's (60 s) */
  replicaGraceMs?: number
  /** Every node's whole output at level `info` in this folder (`ShoalMetaOptions.nodeLogDir`). @defaultValue none */
  nodeLogDir?: string
  /** Clock, fsync and disk faults inside the nodes, each data folder a tmpfs of this many MiB (`ShoalMetaOptions.nodeFaultsTmpfsMiB`). @defaultValue none */
  nodeFaultsTmpfsMiB?: number
}

export const INDEX_UID = 'chaos'

export class ShoalShardsSystem implements SystemUnderTest {
  readonly name = 'shoal-shards'
  readonly nodes: readonly string[]
  readonly capabilities: SystemCapabilities
  /** As the metadata system's: the drift Raft's leases assume. */
  readonly clockDrift: number
  readonly http = new HttpLog()
  readonly #cluster: ShoalMetaSystem
  readonly #shardCount: number
  readonly #replicationFactor: number
  readonly #operationTimeoutMs: number
  readonly #probe: SearchProbe
  readonly #moves: ShardMoves
  #leaderTurn = 0
  #replicaLags: Record<string, number | null> = {}
  /** Each shard's replicas (node ids) when the cluster last settled. */
  #placement = new Map<number, string[]>()
  /** What the last `settled()` found not settled yet (null: it was). */
  #waitingFor: string | null = 'not asked yet'

  private constructor(cluster: ShoalMetaSystem, options: ShoalShardsOptions) {
    this.#cluster = cluster
    this.nodes = cluster.nodes
    this.clockDrift = cluster.clockDrift
    // Spares are for moves-partition: membership-partition's kills for good need no cluster operation.
    this.capabilities = {
      ...cluster.capabilities,
      membership: false,
      shardMoves: cluster.capabilities.membership,
    }
    this.#shardCount = options.shardCount ?? 6
    this.#replicationFactor = options.replicationFactor ?? 3
    this.#operationTimeoutMs = options.operationTimeoutMs ?? 10_000
    this.#probe = new SearchProbe(this.#addresses(), INDEX_UID, this.http, options.searchTimeoutMs ?? 25_000)
    this.#moves = new ShardMoves(cluster, this.http, INDEX_UID)
  }

  static async create(options: ShoalShardsOptions = {}): Promise<ShoalShardsSystem> {
    const cluster = await ShoalMetaSystem.create({
      raftTickMs: options.raftTickMs ?? 50,
      spares: options.spares ?? 0,
      ...(options.nodeLogDir === undefined ? {} : { nodeLogDir: options.nodeLogDir }),
      ...(options.nodeFaultsTmpfsMiB === undefined ? {} : { nodeFaultsTmpfsMiB: options.nodeFaultsTmpfsMiB }),
      extraArgs:
        options.replicaGraceMs === undefined ? [] : ['--replica-grace-ms', String(options.replicaGraceMs)],
    })
    return new ShoalShardsSystem(cluster, options)
  }

  /** Starts the cluster, creates the index (marker filterable) and waits for a leader in every shard. */
  async start(network: FaultNetwork): Promise<void> {
    await this.#cluster.start(network)
    const [first] = this.#addresses() as [NodeAddress]
    await this.#task(first, 'POST', '/indexes', {
      uid: INDEX_UID,
      primaryKey: 'id',
      sharding: { shardCount: this.#shardCount, replicationFactor: this.#replicationFactor },
    })
    await this.#task(first, 'PATCH', `/indexes/${INDEX_UID}/settings`, { filterableAttributes: ['marker'] })
    const deadline = Date.now() + 60_000
    while (Date.now() < deadline) {
      const view = await this.#shards(first)
      if (view?.shards.every((s) => s.leader !== null)) return
      await sleep(200)
    }
    throw new Error(`the shards of ${INDEX_UID} did not all elect a leader within 60 s`)
  }

  client(id: string): ChaosClient {
    const index = Number(/\d+/.exec(id)?.[0] ?? 0)
    return new ShardsClient(this.#addresses(), index, {
      uid: INDEX_UID,
      timeoutMs: this.#operationTimeoutMs,
      log: this.http,
    })
  }

  /** The leader of the next shard in turn, as a node running now reports it. */
  async leader(timeoutMs: number): Promise<string | null> {
    const shard = this.#leaderTurn++ % this.#shardCount
    const deadline = Date.now() + timeoutMs
    do {
      for (const node of this.#live()) {
        const view = await this.#shards(node, 1500)
        const leaderId = view?.shards.find((s) => s.shard === shard)?.leader ?? null
        const leader = this.nodes.find(
          (n) => leaderId !== null && this.#cluster.address(n).nodeId === leaderId,
        )
        if (leader !== undefined && this.running(leader) && !this.#cluster.address(leader).paused)
          return leader
      }
      await sleep(100)
    } while (Date.now() < deadline)
    return null
  }

  running(node: string): boolean {
    return this.#cluster.running(node)
  }

  kill(node: string): Promise<void> {
    return this.#cluster.kill(node)
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

  members(): string[] {
    return this.#cluster.members()
  }

  setClockOffset(node: string, offsetMs: number): Promise<void> {
    return this.#cluster.setClockOffset(node, offsetMs)
  }

  setClockRate(node: string, rate: number): Promise<void> {
    return this.#cluster.setClockRate(node, rate)
  }

  failFsync(node: string): void {
    this.#cluster.failFsync(node)
  }

  fillDisk(node: string): Promise<void> {
    return this.#cluster.fillDisk(node)
  }

  freeDisk(node: string): Promise<void> {
    return this.#cluster.freeDisk(node)
  }

  join(node: string, via: string): Promise<void> {
    return this.#cluster.join(node, via)
  }

  drain(node: string, via: string): Promise<string | false> {
    return this.#moves.drain(node, via)
  }

  replace(old: string, spare: string, via: string): Promise<string | false> {
    return this.#moves.replace(old, spare, via)
  }

  /**
   * Settled: every member runs and no other node does (a drained node has
   * stopped), no task is enqueued or processing, no replica move is in flight
   * or planned, and every shard has its replicas on members, each with its
   * leader's commit index applied.
   */
  async settled(): Promise<boolean> {
    const why = await this.#unsettled()
    this.#waitingFor = why
    return why === null
  }

  waitingFor(): string | null {
    return this.#waitingFor
  }

  /** Why the cluster has not settled yet, in a few words (what was waited for and what was seen); null once it has. */
  async #unsettled(): Promise<string | null> {
    const live = this.#live()
    const members = this.#members()
    const stopped = members.filter((m) => !this.running(m.name)).map((m) => m.name)
    if (stopped.length > 0 || live.length !== members.length)
      return `members not all running: members ${names(members)}, live ${names(live)}`
    const leftRunning = this.nodes.filter((n) => !this.members().includes(n) && this.running(n))
    if (leftRunning.length > 0) return `a node that is no member still runs: ${leftRunning.join(', ')}`
    for (const node of live) {
      const pending = await request(
        this.http,
        node,
        'GET',
        '/tasks?statuses=enqueued,processing&limit=1',
        undefined,
        3000,
      )
      if (pending.kind !== 'answer' || pending.status !== 200)
        return `${node.name} answered GET /tasks with ${describeOutcome(pending)}`
      const body = pending.body as {
        total: number
        results: Array<{ uid: number; type: string; status: string }>
      }
      if (body.total !== 0)
        return `${node.name} sees ${body.total} task(s) enqueued or processing, first ${JSON.stringify(body.results[0] ?? null)}`
    }
    if (this.capabilities.shardMoves === true) {
      const busy = await this.#moves.busy(live[0] as NodeAddress)
      if (busy !== null) return `moves not idle through ${live[0]?.name}: ${busy}`
    }
    const ids = new Set(members.map((m) => this.#cluster.address(m.name).nodeId))
    for (const node of live) {
      const view = await this.#shards(node)
      if (view === null) return `${node.name} did not answer /indexes/${INDEX_UID}/_shards`
      this.#placement = new Map(view.shards.map((s) => [s.shard, s.replicas.map((r) => r.node)]))
      for (const shard of view.shards) {
        const what = `shard ${shard.shard} through ${node.name}: ${describeShard(shard, (id) => this.#nameOf(id))}`
        if (!shard.replicas.every((r) => ids.has(r.node))) return `${what} (a replica on no member)`
        if (shard.leader === null || shard.replicas.length !== this.#replicationFactor)
          return `${what} (no leader, or not ${this.#replicationFactor} replicas)`
        const commit = shard.replicas.find((r) => r.node === shard.leader)?.commitIndex ?? null
        if (commit === null) return `${what} (the leader reports no commit index)`
        if (!shard.replicas.every((r) => r.reachable && r.appliedIndex === commit && r.lag === 0))
          return `${what} (a replica unreachable or behind)`
      }
    }
    return null
  }

  /**
   * Each node's own replicas, read with an eventual search through that node
   * (served by its local replica of every shard it holds); the applied index
   * is the sum of its replicas' applied indexes.
   */
  async replicaStates(keys: readonly string[]): Promise<ReplicaState[]> {
    const [first] = this.#members() as [NodeAddress]
    const view = await this.#shards(first, 5000)
    if (view === null) throw new Error(`${first.name} did not answer /indexes/${INDEX_UID}/_shards`)
    const states: ReplicaState[] = []
    for (const node of this.#members()) {
      const nodeId = this.#cluster.address(node.name).nodeId
      const outcome = await request(
        this.http,
        node,
        'POST',
        `/indexes/${INDEX_UID}/search`,
        { q: '', limit: 1000, consistency: 'eventual' },
        10_000,
      )
      if (outcome.kind !== 'answer' || outcome.status !== 200)
        throw new Error(`${node.name} answered an eventual search with ${describeOutcome(outcome)}`)
      const answer = outcome.body as {
        hits: Array<{ id: string; value: string }>
        replicaLag?: { max: number }
      }
      this.#replicaLags[node.name] = answer.replicaLag?.max ?? null
      const found = new Map(answer.hits.map((h) => [h.id, h.value]))
      let applied = 0
      for (const shard of view.shards)
        for (const r of shard.replicas) if (r.node === nodeId) applied += r.appliedIndex ?? 0
      states.push({
        node: node.name,
        appliedIndex: applied,
        values: new Map(keys.map((k) => [k, found.get(k) ?? null])),
      })
    }
    return states
  }

  startProbes(now: () => number, rng: Rng): void {
    this.#probe.start(now, rng)
  }

  stopProbes(): Promise<void> {
    return this.#probe.stop()
  }

  async checks(final: FinalState): Promise<SystemCheck[]> {
    const records = this.#probe.records
    const duringRun = searchViolations(records, final.history, (key) =>
      shardOfDocument(key, this.#shardCount),
    )
    const counts = searchCounts(records)
    const checks: SystemCheck[] = [
      {
        name: 'searches during the run',
        passed: duringRun.length === 0 && (counts.complete ?? 0) > 0,
        summary: `${records.length} searches: ${Object.entries(counts)
          .map(([kind, n]) => `${n} ${kind}`)
          .join(', ')}; ${duringRun.length} violations`,
        violations: duringRun.slice(0, 20),
      },
      // The final reads, then the final searches, each within its budget: retried while they answer 503 or nothing.
      await this.#finalReadsEverywhere(final.values, Date.now() + this.#finalBudgetMs()),
      await this.#finalSearchesEverywhere(final.values, Date.now() + this.#finalBudgetMs()),
    ]
    const lags = Object.entries(this.#replicaLags)
    checks.push({
      name: 'replica lag after settling',
      passed: lags.length === this.#members().length && lags.every(([, lag]) => lag === 0),
      summary: lags.map(([node, lag]) => `${node} ${lag ?? 'not reported'}`).join(', ') || 'not read',
      violations: [],
    })
    if (this.capabilities.shardMoves === true) {
      const moves = await this.#moves.check(this.#members(), this.#placement, this.#waitingFor)
      if (this.#waitingFor !== null) moves.violations.push(...(await this.#shardLines()))
      checks.push(moves)
    }
    const tally = [...this.http.tally].sort((a, b) => b[1] - a[1])
    checks.push({
      name: 'no server error',
      passed: this.http.serverErrors.length === 0,
      summary: `${this.http.requests} requests: ${tally.map(([k, n]) => `${n} × ${k}`).join(', ')}`,
      violations: this.http.serverErrors
        .slice(0, 20)
        .map((e) => `${e.method} ${e.route} on ${e.node}: ${e.status} ${e.body}`),
    })
    return checks
  }

  crashes(): string[] {
    return this.#cluster.crashes()
  }

  async stop(): Promise<void> {
    await this.#probe.stop()
    await this.#cluster.stop()
  }

  outputs(): string {
    return this.#cluster.outputs()
  }

  /** Where `node` answers HTTP. */
  addressOf(node: string): NodeAddress {
    return { name: node, http: this.#cluster.address(node).http }
  }

  /**
   * The time the final reads, or the final searches, may take: 15 s per member. One budget of 30 s
   * for five members was spent on the first three at a load average of 30 (a search then took
   * seconds), and the last two members' searches timed out at the 1 s floor.
   */
  #finalBudgetMs(): number {
    return 15_000 * this.#members().length
  }

  /** Every key through every node (strong reads) must read its final value. */
  async #finalReadsEverywhere(
    values: ReadonlyMap<string, string | null>,
    deadline: number,
  ): Promise<SystemCheck> {
    const violations: string[] = []
    let reads = 0
    for (const node of this.#members()) {
      for (const [key, expected] of values) {
        const outcome = await retrying(
          () =>
            request(
              this.http,
              node,
              'GET',
              `/indexes/${INDEX_UID}/documents/${key}`,
              undefined,
              left(deadline, 10_000),
            ),
          (o) => o.kind === 'lost' || (o.kind === 'answer' && o.status === 503),
          deadline,
        )
        reads++
        const got =
          outcome.kind === 'answer' && outcome.status === 200
            ? (outcome.body as { value: string }).value
            : outcome.kind === 'answer' && outcome.status === 404
              ? null
              : `(${describeOutcome(outcome)})`
        if (got !== expected) violations.push(`${key} through ${node.name}: ${got}, expected ${expected}`)
      }
    }
    return {
      name: 'final reads through every node',
      passed: violations.length === 0,
      summary: `${reads} reads, ${violations.length} differ from the final values`,
      violations: violations.slice(0, 20),
    }
  }

  /** Through every node: every document, and each marker's documents, exactly as the final values say. */
  async #finalSearchesEverywhere(
    values: ReadonlyMap<string, string | null>,
    deadline: number,
  ): Promise<SystemCheck> {
    const violations: string[] = []
    let searches = 0
    const present = [...values].filter((e): e is [string, string] => e[1] !== null)
    for (const node of this.#members()) {
      for (const filter of [null, ...MARKERS]) {
        const outcome = await retrying(
          () =>
            searchOnce(
              this.http,
              node,
              INDEX_UID,
              { filter, consistency: 'strong', allowPartial: false },
              left(deadline, 20_000),
            ),
          (o) => o.kind === 'unavailable' || o.kind === 'lost',
          deadline,
        )
        searches++
        const label = `${filter === null ? 'every document' : `marker ${filter}`} through ${node.name}`
        if (outcome.kind !== 'hits') {
          violations.push(`${label}: ${JSON.stringify(outcome).slice(0, 200)}`)
          continue
        }
        const expected = present
          .filter(([, v]) => filter === null || markerOf(v) === filter)
          .map(([k, v]) => `${k}=${v}`)
          .sort()
        const got = outcome.hits.map((h) => `${h.id}=${h.value}`).sort()
        if (expected.join(' ') !== got.join(' '))
          violations.push(`${label}: got [${got.join(' ')}], expected [${expected.join(' ')}]`)
      }
    }
    return {
      name: 'final searches through every node',
      passed: violations.length === 0,
      summary: `${searches} searches, ${violations.length} differ from the final values`,
      violations: violations.slice(0, 20),
    }
  }

  async #task(node: NodeAddress, method: string, route: string, body: unknown): Promise<void> {
    const sent = await request(this.http, node, method, route, body, 10_000)
    if (sent.kind !== 'answer' || sent.status !== 202)
      throw new Error(`${method} ${route}: ${describeOutcome(sent)} ${JSON.stringify(sent)}`)
    const uid = (sent.body as { taskUid: number }).taskUid
    const deadline = Date.now() + 60_000
    while (Date.now() < deadline) {
      const task = await request(this.http, node, 'GET', `/tasks/${uid}`, undefined, 5000)
      if (task.kind === 'answer' && task.status === 200) {
        const status = (task.body as { status: string }).status
        if (status === 'succeeded') return
        if (status === 'failed' || status === 'canceled')
          throw new Error(`${method} ${route}: task ${uid} ${status}: ${JSON.stringify(task.body)}`)
      }
      await sleep(100)
    }
    throw new Error(`${method} ${route}: task ${uid} did not end within 60 s`)
  }

  async #shards(node: NodeAddress, timeoutMs = 3000): Promise<ShardsView | null> {
    const outcome = await request(
      this.http,
      node,
      'GET',
      `/indexes/${INDEX_UID}/_shards`,
      undefined,
      timeoutMs,
    )
    return outcome.kind === 'answer' && outcome.status === 200 ? (outcome.body as ShardsView) : null
  }

  #addresses(): NodeAddress[] {
    return this.nodes.map((name) => ({ name, http: this.#cluster.address(name).http }))
  }

  /** The members' addresses (every node unless spares joined, drained or were replaced). */
  #members(): NodeAddress[] {
    const members = this.#cluster.members()
    return this.#addresses().filter((n) => members.includes(n.name))
  }

  /** Every shard as the first live member shows it (each replica's part as its own node reports it). */
  async #shardLines(): Promise<string[]> {
    const [via] = this.#live()
    const view = via === undefined ? null : await this.#shards(via, 5000)
    if (view === null) return [`the shards could not be read through ${via?.name ?? 'any live node'}`]
    return view.shards.map(
      (s) => `shard ${s.shard} through ${via?.name}: ${describeShard(s, (id) => this.#nameOf(id))}`,
    )
  }

  /** A node id as its node's name (ids of nodes this run never started shortened). */
  #nameOf(id: string): string {
    return this.nodes.find((n) => this.#cluster.address(n).nodeId === id) ?? `${id.slice(0, 10)}…`
  }

  /** Nodes running and not paused. */
  #live(): NodeAddress[] {
    return this.#addresses().filter((n) => this.running(n.name) && !this.#cluster.address(n.name).paused)
  }
}

/** Sends again while the outcome is `transient` (a 503, no answer) until `deadline`; the last outcome otherwise. */
async function retrying<T>(
  send: () => Promise<T>,
  transient: (outcome: T) => boolean,
  deadline: number,
): Promise<T> {
  for (;;) {
    const outcome = await send()
    if (!transient(outcome) || Date.now() > deadline) return outcome
    await sleep(200)
  }
}

/** The time a request may take: what is left before `deadline`, at most `cap`, at least 1 s. */
function left(deadline: number, cap: number): number {
  return Math.min(cap, Math.max(1000, deadline - Date.now()))
}
