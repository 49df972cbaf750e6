import type { ClusterNode } from '@shoal/cluster'
import type { Transport } from '@shoal/swim'
import { Counter, Gauge, type Registry } from 'prom-client'

export interface ClusterMetricsOptions {
  readonly node: ClusterNode
  readonly gossip: Transport
  readonly registry: Registry
}

/**
 * The cluster's Prometheus metrics (`shoal_cluster_*`, `shoal_raft_*`,
 * `shoal_gossip_*`); the transport registers its own `shoal_p2p_*`. Counters
 * kept by the components are read at scrape time.
 */
export class ClusterMetrics {
  readonly invalidFrames: Counter
  /** `shoal_shard_async_writes_total`, counted by the cluster engine (`ClusterEngineMetrics`). */
  readonly asyncShardWrites: Counter

  constructor(options: ClusterMetricsOptions) {
    const { node, gossip } = options
    const registers = [options.registry]
    this.invalidFrames = new Counter({
      name: 'shoal_cluster_invalid_frames_total',
      help: 'Raft frames dropped because they failed validation (malformed, or naming another sender than the peer)',
      registers,
    })
    this.asyncShardWrites = new Counter({
      name: 'shoal_shard_async_writes_total',
      help: 'Shard writes this node acknowledged under the async write concern: durable on the shard leader, before a majority held them',
      registers,
    })
    new Gauge({
      name: 'shoal_cluster_members',
      help: 'Cluster members by SWIM state, as this node sees them',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset()
        const counts: Record<string, number> = { alive: 0, suspect: 0, dead: 0, left: 0 }
        for (const member of node.members()) counts[member.state] = (counts[member.state] ?? 0) + 1
        for (const [state, count] of Object.entries(counts)) this.set({ state }, count)
      },
    })
    new Gauge({
      name: 'shoal_cluster_metadata_version',
      help: "The version of this node's copy of the cluster metadata",
      registers,
      collect() {
        this.set(node.state().version)
      },
    })
    new Gauge({
      name: 'shoal_cluster_metadata_term',
      help: "The metadata group's Raft term as this node knows it",
      registers,
      collect() {
        try {
          this.set(node.metaRaft?.status().term ?? 0)
        } catch {
          this.set(0) // stopped
        }
      },
    })
    new Gauge({
      name: 'shoal_cluster_metadata_leader',
      help: '1 when this node leads the metadata group',
      registers,
      collect() {
        this.set(node.metaRaft?.isLeader === true ? 1 : 0)
      },
    })
    new Gauge({
      name: 'shoal_raft_groups',
      help: 'Raft groups hosted on this node',
      registers,
      collect() {
        this.set(node.host?.metrics().groups ?? 0)
      },
    })
    new Gauge({
      name: 'shoal_raft_groups_quiesced',
      help: 'Raft groups hosted here that are quiesced (no ticks, no heartbeats until woken)',
      registers,
      collect() {
        this.set(node.host?.metrics().quiescedGroups ?? 0)
      },
    })
    counterFrom(
      registers,
      'shoal_raft_leader_changes_total',
      'Metadata leader changes seen by this node',
      () => node.counters.leaderChanges,
    )
    counterFrom(
      registers,
      'shoal_raft_peer_suspicions_total',
      'Connections to another node that closed, each a suspicion that wakes the followers of quiesced groups it led',
      () => node.host?.metrics().peerSuspicions ?? 0,
    )
    counterFrom(
      registers,
      'shoal_raft_suspicion_wakes_total',
      'Quiesced groups woken because the connection to their leader closed',
      () => node.host?.metrics().suspicionWakes ?? 0,
    )
    counterFrom(
      registers,
      'shoal_raft_forwards_failed_unreachable_total',
      'Forwarded proposals failed at once because the connection to their leader closed (outcome unknown)',
      () => node.host?.metrics().forwardsFailedUnreachable ?? 0,
    )
    counterFrom(
      registers,
      'shoal_raft_frames_sent_total',
      'Raft frames sent (one per destination node per flush)',
      () => node.host?.metrics().framesSent ?? 0,
    )
    counterFrom(
      registers,
      'shoal_raft_messages_sent_total',
      'Raft messages sent, over all groups (messages ÷ frames = messages per frame)',
      () => node.host?.metrics().raftMessagesSent ?? 0,
    )
    counterFrom(
      registers,
      'shoal_cluster_frames_dropped_total',
      'Raft frames dropped by this node, by reason',
      () => node.counters.framesDroppedForeign,
      { reason: 'foreign_cluster' },
    )
    counterFrom(
      registers,
      'shoal_raft_flushes_total',
      'Flushes of the Raft host (frames ÷ flushes = destinations per flush)',
      () => node.host?.metrics().flushes ?? 0,
    )
    counterFrom(
      registers,
      'shoal_raft_items_dropped_total',
      'Received frame items the Raft host dropped (unknown group or kind, malformed)',
      () => node.host?.metrics().itemsDropped ?? 0,
    )
    counterFrom(
      registers,
      'shoal_raft_messages_ignored_total',
      'Raft messages the groups hosted here ignored, by reason (outsider: a sender outside the group while its leader is heard)',
      () => node.host?.metrics().outsiderMessagesIgnored ?? 0,
      { reason: 'outsider' },
    )
    counterFrom(
      registers,
      'shoal_cluster_frames_unroutable_total',
      'Raft frames not sent because the destination node has no known address',
      () => node.counters.framesDroppedNoAddress,
    )
    const stat = (pick: (s: ReturnType<Transport['stats']>) => number) => () => pick(gossip.stats())
    counterFrom(
      registers,
      'shoal_gossip_packets_sent_total',
      'SWIM packets sent',
      stat((s) => s.packetsSent),
    )
    counterFrom(
      registers,
      'shoal_gossip_packets_received_total',
      'SWIM packets received and verified',
      stat((s) => s.packetsReceived),
    )
    counterFrom(
      registers,
      'shoal_gossip_packets_other_key_total',
      'SWIM packets verified with an accepted cluster key other than the one this node sends with (a key rotation in progress)',
      stat((s) => s.packetsReceivedWithOtherKey ?? 0),
    )
    for (const reason of ['malformed', 'unauthenticated', 'oversized', 'stale', 'replayed'] as const) {
      counterFrom(
        registers,
        'shoal_gossip_packets_dropped_total',
        'SWIM packets dropped, by reason (unauthenticated: a wrong or missing cluster key)',
        stat((s) => s.dropped[reason]),
        { reason },
      )
    }
  }
}

const shared = new WeakMap<Registry, Map<string, Counter<string>>>()

/** A counter whose value is read from `read()` at scrape time (several label sets may share one name). */
function counterFrom(
  registers: Registry[],
  name: string,
  help: string,
  read: () => number,
  labels: Record<string, string> = {},
): void {
  const registry = registers[0] as Registry
  let byName = shared.get(registry)
  if (byName === undefined) {
    byName = new Map()
    shared.set(registry, byName)
  }
  let counter = byName.get(name)
  const readers: Array<[Record<string, string>, () => number]> = []
  if (counter === undefined) {
    const list = readers
    counter = new Counter({
      name,
      help,
      labelNames: Object.keys(labels),
      registers,
      collect() {
        this.reset()
        for (const [set, get] of list) this.inc(set, get())
      },
    })
    byName.set(name, counter)
    readersOf.set(counter, list)
  }
  readersOf.get(counter)?.push([labels, read])
}

const readersOf = new WeakMap<Counter<string>, Array<[Record<string, string>, () => number]>>()
