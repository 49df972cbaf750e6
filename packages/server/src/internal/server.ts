import { mkdir, readFile } from 'node:fs/promises'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { hostname } from 'node:os'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { type DestinationStream, type Logger, pino } from 'pino'
import { KeyStore } from './api-keys.ts'
import { buildApp } from './app.ts'
import type { BackupPaths } from './backups.ts'
import { clusterKeys } from './cluster/cluster-keys.ts'
import type { ClusterRegionLink } from './cluster/cluster-region-link.ts'
import type { ClusterRuntime } from './cluster/runtime.ts'
import { parseHttpAddr, type ServerConfig } from './config.ts'
import { DocumentParser } from './document-parser.ts'
import { taskSeconds } from './duration-metrics.ts'
import { EmbedderClient, type EmbedderClientOptions } from './embedder-client.ts'
import { withEmbedders } from './embedding-engine.ts'
import { errorLink } from './errors.ts'
import { type LocalEngine, ServerMetrics } from './metrics.ts'
import type { RegionRuntime } from './regions/region-runtime.ts'
import type { Services } from './route-spec.ts'
import { readAcceptFile } from './secrets.ts'
import type { StandbyRuntime } from './standby/standby-runtime.ts'
import { stopStep } from './stop-step.ts'
import { TaskQueue } from './task-queue.ts'
import { WebhookDispatcher, WebhookStore } from './webhooks.ts'

export interface ShoalServer {
  /** `http://host:port` the server listens on (the real port when 0 was asked). */
  readonly url: string
  readonly host: string
  readonly port: number
  readonly app: FastifyInstance<Server, IncomingMessage, ServerResponse, Logger>
  /** This node's own task queue (in a cluster, the routes use the cluster's task list instead). */
  readonly queue: TaskQueue
  /** This node's own engine (in a cluster, the routes use the sharded indexes instead). */
  readonly engine: LocalEngine
  /** What the routes use: the local queue and engine, or the cluster's once attached. */
  readonly services: Services
  readonly logger: Logger
  readonly metrics: ServerMetrics
  /** The cluster member, when this node runs in a cluster. */
  readonly cluster: ClusterRuntime | undefined
  /**
   * Hands the started cluster member to the HTTP routes (`close()` stops it first) and keeps the
   * API keys in the cluster's metadata (resolves once they are, or once a first try failed).
   */
  attachCluster(runtime: ClusterRuntime): Promise<void>
  /** The hot standby link of a primary or standby (docs/standby.md), once started. */
  readonly standby: StandbyRuntime | undefined
  /** Hands the started standby link to the HTTP routes; `close()` stops it first. */
  attachStandby(runtime: StandbyRuntime): void
  /** The link to other regions (docs/multi-region.md), once started. */
  readonly regions: RegionRuntime | ClusterRegionLink | undefined
  /** Hands the started region link to the HTTP routes; `close()` stops it before the engine. */
  attachRegions(runtime: RegionRuntime | ClusterRegionLink): void
  /**
   * While a token is set, only requests carrying it in `x-shoal-conversion` are served; others
   * get 503 (a standalone data folder being carried into the cluster). Null lifts it.
   */
  restrictTo(token: string | null): void
  /**
   * Graceful stop: no new connections or tasks, in-flight requests and the
   * running task batch finish, queued tasks stay durable, then the task log
   * and the engine close.
   */
  close(): Promise<void>
}

export interface CreateServerOptions {
  config: ServerConfig
  /** The opened database; the server closes it on `close()`. */
  engine: LocalEngine
  logger?: Logger
  /** See `TaskQueueOptions.beforeTasksFinish` (a primary with a hot standby). */
  beforeTasksFinish?: () => Promise<void>
  /** Answer 503 to every request until `attachStandby` (a primary or standby still starting). */
  standbyStarting?: boolean
  /** How `rest` embedders are called; `timeoutMs` defaults to the config's `embedderTimeoutMs`. */
  embedder?: Partial<EmbedderClientOptions>
}

/** Layout of the data folder: `engine/` (the engine's own files), `tasks/`, `keys.json`. */
export function dataPaths(dataDir: string) {
  return {
    engine: path.join(dataDir, 'engine'),
    tasks: path.join(dataDir, 'tasks'),
    keys: path.join(dataDir, 'keys.json'),
    webhooks: path.join(dataDir, 'webhooks.json'),
  }
}

/** Where dump and snapshot tasks write (the configured folders, else under the data folder). */
export function backupPaths(config: ServerConfig): BackupPaths {
  return {
    dumpDir: config.dumpDir ?? path.join(config.dataDir, 'dumps'),
    snapshotDir: config.snapshotDir ?? path.join(config.dataDir, 'snapshots'),
    backupDir: config.backupDir ?? path.join(config.dataDir, 'backups'),
    keysFile: dataPaths(config.dataDir).keys,
  }
}

export async function packageVersion(): Promise<string> {
  const manifest = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  return manifest.version
}

/**
 * The process's logger: JSON lines, each carrying `service` and `node` (the node's name:
 * `--node-name`, else the host name). Cluster components add `nodeId` and their `component`.
 */
export function createLogger(
  level: string,
  node: string = hostname(),
  destination?: DestinationStream,
): Logger {
  const options = {
    level,
    base: { service: 'shoal', node },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  }
  return destination === undefined ? pino(options) : pino(options, destination)
}

/**
 * Secrets a log line must never carry, wherever a component puts them: credentials in request
 * headers, and embedder `apiKey`s in settings, tasks or errors (one to three levels down).
 */
const REDACTED_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  'apiKey',
  '*.apiKey',
  '*.*.apiKey',
  '*.*.*.apiKey',
]

/** The name a node goes by in logs and in the cluster: `--node-name`, else the host name. */
export function nodeNameOf(config: ServerConfig): string {
  return config.cluster.nodeName ?? hostname()
}

/** Opens the task queue and keys in the data folder and starts listening. */
export async function createServer(options: CreateServerOptions): Promise<ShoalServer> {
  const { config, engine } = options
  // Tasks and routes reach the engine through the embedder service; close() and metrics do not.
  const embedding = withEmbedders(
    engine,
    new EmbedderClient({ timeoutMs: config.embedderTimeoutMs, ...options.embedder }),
  )
  const logger = options.logger ?? createLogger(config.logLevel, nodeNameOf(config))
  const paths = dataPaths(config.dataDir)
  await mkdir(paths.tasks, { recursive: true })
  const keys = await KeyStore.open(paths.keys, config.masterKey)
  if (config.masterKeyAcceptFile !== undefined)
    keys.setMasterKeys(config.masterKey, readAcceptFile(config.masterKeyAcceptFile, 'master key accept'))
  const webhooks = await WebhookStore.open(paths.webhooks)
  const dispatcher = new WebhookDispatcher(webhooks, (url, reason) =>
    logger.warn({ webhook: url, reason }, 'webhook delivery given up after retries'),
  )
  let metrics: ServerMetrics | undefined
  const backups = backupPaths(config)
  const version = await packageVersion()
  backups.version = version
  const queue = await TaskQueue.open(paths.tasks, embedding, {
    sync: config.sync === 'always',
    backups,
    ...(options.beforeTasksFinish !== undefined ? { beforeTasksFinish: options.beforeTasksFinish } : {}),
    onFsync: (seconds) => metrics?.taskLogFsyncSeconds.observe(seconds),
    onTaskFinished: (task) => {
      metrics?.tasksFinished.inc({ type: task.type, status: task.status })
      const seconds = taskSeconds(task)
      if (seconds !== null && metrics !== undefined) {
        metrics.durations.taskSeconds.observe({ type: task.type, status: task.status }, seconds)
        if (task.type === 'backupCreation')
          metrics.durations.backupSeconds.observe({ mode: 'standalone', status: task.status }, seconds)
      }
      logger.debug(
        {
          task: task.uid,
          index: task.indexUid,
          type: task.type,
          status: task.status,
          duration: task.duration,
        },
        'task finished',
      )
    },
    onBatchFinished: (tasks) => dispatcher.batchFinished(tasks),
    onInternalError: (error, task) =>
      logger.error({ err: error, task: task.uid }, 'task failed with an internal error'),
  })
  backups.taskHistory = () => queue.history()
  metrics = new ServerMetrics(engine, () => queue.depth())
  const documents = new DocumentParser()
  const services: Services = {
    engine: embedding,
    queue,
    keys,
    metrics,
    config,
    documents,
    webhooks,
    version,
  }
  const app = buildApp(services, logger)
  // A cluster node answers nothing but 503 until its cluster is attached: until then its engine
  // and task queue are the standalone ones, and a write taken there would never reach the cluster.
  let joining = config.cluster.enabled || options.standbyStarting === true
  let restriction: string | null = null
  app.addHook('onRequest', async (request, reply) => {
    if (restriction !== null && !joining && request.headers['x-shoal-conversion'] !== restriction) {
      await reply.code(503).send({
        message: 'This node is carrying its standalone data into the cluster: it serves once that is done.',
        code: 'cluster_unavailable',
        type: 'system',
        link: errorLink('cluster_unavailable'),
      })
      return reply
    }
    if (!joining) return
    await reply.code(503).send({
      message: config.cluster.enabled
        ? 'This node is starting: it serves once it has rejoined its cluster.'
        : 'This node is starting: it serves once its hot standby link is up.',
      code: 'cluster_unavailable',
      type: 'system',
      link: errorLink('cluster_unavailable'),
    })
    return reply
  })
  const { host, port } = parseHttpAddr(config.httpAddr)
  await app.listen({ host, port })
  const address = app.server.address()
  const boundPort = typeof address === 'object' && address !== null ? address.port : port
  queue.start()
  const urlHost = host.includes(':') ? `[${host}]` : host
  let closing: Promise<void> | null = null
  return {
    url: `http://${urlHost}:${boundPort}`,
    host,
    port: boundPort,
    app,
    queue,
    engine,
    services,
    logger,
    metrics,
    get cluster() {
      return services.cluster
    },
    get standby() {
      return services.standby
    },
    get regions() {
      return services.regions
    },
    attachRegions(runtime) {
      services.regions = runtime
    },
    attachStandby(runtime) {
      services.standby = runtime
      joining = false
    },
    restrictTo(token) {
      restriction = token
    },
    async attachCluster(runtime) {
      services.cluster = runtime
      // Indexes, documents, tasks and API keys now live in the cluster.
      services.engine = runtime.engine
      services.queue = runtime.tasks
      services.webhooks = runtime.webhooks
      // A node that just joined may not read the metadata yet: it tries for up to 30 s before it
      // serves (answering 503 meanwhile). Without a metadata majority it then starts on its own keys and shares them as
      // soon as it can (retrying every 5 s in the background).
      let warned = false
      const share = async (): Promise<boolean> => {
        try {
          await keys.share(clusterKeys(runtime.node))
          return true
        } catch (error) {
          if (!warned) logger.warn({ err: error }, 'API keys not shared with the cluster yet; retrying')
          warned = true
          return false
        }
      }
      const deadline = Date.now() + 30_000
      let shared = await share()
      while (!shared && Date.now() < deadline && closing === null) {
        await new Promise((resolve) => setTimeout(resolve, 500))
        shared = await share()
      }
      joining = false
      if (shared || closing !== null) return
      let trying = false
      const retry = setInterval(() => {
        if (closing !== null) clearInterval(retry)
        if (closing !== null || trying) return
        trying = true
        void share().then((done) => {
          trying = false
          if (done) clearInterval(retry)
        })
      }, 5_000)
      retry.unref()
    },
    close() {
      // Each part that takes long to stop is logged (stop-step.ts); a failure still ends the close.
      const step = (component: string, stop: () => Promise<void>) => stopStep(component, stop, logger, false)
      closing ??= (async () => {
        // A cluster region's link reads the shards: it stops before them.
        await step('cluster regions', async () => {
          if (services.cluster !== undefined) await services.regions?.stop()
        })
        await step('cluster', async () => services.cluster?.stop())
        await step('http', () => app.close())
        await step('document parsing', () => documents.stop())
        // The queue stops taking batches first, so that a batch waiting for the standby is left
        // to run again after a restart, not reported failed, when the link stops.
        const queueClosed = queue.close()
        await step('standby', async () => services.standby?.stop())
        await step('task queue', () => queueClosed)
        await step('regions', async () => services.regions?.stop())
        await step('webhooks', () => dispatcher.close())
        await step('engine', () => engine.close())
      })()
      return closing
    },
  }
}
