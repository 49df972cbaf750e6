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
import type { Registry } from 'prom-client'
import { type ClusterConfig, parseHttpAddr } from '../config.ts'
import { P2PNode, P2PUnreachableError } from '../p2p/index.ts'
import { ClusterEngine } from './cluster-engine.ts'
import { deriveKey, readClusterKey } from './cluster-key.ts'
import { ClusterMetrics } from './cluster-metrics.ts'
import { ClusterTaskQueue, TaskScheduler } from './cluster-tasks.ts'
import { engineShardFactory } from './shard-machine.ts'
import { type ShardsRequest, serveShards } from './shard-rpc.ts'
import { isRaftFrame, isRpcRequest } from './wire-validate.ts'

/** A running cluster member: the libp2p node, SWIM over UDP and the control plane. */
export interface ClusterRuntime {
  readonly node: ClusterNode
  readonly swim: SwimNode
  readonly p2p: P2PNode
  readonly gossip: Transport
  readonly metrics: ClusterMetrics
  /** Indexes spread over shard replicas (the routes' engine on a cluster node). */
  readonly engine: ClusterEngine
  /** The cluster-wide task list (the routes' task queue on a cluster node). */
  readonly tasks: ClusterTaskQueue
  /** This node's shard replicas. */
  readonly hosting: ShardHosting
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
}

const GOSSIP_PROFILES = { lan: LAN, local: LOCAL, wan: WAN } as const

/**
 * Starts this node's part of the cluster: libp2p first (its persisted key
 * gives the node id), then SWIM, then the control plane, which finds or
 * creates the cluster. Stops what it started when a later step fails.
 */
export async function startCluster(options: StartClusterOptions): Promise<ClusterRuntime> {
  const { config, logger } = options
  const key = await readClusterKey(config)
  const dir = path.join(options.dataDir, 'cluster')
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const p2pLog = logger.child({ component: 'p2p' })
  const p2p = new P2PNode({
    dataDir: dir,
    clusterKey: key,
    listen: parseHttpAddr(config.p2pAddr),
    ...(config.p2pAdvertiseAddr === undefined ? {} : { announce: parseHttpAddr(config.p2pAdvertiseAddr) }),
    logger: p2pLog,
    registry: options.registry,
  })
  await p2p.start()
  const stops: Array<() => Promise<void>> = [() => p2p.stop()]
  try {
    const nodeId = p2p.peerId
    const gossipListen = parseHttpAddr(config.gossipAddr)
    const udp = new UdpTransport({
      clusterKey: deriveKey(key, 'swim/1'),
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
    stops.unshift(() => swim.stop())
    const advert: NodeAdvert = {
      id: nodeId,
      name: config.nodeName ?? hostname(),
      p2pAddrs: p2p.multiaddrs(),
      httpAddr: options.httpAddr,
      gossipAddr: gossip.address,
      region: config.region,
      zone: config.zone,
      capabilities: ['bm25', 'vector'],
      version: options.version,
    }
    const clusterLog = logger.child({ component: 'cluster' })
    const node = new ClusterNode({
      advert,
      identity: new FileIdentityStore(dir),
      transport: p2pTransport(p2p),
      membership: swim,
      raftStorage: path.join(dir, 'raft'),
      ...(config.bootstrap ? { bootstrap: { clusterName: config.name } } : {}),
      joining: config.join.length > 0,
      tickMs: config.raftTickMs,
      logger: clusterLog as ClusterLogger,
    })
    p2p.onRaft((from, frame) => {
      if (isRaftFrame(frame, from)) node.receiveRaft(frame)
      else metrics.invalidFrames.inc()
    })
    p2p.onRequest(async (_from, body) => {
      if (!isRpcRequest(body)) return { ok: false, code: 'invalid_request', message: 'malformed request' }
      return node.handleRequest(body)
    })
    const metrics = new ClusterMetrics({ node, gossip, registry: options.registry })
    const hosting = new ShardHosting({
      node,
      factory: engineShardFactory(path.join(options.dataDir, 'shards')),
      logger: clusterLog as ClusterLogger,
    })
    node.onAppRequest(async (body) => {
      const request = body as ShardsRequest
      if (request?.kind !== 'shards' || !Array.isArray(request.items))
        throw Object.assign(new Error('unknown application request'), { code: 'unknown_request' })
      return serveShards(node, hosting, request)
    })
    await node.start()
    stops.unshift(() => node.stop())
    hosting.start()
    stops.unshift(() => hosting.stop())
    const engine = new ClusterEngine(node, hosting)
    const tasks = new ClusterTaskQueue(engine)
    const scheduler = new TaskScheduler(engine, logger.child({ component: 'tasks' }))
    scheduler.start()
    stops.unshift(() => scheduler.stop())
    logger.info(
      { nodeId, clusterId: node.clusterId, p2p: advert.p2pAddrs, gossip: advert.gossipAddr },
      'cluster member started',
    )
    return {
      node,
      swim,
      p2p,
      gossip,
      metrics,
      engine,
      tasks,
      hosting,
      async stop() {
        for (const stop of stops) await stop().catch(() => {})
      },
    }
  } catch (error) {
    for (const stop of stops) await stop().catch(() => {})
    throw error
  }
}

function p2pTransport(p2p: P2PNode): ClusterTransport {
  return {
    sendRaft(to, frame) {
      p2p.sendRaft({ peerId: to.nodeId, addrs: [...to.addrs] }, frame)
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
