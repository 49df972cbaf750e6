/** The shapes of the API answers the dashboard reads (only the fields it uses). */

export interface NodeStats {
  readonly mode: 'standalone' | 'cluster'
  readonly nodeId: string | null
  readonly nodeName: string | null
  readonly version: string
  readonly atMs: number
  readonly startedAtMs: number
  readonly uptimeSeconds: number
  readonly requests: { readonly searches: number; readonly writes: number; readonly total: number }
  readonly tasks: { readonly queueDepth: number }
  readonly process: {
    readonly rssBytes: number
    readonly heapUsedBytes: number
    readonly loadAverage1m: number
    readonly cpus: number
  }
}

export interface HealthAnswer {
  readonly status: 'green' | 'yellow' | 'red'
  readonly number_of_nodes: number
  readonly active_shards: number
  readonly unassigned_shards: number
  readonly initializing_shards: number
  readonly relocating_shards: number
  readonly metadata_leader: string | null
  readonly reasons: readonly string[]
}

export interface NodeAnswer {
  readonly id: string
  readonly name: string
  readonly state: string
  readonly alive: boolean
  readonly roles: readonly string[]
  readonly metadata_leader: boolean
  readonly http_addr: string
  readonly region: string | null | undefined
  readonly zone: string | null | undefined
  readonly capabilities: readonly string[] | undefined
  readonly version: string | null | undefined
  readonly shards: number
}

export interface NodesAnswer {
  readonly nodes: readonly NodeAnswer[]
}

export interface AdminClusterAnswer {
  readonly moves: {
    readonly inFlight: readonly {
      readonly index: string
      readonly shard: number
      readonly to: string | null
      readonly from: string | null
      readonly progress: number
    }[]
    readonly waiting: number
  }
  readonly plan: readonly unknown[]
}

export interface DiagnosisAnswer {
  readonly shards: readonly {
    readonly index: string
    readonly shard: number
    readonly status: 'red' | 'yellow'
    readonly problems: readonly string[]
  }[]
  readonly unplaceable: readonly { readonly index: string; readonly reason: string }[]
}
