import { shardField, shardNameOf } from '@shoal/cluster'
import {
  type FacetSearchParams,
  type FacetSearchResult,
  Index,
  mergeFacetSearch,
  mergeSearchStats,
  mergeShardResults,
  type SearchContext,
  type SearchParams,
  type SearchResult,
  type SearchStats,
  ShardedSearchMismatchError,
  type ShardSearchResult,
  searchContextComplete,
} from '@shoal/engine'
import { ApiError } from '../errors.ts'
import type { ReadOptions } from '../read-options.ts'
import { traceMark } from '../search-trace.ts'
import type { ClusterEngine } from './cluster-engine.ts'
import { shardsForFilter } from './field-routing.ts'
import {
  type ShardAction,
  type ShardResult,
  ShardsUnavailableError,
  type ShardTarget,
  serveShards,
  shardTargets,
} from './shard-rpc.ts'
import { localPass } from './sharded-search-local.ts'

/**
 * Scatter-gather search over the shards of one index, in the engine's three phases
 * (docs/distributed-search.md): index-wide statistics (document count, field lengths, document
 * frequencies of the query's terms) gathered from every shard, each shard's candidates scored
 * with them, and one merge, so a sharded index ranks exactly like an unsharded one. Each phase
 * sends one request per node, carrying every shard that node serves.
 *
 * Statistics are cached per query with the version of every shard they came from; a shard's
 * version changes with every write to it and is the same on each of its replicas (the index of
 * the last Raft entry applied), so statistics read from one replica serve a search on another,
 * whatever the read mode. A search with cached statistics skips phase 1; so does a search
 * through a node that holds a replica of every shard, which reads them from its own replicas
 * (no network) and has phase 2 check them. When a shard answers phase 2 under another version,
 * the statistics are gathered again from the shards and phase 2 repeated. So a query costs one
 * round trip while the cache is fresh or the local replicas are current, and two or three when
 * a write came in between.
 *
 * On a `field`-sharded index, a filter that pins the shard key (`tenant = x`, `tenant IN […]`,
 * conjunctions holding one) sends phase 2 only to the shards that can hold matches (pruning).
 * Phase 1 still reads every shard, from the shards themselves (no cache, no local replicas: phase
 * 2 cannot check a pruned shard's version), so the statistics are index-wide and current and a
 * pruned search ranks exactly like a single node; the pruned shards' document counts join the
 * merge's for the hit estimate. A facet search is pruned alike. Hits are kept once per primary
 * key: a document whose shard key is changing may be in two shards for a moment
 * (docs/sharded-indexes.md).
 *
 * A shard without a reachable replica fails the search with 503 (`shards_unavailable`, naming
 * it), or, with `allowPartialResults`, is listed under `partial`; results are never silently
 * incomplete.
 */
export async function searchShards(
  engine: ClusterEngine,
  uid: string,
  params: SearchParams,
  read: ReadOptions,
): Promise<SearchResult> {
  const started = performance.now()
  // Phase timings are per partition: the shards are not asked for them; the whole gather and the
  // shards it searched are reported below.
  const asked = withoutDetails(params)
  const result = await gatherShards(
    engine,
    uid,
    asked,
    read,
    (context) => ({ action: 'searchShard', params: asked, context }),
    (parts) => mergeShardResults(asked, parts),
    (indexes, context) => Index.searchPartitions(indexes, asked, context),
  )
  const elapsedMs = performance.now() - started
  if (params.showPerformanceDetails !== true)
    return { ...result, processingTimeMs: Math.round(elapsedMs) } as SearchResult
  const pruning = prunedShards(engine, uid, params)
  return {
    ...result,
    processingTimeMs: Math.round(elapsedMs),
    performanceDetails: {
      search: `${elapsedMs.toFixed(2)}ms`,
      shardsSearched: pruning.searched.length,
      shardsPruned: pruning.total - pruning.searched.length,
      searchedShards: pruning.searched,
    },
  } as SearchResult
}

/**
 * A facet search over a sharded index, through the same phases as a search (statistics, then each
 * shard's part scored with them): each shard counts the facet's values over every document the
 * search part matches, untrimmed, and the sums are ordered and trimmed as on one index.
 */
export async function facetSearchShards(
  engine: ClusterEngine,
  uid: string,
  params: FacetSearchParams,
  read: ReadOptions,
): Promise<FacetSearchResult> {
  const started = performance.now()
  const { facetName: _name, facetQuery: _query, exhaustiveFacetCount: _exhaustive, ...search } = params
  const result = await gatherShards(
    engine,
    uid,
    search as SearchParams,
    read,
    (context) => ({ action: 'facetSearchShard', params, context }),
    (parts) => mergeFacetSearch(params, parts, started),
    (indexes, context) => indexes.map((index) => index.facetSearchShard(params, context)),
  )
  return { ...result, processingTimeMs: Math.round(performance.now() - started) }
}

/**
 * The phases of a sharded read: statistics for `params` (cached, or from local replicas, or from
 * the shards), then `phase2` on every shard with them, repeated when a shard moved on meanwhile,
 * then `merge` of the parts. Through a node with a readable replica of every shard, both phases
 * run here in one pass instead (`local`, sharded-search-local.ts).
 */
export async function gatherShards<R extends object>(
  engine: ClusterEngine,
  uid: string,
  params: SearchParams,
  read: ReadOptions,
  phase2: (context: SearchContext) => ShardAction,
  merge: (parts: ShardSearchResult[]) => R,
  local?: (indexes: readonly Index[], context: SearchContext) => ShardSearchResult[],
): Promise<R> {
  const mode = read.consistency === 'eventual' ? 'eventual' : 'leader'
  const pruning = prunedShards(engine, uid, params)
  traceMark('prune')
  if (local !== undefined) {
    const done = await mergedLocally(engine, uid, params, mode, pruning.searched, local, merge)
    if (done !== undefined) {
      READ_PATHS[mode].local++
      return done
    }
  }
  READ_PATHS[mode].remote++
  const key = cacheKey(engine, uid, withoutDetails(params))
  // The shards pruned from phase 2 cannot confirm their statistics' version: read them fresh.
  const pruned = pruning.searched.length < pruning.total
  let cached = pruned ? undefined : STATS_CACHE.get(key)
  // Statistics from this node's replicas are checked by phase 2 and cost one more try when stale.
  let retries = 2
  for (let attempt = 0; ; attempt++) {
    let stats = cached
    let unverified = false
    const missing: { shard: number; reason: string }[] = []
    if (stats === undefined && attempt === 0 && !pruned && !localStatsPaused(engine, uid)) {
      stats = await localStats(engine, uid, params)
      unverified = stats !== undefined
      if (unverified) retries++
    }
    if (stats === undefined) {
      const gathered = await engine.readSome(uid, () => ({ action: 'searchStats', params }), mode)
      missing.push(...gathered.missing)
      stats = entryOf(gathered.results)
      if (gathered.missing.length === 0 && !pruned) remember(key, stats)
    }
    const context = stats.context
    const asked =
      missing.length === 0 ? pruning.searched : pruning.searched.filter((s) => stats.versions.has(s))
    const answered = await engine.readSome(uid, () => phase2(context), mode, asked)
    const all = [...missing, ...answered.missing].sort((a, b) => a.shard - b.shard)
    if (all.length > 0 && read.allowPartialResults !== true)
      throw new ShardsUnavailableError(
        uid,
        all.map((m) => m.shard),
        all[0]?.reason ?? '',
      )
    const stale = answered.results.some((part) => versionOf(part) !== stats.versions.get(part.shard))
    // While writes keep this node's replicas behind, go to the shards for statistics directly.
    if (stale && unverified)
      LOCAL_STALE_UNTIL.set(indexKey(engine, uid), performance.now() + LOCAL_STALE_PAUSE_MS)
    if (stale && attempt < retries) {
      STATS_CACHE.delete(key)
      cached = undefined
      continue
    }
    if (unverified && !stale) remember(key, stats)
    let result: R
    try {
      const parts = answered.results.map((part) => part.value as ShardSearchResult)
      result = merge(
        withPrunedDocuments(
          shardField(engine.getSharding(uid)) === undefined ? parts : onePerKey(parts),
          stats.documentCounts,
          answered.results.map((part) => part.shard),
        ),
      )
    } catch (error) {
      if (error instanceof ShardedSearchMismatchError) {
        // Shards searched under different settings (a settings task in progress): try again.
        if (attempt < 2) {
          STATS_CACHE.delete(key)
          cached = undefined
          await new Promise((resolve) => setTimeout(resolve, 50))
          continue
        }
        throw new ApiError(503, 'sharded_search_mismatch', error.message, 'system')
      }
      throw error
    }
    return {
      ...result,
      ...partialOf(all),
      ...(mode === 'eventual' ? { replicaLag: lagOf(answered.results) } : {}),
    }
  }
}

/**
 * The answer of a local pass (sharded-search-local.ts), merged; undefined when there was none or
 * the shards answered under different settings (the usual path waits and tries again).
 */
async function mergedLocally<R extends object>(
  engine: ClusterEngine,
  uid: string,
  params: SearchParams,
  mode: 'leader' | 'eventual',
  searched: readonly number[],
  local: (indexes: readonly Index[], context: SearchContext) => ShardSearchResult[],
  merge: (parts: ShardSearchResult[]) => R,
): Promise<R | undefined> {
  const pass = await localPass(engine, uid, params, mode, searched, local)
  if (pass === undefined) return undefined
  let result: R
  try {
    result = merge(
      withPrunedDocuments(
        shardField(engine.getSharding(uid)) === undefined ? pass.parts : onePerKey(pass.parts),
        pass.documentCounts,
        pass.shards,
      ),
    )
  } catch (error) {
    if (error instanceof ShardedSearchMismatchError) return undefined
    throw error
  }
  traceMark('merge')
  if (mode !== 'eventual') return result
  return { ...result, replicaLag: lagOf(pass.shards.map((shard, i) => ({ shard, lag: pass.lags[i]! }))) }
}

/** Sharded reads coordinated here, by read mode: in one local pass, or through the shards. */
const READ_PATHS = {
  leader: { local: 0, remote: 0 },
  eventual: { local: 0, remote: 0 },
}

/** How many sharded reads went which way here (`shoal_sharded_searches_total`). */
export function shardedReadPaths(): Readonly<typeof READ_PATHS> {
  return READ_PATHS
}

/** The shards phase 2 asks: all, or those a filter on the shard key leaves (never none). */
function prunedShards(
  engine: ClusterEngine,
  uid: string,
  params: SearchParams,
): { searched: number[]; total: number } {
  const total = shardTargets(engine.node, uid).length
  const all = Array.from({ length: total }, (_, shard) => shard)
  const field = shardField(engine.getSharding(uid))
  if (field === undefined) return { searched: all, total }
  const pinned = shardsForFilter(params.filter, field, total)
  if (pinned === null) return { searched: all, total }
  // A filter that matches nothing still gets a well-formed answer, from one shard.
  return { searched: pinned.length === 0 ? [0] : pinned, total }
}

/** Drops a hit whose primary key an earlier shard already gave (a document caught moving). */
function onePerKey(parts: ShardSearchResult[]): ShardSearchResult[] {
  // Only across shards: one shard may list a key more than once (a hit to show and to count).
  const earlier = new Set<string>()
  return parts.map((part) => {
    const hits = part.hits ?? []
    const kept = earlier.size === 0 ? hits : hits.filter((hit) => !earlier.has(hit.key))
    for (const hit of hits) earlier.add(hit.key)
    return kept.length === hits.length ? part : { ...part, hits: kept }
  })
}

/**
 * The shards' answers with the documents of the shards not asked (pruned) counted in the first
 * one: the merge estimates hit counts against the whole index's document count, as one node does.
 */
function withPrunedDocuments(
  parts: ShardSearchResult[],
  documentCounts: ReadonlyMap<number, number>,
  asked: readonly number[],
): ShardSearchResult[] {
  const first = parts[0]
  if (first === undefined) return parts
  let others = 0
  for (const [shard, count] of documentCounts) if (!asked.includes(shard)) others += count
  if (others === 0) return parts
  return [{ ...first, documentCount: first.documentCount + others }, ...parts.slice(1)]
}

/** The parameters that decide the statistics (`showPerformanceDetails` does not). */
function withoutDetails(params: SearchParams): SearchParams {
  if (params.showPerformanceDetails === undefined) return params
  const { showPerformanceDetails: _details, ...rest } = params
  return rest
}

interface StatsEntry {
  readonly context: SearchContext
  /** The version of each shard the statistics came from. */
  readonly versions: Map<number, string>
  /** The live documents of each shard the statistics came from (when it said). */
  readonly documentCounts: Map<number, number>
}

/** Statistics of recent queries; the oldest are dropped beyond the bound. */
const STATS_CACHE = new Map<string, StatsEntry>()
const STATS_CACHE_ENTRIES = 1_000

function cacheKey(engine: ClusterEngine, uid: string, params: SearchParams): string {
  return `${indexKey(engine, uid)}\u0000${JSON.stringify(params)}`
}

function indexKey(engine: ClusterEngine, uid: string): string {
  const record = engine.node.metadata.state.indexes[uid]
  // A swap gives the uid other shards: the shards' name and incarnation key the cache too.
  return `${uid}\u0000${record === undefined ? '' : shardNameOf(record)}\u0000${record?.createdAtMs ?? 0}`
}

/**
 * Indexes whose local statistics were found stale lately (writes coming in), until when this
 * node asks the shards for statistics instead of trying its replicas first.
 */
const LOCAL_STALE_UNTIL = new Map<string, number>()
const LOCAL_STALE_PAUSE_MS = 1_000

function localStatsPaused(engine: ClusterEngine, uid: string): boolean {
  const index = indexKey(engine, uid)
  const until = LOCAL_STALE_UNTIL.get(index)
  if (until === undefined) return false
  if (until > performance.now()) return true
  LOCAL_STALE_UNTIL.delete(index)
  return false
}

function remember(key: string, entry: StatsEntry): void {
  STATS_CACHE.delete(key)
  STATS_CACHE.set(key, entry)
  while (STATS_CACHE.size > STATS_CACHE_ENTRIES) STATS_CACHE.delete(STATS_CACHE.keys().next().value as string)
}

function entryOf(results: readonly ShardResult[]): StatsEntry {
  const parts = results.map((part) => part.value as SearchStats)
  let context: SearchContext
  try {
    context = mergeSearchStats(parts)
  } catch (error) {
    if (error instanceof ShardedSearchMismatchError)
      throw new ApiError(503, 'sharded_search_mismatch', error.message, 'system')
    throw error
  }
  const documentCounts = new Map<number, number>()
  for (const part of results) {
    const count = (part.value as SearchStats).documentCount
    if (typeof count === 'number') documentCounts.set(part.shard, count)
  }
  return {
    context,
    versions: new Map(results.map((part) => [part.shard, versionOf(part)])),
    documentCounts,
  }
}

/**
 * The version a shard answered under: its replica's state version, the same on every replica, so
 * statistics read from one replica serve a search on another; else the engine's own version of
 * the index, which only that replica process can match.
 */
function versionOf(part: ShardResult): string {
  return part.version ?? `engine:${(part.value as SearchStats | ShardSearchResult).version}`
}

/**
 * Phase 1 without the network: the statistics of this node's own replicas, when it holds one of
 * every shard and each knows its version. They may lag the shard leaders; phase 2 compares each
 * shard's version with the one its statistics came from, so a lagging replica costs a retry,
 * never a different ranking. They are read without typo variants first (no scan of the term
 * dictionaries), which suffices unless a query word is held by no shard. Undefined when a
 * replica is missing or answers anything but statistics with a known version (an error is then
 * met again, as the typed error it is, on the way through the network).
 */
async function localStats(
  engine: ClusterEngine,
  uid: string,
  params: SearchParams,
): Promise<StatsEntry | undefined> {
  const { node, hosting } = engine
  const targets = shardTargets(node, uid)
  const local = (t: ShardTarget) => t.holders.includes(node.nodeId) && hosting.machine(t.group) !== undefined
  if (targets.length === 0 || !targets.every(local)) return undefined
  // First without typo variants (no dictionary scan), which suffices unless a word is held nowhere.
  for (const options of [{ omitTypoVariants: true }, {}]) {
    const replies = await serveShards(node, hosting, {
      kind: 'shards',
      mode: 'eventual',
      items: targets.map((t) => ({
        group: t.group,
        indexUid: t.name,
        call: { action: 'searchStats', params, options },
      })),
    })
    const parts: ShardResult[] = []
    for (const [i, reply] of replies.entries()) {
      if (!reply.ok || reply.version === undefined || reply.version === null) return undefined
      parts.push({ shard: targets[i]!.shard, value: reply.value, lag: 0, version: reply.version })
    }
    let entry: StatsEntry
    try {
      entry = entryOf(parts)
    } catch {
      return undefined
    }
    if (searchContextComplete(entry.context)) return entry
  }
  return undefined
}

/** The `partial` object of an answer that lacks some shards (absent when complete). */
function partialOf(missing: readonly { shard: number; reason: string }[]): object {
  if (missing.length === 0) return {}
  return { partial: { missingShards: missing.map((m) => m.shard), reasons: missing.map((m) => m.reason) } }
}

/** How far behind the replicas an eventual read used were: committed entries not yet applied. */
function lagOf(parts: readonly { readonly shard: number; readonly lag: number }[]): object {
  const shards: Record<string, number> = {}
  let max = 0
  for (const part of parts) {
    shards[String(part.shard)] = part.lag
    max = Math.max(max, part.lag)
  }
  return { max, shards }
}
