import type { ClusterLogger, ClusterNode } from './cluster-node.ts'
import type { MetadataState, ShardReplica } from './metadata/types.ts'
import { hasLabels } from './placement-constraints.ts'
import type { ShardGroupRef } from './shard-hosting.ts'
import { planShardStep, type ShardStep } from './shard-membership.ts'

export interface ShardStewardOptions {
  readonly node: ClusterNode
  /** The shard groups hosted on this node. */
  readonly hosted: () => readonly ShardGroupRef[]
  /** How often the leaders' groups are compared with the metadata. @defaultValue 500 */
  readonly intervalMs?: number
  /** A learner is promoted once it lags by at most this many entries. @defaultValue 64 */
  readonly caughtUpEntries?: number
  readonly logger?: ClusterLogger
}

/** What the steward has done since it started (metrics read it). */
export interface ShardStewardCounters {
  learnersAdded: number
  promotions: number
  removals: number
  transfers: number
  records: number
  failures: number
}

/**
 * Runs `planShardStep` for every shard group this node leads: on a timer and when the metadata
 * changes, one step per group per pass, one pass at a time. Each step is a Raft configuration
 * change of the shard group, a leadership transfer, or a compare-and-set `shard.update` of the
 * metadata. Everything it does follows from the metadata and the group's own state, so a new
 * leader (after a crash or a transfer) simply carries on.
 */
export class ShardSteward {
  readonly counters: ShardStewardCounters = {
    learnersAdded: 0,
    promotions: 0,
    removals: 0,
    transfers: 0,
    records: 0,
    failures: 0,
  }
  readonly #options: ShardStewardOptions
  readonly #log: ClusterLogger
  #timer: ReturnType<typeof setInterval> | null = null
  #unsubscribe: (() => void) | null = null
  #running: Promise<void> | null = null
  #again = false
  /** Per led group, per follower: its lag in entries and since when it has not been caught up. */
  #lag = new Map<string, Map<string, { entries: number; behindSinceMs: number | null }>>()
  /** Per group this node leads: the term it leads in (a new term or a new group is logged). */
  #ledTerms = new Map<string, number>()

  constructor(options: ShardStewardOptions) {
    this.#options = options
    this.#log = options.logger ?? { info: () => {}, warn: () => {} }
  }

  start(): void {
    if (this.#timer !== null) return
    this.#timer = setInterval(() => this.poke(), this.#options.intervalMs ?? 500)
    this.#timer.unref?.()
    let shards = this.#options.node.metadata.state.shards
    this.#unsubscribe = this.#options.node.metadata.onChange((state) => {
      if (state.shards === shards) return
      shards = state.shards
      this.poke()
    })
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    this.#unsubscribe?.()
    await this.#running
  }

  /** Runs a pass soon (coalesced with one under way). */
  poke(): void {
    if (this.#timer === null) return
    if (this.#running !== null) {
      this.#again = true
      return
    }
    this.#running = (async () => {
      do {
        this.#again = false
        await this.#pass()
      } while (this.#again && this.#timer !== null)
    })().finally(() => {
      this.#running = null
    })
  }

  /**
   * Replication lag of the replicas of the groups this node leads, as of the last pass: entries
   * behind the leader's last index, and seconds since the replica was last fully caught up.
   */
  replicaLag(
    now: number = Date.now(),
  ): Array<{ group: string; node: string; entries: number; seconds: number }> {
    const out = []
    for (const [group, followers] of this.#lag)
      for (const [node, lag] of followers)
        out.push({
          group,
          node,
          entries: lag.entries,
          seconds: lag.behindSinceMs === null ? 0 : Math.max(0, now - lag.behindSinceMs) / 1000,
        })
    return out
  }

  /** Resolves when no pass is running. */
  async idle(): Promise<void> {
    while (this.#running !== null) await this.#running
  }

  async #pass(): Promise<void> {
    const node = this.#options.node
    const host = node.host
    if (host === null) return
    const state = node.state()
    const now = Date.now()
    const led = new Set<string>()
    for (const ref of this.#options.hosted()) {
      const raft = host.group(ref.group)
      if (raft === undefined || !raft.isLeader) continue
      const index = state.indexes[ref.indexUid]
      const record = state.shards[ref.indexUid]?.find((s) => s.shard === ref.shard)
      if (index === undefined || index.createdAtMs !== ref.createdAtMs || record === undefined) continue
      const status = raft.status()
      if (this.#ledTerms.get(ref.group) !== status.term) {
        this.#ledTerms.set(ref.group, status.term)
        this.#log.info(
          { index: ref.indexUid, shard: ref.shard, term: status.term, group: ref.group },
          'shard leader elected: this node leads the shard group',
        )
      }
      // A quiet group sleeps (no heartbeats) once its followers are caught up; a newcomer still
      // catching up, or a replica on its way out, needs it awake until the move is done.
      if (status.confState.learners.length > 0 || record.replicas.some((r) => r.state !== 'active'))
        raft.wake()
      led.add(ref.group)
      this.#trackLag(ref.group, status.followers, now)
      const step = planShardStep({
        self: node.nodeId,
        replicas: record.replicas,
        conf: status.confState,
        followers: status.followers,
        caughtUpEntries: this.#options.caughtUpEntries ?? 64,
        alive: (id) => node.isAlive(id),
        preferredLeaders: preferredLeaders(state, index.sharding.placement?.leaderPrefers, record.replicas),
      })
      if (step === null) continue
      try {
        await this.#take(ref, step, record.replicas)
      } catch (error) {
        this.counters.failures++
        this.#log.warn(
          {
            index: ref.indexUid,
            shard: ref.shard,
            group: ref.group,
            step,
            err: error instanceof Error ? error.message : String(error),
          },
          'shard membership step failed; retrying on the next pass',
        )
      }
    }
    for (const group of this.#lag.keys()) if (!led.has(group)) this.#lag.delete(group)
    for (const group of this.#ledTerms.keys()) if (!led.has(group)) this.#ledTerms.delete(group)
  }

  #trackLag(group: string, followers: readonly { id: string; lag: number }[], now: number): void {
    const previous = this.#lag.get(group)
    const next = new Map<string, { entries: number; behindSinceMs: number | null }>()
    for (const f of followers) {
      const before = previous?.get(f.id)
      next.set(f.id, {
        entries: f.lag,
        behindSinceMs: f.lag === 0 ? null : (before?.behindSinceMs ?? now),
      })
    }
    this.#lag.set(group, next)
  }

  async #take(ref: ShardGroupRef, step: ShardStep, expect: readonly ShardReplica[]): Promise<void> {
    const node = this.#options.node
    const raft = node.host?.group(ref.group)
    if (raft === undefined) return
    switch (step.kind) {
      case 'conf':
        this.#log.info(
          { index: ref.indexUid, shard: ref.shard, group: ref.group, change: step.change },
          'shard membership change',
        )
        await raft.proposeConfChange(step.change, { signal: AbortSignal.timeout(10_000) })
        if (step.change.type === 'addLearner') this.counters.learnersAdded++
        else if (step.change.type === 'addVoter') this.counters.promotions++
        else this.counters.removals++
        return
      case 'transfer':
        this.#log.info(
          { index: ref.indexUid, shard: ref.shard, group: ref.group, to: step.to },
          'shard leadership handed over',
        )
        raft.transferLeadership(step.to)
        this.counters.transfers++
        return
      case 'record': {
        const outcome = await node.propose(
          {
            type: 'shard.update',
            uid: ref.indexUid,
            createdAtMs: ref.createdAtMs,
            shard: ref.shard,
            expect,
            replicas: step.replicas,
          },
          { timeoutMs: 5_000 },
        )
        if (outcome.ok) this.counters.records++
        else if (outcome.reason !== 'precondition_failed') throw new Error(outcome.message)
        return
      }
    }
  }
}

/** The replicas of a shard on nodes carrying the labels the index prefers for its leader. */
function preferredLeaders(
  state: MetadataState,
  wanted: Readonly<Record<string, string>> | undefined,
  replicas: readonly ShardReplica[],
): string[] {
  if (wanted === undefined) return []
  return replicas
    .map((r) => r.nodeId)
    .filter((id) => {
      const record = state.nodes[id]
      return record !== undefined && hasLabels(record, wanted)
    })
}
