import {
  MemoryNetwork,
  MemoryRaftStorage,
  type NodeId,
  type NormalEntry,
  type RaftConfig,
  RaftNode,
  type StateMachine,
} from '../src/index.ts'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** A tiny map state machine: entries are "key=value". */
export class MapMachine implements StateMachine {
  values = new Map<string, string>()
  apply(entry: NormalEntry): string {
    const [key, value] = decoder.decode(entry.data).split('=') as [string, string]
    this.values.set(key, value)
    return `${key}@${entry.index}`
  }
  snapshot(): Uint8Array {
    return encoder.encode(JSON.stringify([...this.values]))
  }
  restore(data: Uint8Array): void {
    this.values = new Map(
      data.byteLength === 0 ? [] : (JSON.parse(decoder.decode(data)) as Array<[string, string]>),
    )
  }
}

export function put(key: string, value: string): Uint8Array {
  return encoder.encode(`${key}=${value}`)
}

export interface TestMember {
  id: NodeId
  node: RaftNode
  storage: MemoryRaftStorage
  machine: MapMachine
}

/** Members of one group on an in-memory network, with fast ticks. */
export class TestCluster {
  readonly network = new MemoryNetwork()
  readonly members = new Map<NodeId, TestMember>()

  async add(
    id: NodeId,
    storage: MemoryRaftStorage,
    snapshotEntries = 10_000,
    raft: Partial<RaftConfig> = {},
  ): Promise<TestMember> {
    const machine = new MapMachine()
    let node: RaftNode | null = null
    const transport = this.network.connect(id, (m) => node?.receive(m))
    node = new RaftNode({
      raft: { ...raft, id, electionTicks: 10, heartbeatTicks: 2 },
      storage,
      transport,
      stateMachine: machine,
      tickMs: 10,
      snapshotEntries,
    })
    await node.start()
    const member = { id, node, storage, machine }
    this.members.set(id, member)
    return member
  }

  static async start(
    ids: NodeId[],
    snapshotEntries = 10_000,
    raft: Partial<RaftConfig> = {},
  ): Promise<TestCluster> {
    const cluster = new TestCluster()
    for (const id of ids)
      await cluster.add(id, MemoryRaftStorage.bootstrap({ voters: ids, learners: [] }), snapshotEntries, raft)
    return cluster
  }

  async leader(timeoutMs = 5000, except?: NodeId): Promise<TestMember> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      for (const member of this.members.values())
        if (member.node.isLeader && member.id !== except) return member
      await new Promise((r) => setTimeout(r, 10))
    }
    throw new Error('no leader elected in time')
  }

  async stop(id: NodeId): Promise<void> {
    const member = this.members.get(id)
    if (member === undefined) return
    await member.node.stop()
    this.network.disconnect(id)
    this.members.delete(id)
  }

  async close(): Promise<void> {
    for (const id of [...this.members.keys()]) await this.stop(id)
  }
}

export async function eventually(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time')
    await new Promise((r) => setTimeout(r, 10))
  }
}
