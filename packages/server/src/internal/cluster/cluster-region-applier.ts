import type { Logger } from 'pino'
import type { RegionIndexOptions } from '../regions/region-config.ts'
import type { RegionMetrics } from '../regions/region-metrics.ts'
import { type ClusterFeedEntry, decodeClusterFeedEntry } from './cluster-region-feed.ts'
import { appliedOverShards, splitRemoteCommand } from './region-split.ts'
import type { ClusterRuntime } from './runtime.ts'
import { type EngineShardMachine, encodeShardEntry, type ShardOutcome } from './shard-machine.ts'
import { shardTargets } from './shard-rpc.ts'

export interface ClusterRegionApplierOptions {
  region: string
  cluster: ClusterRuntime
  replicated: (index: string) => RegionIndexOptions | undefined
  /** Sends a request to a node of region `origin`; undefined when none answered. */
  request: (origin: string | undefined, body: unknown) => Promise<unknown>
  /** The inter-region key (feed entries fetched are checked like published ones). */
  key: () => Uint8Array
  metrics: RegionMetrics
  logger: Logger
}

/** One remote shard's feed of one index, as this region applies it. */
interface Stream {
  readonly origin: string
  readonly index: string
  readonly originShard: string
  /** The sequence number applied here (undefined until read from the local shards' ledgers). */
  applied: number | undefined
  /** Entries received ahead of `applied`, by their `after`. */
  readonly pending: Map<number, ClusterFeedEntry>
  /** The highest sequence number the origin announced. */
  head: number
  running: boolean
  /** When this stream last went from caught up to behind (undefined while caught up). */
  behindSince: number | undefined
}

/** How long proposing one part of a remote entry is retried (a shard leader may be changing). */
const PROPOSE_DEADLINE_MS = 15_000

/**
 * The receiving half of a cluster region's feed (docs/multi-region.md, "Regions made of
 * clusters"), active on the metadata leader only: it applies each remote shard's entries in
 * sequence, each split by primary key over this cluster's shards and proposed to every shard
 * with its remote tag (the shard's region ledger settles it by last-writer-wins), and fetches
 * what it misses from the origin region. It holds nothing the shards do not: a new applier reads
 * where each remote shard's feed was applied from the ledgers.
 */
export class ClusterRegionApplier {
  readonly #o: ClusterRegionApplierOptions
  #active = false
  #streams = new Map<string, Stream>()

  constructor(options: ClusterRegionApplierOptions) {
    this.#o = options
  }

  setActive(active: boolean): void {
    if (active === this.#active) return
    this.#active = active
    // Another node applied meanwhile, or will: positions are read again from the ledgers.
    if (!active) this.#streams = new Map()
  }

  received(entry: ClusterFeedEntry): void {
    if (!this.#active) return
    const stream = this.#stream(entry.origin, entry.index, entry.originShard)
    if (stream.applied !== undefined && entry.seq <= stream.applied) return
    stream.pending.set(entry.after, entry)
    this.#raiseHead(stream, entry.seq)
    this.#kick(stream)
  }

  /** A region's heads per index and shard group: anything past what was applied is fetched. */
  heads(origin: string, heads: Record<string, Record<string, number>>): void {
    if (!this.#active || origin === this.#o.region) return
    for (const [index, groups] of Object.entries(heads)) {
      if (this.#o.replicated(index) === undefined || typeof groups !== 'object' || groups === null) continue
      for (const [group, head] of Object.entries(groups)) {
        if (typeof head !== 'number' || head <= 0) continue
        const stream = this.#stream(origin, index, group)
        this.#raiseHead(stream, head)
        this.#kick(stream)
      }
    }
  }

  /** Per origin region, index and origin shard: the sequence number applied. */
  status(): Record<string, Record<string, Record<string, number>>> {
    const out: Record<string, Record<string, Record<string, number>>> = {}
    for (const s of this.#streams.values()) {
      const byIndex = out[s.origin] ?? {}
      out[s.origin] = byIndex
      byIndex[s.index] = { ...byIndex[s.index], [s.originShard]: s.applied ?? 0 }
    }
    return out
  }

  /**
   * Per remote region, while this node applies: how long the oldest entry not applied yet has been
   * known to exist, and how many entries are known not applied — those received and waiting, plus
   * one per remote shard whose announced head lies past them (a lower bound: sequence numbers
   * are Raft indexes of the origin shard, so the count between is unknown until fetched).
   */
  lagByRegion(now = Date.now()): Map<string, { seconds: number; entries: number }> {
    const lag = new Map<string, { seconds: number; entries: number }>()
    for (const s of this.#streams.values()) {
      const region = lag.get(s.origin) ?? { seconds: 0, entries: 0 }
      lag.set(s.origin, region)
      const applied = s.applied ?? 0
      if (s.head <= applied) continue
      let waiting = 0
      let highest = applied
      for (const entry of s.pending.values())
        if (entry.seq > applied) {
          waiting++
          highest = Math.max(highest, entry.seq)
        }
      region.entries += waiting + (s.head > highest ? 1 : 0)
      if (s.behindSince !== undefined)
        region.seconds = Math.max(region.seconds, Math.max(0, now - s.behindSince) / 1000)
    }
    return lag
  }

  #raiseHead(stream: Stream, seq: number): void {
    if (seq > stream.head) stream.head = seq
    if (stream.behindSince === undefined && stream.head > (stream.applied ?? 0))
      stream.behindSince = Date.now()
  }

  #stream(origin: string, index: string, originShard: string): Stream {
    const key = `${origin}\u0000${index}\u0000${originShard}`
    let stream = this.#streams.get(key)
    if (stream === undefined) {
      stream = {
        origin,
        index,
        originShard,
        applied: undefined,
        pending: new Map(),
        head: 0,
        running: false,
        behindSince: undefined,
      }
      this.#streams.set(key, stream)
    }
    return stream
  }

  #kick(stream: Stream): void {
    if (stream.running) return
    stream.running = true
    this.#run(stream)
      .catch((error: unknown) =>
        this.#o.logger.warn(
          {
            origin: stream.origin,
            index: stream.index,
            shard: stream.originShard,
            err: (error as Error).message,
          },
          'region: applying a remote shard feed stopped; it resumes at the next heads',
        ),
      )
      .finally(() => {
        stream.running = false
      })
  }

  async #run(stream: Stream): Promise<void> {
    stream.applied ??= this.#positionOf(stream)
    while (this.#active) {
      for (const after of stream.pending.keys()) if (after < stream.applied!) stream.pending.delete(after)
      const next = stream.pending.get(stream.applied!)
      if (next !== undefined) {
        await this.#apply(next)
        stream.pending.delete(next.after)
        stream.applied = next.seq
        const { metrics } = this.#o
        metrics.applied.inc({ region: next.origin })
        metrics.delay.observe({ region: next.origin }, Math.max(0, Date.now() - next.wallMs) / 1000)
        // Caught up: the next entry announced starts a new wait.
        if (stream.head <= next.seq) stream.behindSince = undefined
        continue
      }
      if (stream.head <= stream.applied! && stream.pending.size === 0) {
        stream.behindSince = undefined
        return
      }
      if (!(await this.#fetch(stream))) return
    }
  }

  /** The lowest position over this cluster's shards of the index (0 for a shard not held here). */
  #positionOf(stream: Stream): number {
    const { cluster } = this.#o
    const targets = shardTargets(cluster.node, stream.index)
    return appliedOverShards(
      targets.map((target) => {
        const machine = cluster.hosting.machine(target.group) as EngineShardMachine | undefined
        return machine?.regionLedger?.appliedOf(stream.origin, target.name, stream.originShard) ?? 0
      }),
    )
  }

  /** Fetches the entries after what was applied from the origin; false when none came. */
  async #fetch(stream: Stream): Promise<boolean> {
    const answer = (await this.#o.request(stream.origin, [
      'cregion.fetch',
      { index: stream.index, shard: stream.originShard, after: stream.applied },
    ])) as { compacted?: boolean; entries?: unknown } | undefined
    if (answer?.compacted === true) {
      this.#o.logger.error(
        { origin: stream.origin, index: stream.index, shard: stream.originShard, after: stream.applied },
        'region: the origin shard no longer retains this gap; catch-up by snapshot is not built for cluster regions',
      )
      return false
    }
    const entries = Array.isArray(answer?.entries) ? answer.entries : []
    const { metrics } = this.#o
    let added = 0
    for (const bytes of entries) {
      if (!(bytes instanceof Uint8Array)) continue
      metrics.bytes.inc({ direction: 'received' }, bytes.byteLength)
      const decoded = decodeClusterFeedEntry(bytes, this.#o.key())
      if (!decoded.ok) {
        metrics.rejected.inc({ reason: decoded.reason })
        continue
      }
      if (decoded.entry.origin !== stream.origin || decoded.entry.originShard !== stream.originShard) {
        metrics.rejected.inc({ reason: 'wrong_stream' })
        continue
      }
      stream.pending.set(decoded.entry.after, decoded.entry)
      this.#raiseHead(stream, decoded.entry.seq)
      added++
    }
    if (added > 0) metrics.gapFills.inc({ region: stream.origin })
    return added > 0
  }

  /** Proposes the entry's part to every local shard (re-proposing is harmless: the ledgers skip it). */
  async #apply(entry: ClusterFeedEntry): Promise<void> {
    const { node } = this.#o.cluster
    const targets = shardTargets(node, entry.index).sort((a, b) => a.shard - b.shard)
    if (targets.length === 0) throw new Error(`index ${entry.index} does not exist in this region`)
    const name = targets[0]!.name
    // Every origin shard carries the index's settings changes and its creation: the first shard's
    // copy is applied, the others only move their feed's position (each would log a conflict).
    const copy =
      (entry.command.type === 'updateSettings' || entry.command.type === 'createIndex') &&
      !isFirstShardGroup(entry.originShard)
    const parts = copy
      ? targets.map(() => ({
          command: { type: 'deleteDocuments' as const, uid: name, ids: [], at: entry.command.at },
          prev: [],
        }))
      : splitRemoteCommand(entry.command, entry.prev, targets.length, name)
    const manual = this.#o.replicated(entry.index)?.conflictResolution === 'manual'
    await Promise.all(
      targets.map(async (target, i) => {
        const part = parts[i]!
        const data = encodeShardEntry({
          taskUids: [],
          command: part.command,
          region: {
            kind: 'remote',
            origin: entry.origin,
            originShard: entry.originShard,
            seq: entry.seq,
            wallMs: entry.wallMs,
            logical: entry.logical,
            prev: part.prev,
            ...(manual ? { manual: true as const } : {}),
          },
        })
        const deadline = Date.now() + PROPOSE_DEADLINE_MS
        for (;;) {
          try {
            const outcome = (await node.proposeGroup(target.group, data, target.holders, {
              timeoutMs: Math.max(1, deadline - Date.now()),
            })) as ShardOutcome | undefined
            if (outcome !== undefined && !outcome.ok)
              this.#o.logger.warn(
                { origin: entry.origin, index: entry.index, seq: entry.seq, code: outcome.code },
                'region: a remote write was refused here (its position moves on)',
              )
            return
          } catch (error) {
            if (Date.now() >= deadline) throw error
            await new Promise((resolve) => setTimeout(resolve, 200))
          }
        }
      }),
    )
  }
}

/** Whether a shard group is its index's shard 0 (group names end with `/<shard>`, shard-hosting.ts). */
function isFirstShardGroup(group: string): boolean {
  return group.endsWith('/0')
}
