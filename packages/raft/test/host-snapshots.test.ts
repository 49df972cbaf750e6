import { afterEach, describe, expect, it } from 'vitest'
import {
  type HostFrame,
  type HostTransport,
  MemoryHostNetwork,
  MemoryRaftStorage,
  type NodeId,
  RaftHost,
  type RaftNode,
  type SnapshotMessage,
} from '../src/index.ts'
import { eventually, MapMachine, put } from './node-cluster.ts'

// The snapshot path of the host port: with `HostTransport.sendSnapshot`,
// snapshot messages leave the frames (a transport may cap a frame's size)
// and go one at a time per group and peer; a failed transfer is retried by
// the core's resend of a silent snapshot (Raft §7, etcd's snapshot flow).

const NODES = ['h1', 'h2', 'h3']
const GROUP = 'shard-0'
let hosts: RaftHost[] = []
afterEach(async () => {
  for (const host of hosts) await host.stop()
  hosts = []
})

interface Cluster {
  network: MemoryHostNetwork
  machines: Map<NodeId, MapMachine>
  /** Snapshot messages that rode inside a frame. */
  framedSnapshots: number
}

/**
 * Three hosts with a fast clock; a small snapshot interval and chunk size so
 * a snapshot is several messages. `wrap` may change each host's transport.
 */
async function start(
  network: MemoryHostNetwork,
  wrap: (transport: HostTransport) => HostTransport = (t) => t,
): Promise<Cluster> {
  const cluster: Cluster = { network, machines: new Map(), framedSnapshots: 0 }
  for (const nodeId of NODES) {
    const inner = wrap(network.transport())
    const transport: HostTransport = {
      ...inner,
      send: (to: NodeId, frame: HostFrame) => {
        for (const item of frame.items)
          if (item.kind === 'raft' && item.message.type === 'snapshot') cluster.framedSnapshots++
        inner.send(to, frame)
      },
    }
    const host = new RaftHost({
      nodeId,
      transport,
      storage: (_group, bootstrap) => MemoryRaftStorage.bootstrap(bootstrap ?? { voters: [], learners: [] }),
      tickMs: 5,
      raft: { electionTicks: 10, heartbeatTicks: 1, snapshotChunkBytes: 64 },
    })
    network.attach(host)
    hosts.push(host)
  }
  for (const host of hosts) {
    const machine = new MapMachine()
    cluster.machines.set(host.nodeId, machine)
    await host.addGroup(GROUP, {
      stateMachine: machine,
      bootstrap: { voters: NODES, learners: [] },
      snapshotEntries: 5,
    })
    host.start()
  }
  return cluster
}

async function leader(): Promise<RaftNode> {
  let found: RaftNode | undefined
  await eventually(() => {
    found = hosts.map((h) => h.group(GROUP)).find((n) => n?.isLeader)
    return found !== undefined
  }, 10_000)
  return found as RaftNode
}

const host = (id: NodeId): RaftHost => hosts.find((h) => h.nodeId === id) as RaftHost

/** Cuts a follower off, writes past several compactions, heals it and waits until it holds everything. */
async function lagAndCatchUp(cluster: Cluster): Promise<{ leaderId: NodeId; lagging: NodeId }> {
  const first = await leader()
  await first.propose(put('k0', 'v0'))
  const leaderId = hosts.find((h) => h.group(GROUP) === first)?.nodeId as NodeId
  const lagging = NODES.find((id) => id !== leaderId) as NodeId
  cluster.network.isolate(lagging)
  for (let i = 1; i <= 40; i++) await first.propose(put(`k${i}`, `value-${i}-`.repeat(4)))
  // The leader compacted past what the lagging follower holds.
  expect(first.status().snapshotIndex).toBeGreaterThan(host(lagging).group(GROUP)?.status().lastIndex ?? 0)
  cluster.network.restore(lagging)
  const expected = cluster.machines.get(leaderId) as MapMachine
  await eventually(
    () => cluster.machines.get(lagging)?.values.get('k40') === expected.values.get('k40'),
    10_000,
  )
  expect([...(cluster.machines.get(lagging) as MapMachine).values]).toEqual([...expected.values])
  return { leaderId, lagging }
}

describe('RaftHost snapshot path', () => {
  it('a follower cut off while the leader compacts its log catches up by snapshot through sendSnapshot, never in a frame', async () => {
    const cluster = await start(new MemoryHostNetwork({ snapshotStreams: true }))
    const { leaderId, lagging } = await lagAndCatchUp(cluster)
    const sent = host(leaderId).metrics()
    const received = host(lagging).metrics()
    // The image is several 64-byte chunks, each its own transfer.
    expect(received.snapshotsReceived).toBeGreaterThan(3)
    expect(sent.snapshotsSent).toBeGreaterThanOrEqual(received.snapshotsReceived)
    expect(cluster.network.snapshotsDelivered).toBeGreaterThan(3)
    expect(cluster.framedSnapshots).toBe(0)
    await eventually(() => host(leaderId).metrics().snapshotsInFlight === 0)
  })

  it('a failed snapshot transfer is counted and retried until the follower catches up', async () => {
    let failures = 3
    const cluster = await start(new MemoryHostNetwork({ snapshotStreams: true }), (inner) => ({
      send: (to, frame) => inner.send(to, frame),
      sendSnapshot: (to, group, message: SnapshotMessage) => {
        if (failures > 0) {
          failures--
          return Promise.reject(new Error('stream reset'))
        }
        return inner.sendSnapshot?.(to, group, message) ?? Promise.reject(new Error('no snapshot path'))
      },
    }))
    const { leaderId } = await lagAndCatchUp(cluster)
    expect(failures).toBe(0)
    expect(host(leaderId).metrics().snapshotsFailed).toBeGreaterThanOrEqual(3)
    expect(cluster.framedSnapshots).toBe(0)
  })

  it('without sendSnapshot the snapshot rides in frames as before', async () => {
    const cluster = await start(new MemoryHostNetwork())
    const { leaderId } = await lagAndCatchUp(cluster)
    expect(cluster.framedSnapshots).toBeGreaterThan(0)
    expect(host(leaderId).metrics().snapshotsSent).toBe(0)
  })

  it('receiveSnapshot drops and counts what is malformed, speaks for another node or names an unknown group', async () => {
    const cluster = await start(new MemoryHostNetwork({ snapshotStreams: true }))
    expect(cluster.machines.size).toBe(3)
    const h2 = host('h2')
    const message: SnapshotMessage = {
      type: 'snapshot',
      from: 'h1',
      to: 'h2',
      term: 1,
      meta: { index: 1, term: 1, confState: { voters: NODES, learners: [] } },
      offset: 0,
      chunk: new Uint8Array(4),
      totalBytes: 4,
    }
    expect(h2.receiveSnapshot('h1', 'no-such-group', message)).toBe(false)
    expect(h2.receiveSnapshot('h3', GROUP, message)).toBe(false)
    expect(h2.receiveSnapshot('h1', GROUP, { ...message, to: 'h3' })).toBe(false)
    expect(
      h2.receiveSnapshot('h1', GROUP, { ...message, chunk: 'bytes' } as unknown as SnapshotMessage),
    ).toBe(false)
    expect(
      h2.receiveSnapshot('h1', GROUP, { ...message, type: 'heartbeat' } as unknown as SnapshotMessage),
    ).toBe(false)
    expect(h2.metrics().snapshotsDropped).toBe(5)
    expect(h2.metrics().snapshotsReceived).toBe(0)
  })
})
