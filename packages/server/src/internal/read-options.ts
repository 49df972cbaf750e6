import { badRequest } from './errors.ts'
import { isPlainObject } from './request-body.ts'

/**
 * How a search reads a clustered index (accepted by a standalone node too, where every read is
 * already consistent and complete):
 * - `consistency`: `"strong"` (the default) reads each shard from its Raft leader after a ReadIndex
 *   round, so a search issued after a task reported success sees that task's writes;
 *   `"eventual"` reads any replica (this node's own when it holds one) and reports in
 *   `replicaLag` how many committed entries the replicas read had not applied yet.
 * - `allowPartialResults`: when a shard has no reachable replica, answer with the other shards'
 *   hits and a `partial` object naming the missing shards, instead of failing with 503.
 */
export interface ReadOptions {
  consistency?: 'strong' | 'eventual'
  allowPartialResults?: boolean
}

/** Takes the read options out of a search body or query, leaving the search parameters. */
export function takeReadOptions(input: unknown): { input: unknown; read: ReadOptions } {
  if (!isPlainObject(input)) return { input, read: {} }
  const { consistency, allowPartialResults, ...rest } = input as Record<string, unknown>
  const read: ReadOptions = {}
  if (consistency !== undefined && consistency !== null) {
    if (consistency !== 'strong' && consistency !== 'eventual')
      throw badRequest(
        'invalid_search_consistency',
        `Invalid value at \`.consistency\`: expected "strong" or "eventual", got ${JSON.stringify(consistency)}`,
      )
    read.consistency = consistency
  }
  if (allowPartialResults !== undefined && allowPartialResults !== null) {
    const value =
      allowPartialResults === 'true' ? true : allowPartialResults === 'false' ? false : allowPartialResults
    if (typeof value !== 'boolean')
      throw badRequest(
        'invalid_search_allow_partial_results',
        'Invalid value type at `.allowPartialResults`: expected a boolean',
      )
    read.allowPartialResults = value
  }
  return { input: rest, read }
}
