/** A node's identity: stable across restarts, unique in a cluster. */
export type NodeId = string

/** A node as placement sees it. */
export interface NodeSpec {
  id: NodeId
  /** Relative capacity; a node of weight 2 gets twice the keys and replicas of weight 1. @defaultValue 1 */
  weight?: number
  /** Failure domain; replicas of one shard go to distinct zones when there are enough. */
  zone?: string
  region?: string
  /** What the node can serve, e.g. `vector`; placement can require some. */
  capabilities?: readonly string[]
}

export interface LookupOptions {
  /**
   * Prefer nodes in zones not yet chosen; nodes in repeated zones fill in only
   * when there are fewer zones than `n`. A node without a zone is its own zone.
   * @defaultValue false
   */
  distinctZones?: boolean
  /** Only nodes with every one of these capabilities. @defaultValue [] */
  require?: readonly string[]
}

/**
 * Where every replica of an index's shards lives. `shards[s]` lists the nodes
 * holding shard `s`, distinct, the first being the preferred leader. Plain
 * data: it serialises as JSON and compares with deep equality.
 */
export interface Placement {
  index: string
  shardCount: number
  replicationFactor: number
  shards: NodeId[][]
}

/** One step of a move plan; each is applied and confirmed before the next. */
export type Move =
  | { kind: 'add-replica'; shard: number; node: NodeId }
  | { kind: 'remove-replica'; shard: number; node: NodeId }
  | { kind: 'transfer-leader'; shard: number; from: NodeId; to: NodeId }
