import { readFile } from 'node:fs/promises'
import { ClusterConfigError, DEFAULT_CAPABILITIES, parseCapabilities } from '@shoal/cluster'
import { parse as parseToml } from 'smol-toml'
import { ConfigError } from './errors.ts'
import type { RateLimitConfig } from './rate-limit.ts'
import { type RegionConfig, validateRegionConfig } from './regions/region-config.ts'
import { readMasterKeyFile } from './secrets.ts'
import { validateStandby } from './standby/standby-config.ts'

export { standbyOfPeerId } from './standby/standby-config.ts'

/**
 * The server's configuration. Sources, lowest precedence first: defaults, a
 * TOML file (`--config`), environment variables (`SHOAL_*`), command-line
 * flags. Every field has one name per source, listed in FIELDS below.
 */
export interface ServerConfig {
  /** Folder holding the engine's data, the task queue and the keys. @defaultValue './shoal-data' */
  dataDir: string
  /** `host:port` to listen on (`[v6]:port` for IPv6; port 0 picks a free one). @defaultValue '127.0.0.1:7700' */
  httpAddr: string
  /** Master key; without it the API is open and only loopback binds are allowed. */
  masterKey: string | undefined
  /**
   * File holding the master key (mode 0600), instead of `masterKey`; re-read by
   * `POST /admin/secrets/reload`, so the master key can be rotated live.
   */
  masterKeyFile: string | undefined
  /** File of more master keys accepted during a rotation, one per line (mode 0600). */
  masterKeyAcceptFile: string | undefined
  /** Serve without a master key on a non-loopback address. @defaultValue false */
  allowInsecure: boolean
  /** Largest request body accepted. @defaultValue 104_857_600 (100 MiB) */
  payloadLimitBytes: number
  /** Per-key rate limiting; `requestsPerSecond: 0` turns it off. @defaultValue { requestsPerSecond: 0, burst: 0 } */
  rateLimit: RateLimitConfig
  /** pino level: fatal, error, warn, info, debug, trace, silent. @defaultValue 'info' */
  logLevel: string
  /** fsync writes (engine WAL and task queue); 'none' is for tests and benchmarks. @defaultValue 'always' */
  sync: 'always' | 'none'
  /**
   * The `matchingStrategy` of a search that names none: `last`, as Meilisearch, or `any` (every
   * document holding any query word, in BM25 order: what a sharded index of a cluster answers).
   * @defaultValue 'last'
   */
  defaultMatchingStrategy: 'last' | 'any'
  /** Folder `POST /dumps` writes to. @defaultValue `<dataDir>/dumps` */
  dumpDir: string | undefined
  /** Folder `POST /snapshots` writes to. @defaultValue `<dataDir>/snapshots` */
  snapshotDir: string | undefined
  /** Commands between automatic engine snapshots (each lets the engine's log be compacted); 0: none. @defaultValue 10_000 */
  engineSnapshotEvery: number
  /** Size of one engine WAL segment; compaction drops whole segments. @defaultValue 67_108_864 (64 MiB) */
  engineWalSegmentBytes: number
  /** Folder `POST /admin/backups` writes each backup's folder to. @defaultValue `<dataDir>/backups` */
  backupDir: string | undefined
  /**
   * Bound on one HTTP request to a `rest` embedder (a timed-out request is tried again, as a
   * 429 or 5xx answer is; docs/embedders.md). @defaultValue 10_000
   */
  embedderTimeoutMs: number
  /** Cluster settings; `cluster.enabled` is false for a standalone node (no libp2p, no gossip). */
  cluster: ClusterConfig
  /** Hot standby settings (docs/standby.md); both roles use the cluster key and `cluster.p2pAddr`. */
  standby: StandbyConfig
  /** The link to other regions (docs/multi-region.md); `regionLink.enabled` is whether it runs. */
  regionLink: RegionConfig & { enabled: boolean }
}

/**
 * A primary with a hot standby (`mode` async or semi_sync) or a hot standby (`of`). Either needs
 * the cluster key (it keys the libp2p private network) and excludes cluster membership.
 */
export interface StandbyConfig {
  /** Primary: feed a hot standby, acknowledging after the local fsync (`async`) or after the standby's too (`semi_sync`). @defaultValue 'off' */
  mode: 'off' | 'async' | 'semi_sync'
  /** Standby: the primary's libp2p address, `/ip4/…/tcp/…/p2p/<peer id>` as the primary prints it. */
  of: string | undefined
  /** semi_sync: a write the standby has not acknowledged this long marks the standby lost. @defaultValue 5000 */
  semiSyncTimeoutMs: number
  /** semi_sync, while the standby is lost: `block` (writes wait) or `fail` (new writes answer 503). @defaultValue 'block' */
  semiSyncOnTimeout: 'block' | 'fail'
  /** Both: the witness's libp2p address (`shoal witness`); enables automatic promotion. */
  witness: string | undefined
  /** With a witness: the primary's lease; it acknowledges writes only while it holds one. @defaultValue 3000 */
  witnessLeaseMs: number
}

/**
 * How a node takes part in a cluster. It is clustered as soon as a cluster key
 * is given (`--cluster-key-file` or `SHOAL_CLUSTER_KEY`); `--join` and
 * `--bootstrap` need one.
 */
export interface ClusterConfig {
  enabled: boolean
  /** File holding the cluster key (not readable by group or others). */
  keyFile: string | undefined
  /** The cluster key itself, from `SHOAL_CLUSTER_KEY` only (never a flag: flags show in `ps`). */
  key: string | undefined
  /**
   * File of more cluster keys accepted from other nodes during a rotation, one
   * per line (mode 0600); this node sends with the cluster key.
   */
  keyAcceptFile: string | undefined
  /** Gossip addresses (`host:port`) of nodes to join through. @defaultValue [] */
  join: string[]
  /** Create a new cluster with this node as its first member. @defaultValue false */
  bootstrap: boolean
  /** The cluster's name, recorded at bootstrap. @defaultValue 'shoal' */
  name: string
  /** @defaultValue '' */
  region: string
  /** @defaultValue '' */
  zone: string
  /**
   * Free node labels (`disk=ssd`, `tier=hot`, …) that index placement constraints select on:
   * `--label key=value` (repeatable), `SHOAL_LABELS=key=value,key=value`, TOML `labels = { … }`.
   * Later sources override a key of earlier ones. @defaultValue {}
   */
  labels: Record<string, string>
  /**
   * What this node does: some of `bm25`, `vector`, `embed`, `coordinator` (docs/cluster-scaling.md,
   * "Capabilities"): `--capabilities bm25,vector`, `SHOAL_CAPABILITIES`, TOML `capabilities`
   * (a string or an array). `coordinator` alone: the node holds no data. @defaultValue ['bm25', 'vector']
   */
  capabilities: string[]
  /** A human label for this node. @defaultValue the host name */
  nodeName: string | undefined
  /** libp2p TCP listen address. @defaultValue '127.0.0.1:7800' */
  p2pAddr: string
  /** Address other nodes dial for libp2p, when not the listen address (a proxy, NAT). */
  p2pAdvertiseAddr: string | undefined
  /** SWIM's UDP (and TCP push-pull) listen address. @defaultValue '127.0.0.1:7946' */
  gossipAddr: string
  /** Address other nodes send gossip to, when not the listen address. */
  gossipAdvertiseAddr: string | undefined
  /** SWIM timing preset: `lan` (1 s probes), `wan` (5 s), `local` (loopback tests: 200 ms probe timeout). @defaultValue 'lan' */
  gossipProfile: 'lan' | 'wan' | 'local'
  /** Milliseconds per Raft tick; elections time out after 10 to 20 ticks. @defaultValue 100 */
  raftTickMs: number
  /** A node down this long loses its shard replicas to other nodes. @defaultValue 60000 */
  replicaGraceMs: number
  /** Most shard replicas arriving on one node at a time. @defaultValue 2 */
  maxIncomingMoves: number
  /** Most shard replicas leaving one node at a time. @defaultValue 2 */
  maxOutgoingMoves: number
  /** Move replicas to even out the load after joins (repairs always run). @defaultValue true */
  autoRebalance: boolean
  /**
   * Period of the background anti-entropy check of the shards this node leads (docs/anti-entropy.md);
   * 0 disables it. @defaultValue 600000 (10 minutes)
   */
  antiEntropyIntervalMs: number
  /**
   * Outgoing Raft snapshot bytes per second for the whole node (every shard
   * move and catch-up from it shares the budget); 0 = unlimited.
   * @defaultValue 67_108_864 (64 MiB/s)
   */
  snapshotBandwidthBytes: number
}

export const DEFAULT_CONFIG: Readonly<ServerConfig> = Object.freeze({
  dataDir: './shoal-data',
  httpAddr: '127.0.0.1:7700',
  masterKey: undefined,
  masterKeyFile: undefined,
  masterKeyAcceptFile: undefined,
  allowInsecure: false,
  payloadLimitBytes: 100 * 1024 * 1024,
  rateLimit: { requestsPerSecond: 0, burst: 0 },
  logLevel: 'info',
  sync: 'always',
  defaultMatchingStrategy: 'last',
  dumpDir: undefined,
  snapshotDir: undefined,
  engineSnapshotEvery: 10_000,
  engineWalSegmentBytes: 64 * 1024 * 1024,
  embedderTimeoutMs: 10_000,
  standby: Object.freeze({
    mode: 'off',
    of: undefined,
    semiSyncTimeoutMs: 5000,
    semiSyncOnTimeout: 'block',
    witness: undefined,
    witnessLeaseMs: 3000,
  }),
  backupDir: undefined,
  regionLink: Object.freeze({
    enabled: false,
    name: undefined,
    p2pAddr: undefined,
    keyFile: undefined,
    key: undefined,
    seeds: [],
    indexes: [],
    semiSyncTimeoutMs: 5000,
    journalRetainEntries: 100_000,
  }),
  cluster: Object.freeze({
    enabled: false,
    keyFile: undefined,
    keyAcceptFile: undefined,
    key: undefined,
    join: [],
    bootstrap: false,
    name: 'shoal',
    region: '',
    zone: '',
    labels: Object.freeze({}) as Record<string, string>,
    capabilities: [...DEFAULT_CAPABILITIES],
    nodeName: undefined,
    p2pAddr: '127.0.0.1:7800',
    p2pAdvertiseAddr: undefined,
    gossipAddr: '127.0.0.1:7946',
    gossipAdvertiseAddr: undefined,
    gossipProfile: 'lan',
    raftTickMs: 100,
    replicaGraceMs: 60_000,
    maxIncomingMoves: 2,
    maxOutgoingMoves: 2,
    autoRebalance: true,
    antiEntropyIntervalMs: 600_000,
    snapshotBandwidthBytes: 64 * 1024 * 1024,
  }),
})

type Kind = 'string' | 'boolean' | 'integer'

interface Field {
  toml: string
  env: string
  /** '' for a field that has no flag (a secret). */
  flag: string
  kind: Kind
  /** A list: a TOML array of strings, or a comma-separated string. */
  list?: boolean
  set(config: ServerConfig, value: string | boolean | number): void
}

/** Every configurable field with its TOML key, environment variable and flag. */
export const FIELDS: readonly Field[] = [
  {
    toml: 'data_dir',
    env: 'SHOAL_DATA_DIR',
    flag: 'data-dir',
    kind: 'string',
    set: (c, v) => (c.dataDir = String(v)),
  },
  {
    toml: 'http_addr',
    env: 'SHOAL_HTTP_ADDR',
    flag: 'http-addr',
    kind: 'string',
    set: (c, v) => (c.httpAddr = String(v)),
  },
  {
    toml: 'master_key',
    env: 'SHOAL_MASTER_KEY',
    flag: 'master-key',
    kind: 'string',
    set: (c, v) => (c.masterKey = String(v)),
  },
  {
    toml: 'master_key_file',
    env: 'SHOAL_MASTER_KEY_FILE',
    flag: 'master-key-file',
    kind: 'string',
    set: (c, v) => (c.masterKeyFile = String(v)),
  },
  {
    toml: 'master_key_accept_file',
    env: 'SHOAL_MASTER_KEY_ACCEPT_FILE',
    flag: 'master-key-accept-file',
    kind: 'string',
    set: (c, v) => (c.masterKeyAcceptFile = String(v)),
  },
  {
    toml: 'allow_insecure',
    env: 'SHOAL_ALLOW_INSECURE',
    flag: 'allow-insecure',
    kind: 'boolean',
    set: (c, v) => (c.allowInsecure = v === true),
  },
  {
    toml: 'payload_limit_bytes',
    env: 'SHOAL_PAYLOAD_LIMIT_BYTES',
    flag: 'payload-limit-bytes',
    kind: 'integer',
    set: (c, v) => (c.payloadLimitBytes = Number(v)),
  },
  {
    toml: 'rate_limit_per_second',
    env: 'SHOAL_RATE_LIMIT_PER_SECOND',
    flag: 'rate-limit-per-second',
    kind: 'integer',
    set: (c, v) => (c.rateLimit.requestsPerSecond = Number(v)),
  },
  {
    toml: 'rate_limit_burst',
    env: 'SHOAL_RATE_LIMIT_BURST',
    flag: 'rate-limit-burst',
    kind: 'integer',
    set: (c, v) => (c.rateLimit.burst = Number(v)),
  },
  {
    toml: 'log_level',
    env: 'SHOAL_LOG_LEVEL',
    flag: 'log-level',
    kind: 'string',
    set: (c, v) => (c.logLevel = String(v)),
  },
  {
    toml: 'sync',
    env: 'SHOAL_SYNC',
    flag: 'sync',
    kind: 'string',
    set: (c, v) => (c.sync = String(v) as ServerConfig['sync']),
  },
  {
    toml: 'default_matching_strategy',
    env: 'SHOAL_DEFAULT_MATCHING_STRATEGY',
    flag: 'default-matching-strategy',
    kind: 'string',
    set: (c, v) => (c.defaultMatchingStrategy = String(v) as ServerConfig['defaultMatchingStrategy']),
  },
  {
    toml: 'dump_dir',
    env: 'SHOAL_DUMP_DIR',
    flag: 'dump-dir',
    kind: 'string',
    set: (c, v) => (c.dumpDir = String(v)),
  },
  {
    toml: 'snapshot_dir',
    env: 'SHOAL_SNAPSHOT_DIR',
    flag: 'snapshot-dir',
    kind: 'string',
    set: (c, v) => (c.snapshotDir = String(v)),
  },
  {
    toml: 'engine_snapshot_every',
    env: 'SHOAL_ENGINE_SNAPSHOT_EVERY',
    flag: 'engine-snapshot-every',
    kind: 'integer',
    set: (c, v) => (c.engineSnapshotEvery = Number(v)),
  },
  {
    toml: 'engine_wal_segment_bytes',
    env: 'SHOAL_ENGINE_WAL_SEGMENT_BYTES',
    flag: 'engine-wal-segment-bytes',
    kind: 'integer',
    set: (c, v) => (c.engineWalSegmentBytes = Number(v)),
  },
  {
    toml: 'embedder_timeout_ms',
    env: 'SHOAL_EMBEDDER_TIMEOUT_MS',
    flag: 'embedder-timeout-ms',
    kind: 'integer',
    set: (c, v) => (c.embedderTimeoutMs = Number(v)),
  },
  standbyField('standby_mode', 'string', (c, v) => (c.mode = String(v) as StandbyConfig['mode'])),
  standbyField('standby_of', 'string', (c, v) => (c.of = String(v))),
  standbyField('semi_sync_timeout_ms', 'integer', (c, v) => (c.semiSyncTimeoutMs = Number(v))),
  standbyField(
    'semi_sync_on_timeout',
    'string',
    (c, v) => (c.semiSyncOnTimeout = String(v) as StandbyConfig['semiSyncOnTimeout']),
  ),
  standbyField('witness', 'string', (c, v) => (c.witness = String(v))),
  standbyField('witness_lease_ms', 'integer', (c, v) => (c.witnessLeaseMs = Number(v))),
  {
    toml: 'backup_dir',
    env: 'SHOAL_BACKUP_DIR',
    flag: 'backup-dir',
    kind: 'string',
    set: (c, v) => (c.backupDir = String(v)),
  },
  regionField('region_name', 'string', (c, v) => (c.name = String(v))),
  regionField('region_p2p_addr', 'string', (c, v) => (c.p2pAddr = String(v))),
  regionField('region_key_file', 'string', (c, v) => (c.keyFile = String(v))),
  { ...regionField('region_key', 'string', (c, v) => (c.key = String(v))), flag: '' },
  regionField('region_seeds', 'list', (c, v) => (c.seeds = v as string[])),
  regionField('region_indexes', 'list', (c, v) => (c.indexes = v as string[])),
  regionField('region_semi_sync_timeout_ms', 'integer', (c, v) => (c.semiSyncTimeoutMs = Number(v))),
  regionField('region_journal_retain_entries', 'integer', (c, v) => (c.journalRetainEntries = Number(v))),
  clusterField('cluster_key_file', 'cluster-key-file', 'string', (c, v) => (c.keyFile = String(v))),
  clusterField(
    'cluster_key_accept_file',
    'cluster-key-accept-file',
    'string',
    (c, v) => (c.keyAcceptFile = String(v)),
  ),
  { ...clusterField('cluster_key', '', 'string', (c, v) => (c.key = String(v))), env: 'SHOAL_CLUSTER_KEY' },
  clusterField('join', 'join', 'string', (c, v) => (c.join = splitList(String(v)))),
  clusterField('bootstrap', 'bootstrap', 'boolean', (c, v) => (c.bootstrap = v === true)),
  clusterField('cluster_name', 'cluster-name', 'string', (c, v) => (c.name = String(v))),
  clusterField('region', 'region', 'string', (c, v) => (c.region = String(v))),
  clusterField('zone', 'zone', 'string', (c, v) => (c.zone = String(v))),
  {
    ...clusterField(
      'capabilities',
      'capabilities',
      'string',
      (c, v) => (c.capabilities = splitList(String(v))),
    ),
    // A TOML array, or a comma-separated string from the environment or a flag.
    list: true,
  },
  clusterField('node_name', 'node-name', 'string', (c, v) => (c.nodeName = String(v))),
  clusterField('p2p_addr', 'p2p-addr', 'string', (c, v) => (c.p2pAddr = String(v))),
  clusterField(
    'p2p_advertise_addr',
    'p2p-advertise-addr',
    'string',
    (c, v) => (c.p2pAdvertiseAddr = String(v)),
  ),
  clusterField('gossip_addr', 'gossip-addr', 'string', (c, v) => (c.gossipAddr = String(v))),
  clusterField(
    'gossip_advertise_addr',
    'gossip-advertise-addr',
    'string',
    (c, v) => (c.gossipAdvertiseAddr = String(v)),
  ),
  clusterField(
    'gossip_profile',
    'gossip-profile',
    'string',
    (c, v) => (c.gossipProfile = String(v) as ClusterConfig['gossipProfile']),
  ),
  clusterField('raft_tick_ms', 'raft-tick-ms', 'integer', (c, v) => (c.raftTickMs = Number(v))),
  clusterField('replica_grace_ms', 'replica-grace-ms', 'integer', (c, v) => (c.replicaGraceMs = Number(v))),
  clusterField(
    'max_incoming_moves',
    'max-incoming-moves',
    'integer',
    (c, v) => (c.maxIncomingMoves = Number(v)),
  ),
  clusterField(
    'max_outgoing_moves',
    'max-outgoing-moves',
    'integer',
    (c, v) => (c.maxOutgoingMoves = Number(v)),
  ),
  clusterField('auto_rebalance', 'auto-rebalance', 'boolean', (c, v) => (c.autoRebalance = Boolean(v))),
  clusterField(
    'anti_entropy_interval_ms',
    'anti-entropy-interval-ms',
    'integer',
    (c, v) => (c.antiEntropyIntervalMs = Number(v)),
  ),
  clusterField(
    'snapshot_bandwidth_bytes',
    'snapshot-bandwidth-bytes',
    'integer',
    (c, v) => (c.snapshotBandwidthBytes = Number(v)),
  ),
]

/** A cluster field: TOML key `x`, environment variable `SHOAL_X`, flag `--x`. */
function clusterField(
  toml: string,
  flag: string,
  kind: Kind,
  set: (cluster: ClusterConfig, value: string | boolean | number) => void,
): Field {
  return { toml, env: `SHOAL_${toml.toUpperCase()}`, flag, kind, set: (c, v) => set(c.cluster, v) }
}

/** A region link field: TOML key `region_x`, environment variable `SHOAL_REGION_X`, flag `--region-x`. */
function regionField(
  toml: string,
  kind: Kind | 'list',
  set: (region: RegionConfig, value: string | boolean | number | string[]) => void,
): Field {
  return {
    toml,
    env: `SHOAL_${toml.toUpperCase()}`,
    flag: toml.replaceAll('_', '-'),
    kind: kind === 'list' ? 'string' : kind,
    // A list is a TOML array, or a comma-separated string from the environment or a flag.
    set: (c, v) => set(c.regionLink, kind === 'list' ? splitList(String(v)) : v),
    ...(kind === 'list' ? { list: true } : {}),
  }
}

/** A standby field: TOML key `x_y`, environment variable `SHOAL_X_Y`, flag `--x-y`. */
function standbyField(
  toml: string,
  kind: Kind,
  set: (standby: StandbyConfig, value: string | boolean | number) => void,
): Field {
  return {
    toml,
    env: `SHOAL_${toml.toUpperCase()}`,
    flag: toml.replaceAll('_', '-'),
    kind,
    set: (c, v) => set(c.standby, v),
  }
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
}

export interface ConfigSources {
  /** Parsed TOML table (see `readTomlConfig`). */
  file?: Record<string, unknown>
  env?: Record<string, string | undefined>
  /** Flags as parsed by `node:util` `parseArgs` (names without `--`; `label` may repeat). */
  flags?: Record<string, string | boolean | string[] | undefined>
}

export async function readTomlConfig(filePath: string): Promise<Record<string, unknown>> {
  const text = await readFile(filePath, 'utf8').catch((error: unknown) => {
    throw new ConfigError(`cannot read config file ${filePath}: ${(error as Error).message}`)
  })
  try {
    return parseToml(text) as Record<string, unknown>
  } catch (error) {
    throw new ConfigError(`config file ${filePath} is not valid TOML: ${(error as Error).message}`)
  }
}

/** Merges the sources in precedence order and validates the result. */
export function resolveConfig(sources: ConfigSources): ServerConfig {
  const config: ServerConfig = {
    ...DEFAULT_CONFIG,
    rateLimit: { ...DEFAULT_CONFIG.rateLimit },
    cluster: { ...DEFAULT_CONFIG.cluster, join: [], labels: {}, capabilities: [...DEFAULT_CAPABILITIES] },
    standby: { ...DEFAULT_CONFIG.standby },
    regionLink: { ...DEFAULT_CONFIG.regionLink, seeds: [], indexes: [] },
  }
  const given = new Set<string>()
  // The cluster key is a secret: it may come from the environment, never from a file that may be shared.
  const known = new Set(
    FIELDS.filter((f) => f.toml !== 'cluster_key' && f.toml !== 'region_key').map((f) => f.toml),
  )
  known.add('labels')
  for (const key of Object.keys(sources.file ?? {})) {
    if (!known.has(key)) throw new ConfigError(`unknown key \`${key}\` in the config file`)
  }
  let burstGiven = false
  for (const field of FIELDS) {
    const fromFile = sources.file?.[field.toml]
    const fromEnv = sources.env?.[field.env]
    const flagValue = field.flag === '' ? undefined : sources.flags?.[field.flag]
    const fromFlag = Array.isArray(flagValue) ? flagValue.at(-1) : flagValue
    for (const [origin, raw] of [
      [`config file key ${field.toml}`, fromFile],
      [`environment variable ${field.env}`, fromEnv],
      [`flag --${field.flag}`, fromFlag],
    ] as const) {
      if (raw === undefined || raw === '') continue
      field.set(config, coerce(field.list === true ? joinList(raw, origin) : raw, field.kind, origin))
      given.add(field.toml)
      if (field.flag === 'rate-limit-burst') burstGiven = true
    }
  }
  config.cluster.labels = resolveLabels(sources)
  if (!burstGiven) config.rateLimit.burst = config.rateLimit.requestsPerSecond * 2
  validate(config)
  validateCluster(config.cluster)
  validateStandby(config, given, (toml) => FIELDS.find((f) => f.toml === toml)?.flag ?? toml)
  config.regionLink.enabled = validateRegionConfig(config.regionLink, {
    cluster: config.cluster.enabled,
    standby: config.standby.mode !== 'off' || config.standby.of !== undefined,
  })
  return config
}

const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/

/** The node labels of every source, later ones overriding a key of earlier ones. */
function resolveLabels(sources: ConfigSources): Record<string, string> {
  const labels: Record<string, string> = {}
  const put = (key: string, value: unknown, origin: string) => {
    if (!LABEL_KEY.test(key))
      throw new ConfigError(
        `${origin}: label name \`${key}\` must be letters, digits, '_', '.', '-' (at most 63)`,
      )
    if (key === 'region' || key === 'zone')
      throw new ConfigError(`${origin}: \`${key}\` is set with --${key}, not as a label`)
    if (typeof value !== 'string' || value === '' || value.length > 256)
      throw new ConfigError(`${origin}: label \`${key}\` needs a value of 1 to 256 characters`)
    labels[key] = value
  }
  const pair = (text: string, origin: string) => {
    const at = text.indexOf('=')
    if (at <= 0) throw new ConfigError(`${origin}: expected key=value, got \`${text}\``)
    put(text.slice(0, at).trim(), text.slice(at + 1).trim(), origin)
  }
  const file = sources.file?.labels
  if (file !== undefined) {
    if (typeof file !== 'object' || file === null || Array.isArray(file))
      throw new ConfigError(
        'config file key labels: expected a table of label values, like labels = { disk = "ssd" }',
      )
    for (const [key, value] of Object.entries(file)) put(key, value, 'config file key labels')
  }
  const env = sources.env?.SHOAL_LABELS
  if (env !== undefined && env !== '')
    for (const text of splitList(env)) pair(text, 'environment variable SHOAL_LABELS')
  const flag = sources.flags?.label
  if (flag !== undefined && typeof flag !== 'boolean')
    for (const text of Array.isArray(flag) ? flag : [flag]) pair(text, 'flag --label')
  return labels
}

function joinList(raw: unknown, origin: string): unknown {
  if (!Array.isArray(raw)) return raw
  if (!raw.every((item) => typeof item === 'string' && !item.includes(',')))
    throw new ConfigError(`${origin}: expected an array of strings`)
  return raw.join(',')
}

function coerce(raw: unknown, kind: Kind, origin: string): string | boolean | number {
  if (kind === 'boolean') {
    if (typeof raw === 'boolean') return raw
    if (raw === 'true' || raw === '1') return true
    if (raw === 'false' || raw === '0') return false
    throw new ConfigError(`${origin}: expected true or false, got ${String(raw)}`)
  }
  if (kind === 'integer') {
    const value = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw) : Number.NaN
    if (!Number.isInteger(value) || value < 0) {
      throw new ConfigError(`${origin}: expected a non-negative integer, got ${String(raw)}`)
    }
    return value
  }
  if (typeof raw !== 'string') throw new ConfigError(`${origin}: expected a string, got ${String(raw)}`)
  return raw
}

export interface ListenAddress {
  host: string
  port: number
}

export function parseHttpAddr(addr: string): ListenAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(addr)
  const port = Number(match?.[3])
  if (match === null || port > 65535) {
    throw new ConfigError(`http address \`${addr}\` is not host:port (IPv6 as [addr]:port)`)
  }
  return { host: match[1] ?? match[2] ?? '', port }
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}

function validate(config: ServerConfig): void {
  const { host } = parseHttpAddr(config.httpAddr)
  if (config.masterKeyFile !== undefined) {
    if (config.masterKey !== undefined)
      throw new ConfigError('give the master key once: --master-key or --master-key-file, not both')
    config.masterKey = readMasterKeyFile(config.masterKeyFile)
  }
  if (config.masterKeyAcceptFile !== undefined && config.masterKey === undefined)
    throw new ConfigError('--master-key-accept-file needs a master key (--master-key or --master-key-file)')
  if (config.masterKey !== undefined && Buffer.byteLength(config.masterKey) < 16) {
    throw new ConfigError('the master key must be at least 16 bytes long')
  }
  if (config.masterKey === undefined && !isLoopback(host) && !config.allowInsecure) {
    throw new ConfigError(
      `refusing to listen on ${config.httpAddr} without a master key: anyone who can reach it could read and ` +
        'change every index. Set --master-key (or SHOAL_MASTER_KEY), bind to 127.0.0.1, or pass --allow-insecure.',
    )
  }
  if (config.sync !== 'always' && config.sync !== 'none')
    throw new ConfigError('sync must be `always` or `none`')
  if (config.defaultMatchingStrategy !== 'last' && config.defaultMatchingStrategy !== 'any')
    throw new ConfigError('default_matching_strategy must be `last` or `any`')
  if (config.payloadLimitBytes < 1) throw new ConfigError('payload_limit_bytes must be at least 1')
  if (config.embedderTimeoutMs < 1 || config.embedderTimeoutMs > 600_000)
    throw new ConfigError(`embedder_timeout_ms must be 1 to 600000, got ${config.embedderTimeoutMs}`)
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']
  if (!levels.includes(config.logLevel))
    throw new ConfigError(`log level must be one of ${levels.join(', ')}`)
}

function validateCluster(cluster: ClusterConfig): void {
  const keyGiven = cluster.keyFile !== undefined || cluster.key !== undefined
  if (cluster.keyFile !== undefined && cluster.key !== undefined)
    throw new ConfigError('give the cluster key once: --cluster-key-file or SHOAL_CLUSTER_KEY, not both')
  if (cluster.keyAcceptFile !== undefined && !keyGiven)
    throw new ConfigError(
      '--cluster-key-accept-file needs the cluster key: --cluster-key-file F or SHOAL_CLUSTER_KEY',
    )
  const clusterOnly: Array<[boolean, string]> = [
    [cluster.join.length > 0, '--join'],
    [cluster.bootstrap, '--bootstrap'],
  ]
  for (const [given, name] of clusterOnly) {
    if (given && !keyGiven)
      throw new ConfigError(`${name} needs the cluster key: --cluster-key-file F or SHOAL_CLUSTER_KEY`)
  }
  try {
    cluster.capabilities = parseCapabilities(cluster.capabilities)
  } catch (error) {
    if (error instanceof ClusterConfigError) throw new ConfigError(`node capabilities: ${error.message}`)
    throw error
  }
  if (!['lan', 'wan', 'local'].includes(cluster.gossipProfile))
    throw new ConfigError(`gossip profile must be lan, wan or local, got \`${cluster.gossipProfile}\``)
  if (cluster.raftTickMs < 10 || cluster.raftTickMs > 10_000)
    throw new ConfigError(`raft tick must be 10 to 10000 ms, got ${cluster.raftTickMs}`)
  if (cluster.replicaGraceMs < 0 || cluster.replicaGraceMs > 7 * 24 * 3600_000)
    throw new ConfigError(`replica grace must be 0 to 604800000 ms, got ${cluster.replicaGraceMs}`)
  for (const [name, value] of [
    ['max incoming moves', cluster.maxIncomingMoves],
    ['max outgoing moves', cluster.maxOutgoingMoves],
  ] as const)
    if (value < 1 || value > 64) throw new ConfigError(`${name} must be 1 to 64, got ${value}`)
  const antiEntropy = cluster.antiEntropyIntervalMs
  if (antiEntropy !== 0 && (antiEntropy < 1000 || antiEntropy > 7 * 86_400_000))
    throw new ConfigError(`anti-entropy interval must be 0 (off) or 1000 ms to 7 days, got ${antiEntropy}`)
  // Below 64 KiB/s a 1 GiB shard would take over four hours to move: surely a typo for a larger figure.
  if (cluster.snapshotBandwidthBytes !== 0 && cluster.snapshotBandwidthBytes < 65_536)
    throw new ConfigError(
      `snapshot bandwidth must be 0 (unlimited) or at least 65536 bytes/s, got ${cluster.snapshotBandwidthBytes}`,
    )
  cluster.enabled = keyGiven
  if (!cluster.enabled) return
  for (const [name, value] of [
    ['p2p address', cluster.p2pAddr],
    ['gossip address', cluster.gossipAddr],
    ['p2p advertise address', cluster.p2pAdvertiseAddr],
    ['gossip advertise address', cluster.gossipAdvertiseAddr],
    ...cluster.join.map((seed) => ['join address', seed] as const),
  ] as const) {
    if (value !== undefined) parseAddr(name, value)
  }
}

function parseAddr(what: string, addr: string): ListenAddress {
  try {
    return parseHttpAddr(addr)
  } catch {
    throw new ConfigError(`${what} \`${addr}\` is not host:port`)
  }
}
