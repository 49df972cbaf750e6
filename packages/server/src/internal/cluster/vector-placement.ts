import type { ClusterNode } from '@shoal/cluster'
import { ApiError, badRequest } from '../errors.ts'
import { isPlainObject } from '../request-body.ts'
import { commitMetadata } from './metadata-commit.ts'

// An index with embedders holds vectors, and vector data lives only on nodes advertising the
// `vector` capability (docs/cluster-scaling.md, "Capabilities"). The index's placement records
// the requirement (`sharding.placement.capabilities`) so that every later placement (repairs,
// drains, replacements, rebalancing) keeps its replicas on such nodes.

/** Whether a settings patch gives the index at least one embedder (a `null` entry removes one). */
export function addsEmbedders(settings: unknown): boolean {
  if (!isPlainObject(settings) || !isPlainObject(settings.embedders)) return false
  return Object.values(settings.embedders).some((embedder) => embedder !== null)
}

/**
 * Makes an existing index require `vector` before embedders are added to it. Refused with 400
 * `missing_node_capability`, naming the nodes, while a replica lives on a node without `vector`
 * (the metadata state machine checks it in the same step, so no replica slips in between);
 * nothing is changed then. A no-op when the patch adds no embedder, the index is missing (it is
 * created with the requirement, see `withVectorRequirement`) or already requires `vector`.
 */
export async function requireVectorPlacement(
  node: ClusterNode,
  uid: string,
  settings: unknown,
): Promise<void> {
  if (!addsEmbedders(settings)) return
  const record = node.metadata.state.indexes[uid]
  if (record === undefined || record.sharding.placement?.capabilities?.includes('vector') === true) return
  const lacking = lackingVector(node, uid)
  if (lacking.length > 0) throw refusal(uid, lacking)
  try {
    await commitMetadata(
      node,
      { type: 'index.update', uid, requireCapabilities: ['vector'], atMs: Date.now() },
      { refused: 'bad_request', what: 'the vector placement of the index' },
    )
  } catch (error) {
    // A replica moved to a node without `vector` between the check above and the commit.
    const now = lackingVector(node, uid)
    if (error instanceof ApiError && error.httpStatus === 400 && now.length > 0) throw refusal(uid, now)
    throw error
  }
}

/** A sharding request for a new index that will hold vectors: `vector` added to its placement. */
export function withVectorRequirement(sharding: unknown): unknown {
  if (sharding !== undefined && !isPlainObject(sharding)) return sharding // refused by the planner
  const request = (sharding ?? {}) as Record<string, unknown>
  const placement = request.placement ?? {}
  if (!isPlainObject(placement)) return sharding
  const capabilities = placement.capabilities ?? []
  if (!Array.isArray(capabilities)) return sharding
  const required = capabilities.includes('vector') ? capabilities : [...capabilities, 'vector']
  return { ...request, placement: { ...placement, capabilities: required } }
}

/** The nodes holding a replica of the index that lack `vector`, sorted. */
function lackingVector(node: ClusterNode, uid: string): string[] {
  const state = node.metadata.state
  const lacking = new Set<string>()
  for (const shard of state.shards[uid] ?? [])
    for (const replica of shard.replicas)
      if (state.nodes[replica.nodeId]?.capabilities.includes('vector') !== true) lacking.add(replica.nodeId)
  return [...lacking].sort()
}

function refusal(uid: string, nodes: readonly string[]): ApiError {
  return badRequest(
    'missing_node_capability',
    `Index \`${uid}\` cannot have embedders: its replicas on ${nodes.map((id) => `\`${id}\``).join(', ')} are on node${nodes.length === 1 ? '' : 's'} without the \`vector\` capability. Create the index with \`sharding.placement.capabilities: ["vector"]\` to place it on vector nodes only.`,
  )
}
