import type { Doc, SearchParams, SearchResult } from '@shoal/engine'
import type { ReadOptions } from '../read-options.ts'
import type { ClusterEngine } from './cluster-engine.ts'
import { type ShardResult, ShardsUnavailableError } from './shard-rpc.ts'

/**
 * Scatter-gather search over the shards of one index: one request per node carrying every shard
 * it is asked for; each shard answers its top `offset + limit` hits with ranking scores, and the
 * hits are merged by score. A shard without a reachable replica fails the search with 503
 * (`shards_unavailable`, naming it), or, with `allowPartialResults`, is listed under `partial`.
 */
export async function searchShards(
  engine: ClusterEngine,
  uid: string,
  params: SearchParams,
  read: ReadOptions,
): Promise<SearchResult> {
  const started = performance.now()
  const offset = params.offset ?? 0
  const limit = params.limit ?? 20
  const mode = read.consistency === 'eventual' ? 'eventual' : 'leader'
  const { results: parts, missing } = await engine.readSome(
    uid,
    () => ({
      action: 'search',
      params: { ...params, offset: 0, limit: offset + limit, showRankingScore: true },
    }),
    mode,
  )
  if (missing.length > 0 && read.allowPartialResults !== true)
    throw new ShardsUnavailableError(
      uid,
      missing.map((m) => m.shard),
      missing[0]?.reason ?? '',
    )
  const hits: Doc[] = []
  let estimated = 0
  for (const part of parts) {
    const result = part.value as SearchResult
    hits.push(...result.hits)
    estimated += (result as { estimatedTotalHits?: number }).estimatedTotalHits ?? 0
  }
  hits.sort((a, b) => Number(b._rankingScore ?? 0) - Number(a._rankingScore ?? 0))
  const page = hits.slice(offset, offset + limit).map((hit) => {
    if (params.showRankingScore === true) return hit
    const { _rankingScore: _score, ...rest } = hit
    return rest as Doc
  })
  return {
    hits: page,
    query: params.q ?? '',
    processingTimeMs: Math.round(performance.now() - started),
    limit,
    offset,
    estimatedTotalHits: estimated,
    ...partialOf(missing),
    ...(mode === 'eventual' ? { replicaLag: lagOf(parts) } : {}),
  } as SearchResult
}

/** The `partial` object of an answer that lacks some shards (absent when complete). */
function partialOf(missing: readonly { shard: number; reason: string }[]): object {
  if (missing.length === 0) return {}
  return { partial: { missingShards: missing.map((m) => m.shard), reasons: missing.map((m) => m.reason) } }
}

/** How far behind the replicas an eventual read used were: committed entries not yet applied. */
function lagOf(parts: readonly ShardResult[]): object {
  const shards: Record<string, number> = {}
  let max = 0
  for (const part of parts) {
    shards[String(part.shard)] = part.lag
    max = Math.max(max, part.lag)
  }
  return { max, shards }
}
