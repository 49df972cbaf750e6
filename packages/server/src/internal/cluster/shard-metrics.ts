import type { ClusterNode, ShardHosting } from '@shoal/cluster'
import { Counter, Gauge, type Registry } from 'prom-client'
import { SHARD_READ_OUTCOMES, shardReadAttempts } from './shard-read-attempts.ts'
import { catchingUpRefusals, shardReadHedges, strongShardReads } from './shard-rpc.ts'
import { shardedReadPaths } from './sharded-search.ts'
import { localPassDeclines } from './sharded-search-local.ts'

/**
 * Metrics of shard replication and replica moves, read at scrape time:
 * - `shoal_shard_replication_lag_entries` / `_seconds` per replica of the shard groups this node
 *   leads (entries behind the leader, seconds since the replica was last caught up);
 * - `shoal_shard_moves_in_flight`: shards with a replica arriving or leaving (cluster-wide view);
 * - `shoal_shard_moves_started_total{reason}`: moves this node's controller started (lost node =
 *   re-replication, drain, replace, rebalance, rollback);
 * - `shoal_shard_membership_steps_total{step}`: the steps this node took as a shard leader;
 * - `shoal_shard_read_hedges_total`: eventual reads hedged to a second replica (shard-rpc.ts);
 * - `shoal_shard_read_attempts_total{outcome}`: requests to a replica for a shard this node read,
 *   one per shard asked, by how they ended (shard-read-attempts.ts); what is not `answered` led to
 *   another attempt, or to the shard missing at the deadline;
 * - `shoal_shard_reads_catching_up_total`: eventual reads a replica here refused while catching up
 *   after a restart (replica-read-gate.ts), served by another replica instead;
 * - `shoal_shard_leaderships`: shard groups this node leads now (leaders move on failover);
 * - `shoal_shard_strong_reads_total{served}`: strong (read-your-writes) shard reads this node
 *   coordinated, answered by its own replica under a follower read lease (`local`), by itself as
 *   the shard leader (`leader_here`), or sent to the shard leader on another node (`leader`);
 * - `shoal_sharded_searches_total{consistency,path}`: searches (and facet searches) of sharded
 *   indexes this node coordinated, by read consistency (`strong`, `eventual`), read in one pass
 *   from its own replicas (`local`) or through the shards (`shards`);
 * - `shoal_sharded_search_local_declined_total{reason}`: why a search through a node holding a
 *   replica of every shard did not read them in one pass (sharded-search-local.ts);
 * - `shoal_shard_read_leases_total{event}`: follower read leases the shard groups led here
 *   granted, and records of them that ran out (summed over the groups hosted now).
 */
export function registerShardMetrics(node: ClusterNode, hosting: ShardHosting, registry: Registry): void {
  const registers = [registry]
  const groupLabels = (group: string) => {
    // shard/<index>/<createdAtMs>/<shard>
    const parts = group.split('/')
    return { index: parts.slice(1, -2).join('/'), shard: parts.at(-1) ?? '' }
  }
  new Gauge({
    name: 'shoal_shard_replication_lag_entries',
    help: 'Log entries a shard replica is behind its leader (reported by the leader)',
    labelNames: ['index', 'shard', 'node'] as const,
    registers,
    collect() {
      this.reset()
      for (const lag of hosting.steward.replicaLag())
        this.set({ ...groupLabels(lag.group), node: lag.node }, lag.entries)
    },
  })
  new Gauge({
    name: 'shoal_shard_replication_lag_seconds',
    help: 'Seconds since a shard replica was last caught up with its leader (0 while caught up)',
    labelNames: ['index', 'shard', 'node'] as const,
    registers,
    collect() {
      this.reset()
      for (const lag of hosting.steward.replicaLag())
        this.set({ ...groupLabels(lag.group), node: lag.node }, lag.seconds)
    },
  })
  new Gauge({
    name: 'shoal_shard_moves_in_flight',
    help: 'Shards with a replica arriving or leaving, as the metadata records them',
    registers,
    collect() {
      let moving = 0
      for (const shards of Object.values(node.state().shards))
        for (const shard of shards) if (shard.replicas.some((r) => r.state !== 'active')) moving++
      this.set(moving)
    },
  })
  new Counter({
    name: 'shoal_shard_moves_started_total',
    help: 'Shard replica moves started by this node while it led the metadata, by reason (lost = re-replication)',
    labelNames: ['reason'] as const,
    registers,
    collect() {
      this.reset()
      for (const [reason, count] of Object.entries(node.shardMovesStarted())) this.inc({ reason }, count)
    },
  })
  new Counter({
    name: 'shoal_shard_membership_steps_total',
    help: 'Membership steps taken as a shard leader: learner added, promoted, removed, leadership handed over, recorded, failed',
    labelNames: ['step'] as const,
    registers,
    collect() {
      this.reset()
      const c = hosting.steward.counters
      this.inc({ step: 'learner_added' }, c.learnersAdded)
      this.inc({ step: 'promoted' }, c.promotions)
      this.inc({ step: 'removed' }, c.removals)
      this.inc({ step: 'transfer' }, c.transfers)
      this.inc({ step: 'recorded' }, c.records)
      this.inc({ step: 'failed' }, c.failures)
    },
  })
  new Gauge({
    name: 'shoal_shard_leaderships',
    help: 'Shard groups this node leads now',
    registers,
    collect() {
      let led = 0
      for (const ref of hosting.hosted()) if (node.host?.group(ref.group)?.isLeader === true) led++
      this.set(led)
    },
  })
  new Counter({
    name: 'shoal_shard_read_hedges_total',
    help: 'Eventual shard reads also sent to a second replica because the first had not answered within its recent p95',
    registers,
    collect() {
      this.reset()
      this.inc(shardReadHedges())
    },
  })
  new Counter({
    name: 'shoal_shard_read_attempts_total',
    help: 'Requests to a replica for a shard read coordinated here, one per shard asked, by outcome: answered, not_leader, unavailable, timeout (no answer within the attempt time-out; the read asked elsewhere), unreachable',
    labelNames: ['outcome'] as const,
    registers,
    collect() {
      this.reset()
      const attempts = shardReadAttempts()
      for (const outcome of SHARD_READ_OUTCOMES) this.inc({ outcome }, attempts.get(outcome) ?? 0)
    },
  })
  new Counter({
    name: 'shoal_shard_strong_reads_total',
    help: 'Strong shard reads coordinated here: answered by a replica here holding a follower read lease (local), by this node as the shard leader (leader_here), or sent to the shard leader on another node (leader)',
    labelNames: ['served'] as const,
    registers,
    collect() {
      this.reset()
      const reads = strongShardReads()
      this.inc({ served: 'local' }, reads.local)
      this.inc({ served: 'leader_here' }, reads.ownLeader)
      this.inc({ served: 'leader' }, reads.remote)
    },
  })
  new Counter({
    name: 'shoal_sharded_searches_total',
    help: 'Searches of sharded indexes coordinated here, by consistency, read in one pass from replicas here (local) or through the shards (shards)',
    labelNames: ['consistency', 'path'] as const,
    registers,
    collect() {
      this.reset()
      const paths = shardedReadPaths()
      for (const [mode, consistency] of [
        ['leader', 'strong'],
        ['eventual', 'eventual'],
      ] as const) {
        this.inc({ consistency, path: 'local' }, paths[mode].local)
        this.inc({ consistency, path: 'shards' }, paths[mode].remote)
      }
    },
  })
  new Counter({
    name: 'shoal_sharded_search_local_declined_total',
    help: 'Searches through a node that did not read its replicas in one pass, by reason: no replica here of a shard, no follower read lease, replica catching up, leadership unconfirmed, other',
    labelNames: ['reason'] as const,
    registers,
    collect() {
      this.reset()
      for (const [reason, count] of Object.entries(localPassDeclines())) this.inc({ reason }, count)
    },
  })
  new Counter({
    name: 'shoal_shard_read_leases_total',
    help: 'Follower read leases granted by the shard groups hosted here, and grant records that ran out (a removed replica takes its counts with it)',
    labelNames: ['event'] as const,
    registers,
    collect() {
      this.reset()
      let granted = 0
      let expired = 0
      for (const ref of hosting.hosted()) {
        const group = node.host?.group(ref.group)
        if (group === undefined) continue
        const status = group.status()
        granted += status.leaseGrantsIssued
        expired += status.leaseGrantsExpired
      }
      this.inc({ event: 'granted' }, granted)
      this.inc({ event: 'expired' }, expired)
    },
  })
  new Counter({
    name: 'shoal_shard_reads_catching_up_total',
    help: 'Eventual shard reads refused by a replica on this node that had not caught up since it opened (another replica served them)',
    registers,
    collect() {
      this.reset()
      this.inc(catchingUpRefusals())
    },
  })
}
