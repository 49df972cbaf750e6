import { type ApplyOutcome, ClusterError, type ClusterNode, type MetadataCommand } from '@shoal/cluster'
import { ApiError, badRequest } from '../errors.ts'

// Committing a change to the cluster's metadata from a request, and waiting for this node's copy:
// the one way routes and stores propose, so every one maps failures to the same answers.

/** How long a request's metadata change may take (an election included). */
const PROPOSE_TIMEOUT_MS = 10_000
/** How long the committing node waits for its own copy to apply the change. */
const APPLY_WAIT_MS = 5_000

/** Maps a control-plane failure to a retriable 503 or a 400, never a 500. */
export function clusterFailure(error: unknown): ApiError {
  if (error instanceof ClusterError) {
    if (error.retriable) return new ApiError(503, 'cluster_unavailable', error.message, 'system')
    return badRequest('invalid_cluster_request', error.message)
  }
  return new ApiError(
    503,
    'cluster_unavailable',
    error instanceof Error ? error.message : String(error),
    'system',
  )
}

/**
 * Resolves once this node's copy of the metadata is at `version` or later (true), or after
 * `timeoutMs` (false). Served to other nodes as the `metadataAt` application request.
 */
export async function metadataAt(node: ClusterNode, version: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (node.metadata.state.version < version) {
    if (Date.now() >= deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  return true
}

export interface CommitOptions {
  /**
   * What a refused command means: the request asked for something the metadata does not allow
   * (`bad_request`, 400 `invalid_cluster_request`), or the cluster could not take it now
   * (`unavailable`, 503 `cluster_unavailable`).
   */
  readonly refused: 'bad_request' | 'unavailable'
  /** Named in a 503's message: "the webhook change was not committed: …". */
  readonly what: string
}

/**
 * Proposes `command` through the metadata leader and waits until this node's copy holds it, so
 * the answer's caller reads its own change through this node. A proposal that failed (no leader,
 * time-out) answers 503 or, for a non-retriable cluster error, 400.
 */
export async function commitMetadata(
  node: ClusterNode,
  command: MetadataCommand,
  options: CommitOptions,
): Promise<{ readonly version: number; readonly value?: unknown }> {
  let outcome: ApplyOutcome
  try {
    outcome = await node.propose(command, { timeoutMs: PROPOSE_TIMEOUT_MS })
  } catch (error) {
    const mapped = clusterFailure(error)
    if (mapped.httpStatus === 503)
      throw new ApiError(
        503,
        'cluster_unavailable',
        `${options.what} was not committed: ${mapped.message}`,
        'system',
      )
    throw mapped
  }
  if (!outcome.ok) {
    if (options.refused === 'bad_request') throw badRequest('invalid_cluster_request', outcome.message)
    throw new ApiError(
      503,
      'cluster_unavailable',
      `${options.what} was refused: ${outcome.message}`,
      'system',
    )
  }
  await metadataAt(node, outcome.version, APPLY_WAIT_MS)
  return { version: outcome.version, value: outcome.value }
}
