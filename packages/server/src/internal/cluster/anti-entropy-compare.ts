import type { ClusterNode, ShardHosting } from '@shoal/cluster'
import { childPositions, differingPositions, MERKLE_LEAF_LEVEL } from '@shoal/engine'
import type { AntiEntropyAnswer, AntiEntropyRequest } from './anti-entropy-replica.ts'
import { MAX_ITEMS_PER_REQUEST } from './anti-entropy-replica.ts'
import { type ShardReply, type ShardsRequest, type ShardTarget, serveShards } from './shard-rpc.ts'

/**
 * Compares the replicas of one shard at one entry position (the coordinator's side of
 * anti-entropy; the replicas' side is anti-entropy-replica.ts).
 *
 * 1. Every replica is asked for its Merkle root and its entry position until all that answer
 *    report the same position P (a replica still applying, or behind, is asked again).
 * 2. The descent: level by level, the children of the nodes whose hashes differ, down to the
 *    differing buckets (at most 5 rounds), then the (id, hash) pairs of those buckets.
 * Every answer must still be at P; if a write moved any replica, the comparison starts over.
 * Replicas that applied the same entries hold the same documents, so any difference found at P
 * is a divergence, never a write in flight.
 */

/** One replica's answer, or why it gave none. */
type Reply = { ok: true; answer: AntiEntropyAnswer } | { ok: false; code: string; message: string }

/** A document on which the replicas differ: its hash per replica (null: absent there). */
export interface DifferingDocument {
  readonly key: string
  readonly hashes: ReadonlyMap<string, string | null>
  /** The version (hash, or null for absent) held by a majority of the shard's replicas, if any. */
  readonly majority: { readonly hash: string | null } | null
}

export interface Comparison {
  /** The entry position every compared replica was at. */
  readonly position: number
  /** The replicas compared (node ids); the others did not answer. */
  readonly compared: readonly string[]
  readonly unreachable: ReadonlyMap<string, string>
  readonly differing: readonly DifferingDocument[]
  readonly hashesCompared: number
  readonly documentsCompared: number
  readonly rounds: number
}

/** The outcome of one attempt: a comparison, or a reason to try again (or to give up). */
export type Attempt =
  | { readonly ok: true; readonly comparison: Comparison }
  | { readonly ok: false; readonly retry: boolean; readonly reason: string }

export class ReplicaAsker {
  readonly #node: ClusterNode
  readonly #hosting: ShardHosting
  readonly #target: ShardTarget
  readonly #timeoutMs: number

  constructor(node: ClusterNode, hosting: ShardHosting, target: ShardTarget, timeoutMs: number) {
    this.#node = node
    this.#hosting = hosting
    this.#target = target
    this.#timeoutMs = timeoutMs
  }

  /** Asks `nodeIds` the same request, in parallel; one answer per node. */
  async ask(nodeIds: readonly string[], request: AntiEntropyRequest): Promise<Map<string, Reply>> {
    const replies = await Promise.all(nodeIds.map((nodeId) => this.askOne(nodeId, request)))
    return new Map(nodeIds.map((nodeId, i) => [nodeId, replies[i]!]))
  }

  async askOne(nodeId: string, request: AntiEntropyRequest): Promise<Reply> {
    const body: ShardsRequest = {
      kind: 'shards',
      mode: 'eventual',
      items: [
        { group: this.#target.group, indexUid: this.#target.name, call: { action: 'antiEntropy', request } },
      ],
    }
    try {
      let replies: ShardReply[]
      if (nodeId === this.#node.nodeId) replies = await serveShards(this.#node, this.#hosting, body)
      else if (!this.#node.isAlive(nodeId))
        return { ok: false, code: 'unreachable', message: 'node not alive' }
      else
        replies = (await this.#node.requestApp(nodeId, body, { timeoutMs: this.#timeoutMs })) as ShardReply[]
      const reply = replies[0]
      if (reply === undefined) return { ok: false, code: 'unreachable', message: 'no answer' }
      if (!reply.ok) return { ok: false, code: reply.code, message: reply.message }
      return { ok: true, answer: reply.value as AntiEntropyAnswer }
    } catch (error) {
      return {
        ok: false,
        code: 'unreachable',
        message: error instanceof Error ? error.message : String(error),
      }
    }
  }
}

/** One comparison attempt of the shard's replicas (see the top of this file). */
export async function compareReplicas(asker: ReplicaAsker, holders: readonly string[]): Promise<Attempt> {
  const first = await asker.ask(holders, { op: 'nodes', level: 0, positions: [0] })
  const unreachable = new Map<string, string>()
  const positions = new Map<string, number>()
  let busy = false
  for (const [nodeId, reply] of first) {
    if (reply.ok) positions.set(nodeId, reply.answer.position)
    else if (reply.code === 'anti_entropy_busy') busy = true
    else unreachable.set(nodeId, reply.message)
  }
  if (busy) return { ok: false, retry: true, reason: 'a replica was applying an entry' }
  const compared = [...positions.keys()]
  if (compared.length < 2)
    return { ok: false, retry: false, reason: `${compared.length} of ${holders.length} replicas answered` }
  const position = positions.get(compared[0]!)!
  if (compared.some((nodeId) => positions.get(nodeId) !== position))
    return { ok: false, retry: true, reason: 'the replicas are at different positions' }

  let hashesCompared = compared.length
  let rounds = 1
  let nodes = [0]
  let differing = differingPositions(
    nodes,
    compared.map((nodeId) => hashesOf(first.get(nodeId)!)),
  )
  for (let level = 1; level <= MERKLE_LEAF_LEVEL && differing.length > 0; level++) {
    nodes = childPositions(level - 1, differing)
    const answers = await askAll(
      asker,
      compared,
      position,
      chunks(nodes).map((part) => ({ op: 'nodes', level, positions: part })),
    )
    if (answers === null) return { ok: false, retry: true, reason: 'a replica moved during the comparison' }
    rounds++
    hashesCompared += nodes.length * compared.length
    differing = differingPositions(
      nodes,
      compared.map((nodeId) => answers.get(nodeId)!.flatMap(hashesOf)),
    )
  }
  const documents: DifferingDocument[] = []
  let documentsCompared = 0
  if (differing.length > 0) {
    const answers = await askAll(
      asker,
      compared,
      position,
      chunks(differing).map((part) => ({ op: 'entries', buckets: part })),
    )
    if (answers === null) return { ok: false, retry: true, reason: 'a replica moved during the comparison' }
    rounds++
    const byKey = new Map<string, Map<string, string | null>>()
    for (const nodeId of compared)
      for (const answer of answers.get(nodeId)!) {
        if (answer.op !== 'entries') continue
        documentsCompared += answer.entries.length
        for (const entry of answer.entries) {
          const hashes = byKey.get(entry.key) ?? new Map<string, string | null>()
          byKey.set(entry.key, hashes)
          hashes.set(nodeId, entry.hash)
        }
      }
    for (const [key, hashes] of [...byKey].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      for (const nodeId of compared) if (!hashes.has(nodeId)) hashes.set(nodeId, null)
      const versions = new Set(hashes.values())
      if (versions.size > 1) documents.push({ key, hashes, majority: majorityOf(hashes, holders.length) })
    }
  }
  return {
    ok: true,
    comparison: {
      position,
      compared,
      unreachable,
      differing: documents,
      hashesCompared,
      documentsCompared,
      rounds,
    },
  }
}

/**
 * Sends `requests` to every node in `nodeIds`; their answers per node, or null when any node
 * failed to answer or answered at another position than `position`.
 */
export async function askAll(
  asker: ReplicaAsker,
  nodeIds: readonly string[],
  position: number,
  requests: readonly AntiEntropyRequest[],
): Promise<Map<string, AntiEntropyAnswer[]> | null> {
  const out = new Map<string, AntiEntropyAnswer[]>(nodeIds.map((nodeId) => [nodeId, []]))
  for (const request of requests) {
    const replies = await asker.ask(nodeIds, request)
    for (const [nodeId, reply] of replies) {
      if (!reply.ok || reply.answer.position !== position) return null
      out.get(nodeId)!.push(reply.answer)
    }
  }
  return out
}

/** The version more than half of the shard's `replicaCount` replicas hold, if one does. */
export function majorityOf(
  hashes: ReadonlyMap<string, string | null>,
  replicaCount: number,
): { hash: string | null } | null {
  const votes = new Map<string | null, number>()
  for (const hash of hashes.values()) votes.set(hash, (votes.get(hash) ?? 0) + 1)
  for (const [hash, count] of votes) if (2 * count > replicaCount) return { hash }
  return null
}

function hashesOf(reply: Reply | AntiEntropyAnswer): string[] {
  const answer = 'ok' in reply ? (reply.ok ? reply.answer : null) : reply
  return answer?.op === 'nodes' ? answer.hashes : []
}

/** `items` cut into requests of at most MAX_ITEMS_PER_REQUEST. */
export function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = []
  for (let at = 0; at < items.length; at += MAX_ITEMS_PER_REQUEST)
    out.push(items.slice(at, at + MAX_ITEMS_PER_REQUEST))
  return out
}
