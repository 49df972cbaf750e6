/**
 * The cluster metadata: what the metadata Raft group replicates. Every node
 * holds a copy (voters and learners apply the same log), reads it locally and
 * sees `version`, which every accepted command bumps by one.
 */

export type NodeState = 'joining' | 'active' | 'draining' | 'left' | 'dead'

export const NODE_STATES: readonly NodeState[] = ['joining', 'active', 'draining', 'left', 'dead']

/** What a node says about itself when it joins (and again when its addresses change). */
export interface NodeAdvert {
  readonly id: string
  /** A human label (`--node-name`); not unique, not an identity. */
  readonly name: string
  /** libp2p multiaddrs, with the peer id. */
  readonly p2pAddrs: readonly string[]
  /** The HTTP API, `host:port`. */
  readonly httpAddr: string
  /** SWIM's UDP address, `host:port`. */
  readonly gossipAddr: string
  readonly region: string
  readonly zone: string
  /** Some of `bm25`, `vector`, `embed`, `coordinator` (see `capabilities.ts`). */
  readonly capabilities: readonly string[]
  /**
   * Free labels (`disk=ssd`, `tier=hot`, any user label) that placement constraints select on,
   * beside `region` and `zone` (absent on records written before labels existed: none).
   */
  readonly labels?: Readonly<Record<string, string>>
  /** The Shoal version the node runs. */
  readonly version: string
  /** When this process started (a drained node that is started again rejoins). */
  readonly startedAtMs?: number
}

export interface NodeRecord extends NodeAdvert {
  readonly state: NodeState
  readonly joinedAtMs: number
  readonly updatedAtMs: number
}

/** How documents are spread over the shards: by primary key, or by one attribute's value. */
export type ShardingStrategy = 'hash' | 'field'

/**
 * Where an index's replicas may and should live, by node labels (`region` and `zone` count as
 * labels too). Every part is optional; an index without one places on every active node.
 */
export interface PlacementSpec {
  /** Replicas only on nodes carrying every one of these labels with these values. */
  readonly require?: Readonly<Record<string, string>>
  /** At most one replica of a shard per value of this label (for example one per region). */
  readonly spreadBy?: string
  /** Each shard's leader on a node with these labels when one of its replicas is. */
  readonly leaderPrefers?: Readonly<Record<string, string>>
  /** Replicas only on nodes advertising every one of these capabilities (`vector`), sorted. */
  readonly capabilities?: readonly string[]
}

export interface ShardingSpec {
  readonly shardCount: number
  readonly replicationFactor: number
  /** Absent on no record: records written before `field` existed all say `hash`. */
  readonly strategy: ShardingStrategy
  /** With `field`: the top-level attribute whose value picks the shard. */
  readonly field?: string
  readonly placement?: PlacementSpec
}

export interface IndexRecord {
  readonly uid: string
  readonly primaryKey: string | null
  readonly settings: Readonly<Record<string, unknown>>
  readonly sharding: ShardingSpec
  readonly createdAtMs: number
  readonly updatedAtMs: number
  /**
   * The name the index's shards know it by: its uid when it was created, kept when it is renamed
   * or swapped (absent: its uid). With `createdAtMs` it names the shards' Raft groups and folders.
   */
  readonly shardName?: string
}

/** One pair of an `index.swap`: swap the two uids, or (`rename`) move the first to the second. */
export interface IndexSwapPair {
  readonly indexes: readonly [string, string]
  readonly rename: boolean
}

export type ReplicaRole = 'voter' | 'learner'
export type ReplicaState = 'initializing' | 'active' | 'removing'

export interface ShardReplica {
  readonly nodeId: string
  readonly role: ReplicaRole
  readonly state: ReplicaState
}

export interface ShardRecord {
  readonly shard: number
  readonly replicas: readonly ShardReplica[]
  /**
   * The voters the shard's Raft group was founded with (every founding member bootstraps with
   * exactly this set); replicas added later join the existing group instead.
   */
  readonly founders?: readonly string[]
}

/**
 * A task of the cluster-wide task list (Meilisearch's tasks). The metadata keeps it opaque apart
 * from its uid, status and index; the HTTP layer defines the rest. Uids are assigned by the
 * metadata log, so they are unique and increasing cluster-wide.
 */
export interface TaskRecord {
  readonly uid: number
  readonly status: string
  readonly indexUid: string | null
  readonly [field: string]: unknown
}

/** An API key as the HTTP layer defines it; the metadata keeps it opaque apart from its uid. */
export interface ApiKeyRecord {
  readonly uid: string
  readonly [field: string]: unknown
}

export interface MetadataState {
  readonly clusterId: string | null
  readonly clusterName: string | null
  /** Bumped by one by every accepted command; 0 before `init`. */
  readonly version: number
  readonly nodes: Readonly<Record<string, NodeRecord>>
  readonly indexes: Readonly<Record<string, IndexRecord>>
  /** Per index uid, its shards in shard order. */
  readonly shards: Readonly<Record<string, readonly ShardRecord[]>>
  readonly apiKeys: Readonly<Record<string, ApiKeyRecord>>
  /** Cluster-wide settings (string keys and values), like Elasticsearch's cluster settings. */
  readonly settings: Readonly<Record<string, string>>
}

/**
 * A command of the metadata log. `atMs` is the proposer's wall clock, carried
 * in the command so that applying it stays deterministic on every replica.
 */
export type MetadataCommand =
  | { readonly type: 'init'; readonly clusterId: string; readonly name: string; readonly atMs: number }
  | { readonly type: 'node.join'; readonly node: NodeAdvert; readonly atMs: number }
  | {
      readonly type: 'node.state'
      readonly nodeId: string
      readonly state: NodeState
      /** Apply only when the node is in one of these states (a compare-and-set). */
      readonly ifState?: readonly NodeState[]
      readonly atMs: number
    }
  | { readonly type: 'node.remove'; readonly nodeId: string }
  | {
      readonly type: 'index.create'
      readonly index: Omit<IndexRecord, 'createdAtMs' | 'updatedAtMs'>
      /** The shard map, recorded in the same step as the index (a sharded index never exists without one). */
      readonly shards?: readonly ShardRecord[]
      readonly atMs: number
    }
  | {
      readonly type: 'index.update'
      readonly uid: string
      readonly primaryKey?: string
      readonly settings?: Readonly<Record<string, unknown>>
      /**
       * A new replication factor: the controller then adds (or removes) replicas of every shard
       * until each has this many, with the same steps as a repair.
       */
      readonly replicationFactor?: number
      /**
       * Capabilities every replica's node must have from now on (added to
       * `sharding.placement.capabilities`); refused while a replica is on a node lacking one.
       */
      readonly requireCapabilities?: readonly string[]
      readonly atMs: number
    }
  | { readonly type: 'index.delete'; readonly uid: string }
  | {
      /**
       * Swaps (or renames) indexes, every pair or none: the records and shard maps change uid and
       * the shards keep their names. Ended tasks before `taskUid` follow their index's new uid.
       */
      readonly type: 'index.swap'
      readonly swaps: readonly IndexSwapPair[]
      readonly taskUid: number
      readonly atMs: number
    }
  | { readonly type: 'shards.set'; readonly uid: string; readonly shards: readonly ShardRecord[] }
  | {
      /**
       * Replaces one shard's replica list when it still is `expect` (a compare-and-set on the
       * whole list): how replica moves are recorded, started, finished and rolled back.
       */
      readonly type: 'shard.update'
      readonly uid: string
      /** The incarnation of the index (its creation time). */
      readonly createdAtMs: number
      readonly shard: number
      readonly expect: readonly ShardReplica[]
      readonly replicas: readonly ShardReplica[]
    }
  | { readonly type: 'apiKey.put'; readonly key: ApiKeyRecord }
  | { readonly type: 'apiKey.delete'; readonly uid: string }
  | { readonly type: 'setting.put'; readonly key: string; readonly value: string }
  | { readonly type: 'setting.delete'; readonly key: string }
  | {
      readonly type: 'task.enqueue'
      /** The task without its uid; the log assigns the next uid. */
      readonly task: Omit<TaskRecord, 'uid'>
      /** The task's input (a document batch), kept until the task ends so any node can run it. */
      readonly payload?: Uint8Array
      readonly atMs: number
    }
  | {
      readonly type: 'task.update'
      readonly uid: number
      /** Apply only when the task's status is one of these (a compare-and-set). */
      readonly ifStatus?: readonly string[]
      /** Fields to set (`uid` cannot change). */
      readonly patch: Readonly<Record<string, unknown>>
      /** Forget the task's payload (it has ended). */
      readonly dropPayload?: boolean
    }
  | { readonly type: 'task.delete'; readonly uids: readonly number[] }

export type MetadataCommandType = MetadataCommand['type']

/** What applying a command returns: the new version, or why it was refused (nothing changed then). */
export type ApplyOutcome =
  | { readonly ok: true; readonly version: number; readonly value?: unknown }
  | {
      readonly ok: false
      readonly reason: RejectReason
      readonly message: string
      readonly version: number
      /** The index uid (or key) the refusal is about, when it names one, for the caller's typed error. */
      readonly subject?: string
    }

export type RejectReason =
  | 'malformed'
  | 'not_initialised'
  | 'already_initialised'
  | 'unknown_node'
  | 'unknown_index'
  | 'unknown_shard'
  | 'index_exists'
  | 'precondition_failed'
  | 'missing_capability'
  | 'unknown_key'
  | 'unknown_task'
