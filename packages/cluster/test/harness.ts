import { type ConfState, initialState, MemoryRaftStorage, type RaftStorage, seededRng } from '@shoal/raft'
import { LOCAL, MemoryNetwork, SwimNode, seededRandom } from '@shoal/swim'
import {
  ClusterNode,
  type ClusterTransport,
  MemoryClusterNetwork,
  MemoryIdentityStore,
  type NodeAdvert,
} from '../src/index.ts'

/** One in-process node: its SWIM member, its cluster node and the stores that survive a restart. */
export interface TestNode {
  readonly id: string
  readonly identity: MemoryIdentityStore
  readonly storages: Map<string, MemoryRaftStorage>
  swim: SwimNode
  node: ClusterNode
}

export interface TestCluster {
  readonly nodes: TestNode[]
  readonly gossip: MemoryNetwork
  readonly network: MemoryClusterNetwork
  add(id: string, options?: { bootstrap?: boolean; zone?: string }): Promise<TestNode>
  restart(node: TestNode): Promise<void>
  kill(node: TestNode): Promise<void>
  stop(): Promise<void>
}

export function advert(id: string, zone = 'z1'): NodeAdvert {
  return {
    id,
    name: id,
    p2pAddrs: [`p2p:${id}`],
    httpAddr: `http:${id}`,
    gossipAddr: `gossip:${id}`,
    region: 'r1',
    zone,
    capabilities: ['bm25', 'vector'],
    version: '0.1.0',
  }
}

export interface TestClusterOptions {
  /** Seeds SWIM's randomness and the gossip network's delays. @defaultValue 1 */
  seed?: number
  /** SWIM driver loop period. @defaultValue 5 */
  swimTickMs?: number
  /** Raft tick. @defaultValue 20 */
  raftTickMs?: number
  /** Metadata snapshot interval in entries. @defaultValue the node's default */
  metaSnapshotEntries?: number
  /** Wraps each node's transport (to inject failures). @defaultValue the in-memory transport as it is */
  transport?: (nodeId: string, inner: ClusterTransport) => ClusterTransport
  /** Controller settings over the harness's own (a 50 ms pass, a 1 s dead-voter grace). */
  controller?: { metadataLeaderMoveIntervalMs?: number }
}

/** Builds nodes over in-memory gossip and an in-memory cluster network (real or fake timers). */
export function testCluster(options: TestClusterOptions = {}): TestCluster {
  const seed = options.seed ?? 1
  const gossip = new MemoryNetwork({ latencyMs: { min: 0, max: 1 }, random: seededRandom(seed) })
  const network = new MemoryClusterNetwork()
  const nodes: TestNode[] = []
  const zones = new Map<string, string>()
  const bootstrapped = new Set<string>()

  const startNode = async (test: Omit<TestNode, 'swim' | 'node'> & Partial<TestNode>): Promise<TestNode> => {
    const seeds = nodes.filter((n) => n.id !== test.id).map((n) => `gossip:${n.id}`)
    const swim = new SwimNode({
      id: test.id,
      transport: gossip.createTransport(`gossip:${test.id}`),
      config: { ...LOCAL, probeIntervalMs: 200, probeTimeoutMs: 100, suspicionMult: 2 },
      seeds,
      tickMs: options.swimTickMs ?? 5,
      randomSeed: (seed * 7919 + test.id.length * 104729 + hash(test.id)) >>> 0,
    })
    await swim.start()
    const storage = (group: string, bootstrap: ConfState | undefined): RaftStorage => {
      let store = test.storages.get(group)
      if (store === undefined) {
        store = new MemoryRaftStorage(initialState(bootstrap ?? { voters: [], learners: [] }))
        test.storages.set(group, store)
      }
      return store
    }
    const node = new ClusterNode({
      advert: advert(test.id, zones.get(test.id)),
      identity: test.identity,
      transport: (options.transport ?? ((_id, inner) => inner))(test.id, network.transport(`p2p:${test.id}`)),
      membership: swim,
      raftStorage: storage,
      tickMs: options.raftTickMs ?? 20,
      raftRng: (group) => seededRng(`${seed}:${test.id}:${group}`),
      raft: { electionTicks: 10 },
      controller: { reconcileIntervalMs: 50, deadVoterGraceMs: 1_000, ...options.controller },
      discoverTimeoutMs: 5_000,
      ...(options.metaSnapshotEntries === undefined
        ? {}
        : { metaSnapshotEntries: options.metaSnapshotEntries }),
      joining: seeds.length > 0,
      ...(bootstrapped.has(test.id)
        ? { bootstrap: { clusterName: 'test', clusterId: `cluster-${seed}` } }
        : {}),
    })
    network.attach(`p2p:${test.id}`, node)
    try {
      await node.start()
    } catch (error) {
      network.detach(`p2p:${test.id}`)
      await node.stop()
      await swim.stop()
      throw error
    }
    return Object.assign(test, { swim, node }) as TestNode
  }

  return {
    nodes,
    gossip,
    network,
    async add(id, options = {}) {
      zones.set(id, options.zone ?? 'z1')
      if (options.bootstrap === true) bootstrapped.add(id)
      const created = await startNode({ id, identity: new MemoryIdentityStore(), storages: new Map() })
      nodes.push(created)
      return created
    },
    async kill(test) {
      network.detach(`p2p:${test.id}`)
      await test.node.stop()
      await test.swim.stop()
    },
    async restart(test) {
      await startNode(test)
    },
    async stop() {
      for (const test of nodes) {
        network.detach(`p2p:${test.id}`)
        await test.node.stop()
        await test.swim.stop()
      }
    },
  }
}

function hash(text: string): number {
  let h = 2166136261
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0
  return h
}
