/**
 * `GET /indexes/{uid}/_shards` as the shoal-shards chaos system reads it, and the one-line
 * descriptions its settle diagnostics and the shard moves check print.
 */
import type { NodeAddress } from './chaos-shards-http.ts'

export interface ShardsView {
  shards: Array<{
    shard: number
    leader: string | null
    replicas: Array<{
      node: string
      role: string
      state: string
      reachable: boolean
      raftRole: string | null
      raftVoters: string[] | null
      raftLearners: string[] | null
      appliedIndex: number | null
      commitIndex: number | null
      lag: number | null
    }>
  }>
}

/** Node names as `{n1,n2}`. */
export function names(nodes: readonly NodeAddress[]): string {
  return `{${nodes.map((n) => n.name).join(',')}}`
}

/**
 * One shard as `_shards` shows it, in one line: leader, then each replica (name, state, Raft
 * role, applied index, the group's configuration as it knows it); `nameOf` names node ids.
 */
export function describeShard(shard: ShardsView['shards'][number], nameOf: (id: string) => string): string {
  const short = (id: string) => nameOf(id)
  const replicas = shard.replicas.map((r) => {
    const conf =
      r.raftVoters === null
        ? ''
        : ` voters {${r.raftVoters.map(short).join(',')}} learners {${(r.raftLearners ?? []).map(short).join(',')}}`
    return `${short(r.node)} ${r.role}/${r.state} ${r.reachable ? `${r.raftRole} applied ${r.appliedIndex}${conf}` : 'unreachable'}`
  })
  return `leader ${shard.leader === null ? 'none' : short(shard.leader)}; ${replicas.join('; ')}`
}
