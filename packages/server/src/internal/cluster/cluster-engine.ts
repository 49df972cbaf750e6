import {
  ClusterError,
  type ClusterNode,
  type IndexRecord,
  InvalidShardingError,
  planIndexPlacement,
  RemoteAppError,
  type ShardHosting,
  type ShardingRequest,
  type ShardingSpec,
  shardField,
  shardNameOf,
  shardOfDocument,
  UnsatisfiablePlacementError,
} from '@shoal/cluster'
import {
  type Command,
  type Doc,
  type DocumentsPage,
  type DocumentsPartPage,
  documentKey,
  externalIdKey,
  type FacetSearchParams,
  type FacetSearchResult,
  type Filter,
  type GetDocumentsParams,
  IndexAlreadyExistsError,
  type IndexInfo,
  IndexNotFoundError,
  type IndexStats,
  inferPrimaryKey,
  mergeDocumentPages,
  type SearchParams,
  type SearchResult,
  type Settings,
  type SettingsUpdate,
  type SimilarParams,
  type SimilarResult,
  type WriteResult,
} from '@shoal/engine'
import { NotLeaderError } from '@shoal/raft'
import { refuseRestOnCluster } from '../embedder-secrets.ts'
import type { DocumentWriteOptions, EnginePort, IndexPort } from '../engine-port.ts'
import { ApiError } from '../errors.ts'
import type { ReadOptions } from '../read-options.ts'
import { findDocument, writeByField } from './field-writes.ts'
import { metadataAt } from './metadata-commit.ts'
import { encodeShardEntry, type ShardOutcome } from './shard-machine.ts'
import type { ShardRegionTag } from './shard-region-ledger.ts'
import {
  type ReadMode,
  readShards,
  type ShardAction,
  type ShardResult,
  ShardsUnavailableError,
  type ShardTarget,
  shardTargets,
} from './shard-rpc.ts'
import { facetSearchShards, searchShards } from './sharded-search.ts'
import { similarShards } from './sharded-similar.ts'
import { addsEmbedders, requireVectorPlacement, withVectorRequirement } from './vector-placement.ts'

/** How long a metadata change that moves reads (a swap) waits for each node to apply it. */
const METADATA_WAIT_MS = 5_000

/** `quorum`: a shard write is acknowledged once a majority committed it; `async`: once its leader's log holds it. */
export type WriteConcern = 'quorum' | 'async'

/** Counts a cluster engine keeps (`ClusterMetrics` exports them). */
export interface ClusterEngineMetrics {
  /** A shard write acknowledged under the `async` write concern. */
  readonly asyncShardWrite: () => void
}

/** How long a task's write to one shard may take (elections and forwarding included). */
const SHARD_WRITE_TIMEOUT_MS = 30_000

/**
 * The database of a cluster node, behind the same port as a standalone engine: indexes live in
 * the metadata, documents in shard replicas (one Raft group per shard). Reads go to the shards'
 * leaders (read-your-writes); writes run only inside a task (`forTasks`), so every shard command
 * carries the task's uid and applies once.
 */
/**
 * The region link of a cluster region (cluster-region-link.ts), as the write path sees it: the
 * tag a shard command of a replicated index carries, or a typed refusal of a write other
 * regions cannot replay.
 */
export interface RegionTagSource {
  /** The tag for `command` on index `uid`, or undefined when the index is not replicated; throws when refused. */
  tagFor(uid: string, command: Command): ShardRegionTag | undefined
  /** Throws when `uid` is replicated (`what`: the operation regions cannot replay). */
  refuse(uid: string, what: string): void
}

/** Where the write path finds the region link once it started (shared by every task's engine). */
export interface RegionTagSlot {
  source?: RegionTagSource
}

export class ClusterEngine implements EnginePort {
  readonly node: ClusterNode
  readonly hosting: ShardHosting
  readonly #taskUids: readonly number[] | null
  readonly #at: string
  readonly #metrics: ClusterEngineMetrics | undefined
  /** The region link, once a cluster region's link started. */
  readonly regionTags: RegionTagSlot

  constructor(
    node: ClusterNode,
    hosting: ShardHosting,
    options: {
      tasks?: { uids: readonly number[]; at: string }
      metrics?: ClusterEngineMetrics
      regionTags?: RegionTagSlot
    } = {},
  ) {
    this.node = node
    this.hosting = hosting
    this.#taskUids = options.tasks?.uids ?? null
    this.#at = options.tasks?.at ?? new Date().toISOString()
    this.#metrics = options.metrics
    this.regionTags = options.regionTags ?? {}
  }

  /**
   * The same database, writing on behalf of tasks `uids` (one task, or a batch of document
   * additions run as one write); their uids stamp every shard command.
   */
  forTasks(uids: readonly number[], at: string): ClusterEngine {
    return new ClusterEngine(this.node, this.hosting, {
      tasks: { uids, at },
      regionTags: this.regionTags,
      ...(this.#metrics === undefined ? {} : { metrics: this.#metrics }),
    })
  }

  listIndexes(): IndexInfo[] {
    return Object.values(this.node.metadata.state.indexes)
      .map(toInfo)
      .sort((a, b) => a.uid.localeCompare(b.uid))
  }

  getIndex(uid: string): IndexInfo {
    return toInfo(this.#record(uid))
  }

  /** How the index spreads its documents (`hash` or `field`). */
  getSharding(uid: string): ShardingSpec {
    return this.#record(uid).sharding
  }

  hasIndex(uid: string): boolean {
    return this.node.metadata.state.indexes[uid] !== undefined
  }

  #record(uid: string): IndexRecord {
    const record = this.node.metadata.state.indexes[uid]
    if (record === undefined) throw new IndexNotFoundError(uid)
    return record
  }

  /** Validates a sharding request against the cluster now (a 400 before anything is enqueued). */
  planSharding(uid: string, sharding: ShardingRequest | undefined) {
    try {
      return planIndexPlacement(this.node.metadata.state, uid, sharding)
    } catch (error) {
      if (error instanceof InvalidShardingError) throw new ApiError(400, 'invalid_sharding', error.message)
      if (error instanceof UnsatisfiablePlacementError)
        throw new ApiError(400, 'unsatisfiable_placement', error.message)
      throw error
    }
  }

  /**
   * Creates the index: its record in the metadata, then the index in every shard. Called again by
   * a re-run of the task that created the record (the first run was interrupted: a shard without
   * a majority, a time-out, a metadata leader change), it completes the shards' part instead of
   * answering "already exists": the record alone does not make the index usable, and a task
   * reported succeeded must leave the index readable and writable through every node. Each shard
   * applies the creation of one task once, however often it is sent.
   */
  async createIndex(
    uid: string,
    opts: { primaryKey?: string; settings?: Partial<Settings>; sharding?: ShardingRequest } = {},
  ): Promise<IndexInfo> {
    const existing = this.node.metadata.state.indexes[uid]
    refuseRestOnCluster(opts.settings)
    if (existing !== undefined && !this.#createdByThisTask(existing)) throw new IndexAlreadyExistsError(uid)
    if (existing === undefined) await this.#proposeCreation(uid, opts)
    await this.#toAllShards(
      uid,
      {
        type: 'createIndex',
        uid,
        primaryKey: opts.primaryKey ?? null,
        settings: opts.settings ?? null,
        at: this.#at,
      },
      { creation: true },
    )
    return this.getIndex(uid)
  }

  /** Commits the index's record (placement planned now) to the metadata. */
  async #proposeCreation(
    uid: string,
    opts: { primaryKey?: string; settings?: Partial<Settings>; sharding?: ShardingRequest },
  ): Promise<void> {
    // An index created with embedders holds vectors: only nodes with `vector` may hold it.
    const sharding = addsEmbedders(opts.settings)
      ? (withVectorRequirement(opts.sharding) as ShardingRequest)
      : opts.sharding
    const plan = this.planSharding(uid, sharding)
    const outcome = await this.node.propose({
      type: 'index.create',
      index: { uid, primaryKey: opts.primaryKey ?? null, settings: {}, sharding: plan.sharding },
      shards: plan.shards,
      atMs: this.#createdAtMs(),
    })
    if (outcome.ok) return
    if (outcome.reason === 'index_exists') {
      const record = this.node.metadata.state.indexes[uid]
      // A copy of this very proposal applied first (a deposed scheduler's): the record is ours.
      if (record !== undefined && this.#createdByThisTask(record)) return
      throw new IndexAlreadyExistsError(uid)
    }
    throw new ApiError(400, 'invalid_index_uid', outcome.message)
  }

  /** When the index record of a creation by the current task says it was created. */
  #createdAtMs(): number {
    return Date.parse(this.#at) || Date.now()
  }

  /**
   * Whether `record` is the one the current task's creation committed: a task's runs share its
   * start (`at`), which the record keeps as its creation time, and the shards' group names are
   * made of the uid and that time, so no other creation can have left the same record.
   */
  #createdByThisTask(record: IndexRecord): boolean {
    return (
      this.#taskUids !== null &&
      shardNameOf(record) === record.uid &&
      record.createdAtMs === this.#createdAtMs()
    )
  }

  async updateIndex(uid: string, opts: { primaryKey: string }): Promise<IndexInfo> {
    const name = shardNameOf(this.#record(uid))
    await this.#toAllShards(uid, {
      type: 'updateIndex',
      uid: name,
      primaryKey: opts.primaryKey,
      at: this.#at,
    })
    await this.#setPrimaryKey(uid, opts.primaryKey)
    return this.getIndex(uid)
  }

  async deleteIndex(uid: string): Promise<void> {
    this.#record(uid)
    this.regionTags.source?.refuse(uid, 'an index deletion')
    const outcome = await this.node.propose({ type: 'index.delete', uid })
    if (!outcome.ok && outcome.reason !== 'unknown_index')
      throw new ApiError(500, 'internal', outcome.message)
    // Every node stops listing and reading the index before the task reports success.
    if (outcome.ok) await this.#everyNodeAt(outcome.version)
  }

  index(uid: string): IndexPort {
    return new ShardedIndex(this, uid, shardNameOf(this.#record(uid)))
  }

  /**
   * Swaps pairs of indexes, or renames (`rename`), all pairs or none, in one metadata step: the
   * indexes' records and shard maps change uid, their shards keep their names and data, and the
   * ended tasks before this one follow their index (as in Meilisearch).
   */
  async swapIndexes(swaps: { indexes: [string, string]; rename?: boolean }[]): Promise<void> {
    if (this.#taskUids === null) throw new Error('index swaps run inside a task')
    for (const uid of swaps.flatMap((swap) => swap.indexes))
      this.regionTags.source?.refuse(uid, 'an index swap or rename')
    const outcome = await this.node.propose({
      type: 'index.swap',
      swaps: swaps.map(({ indexes, rename }) => ({ indexes, rename: rename ?? false })),
      taskUid: Math.min(...this.#taskUids),
      atMs: Date.now(),
    })
    if (outcome.ok) {
      await this.#everyNodeAt(outcome.version)
      return
    }
    const { subject } = outcome
    if (outcome.reason === 'unknown_index' && subject !== undefined) throw new IndexNotFoundError(subject)
    if (outcome.reason === 'index_exists' && subject !== undefined) throw new IndexAlreadyExistsError(subject)
    if (outcome.reason === 'malformed')
      throw new ApiError(400, 'invalid_swap_duplicate_index_found', outcome.message)
    throw new ApiError(503, 'cluster_unavailable', `the swap was refused: ${outcome.message}`, 'system')
  }

  async stats(): Promise<{ databaseSize: number; indexes: Record<string, IndexStats> }> {
    const indexes: Record<string, IndexStats> = {}
    for (const info of this.listIndexes()) indexes[info.uid] = await this.indexStats(info.uid)
    return { databaseSize: 0, indexes }
  }

  async indexStats(uid: string): Promise<IndexStats> {
    const parts = await this.read(uid, () => ({ action: 'stats' }), 'leader')
    const total: IndexStats = { numberOfDocuments: 0, isIndexing: false, fieldDistribution: {} }
    for (const part of parts) {
      const stats = part.value as IndexStats | undefined
      if (stats === undefined) continue
      total.numberOfDocuments += stats.numberOfDocuments
      for (const [field, count] of Object.entries(stats.fieldDistribution))
        total.fieldDistribution[field] = (total.fieldDistribution[field] ?? 0) + count
    }
    return total
  }

  async close(): Promise<void> {}

  // Shard reads and writes.

  /**
   * Waits (bounded) until every live node's copy of the metadata holds `version`: a swap or a
   * deletion changes which shards a uid reads, and each node routes reads by its own copy, so the
   * task reports success only once a read through any node sees the change. A node that does not answer in time
   * is logged past, not waited for (it is catching up, or being declared dead).
   */
  async #everyNodeAt(version: number): Promise<void> {
    const others = Object.keys(this.node.metadata.state.nodes).filter(
      (id) => id !== this.node.nodeId && this.node.isAlive(id),
    )
    await Promise.all([
      metadataAt(this.node, version, METADATA_WAIT_MS),
      ...others.map((id) =>
        this.node
          .requestApp(id, { kind: 'metadataAt', version }, { timeoutMs: METADATA_WAIT_MS })
          .catch(() => undefined),
      ),
    ])
  }

  /** Reads every shard (or those `shards` lists); a shard without an answering replica is a 503. */
  async read(
    uid: string,
    call: (target: ShardTarget) => ShardAction,
    mode: ReadMode,
    shards?: readonly number[],
  ): Promise<ShardResult[]> {
    const { results, missing } = await this.readSome(uid, call, mode, shards)
    if (missing.length > 0)
      throw new ShardsUnavailableError(
        uid,
        missing.map((m) => m.shard),
        missing[0]?.reason ?? '',
      )
    return results
  }

  /** Like `read`, but returns the shards that could not be read instead of failing. */
  async readSome(
    uid: string,
    call: (target: ShardTarget) => ShardAction,
    mode: ReadMode,
    shards?: readonly number[],
  ): Promise<{ results: ShardResult[]; missing: { shard: number; reason: string }[] }> {
    const targets = shardTargets(this.node, uid).filter(
      (t) => shards === undefined || shards.includes(t.shard),
    )
    const { results, missing } = await readShards(
      this.node,
      this.hosting,
      targets.map((target) => ({ target, call: call(target) })),
      { mode, timeoutMs: mode === 'leader' ? 10_000 : 5_000 },
    )
    results.sort((a, b) => a.shard - b.shard)
    missing.sort((a, b) => a.shard - b.shard)
    return { results, missing }
  }

  /**
   * Replicates `command` in one shard on behalf of the current task (as its `step`, see
   * `ShardEntry`); throws the shard's typed error.
   */
  async toShard(
    target: ShardTarget,
    command: Command,
    step = 0,
    concern: WriteConcern = 'quorum',
    creation = false,
  ): Promise<unknown> {
    if (this.#taskUids === null) throw new Error('shard writes run inside a task')
    const region = this.#regionTag(target.name, command)
    const data = encodeShardEntry({
      taskUids: this.#taskUids,
      command,
      ...(region === undefined ? {} : { region }),
      ...(step === 0 ? {} : { step }),
      ...(creation ? { creation: true as const } : {}),
    })
    if (target.holders.includes(this.node.nodeId)) await this.#hostedSoon(target.group)
    const outcome = (await this.#proposeWithRetry(target, data, concern)) as ShardOutcome | undefined
    // Acknowledged durable on the shard leader before it was applied anywhere: no outcome yet (the
    // leader's check of the command passed, so it applies as checked).
    if (concern === 'async') {
      this.#metrics?.asyncShardWrite()
      return undefined
    }
    if (outcome === undefined) throw new Error('a quorum shard write returned no outcome')
    if (!outcome.ok)
      throw new ApiError(outcome.httpStatus, outcome.code, outcome.message, outcome.type as never)
    return outcome.value
  }

  /** The region tag of a shard command (`name`: the name the shards know the index by). */
  #regionTag(name: string, command: Command): ShardRegionTag | undefined {
    const source = this.regionTags.source
    if (source === undefined) return undefined
    const record = Object.values(this.node.metadata.state.indexes).find((r) => shardNameOf(r) === name)
    return record === undefined ? undefined : source.tagFor(record.uid, command)
  }

  /**
   * Proposes until the shard's group accepts or the deadline passes: a new group may not have
   * elected its leader yet, and a leader may change. Safe because shard entries apply once.
   */
  async #proposeWithRetry(target: ShardTarget, data: Uint8Array, concern: WriteConcern): Promise<unknown> {
    const deadline = Date.now() + SHARD_WRITE_TIMEOUT_MS
    for (;;) {
      try {
        return await this.node.proposeGroup(target.group, data, target.holders, {
          timeoutMs: Math.max(1, deadline - Date.now()),
          ...(concern === 'async' ? { ack: 'durable' as const } : {}),
        })
      } catch (error) {
        if (!retriableWrite(error) || Date.now() >= deadline) throw error
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
  }

  /**
   * Writes one command per shard (`null`: nothing for that shard) on behalf of the current task:
   * every command is first checked by the replica that will apply it (its shard leader), and
   * only when all pass is any of them replicated, so a bad batch changes nothing anywhere.
   * Nothing else writes to the index in between: the scheduler runs one task at a time.
   */
  async checkThenApply(
    uid: string,
    commands: readonly (Command | null)[],
    step = 0,
    concern: WriteConcern = 'quorum',
  ): Promise<unknown[]> {
    const targets = shardTargets(this.node, uid)
    const used = targets.filter((t) => commands[t.shard] !== null && commands[t.shard] !== undefined)
    await this.read(
      uid,
      (target) => ({ action: 'check', command: commands[target.shard] as Command }),
      // An async write is checked by the replica that leads as far as it knows, as it is then
      // acknowledged by that replica alone; a deposed leader's check and write are the tail the
      // async concern may lose.
      concern === 'async' ? 'leaderUnconfirmed' : 'leader',
      used.map((t) => t.shard),
    )
    return Promise.all(
      used.map((target) => this.toShard(target, commands[target.shard] as Command, step, concern)),
    )
  }

  async #toAllShards(
    uid: string,
    command: Command,
    options: { creation?: boolean } = {},
  ): Promise<unknown[]> {
    return Promise.all(
      shardTargets(this.node, uid).map((target) =>
        this.toShard(target, command, 0, 'quorum', options.creation === true),
      ),
    )
  }

  /** The shard groups of a new index start on every node after the metadata reaches it. */
  async #hostedSoon(group: string): Promise<void> {
    const deadline = Date.now() + 10_000
    while (this.node.host?.group(group) === undefined && Date.now() < deadline) {
      await this.hosting.settled()
      if (this.node.host?.group(group) === undefined) await new Promise((r) => setTimeout(r, 20))
    }
  }

  async #setPrimaryKey(uid: string, primaryKey: string): Promise<void> {
    if (this.#record(uid).primaryKey === primaryKey) return
    await this.node.propose({ type: 'index.update', uid, primaryKey, atMs: Date.now() })
  }

  get at(): string {
    return this.#at
  }

  /** Resolves the batch's primary key (given, the index's, or inferred) and records it on the index. */
  async primaryKeyFor(uid: string, docs: readonly Doc[], given: string | undefined): Promise<string> {
    const record = this.#record(uid)
    if (record.primaryKey !== null && given !== undefined && given !== record.primaryKey)
      throw new ApiError(
        400,
        'index_primary_key_already_exists',
        `Index \`${uid}\`: the primary key is already \`${record.primaryKey}\`.`,
      )
    const key = record.primaryKey ?? given ?? inferPrimaryKey(docs as Doc[])
    if (record.primaryKey === null) await this.#setPrimaryKey(uid, key)
    return key
  }
}

/** One index of the cluster: writes split by primary key or sent to every shard, reads gathered. */
class ShardedIndex implements IndexPort {
  readonly #engine: ClusterEngine
  readonly #uid: string
  /** The name the shards know the index by (its uid unless renamed or swapped since created). */
  readonly #name: string

  constructor(engine: ClusterEngine, uid: string, name: string) {
    this.#engine = engine
    this.#uid = uid
    this.#name = name
  }

  addDocuments(docs: object[], opts: DocumentWriteOptions = {}): Promise<WriteResult> {
    return this.#write(docs as Doc[], opts, false)
  }

  updateDocuments(docs: object[], opts: DocumentWriteOptions = {}): Promise<WriteResult> {
    return this.#write(docs as Doc[], opts, true)
  }

  async #write(docs: Doc[], opts: DocumentWriteOptions, merge: boolean): Promise<WriteResult> {
    const engine = this.#engine
    const concern = opts.writeConcern ?? 'quorum'
    if (concern !== 'quorum' && concern !== 'async')
      throw new ApiError(400, 'invalid_write_concern', `unknown write concern ${String(concern)}`)
    const primaryKey = await engine.primaryKeyFor(this.#uid, docs, opts.primaryKey)
    const field = shardField(engine.getSharding(this.#uid))
    if (field !== undefined && concern === 'async')
      // Refused at enqueue too; an index re-created by field since then is caught here.
      throw new ApiError(
        400,
        'invalid_write_concern',
        'an index sharded by field takes the quorum write concern only',
      )
    if (field !== undefined)
      return sumWrites(
        await writeByField(engine, { uid: this.#uid, name: this.#name, field }, docs, primaryKey, merge),
        {
          primaryKey,
        },
      )
    const targets = shardTargets(engine.node, this.#uid)
    const parts: Doc[][] = targets.map(() => [])
    docs.forEach((doc, position) => {
      parts[shardOfDocument(documentKey(doc, primaryKey, position), targets.length)]!.push(doc)
    })
    const commands = parts.map((documents): Command | null =>
      documents.length === 0
        ? null
        : { type: 'addDocuments', uid: this.#name, documents, primaryKey, merge, at: engine.at },
    )
    return sumWrites(await engine.checkThenApply(this.#uid, commands, 0, concern), { primaryKey })
  }

  async deleteDocument(id: string | number): Promise<WriteResult> {
    return this.deleteDocuments([id])
  }

  async deleteDocuments(ids: (string | number)[]): Promise<WriteResult> {
    const engine = this.#engine
    if (shardField(engine.getSharding(this.#uid)) !== undefined)
      // An id may live in any shard of a `field`-sharded index.
      return this.#everyShard({ type: 'deleteDocuments', uid: this.#name, ids, at: engine.at })
    const targets = shardTargets(engine.node, this.#uid)
    const parts: (string | number)[][] = targets.map(() => [])
    for (const id of ids) parts[shardOfDocument(id, targets.length)]!.push(id)
    const commands = parts.map((part): Command | null =>
      part.length === 0 ? null : { type: 'deleteDocuments', uid: this.#name, ids: part, at: engine.at },
    )
    return sumWrites(await engine.checkThenApply(this.#uid, commands), {})
  }

  async deleteDocumentsByFilter(filter: Filter): Promise<WriteResult> {
    return this.#everyShard({ type: 'deleteDocumentsByFilter', uid: this.#name, filter, at: this.#engine.at })
  }

  async deleteAllDocuments(): Promise<WriteResult> {
    return this.#everyShard({ type: 'deleteAllDocuments', uid: this.#name, at: this.#engine.at })
  }

  async #everyShard(command: Command): Promise<WriteResult> {
    const targets = shardTargets(this.#engine.node, this.#uid)
    return sumWrites(
      await this.#engine.checkThenApply(
        this.#uid,
        targets.map(() => command),
      ),
      {},
    )
  }

  async updateSettings(partial: Partial<Settings>): Promise<Settings> {
    refuseRestOnCluster(partial)
    await requireVectorPlacement(this.#engine.node, this.#uid, partial)
    const targets = shardTargets(this.#engine.node, this.#uid)
    const command: Command = {
      type: 'updateSettings',
      uid: this.#name,
      settings: partial,
      at: this.#engine.at,
    }
    const results = await this.#engine.checkThenApply(
      this.#uid,
      targets.map(() => command),
    )
    return results[0] as Settings
  }

  async resetSettings(): Promise<Settings> {
    return this.updateSettings(RESET_ALL as Partial<Settings>)
  }

  async getSettings(): Promise<Settings> {
    const [first] = await this.#engine.read(this.#uid, () => ({ action: 'getSettings' }), 'leader', [0])
    return first?.value as Settings
  }

  async getDocument(
    id: string | number,
    opts: { fields?: string[]; retrieveVectors?: boolean } = {},
  ): Promise<Doc> {
    if (shardField(this.#engine.getSharding(this.#uid)) !== undefined)
      return findDocument(this.#engine, this.#uid, id, opts)
    const shardCount = shardTargets(this.#engine.node, this.#uid).length
    const [part] = await this.#engine.read(
      this.#uid,
      () => ({ action: 'getDocument', id, options: opts }),
      'leader',
      [shardOfDocument(id, shardCount)],
    )
    return part?.value as Doc
  }

  /**
   * A page of the index's documents: every shard sends its first `offset + limit` matches (of
   * `filter` and `ids`) with their keys and sort values, and `mergeDocumentPages` orders them as
   * one index orders a sorted listing (sort rules, then primary key); without `sort`, in primary
   * key order. On a `hash`-sharded index each shard is asked only for the ids it can hold.
   */
  async getDocuments(opts: GetDocumentsParams = {}): Promise<DocumentsPage> {
    const engine = this.#engine
    const shardCount = shardTargets(engine.node, this.#uid).length
    const byShard = idsByShard(opts.ids, shardField(engine.getSharding(this.#uid)) === undefined, shardCount)
    const offset = opts.offset ?? 0
    const limit = opts.limit ?? 20
    const parts = await engine.read(
      this.#uid,
      (target) => ({
        action: 'getDocumentsPart',
        params: byShard === undefined ? opts : { ...opts, ids: byShard[target.shard]! },
      }),
      'leader',
    )
    return mergeDocumentPages(
      { offset, limit },
      parts.map((part) => part.value as DocumentsPartPage),
    )
  }

  async search(params: SearchParams, read: ReadOptions = {}): Promise<SearchResult> {
    return searchShards(this.#engine, this.#uid, params, read)
  }

  facetSearch(params: FacetSearchParams, read: ReadOptions = {}): Promise<FacetSearchResult> {
    return facetSearchShards(this.#engine, this.#uid, params, read)
  }

  similar(params: SimilarParams): Promise<SimilarResult> {
    return similarShards(this.#engine, this.#uid, params)
  }
}

/** Every setting back to its default (`null` resets a setting). */
const RESET_ALL: SettingsUpdate = {
  searchableAttributes: null,
  displayedAttributes: null,
  filterableAttributes: null,
  sortableAttributes: null,
  stopWords: null,
  typoTolerance: null,
  embedders: null,
  pagination: null,
  faceting: null,
  rankingRules: null,
  synonyms: null,
  distinctAttribute: null,
  searchCutoffMs: null,
  prefixSearch: null,
  facetSearch: null,
  dictionary: null,
  separatorTokens: null,
  nonSeparatorTokens: null,
  proximityPrecision: null,
  localizedAttributes: null,
}

/** A write refused before it was appended, or whose outcome is unknown: worth sending again. */
function retriableWrite(error: unknown): boolean {
  if (error instanceof NotLeaderError) return true
  if (error instanceof RemoteAppError)
    return ['not_leader', 'timeout', 'unknown_group', 'stopped'].includes(error.remoteCode)
  return error instanceof ClusterError && error.retriable
}

/**
 * `ids` split by the shard that holds each (a `hash`-sharded index); undefined when every shard
 * is to be asked for all of them (none given, a `field`-sharded index, or an id the shards are to
 * refuse with their typed error).
 */
function idsByShard(ids: unknown, byHash: boolean, shardCount: number): (string | number)[][] | undefined {
  if (!byHash || !Array.isArray(ids)) return undefined
  const parts: (string | number)[][] = Array.from({ length: shardCount }, () => [])
  for (const id of ids) {
    const key = externalIdKey(id)
    if (key === undefined) return undefined
    parts[shardOfDocument(key, shardCount)]!.push(id as string | number)
  }
  return parts
}

function sumWrites(results: readonly unknown[], base: WriteResult): WriteResult {
  const total: WriteResult = { ...base }
  for (const result of results) {
    const write = result as WriteResult | undefined
    if (write === undefined || write === null) continue
    if (write.indexedDocuments !== undefined)
      total.indexedDocuments = (total.indexedDocuments ?? 0) + write.indexedDocuments
    if (write.deletedDocuments !== undefined)
      total.deletedDocuments = (total.deletedDocuments ?? 0) + write.deletedDocuments
    if (write.primaryKey !== undefined) total.primaryKey = write.primaryKey
  }
  return total
}

function toInfo(record: IndexRecord): IndexInfo {
  return {
    uid: record.uid,
    primaryKey: record.primaryKey,
    createdAt: new Date(record.createdAtMs).toISOString(),
    updatedAt: new Date(record.updatedAtMs).toISOString(),
  }
}
