import {
  type Index,
  mergeSearchStats,
  type SearchContext,
  type SearchParams,
  type SearchStats,
  type ShardSearchResult,
  searchContextComplete,
} from '@shoal/engine'
import type { RaftNode } from '@shoal/raft'
import { traceMark } from '../search-trace.ts'
import type { ClusterEngine } from './cluster-engine.ts'
import type { EngineShardMachine } from './shard-machine.ts'
import { countStrongReads, shardTargets } from './shard-rpc.ts'

/**
 * A sharded read through a node that holds a readable replica of every shard of the index, in one
 * pass and one turn of the event loop: every shard's statistics, merged; `phase2` on the shards
 * `searched` with them (`Index.searchPartitions` for a search, which does once what each shard
 * would repeat); nothing crosses the network and nothing is copied. Reading every shard in the
 * same turn, no write can apply in between, so the statistics match the shards' state without a
 * version check, a cache or a retry.
 *
 * Readable: for `leader` (strong) reads, a replica holding a follower read lease (it has applied
 * everything acknowledged), or the shard leader after a ReadIndex round — the same conditions the
 * read path through `serveShards` checks; for `eventual` reads, a replica whose read gate is open
 * (replica-read-gate.ts). Undefined when a shard's replica here is not readable now, or anything
 * else is out of the ordinary (an error, shards disagreeing on the settings): the caller then reads
 * through the shards as usual, which answers the typed error or waits, retries and reports.
 */
export interface LocalPass {
  /** Phase 2's answers of the shards searched, in shard order. */
  readonly parts: ShardSearchResult[]
  /** The shards searched, in the order of `parts`. */
  readonly shards: readonly number[]
  /** The live documents of every shard (the merge counts pruned shards' too). */
  readonly documentCounts: Map<number, number>
  /** Committed entries each searched replica had not applied yet. */
  readonly lags: readonly number[]
}

/**
 * How long a strong read waits for a lapsed follower read lease to be granted again before it
 * reads through the shard leaders instead: a grant takes one round trip to the leader, so a longer
 * wait means the leader does not grant (it is losing its own lease, handing leadership over).
 */
const LEASE_WAIT_MS = 50

export async function localPass(
  engine: ClusterEngine,
  uid: string,
  params: SearchParams,
  mode: 'leader' | 'eventual',
  searched: readonly number[],
  phase2: (indexes: readonly Index[], context: SearchContext) => ShardSearchResult[],
): Promise<LocalPass | undefined> {
  const { node, hosting } = engine
  const targets = shardTargets(node, uid)
  const host = node.host
  if (targets.length === 0 || host === undefined || host === null) return declined('no_replica')
  const replicas: { raft: RaftNode; machine: EngineShardMachine; name: string }[] = []
  for (const target of targets) {
    const raft = target.holders.includes(node.nodeId) ? host.group(target.group) : undefined
    const machine = hosting.machine(target.group) as EngineShardMachine | undefined
    if (raft === undefined || machine === undefined) return declined('no_replica')
    replicas.push({ raft, machine, name: target.name })
  }
  traceMark('replicas')
  let leased = 0
  if (mode === 'leader') {
    // No await unless something must be waited for: the checks and the reads share one turn.
    const checked = strongReadable(replicas)
    const readable = checked instanceof Promise ? await checked : checked
    if (typeof readable === 'string') return declined(readable)
    leased = readable
  } else {
    for (const { raft, machine } of replicas)
      if (!machine.readGate.ready(raft.status())) return declined('catching_up')
  }
  traceMark('lease')
  // From here on, one synchronous turn: no apply or tick comes in between.
  try {
    const indexes = replicas.map(({ machine, name }) => machine.engine.index(name))
    const context = statsOf(
      indexes,
      targets.map((target) => target.shard),
      params,
    )
    if (context === undefined) return declined('other')
    traceMark('stats')
    const at = new Map(targets.map((target, i) => [target.shard, i]))
    const positions = searched.map((shard) => at.get(shard))
    if (positions.some((i) => i === undefined)) return declined('other')
    const parts = phase2(
      positions.map((i) => indexes[i!]!),
      context.context,
    )
    traceMark('phase2')
    if (mode === 'leader') countStrongReads(leased, replicas.length - leased)
    const lags = positions.map((i) => {
      const status = replicas[i!]!.raft.status()
      return Math.max(0, status.commitIndex - status.appliedIndex)
    })
    return { parts, shards: searched, documentCounts: context.documentCounts, lags }
  } catch {
    return declined('other')
  }
}

/**
 * Whether every replica may serve a strong read now: a shard led here under its leader lease
 * (`leaderLeaseRead`: no ReadIndex round, no wait) or, when the lease does not hold, after a
 * ReadIndex round confirmed its leadership; a follower under its read lease, or, when the lease
 * lapsed (no reads for a while, a slow tick), once it is granted again, one round trip to its
 * leader, which a read through that leader would cost as well. Checked in the caller's turn when
 * nothing had to be waited for; after a wait, checked again in the turn that reads. Resolves with
 * how many replicas read under a follower lease, or why not.
 */
function strongReadable(replicas: readonly { raft: RaftNode }[]): StrongReads | Promise<StrongReads> {
  const unconfirmed = replicas.filter(({ raft }) => raft.isLeader && !raft.leaderLeaseRead())
  const lapsed = replicas.filter(({ raft }) => !raft.isLeader && !raft.leaseRead())
  if (unconfirmed.length === 0 && lapsed.length === 0)
    return replicas.filter(({ raft }) => !raft.isLeader).length
  return confirmThenCheck(replicas, unconfirmed, lapsed)
}

/** How many replicas read under a follower lease, or why a strong local read cannot be made. */
type StrongReads = number | 'no_lease' | 'leader_unconfirmed'

async function confirmThenCheck(
  replicas: readonly { raft: RaftNode }[],
  unconfirmed: readonly { raft: RaftNode }[],
  lapsed: readonly { raft: RaftNode }[],
): Promise<StrongReads> {
  const confirmedLeaders = new Set(replicas.filter(({ raft }) => raft.isLeader).map(({ raft }) => raft))
  try {
    await Promise.all([
      ...unconfirmed.map(({ raft }) => {
        raft.wake()
        return raft.read({ signal: AbortSignal.timeout(2_000) })
      }),
      ...lapsed.map(({ raft }) => raft.awaitLeaseRead(LEASE_WAIT_MS)),
    ])
  } catch {
    return 'leader_unconfirmed'
  }
  let leased = 0
  for (const { raft } of replicas) {
    if (!raft.isLeader) {
      if (!raft.leaseRead()) return 'no_lease'
      leased++
    } else if (!confirmedLeaders.has(raft)) {
      // Became leader during the wait: not confirmed, and perhaps not caught up.
      return 'leader_unconfirmed'
    }
  }
  return leased
}

/**
 * Why a local pass was not made: no replica here of some shard, a follower replica without a
 * valid read lease (strong reads), a replica still catching up after it opened (eventual reads),
 * a shard leader here that could not confirm its leadership, or anything else.
 */
export type LocalPassDecline = 'no_replica' | 'no_lease' | 'catching_up' | 'leader_unconfirmed' | 'other'

const DECLINES: Record<LocalPassDecline, number> = {
  no_replica: 0,
  no_lease: 0,
  catching_up: 0,
  leader_unconfirmed: 0,
  other: 0,
}

function declined(reason: LocalPassDecline): undefined {
  DECLINES[reason]++
  return undefined
}

/** How many local passes were declined here, by reason (`shoal_sharded_search_local_declined_total`). */
export function localPassDeclines(): Readonly<Record<LocalPassDecline, number>> {
  return DECLINES
}

/**
 * The merged statistics of every shard, read without typo variants first (no dictionary walk),
 * which suffices unless a query word is held by no shard; undefined when the shards disagree.
 */
function statsOf(
  indexes: readonly Index[],
  shards: readonly number[],
  params: SearchParams,
): { context: SearchContext; documentCounts: Map<number, number> } | undefined {
  for (const options of [{ omitTypoVariants: true }, {}]) {
    const parts: SearchStats[] = indexes.map((index) => index.searchStats(params, options))
    const context = mergeSearchStats(parts)
    if (!searchContextComplete(context)) continue
    const documentCounts = new Map<number, number>()
    parts.forEach((part, i) => {
      if (typeof part.documentCount === 'number') documentCounts.set(shards[i]!, part.documentCount)
    })
    return { context, documentCounts }
  }
  return undefined
}
