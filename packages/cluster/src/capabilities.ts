import { ClusterConfigError } from './errors.ts'
import type { NodeAdvert } from './metadata/types.ts'

/**
 * What a node can do, advertised in its SWIM metadata and recorded in its node record:
 *
 * - `bm25`: holds index data (documents, the text index); every data node has it.
 * - `vector`: may also hold vector data, so replicas of indexes with embedders may live there.
 *   A node without it holds no replica of such an index at all (not their text part only): a
 *   replica applies its shard's whole command log, and a replica without the vectors could not
 *   answer a hybrid or vector query, nor take over as the shard's leader.
 * - `embed`: may compute embeddings. Advertised and shown; nothing is placed by it yet, since a
 *   cluster takes user-provided vectors only.
 * - `coordinator`: holds no index data. It takes client traffic, scatters and merges, and is
 *   never chosen for a replica; it is given alone (or with `embed`).
 */
export const NODE_CAPABILITIES = ['bm25', 'vector', 'embed', 'coordinator'] as const
export type NodeCapability = (typeof NODE_CAPABILITIES)[number]

/** What a node advertises unless told otherwise. */
export const DEFAULT_CAPABILITIES: readonly NodeCapability[] = Object.freeze(['bm25', 'vector'])

/** The capabilities an index's placement may require (`sharding.placement.capabilities`). */
export const PLACEMENT_CAPABILITIES: ReadonlySet<string> = new Set(['bm25', 'vector', 'embed'])

const KNOWN: ReadonlySet<string> = new Set(NODE_CAPABILITIES)

/**
 * Validates a node's capability list (duplicates dropped, order kept); throws
 * `ClusterConfigError` for an unknown name, an empty list, `coordinator` beside a data
 * capability, or data capabilities without `bm25`.
 */
export function parseCapabilities(names: readonly string[]): NodeCapability[] {
  const out: NodeCapability[] = []
  for (const raw of names) {
    const name = raw.trim()
    if (!KNOWN.has(name))
      throw new ClusterConfigError(
        `unknown node capability \`${name}\`: expected some of ${NODE_CAPABILITIES.join(', ')}`,
      )
    if (!out.includes(name as NodeCapability)) out.push(name as NodeCapability)
  }
  if (out.length === 0)
    throw new ClusterConfigError(`a node needs capabilities: some of ${NODE_CAPABILITIES.join(', ')}`)
  if (out.includes('coordinator')) {
    const data = out.filter((c) => c === 'bm25' || c === 'vector')
    if (data.length > 0)
      throw new ClusterConfigError(
        `capability \`coordinator\` marks a node that holds no data: give it without ${data.map((c) => `\`${c}\``).join(' and ')}`,
      )
    return out
  }
  if (!out.includes('bm25'))
    throw new ClusterConfigError(
      `a data node needs capability \`bm25\` (got ${out.join(',')}); a node that holds no data is \`coordinator\``,
    )
  return out
}

/**
 * Whether a node may hold index data: it advertises `bm25` and is not a coordinator. Records
 * written before capabilities were configurable all say `bm25,vector`.
 */
export function holdsData(node: Pick<NodeAdvert, 'capabilities'>): boolean {
  return node.capabilities.includes('bm25') && !node.capabilities.includes('coordinator')
}

/** The capabilities of `required` a node lacks (empty: it may hold the data). */
export function missingCapabilities(
  node: Pick<NodeAdvert, 'capabilities'>,
  required: readonly string[] | undefined,
): string[] {
  return (required ?? []).filter((c) => !node.capabilities.includes(c))
}

/** Whether a node may hold a replica of an index whose placement requires `required`. */
export function mayHoldReplica(
  node: Pick<NodeAdvert, 'capabilities'>,
  required: readonly string[] | undefined,
): boolean {
  return holdsData(node) && missingCapabilities(node, required).length === 0
}
