import { createHash } from 'node:crypto'
import path from 'node:path'
import { shardField } from '@shoal/cluster'
import type { Command } from '@shoal/engine'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { parseHttpAddr, type ServerConfig } from '../config.ts'
import { P2PNode, type PeerAddress } from '../p2p/index.ts'
import { HLC_ZERO, type Hlc, hlcTick } from '../regions/hlc.ts'
import type { RegionIndexOptions, RegionLinkPatch } from '../regions/region-config.ts'
import {
  invalidRegionLink,
  regionClusterUnsupported,
  regionUnsupportedOperation,
} from '../regions/region-errors.ts'
import type { ConflictRecord } from '../regions/region-journal.ts'
import { openLinkDir, readRegionKey, type StoredLink } from '../regions/region-link.ts'
import { RegionMetrics } from '../regions/region-metrics.ts'
import { feedTopic } from '../regions/region-protocol.ts'
import { standbyOfPeerId } from '../standby/standby-config.ts'
import { writeFileDurably } from '../task-log.ts'
import type { RegionTagSource } from './cluster-engine.ts'
import { ClusterRegionApplier } from './cluster-region-applier.ts'
import {
  type ClusterFeedEntry,
  decodeClusterFeedEntry,
  encodeClusterFeedEntry,
} from './cluster-region-feed.ts'
import type { ClusterRuntime } from './runtime.ts'
import type { EngineShardMachine } from './shard-machine.ts'
import type { LedgerFeedEntry, ShardRegionTag } from './shard-region-ledger.ts'
import { shardTargets } from './shard-rpc.ts'

/** Commands a replicated index carries to other regions. */
const REPLAYED = new Set(['addDocuments', 'deleteDocuments', 'updateSettings', 'createIndex'])
const REFUSED: Record<string, string> = {
  deleteDocumentsByFilter: 'a delete by filter (the documents it matches differ between regions)',
  deleteAllDocuments: 'a delete of all documents',
  updateIndex: 'a primary key change',
}
/** How often shard leaders publish what their ledgers recorded, and the applier asks the other regions' heads. */
const PUBLISH_INTERVAL_MS = 100
const HEADS_INTERVAL_MS = 500
/** Feed entries one gap fill carries at most. */
export const FETCH_BATCH = 256

export interface StartClusterRegionOptions {
  config: ServerConfig
  cluster: ClusterRuntime
  /** Where `shoal_region_*` go (the node's `/metrics`). */
  registry: Registry
  logger: Logger
}

/**
 * One node's end of a cluster region's links to other regions (docs/multi-region.md, "Regions
 * made of clusters"): its own libp2p node keyed by the inter-region key with one gossipsub topic
 * per replicated index; the tags the write path puts on shard commands of replicated indexes;
 * the publisher (for every shard this node leads, the feed entries its region ledger recorded);
 * the answers to other regions' gap fills and head requests, from the ledgers of the replicas
 * this node holds; and, on the metadata leader only, the applier of remote entries.
 */
export class ClusterRegionLink implements RegionTagSource {
  readonly name: string
  readonly #o: StartClusterRegionOptions
  readonly #dir: string
  readonly #logger: Logger
  #link: StoredLink
  readonly #key: Uint8Array
  #p2p: P2PNode | undefined
  #clock: Hlc = HLC_ZERO
  /** Per shard group this node leads: the last sequence number it published. */
  readonly #published = new Map<string, number>()
  readonly #applier: ClusterRegionApplier
  readonly metrics: RegionMetrics
  /** Per shard group this node leads: the conflicts its ledger held when last counted. */
  readonly #conflictsCounted = new Map<string, number>()
  #timers: Array<ReturnType<typeof setInterval>> = []
  #stopped = false

  private constructor(options: StartClusterRegionOptions, dir: string, link: StoredLink, key: Uint8Array) {
    this.name = options.config.regionLink.name ?? ''
    this.#o = options
    this.#dir = dir
    this.#link = link
    this.#key = key
    this.#logger = options.logger.child({ component: 'region' })
    // Lag is known where remote feeds are applied: on the metadata leader (0 elsewhere).
    this.metrics = new RegionMetrics(options.registry, () => this.#applier.lagByRegion())
    this.#applier = new ClusterRegionApplier({
      region: this.name,
      cluster: options.cluster,
      replicated: (index) => this.#link.indexes[index],
      request: (origin, body) => this.#requestRegion(origin, body),
      key: () => this.#key,
      metrics: this.metrics,
      logger: this.#logger,
    })
  }

  static async start(options: StartClusterRegionOptions): Promise<ClusterRegionLink> {
    const config = options.config.regionLink
    const { dir, link } = await openLinkDir(options.config)
    const key = Buffer.from(await readRegionKey(config))
    const runtime = new ClusterRegionLink(options, dir, link, key)
    const p2p = new P2PNode({
      dataDir: dir,
      clusterKey: key,
      listen: parseHttpAddr(config.p2pAddr ?? ''),
      pubsub: true,
      logger: runtime.#logger.child({ component: 'region-p2p' }),
    })
    await p2p.start()
    runtime.#p2p = p2p
    p2p.onRequest(async (_from, body) => runtime.#handle(body))
    const pubsub = p2p.pubsub()
    pubsub.addEventListener('message', (event) => {
      const { topic, data } = event.detail
      if (topic.startsWith('shoal/region/')) runtime.#received(data)
    })
    for (const index of Object.keys(link.indexes)) pubsub.subscribe(feedTopic(index))
    options.cluster.engine.regionTags.source = runtime
    runtime.#timers = [
      setInterval(() => runtime.#publishLed(), PUBLISH_INTERVAL_MS),
      setInterval(() => runtime.#pollHeads(), HEADS_INTERVAL_MS),
    ]
    return runtime
  }

  addresses(): string[] {
    return this.#p2p?.multiaddrs() ?? []
  }

  // The write path (RegionTagSource).

  tagFor(uid: string, command: Command): ShardRegionTag | undefined {
    if (this.#link.indexes[uid] === undefined) return undefined
    if (!REPLAYED.has(command.type)) this.refuse(uid, REFUSED[command.type] ?? `a ${command.type} command`)
    if (shardField(this.#o.cluster.engine.getSharding(uid)) !== undefined)
      this.refuse(uid, 'writes to an index sharded by field (documents move between shards)')
    this.#clock = hlcTick(this.#clock, Date.now())
    return { kind: 'local', region: this.name, wallMs: this.#clock.wallMs, logical: this.#clock.logical }
  }

  refuse(uid: string, what: string): void {
    if (this.#link.indexes[uid] !== undefined) throw regionUnsupportedOperation(uid, what)
  }

  // Publishing: the shard leader sends what its ledger recorded.

  /** The replicas of replicated indexes this node holds: index uid, shard group, shard name, machine. */
  #heldReplicas(): Array<{ index: string; group: string; name: string; machine: EngineShardMachine }> {
    const { cluster } = this.#o
    const held: Array<{ index: string; group: string; name: string; machine: EngineShardMachine }> = []
    for (const index of Object.keys(this.#link.indexes))
      for (const target of shardTargets(cluster.node, index)) {
        const machine = cluster.hosting.machine(target.group) as EngineShardMachine | undefined
        if (machine?.regionLedger !== undefined)
          held.push({ index, group: target.group, name: target.name, machine })
      }
    return held
  }

  #publishLed(): void {
    const pubsub = this.#p2p?.pubsub()
    if (pubsub === undefined || this.#stopped) return
    const host = this.#o.cluster.node.host
    for (const { index, group, name, machine } of this.#heldReplicas()) {
      if (host?.group(group)?.isLeader !== true) {
        this.#published.delete(group)
        this.#conflictsCounted.delete(group)
        continue
      }
      const ledger = machine.regionLedger
      this.#countConflicts(index, group, ledger.conflicts().length)
      // A new leader starts at its head: what came before is fetched by the regions that miss it.
      const from = this.#published.get(group) ?? ledger.headOf(name)
      const fed = ledger.feedAfter(name, from, FETCH_BATCH)
      if (!fed.ok) {
        this.#published.set(group, ledger.headOf(name))
        continue
      }
      for (const entry of fed.entries) {
        const bytes = encodeClusterFeedEntry(this.#wireEntry(index, group, entry), this.#key)
        pubsub.publish(feedTopic(index), bytes).catch(() => {})
        this.metrics.published.inc()
        this.metrics.bytes.inc({ direction: 'sent' }, bytes.byteLength)
      }
      const last = fed.entries.at(-1)
      this.#published.set(group, last === undefined ? from : last.seq)
    }
  }

  /**
   * Conflicts are logged by every replica of a shard; the shard's leader counts them, once, from
   * the count its ledger held when it took the lead.
   */
  #countConflicts(index: string, group: string, held: number): void {
    const counted = this.#conflictsCounted.get(group)
    if (counted !== undefined && held > counted) this.metrics.conflicts.inc({ index }, held - counted)
    this.#conflictsCounted.set(group, held)
  }

  #wireEntry(index: string, group: string, entry: LedgerFeedEntry): ClusterFeedEntry {
    return {
      origin: entry.region,
      index,
      originShard: group,
      seq: entry.seq,
      after: entry.after,
      wallMs: entry.hlc.wallMs,
      logical: entry.hlc.logical,
      prev: entry.prev.map((p) => (p === null ? null : ([p.hlc.wallMs, p.hlc.logical, p.region] as const))),
      command: entry.command,
    }
  }

  // Requests between regions.

  async #handle(body: unknown): Promise<unknown> {
    if (!Array.isArray(body) || typeof body[0] !== 'string') throw new Error('not a region request')
    const [kind, args] = body as [string, Record<string, unknown> | undefined]
    if (kind === 'cregion.heads') return { region: this.name, heads: this.#heads() }
    if (kind === 'cregion.fetch') {
      const index = String(args?.index ?? '')
      const group = String(args?.shard ?? '')
      const after = Number(args?.after ?? 0)
      const replica = this.#heldReplicas().find((r) => r.index === index && r.group === group)
      if (replica === undefined || !Number.isSafeInteger(after) || after < 0) return { held: false }
      const fed = replica.machine.regionLedger.feedAfter(replica.name, after, FETCH_BATCH)
      if (!fed.ok) return { held: true, compacted: true }
      const entries = fed.entries.map((e) =>
        encodeClusterFeedEntry(this.#wireEntry(index, group, e), this.#key),
      )
      for (const bytes of entries) this.metrics.bytes.inc({ direction: 'sent' }, bytes.byteLength)
      return { held: true, entries }
    }
    throw new Error(`unknown region request ${kind}`)
  }

  /** Per replicated index and shard group held here: the ledger's head. */
  #heads(): Record<string, Record<string, number>> {
    const heads: Record<string, Record<string, number>> = {}
    for (const { index, group, name, machine } of this.#heldReplicas())
      heads[index] = { ...heads[index], [group]: machine.regionLedger.headOf(name) }
    return heads
  }

  /** Asks the seeds of region `origin` (or every seed when unknown) until one answers with what is held. */
  async #requestRegion(origin: string | undefined, body: unknown): Promise<unknown> {
    const p2p = this.#p2p
    if (p2p === undefined) return undefined
    for (const peer of this.#seedPeers()) {
      if (origin !== undefined && this.#seedRegions.get(peer.peerId) !== origin) continue
      try {
        const answer = (await p2p.request(peer, body, { timeoutMs: 5000 })) as { held?: boolean }
        if (answer?.held !== false) return answer
      } catch {
        // That node is away: the next one of its region may answer.
      }
    }
    return undefined
  }

  readonly #seedRegions = new Map<string, string>()

  #seedPeers(): PeerAddress[] {
    return this.#link.seeds.map((seed) => ({ peerId: standbyOfPeerId(seed), addrs: [seed] }))
  }

  /** On the applying node: every seed's heads (which also names its region); what is missed is fetched. */
  #pollHeads(): void {
    const p2p = this.#p2p
    if (p2p === undefined || this.#stopped) return
    const applying = this.#o.cluster.node.metadataLeader === this.#o.cluster.node.nodeId
    this.#applier.setActive(applying)
    if (!applying) return
    for (const peer of this.#seedPeers())
      p2p
        .request(peer, ['cregion.heads', {}], { timeoutMs: 2000 })
        .then((answer) => {
          const { region, heads } = answer as { region?: unknown; heads?: unknown }
          if (typeof region !== 'string' || typeof heads !== 'object' || heads === null) return
          this.#seedRegions.set(peer.peerId, region)
          this.#applier.heads(region, heads as Record<string, Record<string, number>>)
        })
        .catch(() => {})
  }

  #received(bytes: Uint8Array): void {
    const decoded = decodeClusterFeedEntry(bytes, this.#key)
    if (!decoded.ok) {
      this.metrics.bytes.inc({ direction: 'received' }, bytes.byteLength)
      this.metrics.rejected.inc({ reason: decoded.reason })
      this.#logger.debug({ reason: decoded.reason }, 'region: a feed message was refused')
      return
    }
    const { entry } = decoded
    // The other nodes of this region share the topic: their entries are not feed traffic here.
    if (entry.origin === this.name) return
    this.metrics.bytes.inc({ direction: 'received' }, bytes.byteLength)
    if (this.#link.indexes[entry.index] === undefined) {
      this.metrics.rejected.inc({ reason: 'not_replicated' })
      return
    }
    this.#applier.received(entry)
  }

  // What the HTTP routes ask.

  replicated(index: string): RegionIndexOptions | undefined {
    return this.#link.indexes[index]
  }

  status() {
    return {
      name: this.name,
      cluster: true,
      addresses: this.addresses(),
      seeds: this.#link.seeds,
      keyFingerprint: createHash('sha256').update(this.#key).digest('hex').slice(0, 16),
      indexes: Object.fromEntries(
        Object.entries(this.#link.indexes).map(([uid, options]) => [uid, { ...options }]),
      ),
      heads: this.#heads(),
      applied: this.#applier.status(),
    }
  }

  /** `PATCH /admin/regions` on a cluster node: `seeds` (this node's), and `name` unchanged. */
  async patch(patch: RegionLinkPatch) {
    if (patch.name !== undefined && patch.name !== this.name)
      throw invalidRegionLink(`this region is \`${this.name}\`: a region's name cannot change`)
    if (patch.key !== undefined)
      throw regionClusterUnsupported('a change of the inter-region key through the API')
    if (patch.indexes !== undefined)
      throw regionClusterUnsupported('changing replicated indexes through the API (use region_indexes)')
    const next: StoredLink = { ...this.#link, seeds: patch.seeds ?? this.#link.seeds }
    await writeFileDurably(path.join(this.#dir, 'link.json'), JSON.stringify(next))
    this.#link = next
    return this.status()
  }

  promote(_name: string, _only?: string[]): never {
    throw regionClusterUnsupported('single-writer indexes and promotion')
  }

  /** The conflict logs of the shard replicas this node holds (one replica per shard). */
  conflicts(filter: { status?: string }): { results: unknown[]; total: number } {
    const seen = new Set<string>()
    const all: ConflictRecord[] = []
    for (const { group, machine } of this.#heldReplicas()) {
      if (seen.has(group)) continue
      seen.add(group)
      for (const c of machine.regionLedger.conflicts())
        if (filter.status === undefined || c.status === filter.status) all.push(c)
    }
    all.sort((a, b) => a.detectedAtMs - b.detectedAtMs || a.id.localeCompare(b.id))
    return { results: all.map(showConflict), total: all.length }
  }

  resolve(_id: string, _keep: string, _rewrite: unknown): never {
    throw regionClusterUnsupported('manual conflict resolution')
  }

  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    for (const timer of this.#timers) clearInterval(timer)
    this.#o.cluster.engine.regionTags.source = undefined
    this.#applier.setActive(false)
    await this.#p2p?.stop()
  }
}

function showConflict(c: ConflictRecord) {
  const hlc = (h: Hlc) => `${h.wallMs}.${h.logical}`
  return {
    ...c,
    winner: { ...c.winner, hlc: hlc(c.winner.hlc) },
    loser: { ...c.loser, hlc: hlc(c.loser.hlc) },
    detectedAt: new Date(c.detectedAtMs).toISOString(),
    detectedAtMs: undefined,
  }
}
