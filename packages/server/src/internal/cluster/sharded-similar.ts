import { shardField, shardOfDocument } from '@shoal/cluster'
import {
  type Doc,
  externalIdKey,
  InvalidSimilarError,
  mergeShardResults,
  type SearchParams,
  type Settings,
  type ShardSearchResult,
  type SimilarParams,
  type SimilarResult,
} from '@shoal/engine'
import { ApiError } from '../errors.ts'
import type { ClusterEngine } from './cluster-engine.ts'
import { shardTargets } from './shard-rpc.ts'
import { gatherShards } from './sharded-search.ts'

/**
 * Meilisearch's similar documents on a sharded index: the source document is read from its shard
 * (every shard of a `field`-sharded index), then its vector is searched for across the shards as
 * a semantic search (sharded-search.ts, the same phases and replica fallback). Each shard sends
 * one candidate more than the page needs, the source is taken out of the candidates before the
 * merge, and the total is counted as one index counts it (the documents the filter keeps, the
 * source left out, up to `maxTotalHits`). So the answer is the one a single node holding every
 * document gives (engine similar.ts), with the same `invalid_similar_*` codes.
 */
export async function similarShards(
  engine: ClusterEngine,
  uid: string,
  params: SimilarParams,
): Promise<SimilarResult> {
  const started = performance.now()
  const key = keyOf(params.id)
  const [source, settings] = await Promise.all([
    sourceDocument(engine, uid, params.id, key),
    similarSettings(engine, uid),
  ])
  const embedder = params.embedder
  const vectors = source._vectors
  const vector =
    vectors !== null && typeof vectors === 'object' && !Array.isArray(vectors)
      ? (vectors as Record<string, unknown>)[embedder]
      : undefined
  if (typeof embedder !== 'string' || settings.embedders[embedder] === undefined) {
    const known = Object.keys(settings.embedders)
    throw new InvalidSimilarError(
      'invalid_similar_embedder',
      `Cannot find embedder with name \`${String(embedder)}\`: the index has ${known.length === 0 ? 'no embedder' : `only ${known.map((n) => `\`${n}\``).join(', ')}`}.`,
    )
  }
  if (!Array.isArray(vector)) {
    throw new InvalidSimilarError(
      'invalid_similar_id',
      `Document \`${key}\` has no vector for embedder \`${embedder}\`: its neighbours cannot be computed.`,
    )
  }
  const offset = params.offset ?? 0
  const limit = params.limit ?? 20
  const search: SearchParams = {
    vector: vector as number[],
    hybrid: { embedder, semanticRatio: 1 },
    offset,
    // One more: the source is among the candidates of its shard, and is taken out.
    limit: Number.isSafeInteger(limit) && limit >= 0 ? limit + 1 : limit,
    ...(params.filter === undefined ? {} : { filter: params.filter }),
    ...(params.attributesToRetrieve === undefined
      ? {}
      : { attributesToRetrieve: params.attributesToRetrieve }),
    ...(params.showRankingScore === undefined ? {} : { showRankingScore: params.showRankingScore }),
    ...(params.rankingScoreThreshold === undefined
      ? {}
      : { rankingScoreThreshold: params.rankingScoreThreshold }),
    ...(params.retrieveVectors === undefined ? {} : { retrieveVectors: params.retrieveVectors }),
  }
  const maxTotalHits = settings.pagination.maxTotalHits
  let candidates = 0
  const merged = await asSimilar(() =>
    gatherShards(
      engine,
      uid,
      search,
      {},
      (context) => ({ action: 'searchShard', params: search, context }),
      (parts) => {
        const without = withoutSource(parts, key, limit as number)
        candidates = without.reduce((total, part) => total + part.candidateCount, 0)
        return mergeShardResults(search, without)
      },
    ),
  )
  return {
    hits: merged.hits as Doc[],
    id: key,
    processingTimeMs: Math.round(performance.now() - started),
    limit: limit as number,
    offset,
    estimatedTotalHits: Math.min(candidates, maxTotalHits),
  }
}

/** The id as the engine keys it; the same refusals as one node's. */
function keyOf(id: unknown): string {
  if (id === undefined || id === null)
    throw new InvalidSimilarError(
      'bad_request',
      'Missing field `id`: the document whose neighbours are wanted.',
    )
  const key = externalIdKey(id)
  if (key === undefined) {
    throw new InvalidSimilarError(
      'invalid_similar_id',
      'Invalid value at `.id`: the value of `id` is invalid. A document identifier can be of type integer or string, only composed of alphanumeric characters (a-z A-Z 0-9), hyphens (-) and underscores (_), and can not be more than 511 bytes.',
    )
  }
  return key
}

/** The source document as stored (its vectors included), from its shard's leader. */
async function sourceDocument(engine: ClusterEngine, uid: string, id: unknown, key: string): Promise<Doc> {
  const shardCount = shardTargets(engine.node, uid).length
  const byField = shardField(engine.getSharding(uid)) !== undefined
  const parts = await engine.read(
    uid,
    () => ({ action: 'storedDocuments', keys: [key] }),
    'leader',
    // A `field`-sharded index may hold the id in any shard.
    byField ? undefined : [shardOfDocument(id as string | number, shardCount)],
  )
  for (const part of parts) {
    const doc = (part.value as (Doc | null)[] | undefined)?.[0]
    if (doc !== null && doc !== undefined) return doc
  }
  throw new InvalidSimilarError('not_found_similar_id', `Document \`${key}\` not found.`)
}

async function similarSettings(engine: ClusterEngine, uid: string): Promise<Settings> {
  const [first] = await engine.read(uid, () => ({ action: 'getSettings' }), 'leader', [0])
  return first?.value as Settings
}

/**
 * The shards' candidates without the source document, as if each shard had been asked for `limit`
 * (the page) with the source left out of its documents: one candidate fewer, and its shard counts
 * one candidate fewer. `maxTotalHits` does not bound the page of similar documents on one node
 * (only their total), so it does not bound the merge either; the total is counted by the caller.
 */
function withoutSource(parts: ShardSearchResult[], key: string, limit: number): ShardSearchResult[] {
  return parts.map((part) => {
    const hits = part.hits.filter((hit) => hit.key !== key)
    const removed = part.hits.length - hits.length
    return {
      ...part,
      plan: { ...part.plan, limit, maxTotalHits: Number.MAX_SAFE_INTEGER },
      hits,
      candidateCount: part.candidateCount - removed,
      semanticFound: part.semanticFound - removed,
    }
  })
}

/** `run`, its `invalid_search_*` errors answered with the similar route's codes (as one node does). */
async function asSimilar<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (error) {
    if (error instanceof ApiError && error.code.startsWith('invalid_search_'))
      throw new ApiError(
        error.httpStatus,
        error.code.replace(/^invalid_search_/, 'invalid_similar_'),
        error.message,
      )
    throw error
  }
}
