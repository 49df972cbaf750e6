import type { NodeSpec } from '@shoal/hashring'
import { holdsData, missingCapabilities, PLACEMENT_CAPABILITIES } from './capabilities.ts'
import { InvalidShardingError } from './errors.ts'
import type { NodeAdvert, PlacementSpec } from './metadata/types.ts'

/**
 * Placement constraints of an index (`sharding.placement`) over node labels. `region` and `zone`
 * are labels like any other; a node's own `labels` add the rest (`disk=ssd`, `tier=hot`, …).
 *
 * - `require`: a hard filter. Replicas go only to nodes carrying every listed label value; when
 *   too few nodes qualify, nothing is placed elsewhere: creation is refused, and an existing
 *   index stays short and is reported yellow (`constraintViolations`).
 * - `spreadBy`: a hard rule, at most one replica of a shard per value of the label. It replaces
 *   the zone spread of `@shoal/hashring`'s `place()` (placement spreads over the label's values
 *   instead of zones) and is checked on the result, since `place()` would otherwise relax it.
 * - `leaderPrefers`: a preference. The first replica of each shard (its preferred leader) is a
 *   node with these labels when one holds the shard; the shard's leader hands leadership to it.
 * - `capabilities`: a hard filter on node capabilities (`vector` for an index with embedders,
 *   set by the cluster when embedders are added). Whatever the constraints, a `coordinator`
 *   node, or one without `bm25`, never holds a replica.
 */

const PLACEMENT_FIELDS = new Set(['require', 'spreadBy', 'leaderPrefers', 'capabilities'])
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/

/** A node as the constraints see it. */
export type LabelledNode = Pick<NodeAdvert, 'id' | 'region' | 'zone' | 'labels' | 'capabilities'>

/** The value of label `key` on a node (`region` and `zone` included), or undefined. */
export function labelOf(node: LabelledNode, key: string): string | undefined {
  if (key === 'region') return node.region === '' ? undefined : node.region
  if (key === 'zone') return node.zone === '' ? undefined : node.zone
  return node.labels?.[key]
}

/** Whether a node carries every label value of `wanted`. */
export function hasLabels(node: LabelledNode, wanted: Readonly<Record<string, string>> | undefined): boolean {
  if (wanted === undefined) return true
  return Object.entries(wanted).every(([key, value]) => labelOf(node, key) === value)
}

/** Validates `sharding.placement` (absent: no constraint); throws `InvalidShardingError`. */
export function parsePlacement(raw: unknown): PlacementSpec | undefined {
  if (raw === undefined || raw === null) return undefined
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new InvalidShardingError('`sharding.placement` must be an object')
  const input = raw as Record<string, unknown>
  for (const key of Object.keys(input)) {
    if (!PLACEMENT_FIELDS.has(key))
      throw new InvalidShardingError(
        `unknown field \`sharding.placement.${key}\`: expected one of require, spreadBy, leaderPrefers, capabilities`,
      )
  }
  const spec: {
    require?: Record<string, string>
    spreadBy?: string
    leaderPrefers?: Record<string, string>
    capabilities?: string[]
  } = {}
  if (input.require !== undefined) spec.require = labelMap(input.require, 'require')
  if (input.leaderPrefers !== undefined) spec.leaderPrefers = labelMap(input.leaderPrefers, 'leaderPrefers')
  if (input.spreadBy !== undefined) {
    if (typeof input.spreadBy !== 'string' || !LABEL_KEY.test(input.spreadBy))
      throw new InvalidShardingError(
        `\`sharding.placement.spreadBy\` must be a label name, got ${JSON.stringify(input.spreadBy)}`,
      )
    spec.spreadBy = input.spreadBy
  }
  if (input.capabilities !== undefined) spec.capabilities = capabilityList(input.capabilities)
  return Object.keys(spec).length === 0 ? undefined : spec
}

function capabilityList(value: unknown): string[] {
  const expected = [...PLACEMENT_CAPABILITIES].join(', ')
  if (!Array.isArray(value) || value.length === 0)
    throw new InvalidShardingError(
      `\`sharding.placement.capabilities\` must be a non-empty array of node capabilities (${expected})`,
    )
  const out: string[] = []
  for (const name of value) {
    if (typeof name !== 'string' || !PLACEMENT_CAPABILITIES.has(name))
      throw new InvalidShardingError(
        `\`sharding.placement.capabilities\` may name ${expected}, got ${JSON.stringify(name)}`,
      )
    if (!out.includes(name)) out.push(name)
  }
  return out.sort()
}

function labelMap(value: unknown, name: string): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidShardingError(`\`sharding.placement.${name}\` must be an object of label values`)
  const out: Record<string, string> = {}
  for (const [key, label] of Object.entries(value)) {
    if (!LABEL_KEY.test(key) || typeof label !== 'string' || label === '')
      throw new InvalidShardingError(
        `\`sharding.placement.${name}.${key}\` must be a label name with a non-empty string value`,
      )
    out[key] = label
  }
  if (Object.keys(out).length === 0)
    throw new InvalidShardingError(`\`sharding.placement.${name}\` names no label`)
  return out
}

/**
 * The nodes `place()` may use for an index: data nodes with the required capabilities meeting
 * `require`, each with its `spreadBy` value as its zone (so place spreads replicas over that
 * label). A node without the `spreadBy` label is left out: it could not be told apart from
 * another such node. Every placement (creation, repair, drain, replacement, rebalance) starts
 * from this list, so a coordinator or a node lacking a capability never receives a replica.
 */
export function eligibleNodes(nodes: readonly LabelledNode[], spec: PlacementSpec | undefined): NodeSpec[] {
  const out: NodeSpec[] = []
  for (const node of nodes) {
    if (!holdsData(node) || missingCapabilities(node, spec?.capabilities).length > 0) continue
    if (!hasLabels(node, spec?.require)) continue
    const spread = spec?.spreadBy === undefined ? node.zone : labelOf(node, spec.spreadBy)
    if (spread === undefined) continue
    out.push({ id: node.id, zone: spread, region: node.region, capabilities: node.capabilities })
  }
  return out
}

/** How many replicas of a shard the constraints allow at most on these nodes. */
export function placeableReplicas(nodes: readonly NodeSpec[], spec: PlacementSpec | undefined): number {
  if (spec?.spreadBy === undefined) return nodes.length
  return new Set(nodes.map((n) => n.zone)).size
}

/**
 * The holders of one shard with a node preferred as leader first (the others keep their order);
 * unchanged without `leaderPrefers` or when no holder matches.
 */
export function preferLeader(
  holders: readonly string[],
  spec: PlacementSpec | undefined,
  nodeOf: (id: string) => LabelledNode | undefined,
): string[] {
  const wanted = spec?.leaderPrefers
  if (wanted === undefined) return [...holders]
  const first = holders.find((id) => {
    const node = nodeOf(id)
    return node !== undefined && hasLabels(node, wanted)
  })
  return first === undefined ? [...holders] : [first, ...holders.filter((id) => id !== first)]
}

/**
 * What breaks a hard constraint in one shard's replica list (empty: nothing): a replica on a
 * node that holds no data or lacks a required capability or label, or two replicas sharing a
 * `spreadBy` value.
 */
export function shardViolations(
  holders: readonly string[],
  spec: PlacementSpec | undefined,
  nodeOf: (id: string) => LabelledNode | undefined,
): string[] {
  const problems: string[] = []
  const seen = new Map<string, string>()
  for (const id of holders) {
    const node = nodeOf(id)
    if (node === undefined) continue
    if (!holdsData(node)) {
      problems.push(
        `replica on ${id}, a node that holds no data (capabilities ${node.capabilities.join(',')})`,
      )
      continue
    }
    const missing = missingCapabilities(node, spec?.capabilities)
    if (missing.length > 0) problems.push(`replica on ${id} lacks the capability ${missing.join(', ')}`)
    if (spec === undefined) continue
    if (!hasLabels(node, spec.require))
      problems.push(`replica on ${id} lacks the required labels ${describeLabels(spec.require)}`)
    if (spec.spreadBy !== undefined) {
      const value = labelOf(node, spec.spreadBy)
      const other = value === undefined ? undefined : seen.get(value)
      if (value === undefined) problems.push(`replica on ${id} has no \`${spec.spreadBy}\` label`)
      else if (other !== undefined)
        problems.push(`replicas on ${other} and ${id} share ${spec.spreadBy}=${value}`)
      else seen.set(value, id)
    }
  }
  return problems
}

/** `{tier: "hot"}` as `tier=hot`. */
export function describeLabels(labels: Readonly<Record<string, string>> | undefined): string {
  return Object.entries(labels ?? {})
    .map(([key, value]) => `${key}=${value}`)
    .join(', ')
}
