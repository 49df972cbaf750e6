import { randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { readSnapshot } from './backups.ts'
import { restoreFrom } from './cli-dump.ts'
import { ClusterRegionLink } from './cluster/cluster-region-link.ts'
import { startCluster } from './cluster/runtime.ts'
import { readTomlConfig, resolveConfig, type ServerConfig } from './config.ts'
import { lockDataDir } from './data-dir-lock.ts'
import type { EnginePort } from './engine-port.ts'
import { ConfigError } from './errors.ts'
import { NodeClient } from './http-client.ts'
import type { LocalEngine } from './metrics.ts'
import { regionAwareEngine } from './regions/region-engine.ts'
import type { RegionEngine } from './regions/region-feed.ts'
import { RegionRuntime } from './regions/region-runtime.ts'
import { reloadSecrets } from './routes-secrets.ts'
import {
  createLogger,
  createServer,
  dataPaths,
  nodeNameOf,
  packageVersion,
  type ShoalServer,
} from './server.ts'
import { convertStandalone, refuseClusterDataDir } from './standalone-conversion.ts'
import type { StandbyEngine, StandbyRuntime } from './standby/standby-runtime.ts'
import { checkPlainStart, startStandby } from './standby/standby-start.ts'
import { writeFileDurably } from './task-log.ts'

export type OpenEngine = (
  directory: string,
  options: {
    sync: 'always' | 'none'
    snapshotEvery: number
    walSegmentBytes: number
    onEvent: (event: { type: string; seconds?: number; lastIndex?: number }) => void
  },
) => Promise<LocalEngine>

export const SAMPLE_INDEX = 'packages'
export const SAMPLE_FILE = fileURLToPath(new URL('../../data/sample-packages.json', import.meta.url))

export async function configFromCli(
  flags: Record<string, string | boolean | string[] | undefined>,
  env: Record<string, string | undefined>,
): Promise<ServerConfig> {
  const configFile = (flags.config as string | undefined) ?? env.SHOAL_CONFIG
  const file = configFile === undefined ? undefined : await readTomlConfig(configFile)
  const {
    config: _config,
    'load-sample': _sample,
    'import-dump': _dump,
    'import-snapshot': _snapshot,
    help: _help,
    ...rest
  } = flags
  return resolveConfig({ ...(file !== undefined ? { file } : {}), env, flags: rest })
}

/**
 * `shoal start`: opens the engine in `<data-dir>/engine`, serves the API,
 * prints where, and stops gracefully on SIGTERM/SIGINT (a second signal
 * exits at once).
 */
export async function startNode(
  config: ServerConfig,
  openEngine: OpenEngine,
  options: {
    loadSample: boolean
    out: (text: string) => void
    /** A dump (`POST /dumps`, `shoal dump`) to load into the empty node once it serves. */
    importDump?: string
    /** A snapshot (`POST /snapshots`) to install into the empty data folder before it serves. */
    importSnapshot?: string
    /** `shoal cluster init --from-standalone`: bootstrap, then carry the standalone data over. */
    fromStandalone?: { shardCount?: number }
  },
): Promise<ShoalServer> {
  if (options.importDump !== undefined && options.importSnapshot !== undefined) {
    throw new ConfigError('give --import-dump or --import-snapshot, not both')
  }
  if (config.cluster.enabled && options.importDump !== undefined) {
    // The dump would go into this node's local engine, which a cluster node does not serve.
    throw new ConfigError(
      '--import-dump loads a standalone node; load a dump into a running cluster with `shoal restore FILE --url`',
    )
  }
  if (options.fromStandalone !== undefined) await refuseClusterDataDir(config.dataDir)
  const logger = createLogger(config.logLevel, nodeNameOf(config))
  const unlock = await lockDataDir(config.dataDir)
  const withStandby = config.standby.mode !== 'off' || config.standby.of !== undefined
  if (withStandby && (options.importDump !== undefined || options.importSnapshot !== undefined)) {
    await unlock()
    throw new ConfigError(
      'import into a plain node, then start it with --standby-mode (a standby takes only its primary’s data)',
    )
  }
  if (!withStandby) {
    try {
      await checkPlainStart(config.dataDir)
    } catch (error) {
      await unlock()
      throw error
    }
  }
  // The metrics exist once the server does; syncs before that (recovery) are not timed.
  let observeLogSync: ((seconds: number) => void) | undefined
  let observeSnapshot: ((seconds: number) => void) | undefined
  let standby: StandbyRuntime | undefined
  let standbyStarted: (runtime: StandbyRuntime) => void = () => {}
  const standbyReady = new Promise<StandbyRuntime>((resolve) => {
    standbyStarted = resolve
  })
  const engine = await openEngine(dataPaths(config.dataDir).engine, {
    sync: config.sync,
    snapshotEvery: config.engineSnapshotEvery,
    walSegmentBytes: config.engineWalSegmentBytes,
    onEvent: (event) => {
      if (event.type === 'log-synced') {
        observeLogSync?.(event.seconds ?? 0)
        if (event.lastIndex !== undefined) standby?.logAppended(event.lastIndex)
      } else {
        if (event.type === 'snapshot-written') observeSnapshot?.(event.seconds ?? 0)
        logger.info({ engineEvent: event }, `engine: ${event.type}`)
      }
    },
  })
  if (options.importSnapshot !== undefined) {
    try {
      await installSnapshotFile(engine, options.importSnapshot, dataPaths(config.dataDir).keys)
    } catch (error) {
      await engine.close().catch(() => {})
      await unlock()
      throw error
    }
    options.out(`Installed snapshot ${options.importSnapshot}\n`)
  }
  let regions: RegionRuntime | undefined
  let clusterRegions: ClusterRegionLink | undefined
  const server = await createServer({
    config,
    engine:
      config.regionLink.enabled && !config.cluster.enabled
        ? regionAwareEngine(engine, () => regions)
        : engine,
    logger,
    ...(withStandby
      ? {
          standbyStarting: true,
          beforeTasksFinish: async () => (await standbyReady).beforeTasksFinish(),
        }
      : {}),
  })
  if (options.importDump !== undefined) {
    try {
      await importDumpFile(server, config, options.importDump, options.out)
    } catch (error) {
      await server.close().catch(() => {})
      await unlock()
      throw error
    }
  }
  observeLogSync = (seconds) => server.metrics.engineLogFsyncSeconds.observe(seconds)
  observeSnapshot = (seconds) => server.metrics.durations.engineSnapshotSeconds.observe(seconds)
  // A drained node stops once it has left (set below, with the signal handlers).
  let onLeft: () => void = () => {}
  if (config.cluster.enabled) {
    const token = randomUUID()
    if (options.fromStandalone !== undefined) server.restrictTo(token)
    try {
      await server.attachCluster(
        await startCluster({
          config: config.cluster,
          dataDir: config.dataDir,
          httpAddr: `${server.host}:${server.port}`,
          version: await packageVersion(),
          logger,
          registry: server.metrics.registry,
          onLeft: () => onLeft(),
          onRaftFailure: (group, error) => failStop(logger, group, error),
        }),
      )
      if (options.fromStandalone !== undefined) {
        const summary = await convertStandalone(
          server,
          { masterKey: config.masterKey, dataDir: config.dataDir, token, ...options.fromStandalone },
          options.out,
        )
        server.restrictTo(null)
        options.out(
          `Converted the standalone data: ${summary.indexes} index(es), ${summary.documents} document(s), ${summary.tasks} task(s); API keys kept\n`,
        )
      }
    } catch (error) {
      await server.close().catch(() => {})
      await unlock()
      throw error
    }
  }
  if (withStandby) {
    try {
      standby = await startStandby({
        config,
        engine: engine as unknown as StandbyEngine,
        queue: server.queue,
        registry: server.metrics.registry,
        logger,
      })
    } catch (error) {
      await server.close().catch(() => {})
      await unlock()
      throw error
    }
    standbyStarted(standby)
    server.attachStandby(standby)
  }
  if (config.regionLink.enabled && server.cluster !== undefined) {
    try {
      clusterRegions = await ClusterRegionLink.start({
        config,
        cluster: server.cluster,
        registry: server.metrics.registry,
        logger,
      })
    } catch (error) {
      await server.close().catch(() => {})
      await unlock()
      throw error
    }
    server.attachRegions(clusterRegions)
  } else if (config.regionLink.enabled) {
    try {
      regions = await RegionRuntime.start({
        config,
        engine: engine as unknown as RegionEngine,
        registry: server.metrics.registry,
        logger,
      })
    } catch (error) {
      await server.close().catch(() => {})
      await unlock()
      throw error
    }
    server.attachRegions(regions)
  }
  const auth = config.masterKey === undefined ? '' : ` -H 'Authorization: Bearer <master key>'`
  options.out(
    `Shoal ${await packageVersion()} listening on ${server.url}\n` +
      `  data folder: ${config.dataDir}\n` +
      `  master key:  ${config.masterKey === undefined ? 'none (open API, loopback only)' : 'set'}\n` +
      (server.cluster === undefined
        ? ''
        : `  cluster:     ${server.cluster.node.clusterId} as node ${server.cluster.node.nodeId}\n` +
          `  p2p:         ${server.cluster.p2p.multiaddrs().join(' ')}\n` +
          `  gossip:      ${server.cluster.gossip.address}\n`) +
      (standby === undefined
        ? ''
        : `  standby:     ${standby.role} at epoch ${standby.epoch}${config.standby.mode === 'off' ? '' : ` (${config.standby.mode})`}${config.standby.of === undefined ? '' : ` of ${config.standby.of}`}\n` +
          `  p2p:         ${standby.p2p.multiaddrs().join(' ')}\n`) +
      (regions === undefined ? '' : `  region:      ${regions.name} at ${regions.addresses().join(' ')}\n`) +
      (clusterRegions === undefined
        ? ''
        : `  region:      ${clusterRegions.name} at ${clusterRegions.addresses().join(' ')}\n`),
  )
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) process.exit(130)
    stopping = true
    logger.info({ signal }, 'shutting down: finishing in-flight requests and the running task batch')
    server
      .close()
      .then(unlock)
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed')
          process.exit(1)
        },
      )
  }
  onLeft = () => stop('drained')
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  // SIGHUP re-reads the key files, as POST /admin/secrets/reload does (docs/operations/rotate-keys.md).
  process.on('SIGHUP', () => {
    reloadSecrets(server.services).then(
      (status) => logger.info({ secrets: status }, 'key files reloaded'),
      (error: unknown) =>
        logger.error({ err: error }, 'key files not reloaded; the keys in use are unchanged'),
    )
  })
  if (!options.loadSample) {
    options.out(
      `Try it:\n  curl -s '${server.url}/indexes'${auth}\n` +
        `  (start with --load-sample to load ${SAMPLE_INDEX}, a sample of Debian packages)\n`,
    )
    return server
  }
  await loadSample(server, config, options.out)
  options.out(
    `Try it:\n  curl -s '${server.url}/indexes/${SAMPLE_INDEX}/search?q=strategy+game&limit=3'${auth}\n` +
      `  curl -s -X POST '${server.url}/indexes/${SAMPLE_INDEX}/search' -H 'Content-Type: application/json'${auth} \\\n` +
      `       --data '{"q":"web server","filter":"section = httpd","facets":["section"],"limit":3}'\n`,
  )
  return server
}

/** The exit code of a node stopped by a failed Raft group (EX_SOFTWARE, as the KV example's fail-stop). */
export const EXIT_RAFT_FAILURE = 70

/**
 * A Raft group failed: its storage or state machine threw (a failed fsync, a full disk). The
 * page cache may no longer match the disk, and an fsync is never retried, so the node stops at
 * once, acknowledging nothing more; a restart recovers from what is durable.
 */
function failStop(logger: ReturnType<typeof createLogger>, group: string, error: Error): never {
  logger.fatal(
    { group, err: error },
    'a Raft group failed (its storage or state machine threw); stopping so that a restart recovers from what is durable',
  )
  logger.flush()
  process.exit(EXIT_RAFT_FAILURE)
}

/** Refuses a data folder that already holds indexes: an import never merges into data. */
function refuseNonEmpty(engine: EnginePort, what: string): void {
  const existing = engine.listIndexes().map((i) => i.uid)
  if (existing.length > 0) {
    throw new ConfigError(
      `refusing to import ${what}: the data folder already holds ${existing.length} index(es) (${existing.slice(0, 5).join(', ')}); start with an empty --data-dir`,
    )
  }
}

async function installSnapshotFile(engine: EnginePort, file: string, keysFile: string): Promise<void> {
  refuseNonEmpty(engine, 'a snapshot')
  if (engine.installSnapshot === undefined) throw new ConfigError('this engine cannot install snapshots')
  const { keysJson, engineFrame } = await readSnapshot(file)
  JSON.parse(keysJson.toString('utf8'))
  await engine.installSnapshot(
    (async function* () {
      yield engineFrame
    })(),
  )
  await writeFileDurably(keysFile, keysJson)
}

async function importDumpFile(
  server: ShoalServer,
  config: ServerConfig,
  file: string,
  out: (text: string) => void,
): Promise<void> {
  refuseNonEmpty(server.engine, 'a dump')
  const result = await restoreFrom(new NodeClient(server.url, config.masterKey), file, out, 'standalone')
  if (result.failed.length > 0) throw new Error(`importing ${file} failed:\n  ${result.failed.join('\n  ')}`)
  out(`Imported ${result.indexes} index(es) and ${result.documents} document(s) from ${file}\n`)
}

async function loadSample(
  server: ShoalServer,
  config: ServerConfig,
  out: (text: string) => void,
): Promise<void> {
  const client = new NodeClient(server.url, config.masterKey)
  const docs = JSON.parse(await readFile(SAMPLE_FILE, 'utf8')) as unknown[]
  const existing = (await server.engine.stats()).indexes[SAMPLE_INDEX]?.numberOfDocuments ?? 0
  if (existing >= docs.length) {
    out(`Index \`${SAMPLE_INDEX}\` already holds the sample (${existing} documents).\n`)
    return
  }
  const settings = {
    searchableAttributes: ['package', 'summary', 'description'],
    filterableAttributes: ['section'],
    sortableAttributes: ['package'],
  }
  const uids = [
    (await client.request<{ taskUid: number }>('PATCH', `/indexes/${SAMPLE_INDEX}/settings`, settings))
      .taskUid,
    (
      await client.request<{ taskUid: number }>(
        'POST',
        `/indexes/${SAMPLE_INDEX}/documents?primaryKey=id`,
        docs,
      )
    ).taskUid,
  ]
  const tasks = await client.waitForTasks(uids, 50)
  const failed = [...tasks.values()].find((t) => t.status !== 'succeeded')
  if (failed !== undefined)
    throw new Error(`loading the sample failed: ${failed.error?.code}: ${failed.error?.message}`)
  out(
    `Loaded ${docs.length} Debian packages into index \`${SAMPLE_INDEX}\` (filterable: section; sortable: package).\n`,
  )
}
