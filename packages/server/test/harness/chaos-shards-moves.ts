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
  shards: { total: number; underReplicated: number }
  moves: { inFlight: unknown[]; waiting: number }
  plan: unknown[]
}

/** How long a drain or replace request is sent again while the cluster answers 503 (no metadata leader on that side). */
const REQUEST_RETRY_MS = 15_000

export class ShardMoves {
  readonly #cluster: ShoalMetaSystem
  readonly #http: HttpLog
  readonly #accepted: AcceptedChange[] = []
  /** Requests never accepted, with the last answer. */
  readonly #refused: string[] = []

  constructor(cluster: ShoalMetaSystem, http: HttpLog) {
    this.#cluster = cluster
    this.#http = http
  }

  async drain(node: string, via: string): Promise<string | false> {
    if (!(await this.#cluster.canSpare())) return false
    const id = this.#cluster.address(node).nodeId
    const sent = await this.#enqueue(via, '/admin/cluster/remove', { node: id }, `drain ${node}`)
    // Accepted: the node no longer counts as a member; it stops by itself once drained.
    if (sent.accepted) this.#cluster.release(node)
    return sent.summary
  }

  async replace(old: string, spare: string, via: string): Promise<string | false> {
    const oldId = this.#cluster.address(old).nodeId
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

  /** No replica move in flight, waiting or planned, and no shard short of replicas, as `via` sees it. */
  async idle(via: NodeAddress): Promise<boolean> {
    const view = await request(this.#http, via, 'GET', '/_admin/cluster', undefined, 3000)
    if (view.kind !== 'answer' || view.status !== 200) return false
    const admin = view.body as AdminView
    return (
      admin.shards.underReplicated === 0 &&
      admin.moves.inFlight.length === 0 &&
      admin.moves.waiting === 0 &&
      admin.plan.length === 0
    )
  }

  /**
   * Every accepted drain and replacement ended `succeeded`; every replica of
   * `replicas` (shard → node ids) sits on a member and every member holds one.
   */
  async check(
    members: readonly NodeAddress[],
    replicas: ReadonlyMap<number, readonly string[]>,
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
  ): Promise<{ accepted: boolean; summary: string }> {
    const node: NodeAddress = { name: via, http: this.#cluster.address(via).http }
    const deadline = Date.now() + REQUEST_RETRY_MS
    for (;;) {
      const sent = await request(this.#http, node, 'POST', route, body, 10_000)
      if (sent.kind === 'answer' && sent.status === 202) {
        const taskUid = (sent.body as { taskUid: number }).taskUid
        this.#accepted.push({ what, taskUid })
        return { accepted: true, summary: `task ${taskUid}` }
      }
      const retry = sent.kind === 'refused' || (sent.kind === 'answer' && sent.status === 503)
      if (!retry || Date.now() > deadline) {
        const answer = `${describeOutcome(sent)}${sent.kind === 'answer' ? ` ${JSON.stringify(sent.body).slice(0, 160)}` : ''}`
        this.#refused.push(`${what}: ${answer}`)
        return { accepted: false, summary: `not accepted: ${answer}` }
      }
      await sleep(300)
    }
  }

  async #taskStatus(members: readonly NodeAddress[], uid: number): Promise<string> {
    for (const node of members) {
      const got = await request(this.#http, node, 'GET', `/tasks/${uid}`, undefined, 5000)
      if (got.kind === 'answer' && got.status === 200) {
        const task = got.body as { status: string; error: { code?: string } | null }
        return task.error?.code === undefined ? task.status : `${task.status} (${task.error.code})`
      }
    }
    return 'unknown (no member answered)'
  }
}
