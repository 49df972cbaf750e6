/**
 * Membership changes that move shard replicas, for `ShoalShardsSystem` with
 * spares (the `moves-partition` scenario): a drain (`POST
 * /admin/cluster/remove`) and a replacement of a node killed for good (`POST
 * /admin/cluster/replace`), each a task of the cluster's; joins are the
 * cluster's own (`ShoalMetaSystem.join`, then `--auto-rebalance` moves
 * replicas to the newcomer). Nodes are named by id in the requests, since a
 * spare's name is used again by the next node started in its slot.
 *
 * Kept for the end: every task these requests enqueued, to check that each
 * ended `succeeded` once the cluster settled, and where the replicas are
 * (only on members, each member holding some).
 */
import type { SystemCheck } from '@shoal/testkit/chaos'
import type { ShoalMetaSystem } from './chaos-meta-system.ts'
import { describeOutcome, type HttpLog, type NodeAddress, request, sleep } from './chaos-shards-http.ts'

/** A drain or replacement the cluster accepted. */
interface AcceptedChange {
  what: string
  taskUid: number
}

interface AdminView {
  metadataLeader: string | null
  nodes: Array<{ id: string; state: string; alive: boolean; replicas: number }>
  shards: { total: number; underReplicated: number }
  moves: {
    inFlight: Array<{ shard: number; to: string | null; from: string | null; progress: number }>
    waiting: number
  }
  plan: unknown[]
  unplaceable: Array<{ index: string; reason: string }>
  replacements: Record<string, string>
}

/** `GET /_admin/cluster` in one line: nodes, moves in flight, waiting, planned, unplaceable. */
function describeAdmin(admin: AdminView, nameOf: (id: string) => string): string {
  const nodes = admin.nodes
    .map((n) => `${nameOf(n.id)} ${n.state}${n.alive ? '' : ' down'} ${n.replicas}`)
    .join(', ')
  const moves = admin.moves.inFlight
    .map(
      (m) =>
        `shard ${m.shard} ${m.from === null ? '' : nameOf(m.from)}→${m.to === null ? '' : nameOf(m.to)} ${m.progress}`,
    )
    .join(', ')
  const replacements = Object.entries(admin.replacements).map(([o, n]) => `${nameOf(o)}→${nameOf(n)}`)
  return (
    `metadata leader ${admin.metadataLeader === null ? 'none' : nameOf(admin.metadataLeader)}; nodes [${nodes}]; ` +
    `${admin.shards.underReplicated} of ${admin.shards.total} shards under-replicated; in flight [${moves}]; ` +
    `${admin.moves.waiting} waiting; planned ${JSON.stringify(admin.plan)}` +
    (admin.unplaceable.length === 0 ? '' : `; unplaceable ${JSON.stringify(admin.unplaceable)}`) +
    (replacements.length === 0 ? '' : `; replacements ${replacements.join(', ')}`)
  )
}

/** How long a drain or replace request is sent again while the cluster answers 503 (no metadata leader on that side). */
const REQUEST_RETRY_MS = 15_000

/** How long an accepted drain is watched for a refusal as it starts (its task failing straight from enqueued). */
const REFUSAL_WAIT_MS = 20_000

export class ShardMoves {
  readonly #cluster: ShoalMetaSystem
  readonly #http: HttpLog
  readonly #accepted: AcceptedChange[] = []
  /** Requests never accepted, with the last answer. */
  readonly #refused: string[] = []

  readonly #indexUid: string

  constructor(cluster: ShoalMetaSystem, http: HttpLog, indexUid: string) {
    this.#cluster = cluster
    this.#http = http
    this.#indexUid = indexUid
  }

  async drain(node: string, via: string): Promise<string | false> {
    if (!(await this.#cluster.canSpare())) return false
    const id = this.#cluster.address(node).nodeId
    const what = `drain ${node}`
    const sent = await this.#enqueue(via, '/admin/cluster/remove', { node: id }, what)
    if (sent.taskUid !== null) {
      // A drain the cluster cannot do now (no node to take a replica) fails as it starts, never
      // processing: the same answer as a refusal, so the node stays a member.
      const refusal = await this.#refusedAtStart(via, sent.taskUid)
      if (refusal !== null) {
        this.#accepted.splice(
          this.#accepted.findIndex((c) => c.taskUid === sent.taskUid),
          1,
        )
        this.#refused.push(`${what}: task ${sent.taskUid} refused as it started (${refusal})`)
        return false
      }
      // Started: the node no longer counts as a member; it stops by itself once drained.
      this.#cluster.release(node)
    }
    return sent.summary
  }

  /**
   * The error of task `uid` when it failed straight from `enqueued` (refused as it started), null
   * once it is processing or ended otherwise, or after `REFUSAL_WAIT_MS` still enqueued.
   */
  async #refusedAtStart(via: string, uid: number): Promise<string | null> {
    const node: NodeAddress = { name: via, http: this.#cluster.address(via).http }
    const deadline = Date.now() + REFUSAL_WAIT_MS
    while (Date.now() < deadline) {
      const got = await request(this.#http, node, 'GET', `/tasks/${uid}`, undefined, 3000)
      if (got.kind === 'answer' && got.status === 200) {
        const task = got.body as { status: string; error: { code?: string; message?: string } | null }
        if (task.status === 'failed') return `${task.error?.code ?? ''}: ${task.error?.message ?? ''}`
        if (task.status !== 'enqueued') return null
      }
      await sleep(300)
    }
    return null
  }

  async replace(old: string, spare: string, via: string): Promise<string | false> {
    const oldId = this.#cluster.address(old).nodeId
    if (oldId === null || !(await this.#othersRun(oldId))) return false
    if (!(await this.#cluster.leave(old))) return false
    await this.#cluster.join(spare, via)
    const newId = this.#cluster.address(spare).nodeId
    const sent = await this.#enqueue(
      via,
      '/admin/cluster/replace',
      { old: oldId, new: newId },
      `replace ${old} by ${spare}`,
    )
    return sent.summary
  }

  /**
   * Null when no replica move is in flight, waiting or planned and no shard is short of replicas,
   * as `via` sees it; otherwise what it sees, in a few words.
   */
  async busy(via: NodeAddress): Promise<string | null> {
    const view = await request(this.#http, via, 'GET', '/_admin/cluster', undefined, 3000)
    if (view.kind !== 'answer' || view.status !== 200) return `GET /_admin/cluster: ${describeOutcome(view)}`
    const admin = view.body as AdminView
    if (
      admin.shards.underReplicated === 0 &&
      admin.moves.inFlight.length === 0 &&
      admin.moves.waiting === 0 &&
      admin.plan.length === 0
    )
      return null
    return describeAdmin(admin, (id) => this.#nameOf(id))
  }

  /**
   * Every accepted drain and replacement ended `succeeded`; every replica of
   * `replicas` (shard → node ids) sits on a member and every member holds one.
   */
  async check(
    members: readonly NodeAddress[],
    replicas: ReadonlyMap<number, readonly string[]>,
    waitingFor: string | null,
  ): Promise<SystemCheck> {
    const violations: string[] = []
    const statuses: string[] = []
    for (const change of this.#accepted) {
      const status = await this.#taskStatus(members, change.taskUid)
      statuses.push(`${change.what}: task ${change.taskUid} ${status}`)
      if (status !== 'succeeded') violations.push(`${change.what}: task ${change.taskUid} ended ${status}`)
    }
    const ids = new Map(members.map((m) => [this.#cluster.address(m.name).nodeId, m.name]))
    const held = new Map<string, number>()
    for (const [shard, nodes] of replicas)
      for (const id of nodes) {
        const name = ids.get(id)
        if (name === undefined) violations.push(`shard ${shard} has a replica on ${id}, not a member`)
        else held.set(name, (held.get(name) ?? 0) + 1)
      }
    if (replicas.size > 0)
      for (const m of members) if (!held.has(m.name)) violations.push(`${m.name} holds no replica`)
    const placement =
      replicas.size === 0
        ? 'not read (the cluster never settled)'
        : members.map((m) => `${m.name} ${held.get(m.name) ?? 0}`).join(', ')
    if (replicas.size === 0) violations.push('the placement was never read: the cluster never settled')
    // Never settled: what the last look found, and each member's overview as it stands now.
    if (waitingFor !== null) {
      violations.push(`not settled at the end: ${waitingFor}`)
      for (const m of members) {
        const view = await request(this.#http, m, 'GET', '/_admin/cluster', undefined, 3000)
        violations.push(
          `${m.name} sees: ${view.kind === 'answer' && view.status === 200 ? describeAdmin(view.body as AdminView, (id) => this.#nameOf(id)) : describeOutcome(view)}`,
        )
      }
    }
    return {
      name: 'shard moves',
      passed: violations.length === 0,
      summary:
        `${this.#accepted.length} drains and replacements accepted (${statuses.join('; ') || 'none'}), ` +
        `${this.#refused.length} never accepted${this.#refused.length === 0 ? '' : ` (${this.#refused.join('; ')})`}; ` +
        `replicas per member: ${placement}`,
      violations,
    }
  }

  /**
   * Sends a drain or replace request through `via`, again while it answers
   * 503 or the connection is refused (a 202 or any other answer ends it).
   * A request with no answer is not sent again: it may have been enqueued.
   */
  async #enqueue(
    via: string,
    route: string,
    body: unknown,
    what: string,
  ): Promise<{ taskUid: number | null; summary: string }> {
    const node: NodeAddress = { name: via, http: this.#cluster.address(via).http }
    const deadline = Date.now() + REQUEST_RETRY_MS
    for (;;) {
      const sent = await request(this.#http, node, 'POST', route, body, 10_000)
      if (sent.kind === 'answer' && sent.status === 202) {
        const taskUid = (sent.body as { taskUid: number }).taskUid
        this.#accepted.push({ what, taskUid })
        return { taskUid, summary: `task ${taskUid}` }
      }
      const retry = sent.kind === 'refused' || (sent.kind === 'answer' && sent.status === 503)
      if (!retry || Date.now() > deadline) {
        const answer = `${describeOutcome(sent)}${sent.kind === 'answer' ? ` ${JSON.stringify(sent.body).slice(0, 160)}` : ''}`
        this.#refused.push(`${what}: ${answer}`)
        return { taskUid: null, summary: `not accepted: ${answer}` }
      }
      await sleep(300)
    }
  }

  /**
   * Whether every other replica of each shard `nodeId` holds is on a node running now, in the view
   * of every running member (each answers from its own copy of the shard map, so no leader is
   * needed during a partition): then killing `nodeId` for good leaves each of its shard groups a
   * majority. A second holder of a shard killed for good before the first was replaced would cost
   * that group its majority for ever, which no replication factor of 3 survives. False when a
   * member does not answer.
   */
  async #othersRun(nodeId: string): Promise<boolean> {
    const live = this.#cluster.members().filter((n) => this.#cluster.running(n))
    const running = new Set(live.map((n) => this.#cluster.address(n).nodeId))
    for (const name of live) {
      const node: NodeAddress = { name, http: this.#cluster.address(name).http }
      const view = await request(
        this.#http,
        node,
        'GET',
        `/indexes/${this.#indexUid}/_shards`,
        undefined,
        3000,
      )
      if (view.kind !== 'answer' || view.status !== 200) return false
      const shards = (view.body as { shards: Array<{ replicas: Array<{ node: string }> }> }).shards
      for (const shard of shards) {
        const holders = shard.replicas.map((r) => r.node)
        if (holders.includes(nodeId) && !holders.every((id) => id === nodeId || running.has(id))) return false
      }
    }
    return true
  }

  #nameOf(id: string): string {
    return this.#cluster.nodes.find((n) => this.#cluster.address(n).nodeId === id) ?? `${id.slice(0, 10)}…`
  }

  async #taskStatus(members: readonly NodeAddress[], uid: number): Promise<string> {
    for (const node of members) {
      const got = await request(this.#http, node, 'GET', `/tasks/${uid}`, undefined, 5000)
      if (got.kind === 'answer' && got.status === 200) {
        const task = got.body as { status: string; error: { code?: string; message?: string } | null }
        return task.error?.code === undefined
          ? task.status
          : `${task.status} (${task.error.code}: ${task.error.message ?? ''})`
      }
    }
    return 'unknown (no member answered)'
  }
}
