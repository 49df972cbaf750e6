import {
  type ClusterNode,
  RemoteAppError,
  type ShardHosting,
  shardGroupOf,
  shardNameOf,
} from '@shoal/cluster'
import {
  type Command,
  type Doc,
  DocumentNotFoundError,
  type FacetSearchParams,
  type GetDocumentsParams,
  type Index,
  type SearchContext,
  type SearchParams,
  type SearchStatsOptions,
} from '@shoal/engine'
import { ApiError } from '../errors.ts'
import { type AntiEntropyRequest, serveAntiEntropy } from './anti-entropy-replica.ts'
import { serveBackupChunk, serveBackupImage } from './backup-shard.ts'
import { ReplicaLatency } from './replica-latency.ts'
import type { EngineShardMachine } from './shard-machine.ts'
import {
  attemptTimeoutMs,
  countShardReadAttempts,
  refusalOutcome,
  retryBackoffMs,
} from './shard-read-attempts.ts'

/**
 * Reads of shard replicas, between nodes (`app` requests on `/shoal/rpc/1`). One request per
 * node carries every shard that node is asked for. A `leader` read is served by the shard's Raft
 * leader after a ReadIndex round (it sees every write acknowledged before it: read-your-writes);
 * an `eventual` read is served by whichever replica gets it, from what it has applied. A
 * `leaderUnconfirmed` read is served by the replica that believes it leads, without the ReadIndex
 * round: the check of an `async` write, which must not need a majority any more than the write.
 */

/**
 * `leader`: at the shard leader (ReadIndex or its lease); `leaseLocal`: at this node's replica,
 * only while it holds a follower read lease and has applied its index (read-your-writes without a
 * round trip; refused with `not_leader` otherwise); `leaderUnconfirmed`: the node that believes it
 * leads; `eventual`: any replica that has caught up.
 */
export type ReadMode = 'leader' | 'leaseLocal' | 'leaderUnconfirmed' | 'eventual'

export type ShardAction =
  | { readonly action: 'search'; readonly params: SearchParams }
  /** Phase 1 of a sharded search: the statistics global scoring needs. */
  | { readonly action: 'searchStats'; readonly params: SearchParams; readonly options?: SearchStatsOptions }
  /** Phase 2: the shard's candidates, scored with the merged statistics. */
  | { readonly action: 'searchShard'; readonly params: SearchParams; readonly context: SearchContext }
  /** Phase 2 of a sharded facet search: the shard's untrimmed counts of the facet's values. */
  | {
      readonly action: 'facetSearchShard'
      readonly params: FacetSearchParams
      readonly context: SearchContext
    }
  | { readonly action: 'getDocument'; readonly id: string | number; readonly options: object }
  | { readonly action: 'getDocuments'; readonly params: GetDocumentsParams }
  /** The shard's share of a listing over shards, for `mergeDocumentPages`. */
  | { readonly action: 'getDocumentsPart'; readonly params: GetDocumentsParams }
  /** A document by id, or null when this shard does not hold it (a `field`-sharded index asks every shard). */
  | { readonly action: 'findDocument'; readonly id: string | number; readonly options: object }
  /** The documents stored under these id keys, exactly as stored (null: not here); where a write's documents live now. */
  | { readonly action: 'storedDocuments'; readonly keys: readonly string[] }
  | { readonly action: 'getSettings' }
  | { readonly action: 'stats' }
  /** Validates a write against the replica's state without applying it (answers null or the typed error). */
  | { readonly action: 'check'; readonly command: Command }
  /** The replica's Raft state (any replica answers, in either mode). */
  | { readonly action: 'status' }
  /** A `leader` read point: the leader's applied index after a ReadIndex round (replica-read-gate.ts). */
  | { readonly action: 'readPoint' }
  /** Anti-entropy: Merkle hashes, bucket entries, stored documents, repair (anti-entropy-replica.ts). */
  | { readonly action: 'antiEntropy'; readonly request: AntiEntropyRequest }
  /** Backup: the leader's image of the shard, held for the coordinator; answers its first chunk. */
  | { readonly action: 'backupImage'; readonly token: string }
  /** Backup: a later chunk of the held image (asked of the node that answered `backupImage`). */
  | { readonly action: 'backupChunk'; readonly token: string; readonly offset: number }

export interface ShardItem {
  readonly group: string
  /** The name the shard knows the index by (`ShardTarget.name`). */
  readonly indexUid: string
  readonly call: ShardAction
}

export interface ShardsRequest {
  readonly kind: 'shards'
  readonly mode: ReadMode
  readonly items: readonly ShardItem[]
}

export type ShardReply =
  | {
      readonly ok: true
      readonly value: unknown
      readonly appliedIndex: number
      readonly commitIndex: number
      /** The replica's state version (`EngineShardMachine.stateVersion`) when it answered. */
      readonly version?: string | null
    }
  | {
      readonly ok: false
      readonly code: string
      readonly message: string
      readonly httpStatus: number
      readonly leader?: string | null
    }

/** Serves a `shards` request from this node's replicas. */
export async function serveShards(
  node: ClusterNode,
  hosting: ShardHosting,
  request: ShardsRequest,
): Promise<ShardReply[]> {
  return Promise.all(request.items.map((item) => serveItem(node, hosting, request.mode, item)))
}

async function serveItem(
  node: ClusterNode,
  hosting: ShardHosting,
  mode: ReadMode,
  item: ShardItem,
): Promise<ShardReply> {
  const raft = node.host?.group(item.group)
  const machine = hosting.machine(item.group) as EngineShardMachine | undefined
  if (raft === undefined || machine === undefined)
    return { ok: false, code: 'unknown_group', message: `no replica of ${item.group} here`, httpStatus: 503 }
  try {
    if (item.call.action === 'status') {
      const status = raft.status()
      const value: ReplicaStatus = {
        role: status.role,
        leader: status.leader,
        term: status.term,
        appliedIndex: status.appliedIndex,
        commitIndex: status.commitIndex,
        lastIndex: status.lastIndex,
        quiesced: status.quiesced,
        voters: status.confState.voters,
        learners: status.confState.learners,
        snapshotBytesReceived: node.snapshotBytesReceived(item.group),
      }
      return { ok: true, value, appliedIndex: status.appliedIndex, commitIndex: status.commitIndex }
    }
    if (mode === 'eventual' && GATED_READS.has(item.call.action)) {
      const status = raft.status()
      if (!machine.readGate.ready(status)) {
        refusedCatchingUp++
        machine.readGate.establish(() => leaderReadPoint(node, hosting, item.group))
        return {
          ok: false,
          code: 'replica_catching_up',
          message: `the replica of ${item.group} on ${node.nodeId} is catching up (applied ${status.appliedIndex} of ${status.lastIndex}, read point ${machine.readGate.floor ?? 'unknown'})`,
          httpStatus: 503,
        }
      }
    }
    // Checked in the same turn as the engine read below: no apply or tick can come in between.
    if (mode === 'leaseLocal' && !raft.leaseRead())
      return {
        ok: false,
        code: 'not_leader',
        message: 'no follower read lease here',
        httpStatus: 503,
        leader: raft.leader,
      }
    if (mode === 'leaderUnconfirmed' && raft.leader !== node.nodeId)
      return {
        ok: false,
        code: 'not_leader',
        message: 'not the shard leader',
        httpStatus: 503,
        leader: raft.leader,
      }
    if (mode === 'leader') {
      if (raft.leader !== node.nodeId)
        return {
          ok: false,
          code: 'not_leader',
          message: 'not the shard leader',
          httpStatus: 503,
          leader: raft.leader,
        }
      raft.wake()
      try {
        await raft.read({ signal: AbortSignal.timeout(5_000) })
      } catch (error) {
        // Leadership or the majority lost mid-read: another replica may serve it (the reader moves on).
        return {
          ok: false,
          code: 'not_leader',
          message: `the shard leader could not confirm its leadership: ${error instanceof Error ? error.message : String(error)}`,
          httpStatus: 503,
          leader: raft.leader === node.nodeId ? null : raft.leader,
        }
      }
    }
    const status = raft.status()
    // Read in the same turn as the engine below: no apply can come in between.
    const version = machine.stateVersion
    const index = machine.engine.index(item.indexUid)
    let value: unknown
    const call = item.call
    switch (call.action) {
      case 'search':
        value = index.search(call.params)
        break
      case 'searchStats':
        value = index.searchStats(call.params, call.options)
        break
      case 'searchShard':
        value = index.searchShard(call.params, call.context)
        break
      case 'facetSearchShard':
        value = index.facetSearchShard(call.params, call.context)
        break
      case 'getDocument':
        value = index.getDocument(call.id, call.options)
        break
      case 'getDocuments':
        value = index.getDocuments(call.params)
        break
      case 'getDocumentsPart':
        value = index.getDocumentsPart(call.params)
        break
      case 'findDocument':
        value = findDocument(index, call.id, call.options)
        break
      case 'storedDocuments':
        value = index.storedDocuments(call.keys)
        break
      case 'getSettings':
        value = index.getSettings()
        break
      case 'stats':
        value = machine.engine.stats().indexes[item.indexUid]
        break
      case 'check':
        machine.engine.check(call.command)
        value = null
        break
      case 'antiEntropy':
        value = await serveAntiEntropy(machine, item.indexUid, index, call.request)
        break
      case 'backupImage':
        value = await serveBackupImage(machine, node.nodeId, item.group, item.indexUid, call.token)
        break
      case 'backupChunk':
        value = serveBackupChunk(item.group, call.token, call.offset)
        break
      case 'readPoint':
        value = status.appliedIndex
        break
    }
    return { ok: true, value, appliedIndex: status.appliedIndex, commitIndex: status.commitIndex, version }
  } catch (error) {
    const coded = error as { code?: unknown; httpStatus?: unknown }
    return {
      ok: false,
      code: typeof coded.code === 'string' ? coded.code : 'internal',
      message: error instanceof Error ? error.message : String(error),
      httpStatus: typeof coded.httpStatus === 'number' ? coded.httpStatus : 500,
    }
  }
}

/** The reads of a replica's data that an eventual read may not serve before its gate opens. */
const GATED_READS: ReadonlySet<ShardAction['action']> = new Set([
  'search',
  'searchStats',
  'searchShard',
  'facetSearchShard',
  'getDocument',
  'getDocuments',
  'getDocumentsPart',
  'findDocument',
  'getSettings',
  'stats',
])

/** The applied index of `group`'s leader after a ReadIndex round, or null when no leader answered. */
async function leaderReadPoint(
  node: ClusterNode,
  hosting: ShardHosting,
  group: string,
): Promise<number | null> {
  const ref = hosting.hosted().find((r) => r.group === group)
  const target =
    ref === undefined ? undefined : shardTargets(node, ref.indexUid).find((t) => t.group === group)
  if (target === undefined) return null
  const { results } = await readShards(node, hosting, [{ target, call: { action: 'readPoint' } }], {
    mode: 'leader',
    timeoutMs: 5_000,
  })
  const point = results[0]?.value
  return typeof point === 'number' ? point : null
}

function findDocument(index: Index, id: string | number, options: object): Doc | null {
  try {
    return index.getDocument(id, options)
  } catch (error) {
    if (error instanceof DocumentNotFoundError) return null
    throw error
  }
}

/** One replica's Raft state, as `GET /indexes/{uid}/_shards` reports it. */
export interface ReplicaStatus {
  readonly role: string
  readonly leader: string | null
  readonly term: number
  readonly appliedIndex: number
  readonly commitIndex: number
  readonly lastIndex: number
  readonly quiesced: boolean
  /** The group's Raft configuration as this replica knows it (it may lag the leader's). */
  readonly voters: readonly string[]
  readonly learners: readonly string[]
  /** Snapshot bytes this replica's node accepted for the group (a move's bytes). */
  readonly snapshotBytesReceived: number
}

/**
 * The Raft state of every replica of every shard of `indexUid`: one request per node holding
 * replicas. A replica whose node does not answer is reported with `reachable: false`.
 */
export async function replicaStatuses(
  node: ClusterNode,
  hosting: ShardHosting,
  indexUid: string,
): Promise<Map<string, Map<string, ReplicaStatus | null>>> {
  const targets = shardTargets(node, indexUid)
  const byNode = new Map<string, ShardTarget[]>()
  for (const target of targets)
    for (const holder of target.holders) {
      const list = byNode.get(holder)
      if (list === undefined) byNode.set(holder, [target])
      else list.push(target)
    }
  const out = new Map<string, Map<string, ReplicaStatus | null>>(targets.map((t) => [t.group, new Map()]))
  await Promise.all(
    [...byNode].map(async ([nodeId, list]) => {
      const request: ShardsRequest = {
        kind: 'shards',
        mode: 'eventual',
        items: list.map((t) => ({ group: t.group, indexUid: t.name, call: { action: 'status' } })),
      }
      let replies: ShardReply[] | null = null
      try {
        replies =
          nodeId === node.nodeId
            ? await serveShards(node, hosting, request)
            : node.isAlive(nodeId)
              ? ((await node.requestApp(nodeId, request, { timeoutMs: 3_000 })) as ShardReply[])
              : null
      } catch {
        replies = null
      }
      list.forEach((target, i) => {
        const reply = replies?.[i]
        out.get(target.group)!.set(nodeId, reply?.ok === true ? (reply.value as ReplicaStatus) : null)
      })
    }),
  )
  return out
}

/** A shard of an index, where its replicas are. */
export interface ShardTarget {
  readonly shard: number
  readonly group: string
  /** The name the shard knows the index by: the index's uid unless it was renamed or swapped. */
  readonly name: string
  readonly holders: readonly string[]
}

/** Every shard of `indexUid` as the local metadata places it. */
export function shardTargets(node: ClusterNode, indexUid: string): ShardTarget[] {
  const state = node.metadata.state
  const index = state.indexes[indexUid]
  const shards = state.shards[indexUid]
  if (index === undefined || shards === undefined) return []
  const name = shardNameOf(index)
  return shards.map((record) => ({
    shard: record.shard,
    group: shardGroupOf(name, index.createdAtMs, record.shard),
    name,
    // A replica still arriving (catching up) is asked last.
    holders: [
      ...record.replicas.filter((r) => r.state !== 'initializing'),
      ...record.replicas.filter((r) => r.state === 'initializing'),
    ].map((r) => r.nodeId),
  }))
}

/** 503: some shards have no replica that answered; the request names them. */
export class ShardsUnavailableError extends ApiError {
  readonly shards: readonly number[]
  constructor(indexUid: string, shards: readonly number[], reason: string) {
    super(
      503,
      'shards_unavailable',
      `Index \`${indexUid}\`: shard${shards.length === 1 ? '' : 's'} ${shards.join(', ')} ha${shards.length === 1 ? 's' : 've'} no reachable replica (${reason}).`,
      'system',
    )
    this.shards = shards
  }
}

export interface ShardCall {
  readonly target: ShardTarget
  readonly call: ShardAction
}

export interface ShardResult {
  readonly shard: number
  readonly value: unknown
  /** How many committed entries the answering replica had not applied yet (eventual reads). */
  readonly lag: number
  /** The answering replica's state version, the same on every replica of the shard; null when unknown. */
  readonly version: string | null
}

/**
 * Reads shards through their replicas: one request per node per round, the leader for `leader`
 * reads (found from the local Raft member, a hint, or by asking), falling back to another replica
 * when a node does not answer. Each request is an attempt with its own time-out, shorter than the
 * read's deadline (shard-read-attempts.ts): a leader that stops answering (paused, starved, cut
 * off) holds the shard only until the reader asks the replicas again and finds the new leader.
 * Returns the answers of the shards that answered, each from one attempt, and the shards that
 * could not be read, with the last reason. A shard's own error (an unknown document, a bad
 * parameter) is thrown as the typed error it is.
 */
export async function readShards(
  node: ClusterNode,
  hosting: ShardHosting,
  calls: readonly ShardCall[],
  options: {
    mode: ReadMode
    timeoutMs?: number
    /** One attempt's time-out. @defaultValue the longest election timeout (`attemptTimeoutMs`) */
    attemptTimeoutMs?: number
  },
): Promise<{ results: ShardResult[]; missing: { shard: number; reason: string }[] }> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000)
  const results: ShardResult[] = []
  const pending = new Map<number, PendingShard>()
  for (const call of calls)
    pending.set(call.target.shard, {
      call,
      tried: new Set(),
      running: new Set(),
      hint: null,
      reason: 'not asked',
    })
  if (options.mode === 'leader') await readLeasedLocally(node, hosting, calls, pending, results)
  let failure: ApiError | null = null
  // Set when the read returns: an attempt still running then may not touch what it returned.
  let finished = false
  // Ends the pause between rounds early when an attempt the reader stopped waiting for settles.
  let lateSettled: () => void = () => {}
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms)
      lateSettled = () => {
        clearTimeout(timer)
        resolve()
      }
    })

  /** Applies the replies to an attempt at `nodeId` (null: it failed with `error`); counts it unless it timed out. */
  const settle = (
    nodeId: string,
    asked: readonly number[],
    replies: readonly ShardReply[] | null,
    error: unknown,
    late: boolean,
  ): void => {
    if (finished) return
    asked.forEach((shard, i) => {
      const reply = replies?.[i]
      const outcome =
        reply === undefined
          ? 'unreachable'
          : reply.ok
            ? 'answered'
            : (refusalOutcome(reply.code) ?? 'answered')
      if (!late) countShardReadAttempts(outcome)
      const entry = pending.get(shard)
      // Answered meanwhile by another attempt: the first answer stands.
      if (entry === undefined) return
      entry.running.delete(nodeId)
      if (reply === undefined) {
        // A quiesced local replica hears nothing until SWIM declares the node dead: wake it,
        // so that it campaigns within an election timeout if the leader is really gone.
        node.host?.group(entry.call.target.group)?.wake()
        entry.tried.add(nodeId)
        entry.hint = null
        entry.reason = error instanceof RemoteAppError ? error.message : `node ${nodeId} did not answer`
        return
      }
      if (reply.ok) {
        results.push({
          shard,
          value: reply.value,
          lag: Math.max(0, reply.commitIndex - reply.appliedIndex),
          version: reply.version ?? null,
        })
        pending.delete(shard)
        return
      }
      if (outcome !== 'answered') {
        entry.reason = reply.message
        if (reply.leader !== undefined && reply.leader !== null && reply.leader !== nodeId) {
          entry.hint = reply.leader
          // Named leader by another replica: worth asking again even if it refused earlier (it
          // may have been elected since). Otherwise a replica still naming it, asked round
          // after round, kept the shard unread until the deadline.
          entry.tried.delete(reply.leader)
        } else entry.tried.add(nodeId)
        return
      }
      pending.delete(shard)
      failure ??= new ApiError(reply.httpStatus >= 500 ? 503 : reply.httpStatus, reply.code, reply.message)
    })
  }

  /** Asks `nodeId` for `shards`: one attempt, waited for at most its time-out (a hedge may race it). */
  const ask = async (nodeId: string, shards: readonly number[]): Promise<void> => {
    const asked = shards.filter((shard) => pending.has(shard))
    if (asked.length === 0) return
    const request: ShardsRequest = {
      kind: 'shards',
      mode: options.mode,
      items: asked.map((shard) => {
        const { call } = pending.get(shard)!
        return { group: call.target.group, indexUid: call.target.name, call: call.call }
      }),
    }
    for (const shard of asked) pending.get(shard)!.running.add(nodeId)
    const waitMs = attemptTimeoutMs(options.attemptTimeoutMs ?? node.electionTimeoutMs, deadline - Date.now())
    let late = false
    const started = performance.now()
    const attempt = (
      nodeId === node.nodeId
        ? serveShards(node, hosting, request)
        : (node.requestApp(nodeId, request, { timeoutMs: Math.max(1, deadline - Date.now()) }) as Promise<
            ShardReply[]
          >)
    ).then(
      (replies) => {
        if (nodeId !== node.nodeId) LATENCY.record(nodeId, performance.now() - started)
        settle(nodeId, asked, replies, null, late)
      },
      (error: unknown) => settle(nodeId, asked, null, error, late),
    )
    let timer: ReturnType<typeof setTimeout> | undefined
    const timedOut = await Promise.race([
      attempt.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => {
          late = true
          resolve(true)
        }, waitMs)
      }),
    ])
    clearTimeout(timer)
    if (!timedOut) return
    // The attempt runs on (its answer still counts while the shard is unread); the read moves on.
    void attempt.then(() => lateSettled())
    countShardReadAttempts('timeout', asked.length)
    for (const shard of asked) {
      const entry = pending.get(shard)
      if (entry === undefined) continue
      node.host?.group(entry.call.target.group)?.wake()
      entry.tried.add(nodeId)
      entry.hint = null
      entry.reason = `node ${nodeId} did not answer within ${waitMs} ms`
    }
  }

  /** `ask`, and for an eventual read a hedge to another replica when the first is slow. */
  const askHedged = async (nodeId: string, shards: readonly number[]): Promise<void> => {
    const primary = ask(nodeId, shards)
    // Only an eventual read can be served by another replica (a leader read has one server).
    if (options.mode !== 'eventual' || nodeId === node.nodeId) return primary
    const slow = await Promise.race([
      primary.then(() => false),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(true), LATENCY.hedgeDelay(nodeId))),
    ])
    if (!slow) return
    // Hedge: what is still unanswered goes to another replica of each shard as well.
    const byAlternative = new Map<string, number[]>()
    for (const shard of shards) {
      const entry = pending.get(shard)
      if (entry === undefined) continue
      const alternative = pickReplica(node, entry.call.target, 'eventual', null, excluded(entry, nodeId))
      if (alternative === null) continue
      const list = byAlternative.get(alternative)
      if (list === undefined) byAlternative.set(alternative, [shard])
      else list.push(shard)
    }
    if (byAlternative.size === 0) return primary
    hedgesSent++
    const hedged = Promise.all([...byAlternative].map(([alternative, list]) => ask(alternative, list)))
    // Done when every shard of this node is answered, by either side, or both have settled.
    await Promise.race([
      primary,
      hedged.then(() => (shards.every((shard) => !pending.has(shard)) ? undefined : primary)),
    ])
  }

  try {
    for (let round = 0; pending.size > 0 && failure === null && Date.now() < deadline; round++) {
      const byNode = new Map<string, number[]>()
      for (const [shard, entry] of pending) {
        const target = pickReplica(node, entry.call.target, options.mode, entry.hint, excluded(entry))
        if (target === null) continue
        const list = byNode.get(target)
        if (list === undefined) byNode.set(target, [shard])
        else list.push(shard)
      }
      if (byNode.size === 0) {
        // Every replica was tried (or is still being asked): a new leader may be being elected, or
        // a node be restarting. Ask them all again after a pause, until the deadline.
        // A shard with no live replica at all is missing now.
        const live = [...pending.values()].filter((entry) =>
          entry.call.target.holders.some((id) => node.isAlive(id)),
        )
        if (live.length === 0) break
        for (const entry of live) entry.tried.clear()
        await pause(100)
        continue
      }
      await Promise.all([...byNode].map(([nodeId, shards]) => askHedged(nodeId, shards)))
      if (pending.size > 0 && failure === null && round > 0) await pause(retryBackoffMs(round))
    }
  } finally {
    finished = true
  }
  if (failure !== null) throw failure

  const missing = [...pending].map(([shard, entry]) => ({ shard, reason: entry.reason }))
  return { results, missing }
}

/** A shard not read yet, and what the reader knows of its replicas. */
interface PendingShard {
  readonly call: ShardCall
  /** Replicas asked that refused or failed (cleared when every replica was). */
  readonly tried: Set<string>
  /** Replicas with an attempt still running: not asked again until it settles. */
  readonly running: Set<string>
  /** The leader a replica named. */
  hint: string | null
  reason: string
}

/** The replicas not to ask for `entry` now: those tried, those still being asked, and `also`. */
function excluded(entry: PendingShard, also?: string): Set<string> {
  const out = new Set([...entry.tried, ...entry.running])
  if (also !== undefined) out.add(also)
  return out
}

/** Answer times of each node to shard reads, for hedging. */
const LATENCY = new ReplicaLatency()
let hedgesSent = 0
let refusedCatchingUp = 0

/** How many eventual reads a replica on this node refused while catching up (replica-read-gate.ts). */
export function catchingUpRefusals(): number {
  return refusedCatchingUp
}

/** How many eventual reads were sent to a second replica because the first was slow. */
export function shardReadHedges(): number {
  return hedgesSent
}

/**
 * The reads a leased replica may answer: searches (their phases; facet search and /similar search
 * through them) and document listings. Reads by id (the document /similar starts from too) stay at
 * the shard leader, linearizable.
 */
const LEASED_READS: ReadonlySet<ShardAction['action']> = new Set([
  'search',
  'searchStats',
  'searchShard',
  'facetSearchShard',
  'getDocuments',
  'getDocumentsPart',
])

/** Strong shard reads answered by this node's leased replicas, and sent to shard leaders. */
let strongLocal = 0
let strongOwnLeader = 0
let strongRemote = 0

/** Counts strong shard reads served here without `readShards` (sharded-search-local.ts). */
export function countStrongReads(leased: number, ownLeader: number): void {
  strongLocal += leased
  strongOwnLeader += ownLeader
}

/** Strong shard reads: by a leased replica here, by this node as the shard leader, or sent to another node. */
export function strongShardReads(): { local: number; ownLeader: number; remote: number } {
  return { local: strongLocal, ownLeader: strongOwnLeader, remote: strongRemote }
}

/**
 * A `leader` read of a shard whose replica here holds a follower read lease and has applied its
 * index is answered here (`leaseLocal`): it sees every write acknowledged before it, as the
 * leader's answer would (RaftConfig.followerLeaseTicks). The shards it leaves go to their leaders.
 */
async function readLeasedLocally(
  node: ClusterNode,
  hosting: ShardHosting,
  calls: readonly ShardCall[],
  pending: Map<number, unknown>,
  results: ShardResult[],
): Promise<void> {
  const leased: ShardCall[] = []
  for (const call of calls) {
    if (!LEASED_READS.has(call.call.action)) continue
    const raft = call.target.holders.includes(node.nodeId) ? node.host?.group(call.target.group) : undefined
    if (raft?.isLeader === true) strongOwnLeader++
    else if (raft?.leaseRead() === true) leased.push(call)
    else strongRemote++
  }
  if (leased.length === 0) return
  const replies = await serveShards(node, hosting, {
    kind: 'shards',
    mode: 'leaseLocal',
    items: leased.map(({ target, call }) => ({ group: target.group, indexUid: target.name, call })),
  })
  leased.forEach(({ target }, i) => {
    const reply = replies[i]
    // Anything but an answer (the lease ran out meanwhile, a typed error) goes the usual way.
    if (reply === undefined || !reply.ok) {
      strongRemote++
      return
    }
    strongLocal++
    results.push({
      shard: target.shard,
      value: reply.value,
      lag: Math.max(0, reply.commitIndex - reply.appliedIndex),
      version: reply.version ?? null,
    })
    pending.delete(target.shard)
  })
}

function pickReplica(
  node: ClusterNode,
  target: ShardTarget,
  mode: ReadMode,
  hint: string | null,
  tried: Set<string>,
): string | null {
  if (hint !== null && !tried.has(hint) && node.isAlive(hint)) return hint
  const candidates = target.holders.filter((id) => !tried.has(id) && node.isAlive(id))
  if (candidates.length === 0) return null
  if (mode === 'eventual' && candidates.includes(node.nodeId)) return node.nodeId
  const local = node.host?.group(target.group)
  if (local?.leader !== undefined && local.leader !== null && candidates.includes(local.leader))
    return local.leader
  return candidates[0]!
}

export type { Doc }
