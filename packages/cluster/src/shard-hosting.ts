import type { StateMachine } from '@shoal/raft'
import type { ClusterLogger, ClusterNode } from './cluster-node.ts'
import { shardNameOf } from './metadata/state-machine.ts'
import type { MetadataState } from './metadata/types.ts'
import { ShardSteward, type ShardStewardOptions } from './shard-steward.ts'

/** Makes and disposes of the state machine of one shard replica on this node (an engine partition). */
export interface ShardMachineFactory {
  /** Opens the replica's state machine (empty; the Raft group restores it from its snapshot and log). */
  open(group: ShardGroupRef): Promise<StateMachine>
  /** Closes it; `deleted` when the replica is gone from this node (index deleted or replica moved away) and its files may be removed. */
  close(group: ShardGroupRef, machine: StateMachine, deleted: boolean): Promise<void>
}

/** One shard of one incarnation of an index (an index deleted and created again is a new incarnation). */
export interface ShardGroupRef {
  /** The index's uid now (it changes when the index is renamed or swapped). */
  readonly indexUid: string
  /** The name the shard knows the index by, for good (`IndexRecord.shardName`). */
  readonly name: string
  readonly shard: number
  /** The index's creation time: with the uid, it names the incarnation. */
  readonly createdAtMs: number
  /** The Raft group's name. */
  readonly group: string
}

/** Every shard group's name starts with this; the metadata group's does not. */
export const SHARD_GROUP_PREFIX = 'shard/'

/**
 * The Raft group of shard `shard` of the incarnation created at `createdAtMs` of the index whose
 * shards are named `name` (its uid, unless it was renamed since).
 */
export function shardGroupOf(name: string, createdAtMs: number, shard: number): string {
  return `${SHARD_GROUP_PREFIX}${name}/${createdAtMs}/${shard}`
}

/**
 * Keeps this node's Raft host in step with the shard map: a group for every shard replica the
 * metadata places here (founding replicas bootstrap with the founders as voters), none for the
 * shards of deleted indexes. Reconciles after every metadata change, one pass at a time.
 */
export class ShardHosting {
  readonly #node: ClusterNode
  readonly #factory: ShardMachineFactory
  readonly #log: ClusterLogger
  readonly #hosted = new Map<string, { ref: ShardGroupRef; readonly machine: StateMachine }>()
  #unsubscribe: (() => void) | null = null
  #running: Promise<void> | null = null
  #again = false
  #stopped = false
  /** The maps the last scheduled pass was for (null after a failed pass: the next change retries). */
  #seen: { indexes: unknown; shards: unknown } | null = null

  /** Moves this node's led shard groups towards the recorded replicas (learner, voter, removal). */
  readonly steward: ShardSteward

  constructor(options: {
    node: ClusterNode
    factory: ShardMachineFactory
    logger?: ClusterLogger
    steward?: Pick<ShardStewardOptions, 'intervalMs' | 'caughtUpEntries'>
  }) {
    this.#node = options.node
    this.#factory = options.factory
    this.#log = options.logger ?? { info: () => {}, warn: () => {} }
    this.steward = new ShardSteward({
      ...options.steward,
      node: options.node,
      hosted: () => [...this.#hosted.values()].map((entry) => entry.ref),
      logger: this.#log,
    })
  }

  start(): void {
    // Most metadata changes (tasks, settings) leave the index and shard maps as they were: the
    // state is replaced, never mutated, so unchanged maps are the same objects.
    this.#unsubscribe = this.#node.metadata.onChange((state) => {
      const seen = this.#seen
      if (seen !== null && seen.indexes === state.indexes && seen.shards === state.shards) return
      this.#seen = { indexes: state.indexes, shards: state.shards }
      this.#schedule()
    })
    this.#schedule()
    this.steward.start()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    this.#unsubscribe?.()
    await this.steward.stop()
    await this.#running
    for (const [group, entry] of this.#hosted) {
      await this.#node.host?.removeGroup(group)
      await this.#factory.close(entry.ref, entry.machine, false)
    }
    this.#hosted.clear()
  }

  /** The shard replicas hosted here. */
  hosted(): ShardGroupRef[] {
    return [...this.#hosted.values()].map((entry) => entry.ref)
  }

  /** The state machine of a shard replica hosted here. */
  machine(group: string): StateMachine | undefined {
    return this.#hosted.get(group)?.machine
  }

  /** Resolves once the groups match the metadata as of now. */
  async settled(): Promise<void> {
    while (this.#running !== null) await this.#running
  }

  #schedule(): void {
    if (this.#stopped) return
    if (this.#running !== null) {
      this.#again = true
      return
    }
    this.#running = (async () => {
      do {
        this.#again = false
        try {
          await this.#reconcile(this.#node.metadata.state)
        } catch (error) {
          this.#seen = null
          this.#log.warn({ err: error }, 'shard hosting pass failed; retrying on the next change')
        }
      } while (this.#again && !this.#stopped)
    })().finally(() => {
      this.#running = null
    })
  }

  async #reconcile(state: MetadataState): Promise<void> {
    const host = this.#node.host
    if (host === null) return
    const self = this.#node.nodeId
    const wanted = new Map<string, { ref: ShardGroupRef; founder: readonly string[] | undefined }>()
    for (const [indexUid, shards] of Object.entries(state.shards)) {
      const index = state.indexes[indexUid]
      if (index === undefined) continue
      for (const record of shards) {
        const mine = record.replicas.find((r) => r.nodeId === self)
        if (mine === undefined) continue
        const name = shardNameOf(index)
        const group = shardGroupOf(name, index.createdAtMs, record.shard)
        // Founders bootstrap the group; a replica added later (initializing) starts empty and
        // learns the group from its leader, by snapshot and log.
        const founder =
          mine.state === 'active' && record.founders?.includes(self) === true ? record.founders : undefined
        wanted.set(group, {
          ref: { indexUid, name, shard: record.shard, createdAtMs: index.createdAtMs, group },
          founder,
        })
      }
    }
    const incarnations = new Set(
      Object.values(state.indexes).map((index) => `${shardNameOf(index)}\u0000${index.createdAtMs}`),
    )
    for (const [group, entry] of this.#hosted) {
      const kept = wanted.get(group)
      // A renamed or swapped index: the same replica, under the index's new uid.
      if (kept !== undefined && kept.ref.indexUid !== entry.ref.indexUid) entry.ref = kept.ref
      if (kept !== undefined || this.#stopped) continue
      const deleted = !incarnations.has(`${entry.ref.name}\u0000${entry.ref.createdAtMs}`)
      // Its Raft log goes too (a drop record in the shared WAL), so a restart does not bring it back.
      await host.removeGroup(group, { destroy: true })
      this.#hosted.delete(group)
      this.#node.forgetSnapshotBytes(group)
      // The replica's files go with it whether the index was deleted or the replica moved away
      // (a replica placed here again starts empty and catches up from its leader).
      await this.#factory.close(entry.ref, entry.machine, true)
      this.#log.info(
        { index: entry.ref.indexUid, shard: entry.ref.shard, group, deleted },
        deleted ? 'shard replica removed' : 'shard replica moved away',
      )
    }
    for (const [group, { ref, founder }] of wanted) {
      if (this.#hosted.has(group) || this.#stopped) continue
      const machine = await this.#factory.open(ref)
      const bootstrap = founder === undefined ? undefined : { voters: [...founder], learners: [] }
      // Searches read shard leaders; a leader within its lease answers without a ReadIndex round,
      // and a follower holding a read lease answers strong reads itself (docs/distributed-search.md).
      await host.addGroup(group, {
        stateMachine: machine,
        leaseReads: true,
        followerLeases: true,
        ...(bootstrap === undefined ? {} : { bootstrap }),
      })
      this.#hosted.set(group, { ref, machine })
      this.#log.info({ index: ref.indexUid, shard: ref.shard, group }, 'shard replica started')
    }
  }
}
