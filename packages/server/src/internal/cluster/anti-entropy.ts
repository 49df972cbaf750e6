import type { ClusterNode, ShardHosting } from '@shoal/cluster'
import type { Doc } from '@shoal/engine'
import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import { ApiError } from '../errors.ts'
import { askAll, type Comparison, chunks, compareReplicas, ReplicaAsker } from './anti-entropy-compare.ts'
import { shardTargets } from './shard-rpc.ts'

/**
 * Anti-entropy of shard replicas: compares the Merkle trees the replicas keep of their
 * documents (engine `merkleNodes`/`merkleEntries`), finds the documents on which they differ,
 * and on demand repairs the replicas that differ from the majority by sending them only those
 * documents. See docs/anti-entropy.md.
 */

/** How long one check may take before it answers 503 (replicas that keep moving, slow nodes). */
const CHECK_DEADLINE_MS = 20_000
const REQUEST_TIMEOUT_MS = 5_000

export interface ReplicaReport {
  readonly node: string
  readonly nodeName: string | null
  readonly compared: boolean
  /** Why it was not compared. */
  readonly reason?: string
}

export interface ShardCheckReport {
  readonly indexUid: string
  readonly shard: number
  readonly group: string
  /** The log index of the last entry every compared replica had applied: the state compared. */
  readonly appliedIndex: number
  readonly replicas: readonly ReplicaReport[]
  readonly replicasCompared: number
  readonly consistent: boolean
  /** Replicas that differ from the majority on at least one document (or on an unresolved one). */
  readonly divergentReplicas: readonly string[]
  /** Id keys of the documents on which the replicas differ. */
  readonly differingDocuments: readonly string[]
  /** Of those, the ones no majority of the shard's replicas agrees on (not repairable). */
  readonly unresolvedDocuments: readonly string[]
  /** Merkle node hashes read (all replicas, all levels). */
  readonly hashesCompared: number
  /** (id, hash) pairs read from the differing buckets (all replicas). */
  readonly documentsCompared: number
  /** Round trips of the comparison. */
  readonly rounds: number
}

export interface ShardRepairReport extends ShardCheckReport {
  /** Documents sent to divergent replicas (replaced or added there). */
  readonly documentsSent: number
  /** Documents deleted from divergent replicas (the majority has none under their id). */
  readonly documentsDeleted: number
  /** Per repaired replica. */
  readonly repairs: readonly { node: string; sent: readonly string[]; deleted: readonly string[] }[]
  /** A check after the repair found the replicas equal. */
  readonly consistentAfter: boolean
}

/** What started a check: the periodic timer or an HTTP request. */
export type Trigger = 'periodic' | 'request'

export interface AntiEntropyOptions {
  readonly node: ClusterNode
  readonly hosting: ShardHosting
  readonly registry: Registry
  readonly logger: Logger
  /** Period of the background check of the shards this node leads; 0 disables it. */
  readonly intervalMs: number
}

export class AntiEntropy {
  readonly #node: ClusterNode
  readonly #hosting: ShardHosting
  readonly #logger: Logger
  readonly #intervalMs: number
  readonly #checks: Counter<'result' | 'trigger'>
  readonly #divergences: Counter
  readonly #repaired: Counter
  #timer: ReturnType<typeof setTimeout> | undefined
  #stopped = false
  #running: Promise<void> | undefined

  constructor(options: AntiEntropyOptions) {
    this.#node = options.node
    this.#hosting = options.hosting
    this.#logger = options.logger
    this.#intervalMs = options.intervalMs
    const registers = [options.registry]
    this.#checks = new Counter({
      name: 'shoal_anti_entropy_checks_total',
      help: 'Anti-entropy checks of a shard, by result (consistent, divergent, failed) and trigger (periodic, request)',
      labelNames: ['result', 'trigger'] as const,
      registers,
    })
    this.#divergences = new Counter({
      name: 'shoal_anti_entropy_divergences_total',
      help: 'Documents found differing between replicas of a shard (counted again by every check that finds them)',
      registers,
    })
    this.#repaired = new Counter({
      name: 'shoal_anti_entropy_repaired_documents_total',
      help: 'Documents sent to (or deleted from) divergent shard replicas by repairs',
      registers,
    })
  }

  /** Starts the periodic check (nothing when the interval is 0). */
  start(): void {
    if (this.#intervalMs > 0) this.#schedule()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    await this.#running
  }

  #schedule(): void {
    if (this.#stopped) return
    this.#timer = setTimeout(() => {
      this.#running = this.#checkLedShards().finally(() => {
        this.#running = undefined
        this.#schedule()
      })
    }, this.#intervalMs)
    this.#timer.unref()
  }

  /** Checks every shard whose Raft leader is this node (so each shard is checked by one node). */
  async #checkLedShards(): Promise<void> {
    for (const indexUid of Object.keys(this.#node.metadata.state.indexes).sort())
      for (const target of shardTargets(this.#node, indexUid)) {
        if (this.#stopped) return
        if (this.#node.host?.group(target.group)?.leader !== this.#node.nodeId) continue
        try {
          await this.verify(indexUid, target.shard, 'periodic')
        } catch (error) {
          this.#logger.warn(
            { indexUid, shard: target.shard, err: error instanceof Error ? error.message : String(error) },
            'anti-entropy check failed',
          )
        }
      }
  }

  /** Compares the replicas of one shard; throws ApiError 404/400/503. */
  async verify(indexUid: string, shard: number, trigger: Trigger = 'request'): Promise<ShardCheckReport> {
    const { comparison, holders, target } = await this.#compare(indexUid, shard, trigger)
    return this.#report(indexUid, shard, target.group, holders, comparison)
  }

  /**
   * Compares the replicas of one shard, then sends each divergent replica the majority's
   * version of exactly the documents it differs on, then compares again.
   */
  async repair(indexUid: string, shard: number): Promise<ShardRepairReport> {
    const deadline = Date.now() + CHECK_DEADLINE_MS
    for (;;) {
      const { comparison, holders, target, asker } = await this.#compare(indexUid, shard, 'request')
      const report = this.#report(indexUid, shard, target.group, holders, comparison)
      const plan = repairPlan(comparison)
      const sources = await fetchMajorityDocuments(asker, comparison, plan)
      if (sources !== null) {
        const repairs: { node: string; sent: string[]; deleted: string[] }[] = []
        let moved = false
        for (const [nodeId, change] of plan) {
          const put = change.put.map((key) => sources.get(key)!)
          const reply = await asker.askOne(nodeId, {
            op: 'repair',
            position: comparison.position,
            put,
            delete: change.delete,
          })
          if (!reply.ok)
            throw unavailable(indexUid, shard, `replica ${nodeId} refused the repair: ${reply.message}`)
          if (reply.answer.op !== 'repair' || !reply.answer.repaired) {
            moved = true
            break
          }
          repairs.push({ node: nodeId, sent: change.put, deleted: change.delete })
          this.#repaired.inc(change.put.length + change.delete.length)
          this.#logger.warn(
            {
              indexUid,
              shard,
              node: nodeId,
              sent: change.put,
              deleted: change.delete,
              appliedIndex: comparison.position,
            },
            'anti-entropy repaired a divergent replica outside the log',
          )
        }
        if (!moved || repairs.length > 0) {
          const after = await this.verify(indexUid, shard)
          return {
            ...report,
            documentsSent: repairs.reduce((sum, r) => sum + r.sent.length, 0),
            documentsDeleted: repairs.reduce((sum, r) => sum + r.deleted.length, 0),
            repairs,
            consistentAfter: after.consistent,
          }
        }
      }
      if (Date.now() > deadline) throw busy(indexUid, shard)
      await pause(100)
    }
  }

  /** One comparison at a common position, retried while replicas move, until the deadline. */
  async #compare(indexUid: string, shard: number, trigger: Trigger) {
    const index = this.#node.metadata.state.indexes[indexUid]
    if (index === undefined) throw new ApiError(404, 'index_not_found', `Index \`${indexUid}\` not found.`)
    const target = shardTargets(this.#node, indexUid).find((t) => t.shard === shard)
    if (target === undefined)
      throw new ApiError(
        404,
        'shard_not_found',
        `Index \`${indexUid}\` has no shard ${shard} (shards 0 to ${index.sharding.shardCount - 1}).`,
      )
    const holders = target.holders
    const asker = new ReplicaAsker(this.#node, this.#hosting, target, REQUEST_TIMEOUT_MS)
    const deadline = Date.now() + CHECK_DEADLINE_MS
    for (;;) {
      const attempt = await compareReplicas(asker, holders)
      if (attempt.ok) {
        this.#count(indexUid, shard, attempt.comparison, trigger)
        return { comparison: attempt.comparison, holders, target, asker }
      }
      if (!attempt.retry || Date.now() > deadline || this.#stopped) {
        this.#checks.inc({ result: 'failed', trigger })
        throw attempt.retry ? busy(indexUid, shard) : unavailable(indexUid, shard, attempt.reason)
      }
      await pause(50)
    }
  }

  #count(indexUid: string, shard: number, comparison: Comparison, trigger: Trigger): void {
    const divergent = comparison.differing.length > 0
    this.#checks.inc({ result: divergent ? 'divergent' : 'consistent', trigger })
    if (!divergent) return
    this.#divergences.inc(comparison.differing.length)
    this.#logger.warn(
      {
        indexUid,
        shard,
        trigger,
        appliedIndex: comparison.position,
        documents: comparison.differing.slice(0, 20).map((d) => d.key),
        count: comparison.differing.length,
      },
      'anti-entropy found shard replicas that differ',
    )
  }

  #report(
    indexUid: string,
    shard: number,
    group: string,
    holders: readonly string[],
    comparison: Comparison,
  ): ShardCheckReport {
    const divergent = new Set<string>()
    for (const doc of comparison.differing)
      for (const [nodeId, hash] of doc.hashes)
        if (doc.majority === null || doc.majority.hash !== hash) divergent.add(nodeId)
    const names = this.#node.metadata.state.nodes
    return {
      indexUid,
      shard,
      group,
      appliedIndex: comparison.position,
      replicas: holders.map((nodeId) => {
        const reason = comparison.unreachable.get(nodeId)
        return {
          node: nodeId,
          nodeName: names[nodeId]?.name ?? null,
          compared: reason === undefined,
          ...(reason === undefined ? {} : { reason }),
        }
      }),
      replicasCompared: comparison.compared.length,
      consistent: comparison.differing.length === 0,
      divergentReplicas: [...divergent].sort(),
      differingDocuments: comparison.differing.map((d) => d.key),
      unresolvedDocuments: comparison.differing.filter((d) => d.majority === null).map((d) => d.key),
      hashesCompared: comparison.hashesCompared,
      documentsCompared: comparison.documentsCompared,
      rounds: comparison.rounds,
    }
  }
}

/** Per divergent replica: the documents to send it (majority has them) and to delete there. */
export function repairPlan(comparison: Comparison): Map<string, { put: string[]; delete: string[] }> {
  const plan = new Map<string, { put: string[]; delete: string[] }>()
  for (const doc of comparison.differing) {
    if (doc.majority === null) continue
    for (const [nodeId, hash] of doc.hashes) {
      if (hash === doc.majority.hash) continue
      const change = plan.get(nodeId) ?? { put: [], delete: [] }
      plan.set(nodeId, change)
      if (doc.majority.hash === null) change.delete.push(doc.key)
      else change.put.push(doc.key)
    }
  }
  return plan
}

/**
 * The majority's stored version of every document some replica must receive, read from a
 * replica that holds that version, at the comparison's position; null when a replica moved.
 */
async function fetchMajorityDocuments(
  asker: ReplicaAsker,
  comparison: Comparison,
  plan: Map<string, { put: string[] }>,
): Promise<Map<string, Doc> | null> {
  const wanted = new Set([...plan.values()].flatMap((change) => change.put))
  const bySource = new Map<string, string[]>()
  for (const doc of comparison.differing) {
    if (!wanted.has(doc.key) || doc.majority === null) continue
    const source = [...doc.hashes].find(([, hash]) => hash === doc.majority!.hash)![0]
    const keys = bySource.get(source)
    if (keys === undefined) bySource.set(source, [doc.key])
    else keys.push(doc.key)
  }
  const out = new Map<string, Doc>()
  for (const [source, keys] of bySource) {
    const parts = chunks(keys)
    const answers = await askAll(
      asker,
      [source],
      comparison.position,
      parts.map((part) => ({ op: 'documents', keys: part })),
    )
    if (answers === null) return null
    const documents = answers
      .get(source)!
      .flatMap((answer) => (answer.op === 'documents' ? answer.documents : []))
    for (const [i, key] of keys.entries()) {
      const doc = documents[i]
      if (doc === null || doc === undefined) return null
      out.set(key, doc)
    }
  }
  return out
}

function busy(indexUid: string, shard: number): ApiError {
  return new ApiError(
    503,
    'anti_entropy_busy',
    `Index \`${indexUid}\`, shard ${shard}: the replicas did not stay at one applied position long enough to be compared (writes in progress); try again.`,
    'system',
  )
}

function unavailable(indexUid: string, shard: number, reason: string): ApiError {
  return new ApiError(
    503,
    'shards_unavailable',
    `Index \`${indexUid}\`, shard ${shard}: cannot compare its replicas (${reason}).`,
    'system',
  )
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
