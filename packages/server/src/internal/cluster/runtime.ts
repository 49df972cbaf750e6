import { mkdir } from 'node:fs/promises'
import { hostname } from 'node:os'
import path from 'node:path'
import {
  type ClusterLogger,
  ClusterNode,
  type ClusterTransport,
  FileIdentityStore,
  type NodeAdvert,
  NotDeliveredError,
  type RaftFrame,
  type RpcResponse,
  ShardHosting,
} from '@shoal/cluster'
import {
  LAN,
  LOCAL,
  type Message,
  SwimNode,
  type Transport,
  type TransportStats,
  UdpTransport,
  WAN,
} from '@shoal/swim'
import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import { type ClusterConfig, parseHttpAddr } from '../config.ts'
import { type DurationMetrics, durationMetrics, taskSeconds } from '../duration-metrics.ts'
import { P2PFrameTooLargeError, P2PNode, P2PUnreachableError } from '../p2p/index.ts'
import { stopStep } from '../stop-step.ts'
import { WebhookDispatcher } from '../webhooks.ts'
import { AntiEntropy } from './anti-entropy.ts'
import { failInterruptedTasks } from './cluster-backup.ts'
import { ClusterEngine } from './cluster-engine.ts'
import { type ClusterKeySet, clusterKeyFingerprints, deriveKey, readClusterKeys } from './cluster-key.ts'
import { ClusterMetrics } from './cluster-metrics.ts'
import { ClusterOperations } from './cluster-operations.ts'
import { ClusterTaskQueue, TaskScheduler } from './cluster-tasks.ts'
import { ClusterWebhookStore } from './cluster-webhooks.ts'
import { metadataAt } from './metadata-commit.ts'
import { MetadataReadGate } from './metadata-read-gate.ts'
import { engineShardFactory } from './shard-machine.ts'
import { registerShardMetrics } from './shard-metrics.ts'
import { type ShardsRequest, serveShards } from './shard-rpc.ts'
import { SnapshotThrottle } from './snapshot-throttle.ts'
import { timeSnapshotSends } from './snapshot-timing.ts'
import { isRaftFrame, isRpcRequest, isSnapshotHeader, type SnapshotHeader } from './wire-validate.ts'

/** A running cluster member: the libp2p node, SWIM over UDP and the control plane. */
export interface ClusterRuntime {
  readonly node: ClusterNode
  readonly swim: SwimNode
  readonly p2p: P2PNode
  readonly gossip: Transport
  readonly metrics: ClusterMetrics
  /** Histograms of backups, tasks and snapshot transfers (shared with the server's registry). */
  readonly durations: DurationMetrics
  /** Indexes spread over shard replicas (the routes' engine on a cluster node). */
  readonly engine: ClusterEngine
  /** The cluster-wide task list (the routes' task queue on a cluster node). */
  readonly tasks: ClusterTaskQueue
  /** The cluster's webhooks (in the metadata); the metadata leader delivers them. */
  readonly webhooks: ClusterWebhookStore
  /** This node's shard replicas. */
  readonly hosting: ShardHosting
  /** Merkle comparison and repair of shard replicas (docs/anti-entropy.md). */
  readonly antiEntropy: AntiEntropy
  /** Holds reads of the metadata after a start until this copy is as new as before (metadata-read-gate.ts). */
  readonly metadataGate: MetadataReadGate
  /** The cluster keys in use, as fingerprints. */
  clusterKeys(): { sending: string; accepted: string[] }
  /**
   * Sends with `keys.sending` and accepts every key of the set, on libp2p and
   * gossip, from now on; open connections stay. A live key rotation's step.
   */
  setClusterKeys(keys: ClusterKeySet): void
  stop(): Promise<void>
}

export interface StartClusterOptions {
  readonly config: ClusterConfig
  readonly dataDir: string
  /** Where this node's HTTP API is reached, `host:port`. */
  readonly httpAddr: string
  readonly version: string
  readonly logger: Logger
  readonly registry: Registry
  /** Called once when this node has been drained and left the cluster (the process should stop). */
  readonly onLeft?: () => void
  /** Called when one of this node's Raft groups failed (see `ClusterNodeOptions.onRaftFailure`): the process should stop. */
  readonly onRaftFailure?: (group: string, error: Error) => void
}

const GOSSIP_PROFILES = { lan: LAN, local: LOCAL, wan: WAN } as const

/**
 * Starts this node's part of the cluster: libp2p first (its persisted key
 * gives the node id), then SWIM, then the control plane, which finds or
 * creates the cluster. Stops what it started when a later step fails.
 */
export async function startCluster(options: StartClusterOptions): Promise<ClusterRuntime> {
  const { config } = options
  let logger = options.logger
  let keys = await readClusterKeys(config)
  const key = keys.sending
  const dir = path.join(options.dataDir, 'cluster')
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const p2pLog = logger.child({ component: 'p2p' })
  const p2p = new P2PNode({
    dataDir: dir,
    clusterKey: key,
    acceptedClusterKeys: keys.accepted,
    listen: parseHttpAddr(config.p2pAddr),
    ...(config.p2pAdvertiseAddr === undefined ? {} : { announce: parseHttpAddr(config.p2pAdvertiseAddr) }),
    logger: p2pLog,
    registry: options.registry,
  })
  await p2p.start()
  const stops: Array<[string, () => Promise<void>]> = [['p2p', () => p2p.stop()]]
  try {
    const nodeId = p2p.peerId
    // Every line from here on names the node by id too (`node`, its name, is on every line).
    logger = logger.child({ nodeId })
    const gossipListen = parseHttpAddr(config.gossipAddr)
    const udp = new UdpTransport({
      clusterKey: deriveKey(key, 'swim/1'),
      acceptedKeys: keys.accepted.map((accepted) => deriveKey(accepted, 'swim/1')),
      host: gossipListen.host,
      port: gossipListen.port,
    })
    const gossip =
      config.gossipAdvertiseAddr === undefined
        ? udp
        : new AdvertisedTransport(udp, config.gossipAdvertiseAddr)
    const swim = new SwimNode({
      id: nodeId,
      transport: gossip,
      config: GOSSIP_PROFILES[config.gossipProfile],
      seeds: config.join,
    })
    await swim.start()
    stops.unshift(['swim', () => swim.stop()])
    const advert: NodeAdvert = {
      id: nodeId,
      name: config.nodeName ?? hostname(),
      p2pAddrs: p2p.multiaddrs(),
      httpAddr: options.httpAddr,
      gossipAddr: gossip.address,
      region: config.region,
      zone: config.zone,
      capabilities: [...config.capabilities],
      ...(Object.keys(config.labels).length === 0 ? {} : { labels: { ...config.labels } }),
      version: options.version,
      startedAtMs: Date.now(),
    }
    const clusterLog = logger.child({ component: 'cluster' })
    const wire = wireCounters(options.registry)
    const durations = durationMetrics(options.registry)
    const node = new ClusterNode({
      advert,
      identity: new FileIdentityStore(dir),
      transport: timeSnapshotSends(
        p2pTransport(
          p2p,
          { oversizedFrame: () => wire.oversizedFrame() },
          new SnapshotThrottle({ bytesPerSecond: config.snapshotBandwidthBytes }),
        ),
        (seconds) => durations.raftSnapshotSendSeconds.observe(seconds),
      ),
      membership: swim,
      raftStorage: path.join(dir, 'raft'),
      ...(config.bootstrap ? { bootstrap: { clusterName: config.name } } : {}),
      joining: config.join.length > 0,
      tickMs: config.raftTickMs,
      controller: {
        replicaGraceMs: config.replicaGraceMs,
        maxIncomingMoves: config.maxIncomingMoves,
        maxOutgoingMoves: config.maxOutgoingMoves,
        autoRebalance: config.autoRebalance ? 1 : 0,
      },
      logger: clusterLog as ClusterLogger,
      ...(options.onRaftFailure === undefined ? {} : { onRaftFailure: options.onRaftFailure }),
    })
    const metrics = new ClusterMetrics({ node, gossip, registry: options.registry })
    snapshotMessagesMetric(node, wire, options.registry)
    serveP2P(p2p, node, {
      invalidFrame: () => metrics.invalidFrames.inc(),
      invalidSnapshot: () => wire.invalidSnapshot(),
    })
    const hosting = new ShardHosting({
      node,
      factory: engineShardFactory(path.join(options.dataDir, 'shards'), (seconds) =>
        durations.raftSnapshotInstallSeconds.observe(seconds),
      ),
      logger: clusterLog as ClusterLogger,
    })
    registerShardMetrics(node, hosting, options.registry)
    node.onAppRequest(async (body) => {
      const asked = body as { kind?: unknown; version?: unknown }
      if (asked?.kind === 'metadataAt' && typeof asked.version === 'number')
        return { reached: await metadataAt(node, asked.version, 5_000) }
      const request = body as ShardsRequest
      if (request?.kind !== 'shards' || !Array.isArray(request.items))
        throw Object.assign(new Error('unknown application request'), { code: 'unknown_request' })
      return serveShards(node, hosting, request)
    })
    await node.start()
    stops.unshift(['cluster node', () => node.stop()])
    stops.unshift(['drain watch', async () => unwatch()])
    const unwatch = watchDrained(node, () => {
      logger.info({}, 'this node was drained and has left the cluster; stopping')
      void swim.leave().catch(() => {})
      options.onLeft?.()
    })
    hosting.start()
    stops.unshift(['shard hosting', () => hosting.stop()])
    const engine = new ClusterEngine(node, hosting, {
      metrics: { asyncShardWrite: () => metrics.asyncShardWrites.inc() },
    })
    const tasks = new ClusterTaskQueue(engine)
    const webhooks = new ClusterWebhookStore(node)
    const dispatcher = new WebhookDispatcher(webhooks, (url, reason) =>
      logger.warn({ webhook: url, reason }, 'webhook delivery given up after retries'),
    )
    stops.unshift(['webhooks', () => dispatcher.close()])
    const scheduler = new TaskScheduler(engine, logger.child({ component: 'tasks' }), (ended) => {
      for (const task of ended) {
        const seconds = taskSeconds(task)
        if (seconds !== null) durations.taskSeconds.observe({ type: task.type, status: task.status }, seconds)
      }
      dispatcher.batchFinished(ended)
    })
    scheduler.start()
    stops.unshift(['task scheduler', () => scheduler.stop()])
    // Backups, dumps and exports this node ran when it last stopped cannot finish: failed, not left processing.
    void failInterruptedTasks(node, Date.now()).catch((error: unknown) =>
      logger.warn({ err: error }, 'could not mark interrupted tasks failed'),
    )
    const operations = new ClusterOperations({
      node,
      hosting,
      logger: logger.child({ component: 'cluster-operations' }),
    })
    operations.start()
    stops.unshift(['cluster operations', () => operations.stop()])
    const antiEntropy = new AntiEntropy({
      node,
      hosting,
      registry: options.registry,
      logger: logger.child({ component: 'anti-entropy' }),
      intervalMs: config.antiEntropyIntervalMs,
    })
    antiEntropy.start()
    stops.unshift(['anti-entropy', () => antiEntropy.stop()])
    logger.info(
      { clusterId: node.clusterId, p2p: advert.p2pAddrs, gossip: advert.gossipAddr },
      'cluster member started',
    )
    return {
      node,
      swim,
      p2p,
      gossip,
      metrics,
      durations,
      engine,
      tasks,
      hosting,
      antiEntropy,
      webhooks,
      metadataGate: new MetadataReadGate(node),
      clusterKeys: () => clusterKeyFingerprints(keys),
      setClusterKeys(next) {
        // Both layers validate before either changes: a key the transport refuses changes nothing.
        const swimKeys = next.accepted.map((accepted) => deriveKey(accepted, 'swim/1'))
        p2p.setClusterKeys(next.sending, next.accepted)
        udp.setClusterKeys(deriveKey(next.sending, 'swim/1'), swimKeys)
        keys = next
        logger.info({ clusterKeys: clusterKeyFingerprints(next) }, 'cluster keys changed')
      },
      async stop() {
        for (const [component, stop] of stops) await stopStep(component, stop, logger)
      },
    }
  } catch (error) {
    for (const [component, stop] of stops) await stopStep(component, stop, logger)
    throw error
  }
}

/** Calls `left` once when this node's record goes from draining to left (a finished drain). */
function watchDrained(node: ClusterNode, left: () => void): () => void {
  let draining = node.state().nodes[node.nodeId]?.state === 'draining'
  let done = false
  return node.metadata.onChange((state) => {
    const mine = state.nodes[node.nodeId]?.state
    if (mine === 'draining') draining = true
    else if (mine === 'left' && draining && !done) {
      done = true
      left()
    } else if (mine !== 'left') draining = false
  })
}

/** What `serveP2P` and `p2pTransport` count besides the node's and the transport's own counters. */
export interface WireCounters {
  /** A Raft frame failed validation. */
  invalidFrame(): void
  /** A snapshot header failed validation, or its bytes did not match it. */
  invalidSnapshot(): void
  /** An outgoing Raft frame exceeded `maxFrameBytes` and was dropped. */
  oversizedFrame(): void
}

/**
 * Hands what arrives over libp2p to the node, each validated first: Raft
 * frames, snapshot messages (reassembled from `/shoal/snapshot/1` chunks)
 * and requests. A snapshot the node does not accept is answered with an
 * error code, so the sender's transfer fails and its Raft core retries.
 */
export function serveP2P(
  p2p: P2PNode,
  node: ClusterNode,
  counters: Pick<WireCounters, 'invalidFrame' | 'invalidSnapshot'>,
): void {
  p2p.onRaft((from, frame) => {
    if (isRaftFrame(frame, from)) node.receiveRaft(frame)
    else counters.invalidFrame()
  })
  p2p.onSnapshot(async (from, meta, chunks) => {
    if (!isSnapshotHeader(meta, from)) {
      counters.invalidSnapshot()
      throw refusal('invalid_snapshot', 'malformed snapshot header')
    }
    const { clusterId, group, message } = meta
    // Refuse before the bytes travel when the node would drop the message anyway (another
    // cluster, a group not hosted here yet); it counts the drop, never reading the empty chunk.
    if (clusterId !== node.clusterId || node.host?.group(group) === undefined) {
      node.receiveSnapshot(from, { clusterId, group, message: { ...message, chunk: new Uint8Array(0) } })
      throw refusal('snapshot_refused', `snapshot for group ${group} not accepted`)
    }
    const chunk = await collect(meta, chunks).catch((error: unknown) => {
      counters.invalidSnapshot()
      throw error
    })
    if (!node.receiveSnapshot(from, { clusterId, group, message: { ...message, chunk } }))
      throw refusal('snapshot_refused', `snapshot for group ${group} not accepted`)
  })
  p2p.onRequest(async (_from, body) => {
    if (!isRpcRequest(body)) return { ok: false, code: 'invalid_request', message: 'malformed request' }
    return node.handleRequest(body)
  })
}

/** The chunk's bytes, exactly `chunkBytes` of them, in one buffer. */
async function collect(header: SnapshotHeader, chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const bytes = new Uint8Array(header.chunkBytes)
  let at = 0
  for await (const piece of chunks) {
    if (at + piece.byteLength > bytes.byteLength)
      throw refusal('invalid_snapshot', `snapshot bytes exceed the announced ${header.chunkBytes}`)
    bytes.set(piece, at)
    at += piece.byteLength
  }
  if (at !== bytes.byteLength)
    throw refusal('invalid_snapshot', `snapshot of ${at} bytes, ${header.chunkBytes} announced`)
  return bytes
}

function refusal(code: string, message: string): Error {
  return Object.assign(new Error(message), { code })
}

/**
 * A snapshot transfer's deadline: a floor for the dial and the receiver's
 * work, plus a second per MiB (a link slower than 1 MiB/s fails the transfer;
 * the Raft core then sends the chunk again), plus `throttleWaitMs`, the time
 * the node's snapshot bandwidth budget holds the last byte back (queued
 * behind other transfers and paced at `--snapshot-bandwidth-bytes`).
 */
export function snapshotDeadlineMs(bytes: number, throttleWaitMs = 0): number {
  return 10_000 + Math.ceil(bytes / (1024 * 1024)) * 1000 + Math.ceil(throttleWaitMs)
}

/** The counters of what this layer drops, registered in `registry`. */
function wireCounters(
  registry: Registry,
): Pick<WireCounters, 'invalidSnapshot' | 'oversizedFrame'> & { readonly invalidSnapshots: number } {
  const oversized = new Counter({
    name: 'shoal_cluster_frames_oversized_total',
    help: 'Outgoing Raft frames dropped because they exceeded the transport maxFrameBytes',
    registers: [registry],
  })
  let invalidSnapshots = 0
  return {
    get invalidSnapshots() {
      return invalidSnapshots
    },
    invalidSnapshot: () => {
      invalidSnapshots++
    },
    oversizedFrame: () => oversized.inc(),
  }
}

/**
 * `shoal_raft_snapshot_messages_total{result}`: Raft snapshot messages sent
 * over the snapshot path (`sent`, `failed`, `superseded`) and received
 * (`received`; `dropped` by the Raft host, `foreign` cluster, `invalid` on
 * the wire), read at scrape time.
 */
function snapshotMessagesMetric(
  node: ClusterNode,
  wire: { readonly invalidSnapshots: number },
  registry: Registry,
): void {
  new Counter({
    name: 'shoal_raft_snapshot_messages_total',
    help: 'Raft snapshot messages over /shoal/snapshot/1, by result (sent, failed, superseded, received, dropped, foreign, invalid)',
    labelNames: ['result'] as const,
    registers: [registry],
    collect() {
      this.reset()
      const host = node.host?.metrics()
      this.inc({ result: 'sent' }, host?.snapshotsSent ?? 0)
      this.inc({ result: 'failed' }, host?.snapshotsFailed ?? 0)
      this.inc({ result: 'superseded' }, host?.snapshotsSuperseded ?? 0)
      this.inc({ result: 'received' }, host?.snapshotsReceived ?? 0)
      this.inc({ result: 'dropped' }, host?.snapshotsDropped ?? 0)
      this.inc({ result: 'foreign' }, node.counters.snapshotsDroppedForeign)
      this.inc({ result: 'invalid' }, wire.invalidSnapshots)
    },
  })
}

/**
 * The control plane's transport over libp2p: frames on `/shoal/raft/1`,
 * requests on `/shoal/rpc/1`, snapshot messages on `/shoal/snapshot/1` (the
 * header with the cluster id, group and message without its chunk as the
 * stream's meta, the chunk's bytes as its checksummed chunks).
 */
export function p2pTransport(
  p2p: P2PNode,
  counters: Pick<WireCounters, 'oversizedFrame'> = { oversizedFrame: () => {} },
  throttle: SnapshotThrottle = new SnapshotThrottle({ bytesPerSecond: 0 }),
): ClusterTransport {
  return {
    onPeerConnection(listener) {
      p2p.onPeerConnection(listener)
    },
    sendRaft(to, frame) {
      sendRaftFrame(p2p, { peerId: to.nodeId, addrs: [...to.addrs] }, frame, counters)
    },
    async sendSnapshot(to, snapshot, options) {
      const { chunk, ...message } = snapshot.message
      const header: SnapshotHeader = {
        clusterId: snapshot.clusterId,
        group: snapshot.group,
        chunkBytes: chunk.byteLength,
        message,
      }
      const paced = throttle.reserve(chunk)
      const deadline = AbortSignal.timeout(snapshotDeadlineMs(chunk.byteLength, paced.waitMs))
      const signal = options?.signal === undefined ? deadline : AbortSignal.any([deadline, options.signal])
      try {
        await p2p.sendSnapshot({ peerId: to.nodeId, addrs: [...to.addrs] }, header, paced.pieces(signal), {
          signal,
        })
      } catch (error) {
        if (error instanceof P2PUnreachableError && !error.maybeSent)
          throw new NotDeliveredError(error.message, { cause: error })
        throw error
      }
    },
    async request(to, body, options) {
      try {
        return (await p2p.request({ peerId: to.nodeId, addrs: [...to.addrs] }, body, {
          ...(options?.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
          ...(options?.signal === undefined ? {} : { signal: options.signal }),
        })) as RpcResponse
      } catch (error) {
        if (error instanceof P2PUnreachableError && !error.maybeSent)
          throw new NotDeliveredError(error.message, { cause: error })
        throw error
      }
    },
  }
}

/**
 * Sends one Raft frame, cut in two by its items (recursively) when it exceeds `maxFrameBytes`:
 * the host gathers every message for a node into one frame per flush, and a catch-up burst of
 * appends carrying multi-MB document batches can exceed the limit as a whole while each append
 * fits. The receiver handles items one by one, and the halves go out in order on the same
 * outbox. Only a single item over the limit is dropped and counted (Raft resends what was lost).
 */
function sendRaftFrame(
  p2p: P2PNode,
  to: { peerId: string; addrs: string[] },
  frame: RaftFrame,
  counters: Pick<WireCounters, 'oversizedFrame'>,
): void {
  try {
    p2p.sendRaft(to, frame)
  } catch (error) {
    // Raft tolerates a lost frame; an oversized one must not fail the host's flush.
    if (!(error instanceof P2PFrameTooLargeError)) throw error
    const items = frame.frame.items
    if (items.length < 2) {
      counters.oversizedFrame()
      return
    }
    const half = Math.ceil(items.length / 2)
    for (const part of [items.slice(0, half), items.slice(half)])
      sendRaftFrame(p2p, to, { ...frame, frame: { ...frame.frame, items: part } }, counters)
  }
}

/** A gossip transport that tells others to reach it at another address (a proxy in between, NAT). */
class AdvertisedTransport implements Transport {
  readonly #inner: Transport
  readonly address: string
  constructor(inner: Transport, address: string) {
    this.#inner = inner
    this.address = address
  }
  start(onMessages: (messages: Message[]) => void): Promise<void> {
    return this.#inner.start(onMessages)
  }
  send(to: string, messages: readonly Message[]): void {
    this.#inner.send(to, messages)
  }
  stop(): Promise<void> {
    return this.#inner.stop()
  }
  stats(): TransportStats {
    return this.#inner.stats()
  }
}
