import type { ServerConfig } from '../config.ts'
import { ConfigError } from '../errors.ts'

// Validation of the hot standby settings (docs/standby.md, "Configuration"); the fields
// themselves are declared with the others in config.ts.

/** Cluster settings a primary or standby refuses (it uses only the key and the p2p addresses). */
const CLUSTER_ONLY_KEYS = new Set([
  'cluster_key_accept_file',
  'cluster_name',
  'region',
  'zone',
  'node_name',
  'gossip_addr',
  'gossip_advertise_addr',
  'gossip_profile',
  'raft_tick_ms',
  'replica_grace_ms',
  'max_incoming_moves',
  'max_outgoing_moves',
  'auto_rebalance',
  'anti_entropy_interval_ms',
  'snapshot_bandwidth_bytes',
])

/** The primary's libp2p address as `--standby-of` takes it: a TCP multiaddr ending in `/p2p/<peer id>`. */
export const STANDBY_OF = /^\/(ip4|ip6|dns4|dns6|dns)\/[^/]+\/tcp\/\d{1,5}\/p2p\/([1-9A-HJ-NP-Za-km-z]{20,})$/

/** The peer id at the end of a `--standby-of` address. */
export function standbyOfPeerId(of: string): string {
  return STANDBY_OF.exec(of)?.[2] ?? ''
}

/**
 * Checks the standby settings against each other and the cluster settings (`given`: the TOML
 * names of the fields some source set; `flagOf` names a field's flag), and turns cluster mode off
 * for a primary or standby: the cluster key keys the link, the node joins no cluster.
 */
export function validateStandby(
  config: ServerConfig,
  given: Set<string>,
  flagOf: (toml: string) => string,
): void {
  const { standby, cluster } = config
  if (!['off', 'async', 'semi_sync'].includes(standby.mode))
    throw new ConfigError(`standby mode must be off, async or semi_sync, got \`${standby.mode}\``)
  if (!['block', 'fail'].includes(standby.semiSyncOnTimeout))
    throw new ConfigError(`semi-sync on timeout must be block or fail, got \`${standby.semiSyncOnTimeout}\``)
  if (standby.semiSyncTimeoutMs < 100 || standby.semiSyncTimeoutMs > 600_000)
    throw new ConfigError(`semi-sync timeout must be 100 to 600000 ms, got ${standby.semiSyncTimeoutMs}`)
  if (config.engineWalSegmentBytes < 4096)
    throw new ConfigError(
      `engine WAL segment bytes must be at least 4096, got ${config.engineWalSegmentBytes}`,
    )
  const primary = standby.mode !== 'off'
  const follower = standby.of !== undefined
  if (primary && follower)
    throw new ConfigError(
      'give --standby-mode on the primary or --standby-of on the standby, not both (a standby takes its mode from its primary)',
    )
  if (standby.mode !== 'semi_sync') {
    for (const key of ['semi_sync_timeout_ms', 'semi_sync_on_timeout'])
      if (given.has(key))
        throw new ConfigError(`--${key.replaceAll('_', '-')} applies to --standby-mode semi_sync only`)
  }
  if (standby.witness === undefined && given.has('witness_lease_ms'))
    throw new ConfigError('--witness-lease-ms applies with --witness only')
  if (standby.witnessLeaseMs < 300 || standby.witnessLeaseMs > 60_000)
    throw new ConfigError(`witness lease must be 300 to 60000 ms, got ${standby.witnessLeaseMs}`)
  if (standby.witness !== undefined && !primary && !follower)
    throw new ConfigError('--witness is for a primary (--standby-mode) or a standby (--standby-of)')
  if (standby.witness !== undefined && !STANDBY_OF.test(standby.witness))
    throw new ConfigError(
      `--witness \`${standby.witness}\` is not the witness's libp2p address: expected /ip4/HOST/tcp/PORT/p2p/PEER_ID, as \`shoal witness\` prints it`,
    )
  if (!primary && !follower) return
  const role = primary ? '--standby-mode' : '--standby-of'
  if (!cluster.enabled)
    throw new ConfigError(`${role} needs the cluster key: --cluster-key-file F or SHOAL_CLUSTER_KEY`)
  if (cluster.join.length > 0 || cluster.bootstrap)
    throw new ConfigError(
      `${role} is for two standalone nodes; it cannot be combined with --join or --bootstrap`,
    )
  const clusterOnly = [...CLUSTER_ONLY_KEYS].filter((toml) => given.has(toml))
  if (clusterOnly.length > 0)
    throw new ConfigError(
      `${role} does not take cluster settings (${clusterOnly.map((toml) => `--${flagOf(toml)}`).join(', ')}): a primary and its standby are not a cluster`,
    )
  if (follower && !STANDBY_OF.test(standby.of ?? ''))
    throw new ConfigError(
      `--standby-of \`${standby.of}\` is not the primary's libp2p address: expected /ip4/HOST/tcp/PORT/p2p/PEER_ID, as the primary prints it at start (p2p:)`,
    )
  // The cluster key keys the standby link; the node does not join a cluster.
  cluster.enabled = false
}
