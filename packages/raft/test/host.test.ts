import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { SimFileSystem } from '@shoal/testkit/fs'
import { afterEach, describe, expect, it } from 'vitest'
import {
  type RaftHost as Host,
  MemoryHostNetwork,
  MemoryRaftStorage,
  RaftConfigError,
  RaftHost,
  type RaftNode,
} from '../src/index.ts'
import { HostCluster } from './host-cluster.ts'
import { eventually, MapMachine, put } from './node-cluster.ts'

const NODES = ['h1', 'h2', 'h3']
let hosts: Host[] = []
let root: string | null = null
afterEach(async () => {
  for (const host of hosts) await host.stop()
  hosts = []
  if (root !== null) await rm(root, { recursive: true, force: true })
  root = null
})

async function leaderOf(group: string): Promise<RaftNode> {
  let found: RaftNode | null = null
  await eventually(() => {
    found = hosts.map((h) => h.group(group)).find((n) => n?.isLeader) ?? null
    return found !== null
  }, 10_000)
  return found as unknown as RaftNode
}

describe('RaftHost (multi-raft)', () => {
  it('refuses options it could not honour with RaftConfigError', () => {
    const transport = new MemoryHostNetwork().transport()
    const storage = () => MemoryRaftStorage.bootstrap({ voters: ['h1'], learners: [] })
    const make = (options: Partial<ConstructorParameters<typeof RaftHost>[0]>) => () =>
      new RaftHost({ nodeId: 'h1', transport, ...options })
    expect(make({})).toThrow(RaftConfigError)
    expect(make({ storage, storageRoot: '/tmp/x' })).toThrow(RaftConfigError)
    expect(make({ storage, sharedWal: {} })).toThrow(RaftConfigError)
    expect(make({ storage, tickMs: -1 })).toThrow(RaftConfigError)
    expect(make({ storage, proposeTimeoutMs: 0 })).toThrow(RaftConfigError)
    expect(make({ storage, raft: { heartbeatTicks: 10, electionTicks: 10 } })).toThrow(RaftConfigError)
    expect(() => make({ storage })().setNodeLiveness('h2', 'gone' as 'dead')).toThrow(TypeError)
  })

  it('runs many groups on three hosts with one clock and batches messages per destination node', async () => {
    const network = new MemoryHostNetwork()
    const machines = new Map<string, MapMachine>()
    for (const nodeId of NODES) {
      const host = new RaftHost({
        nodeId,
        transport: network.transport(),
        storage: (_group, bootstrap) =>
          MemoryRaftStorage.bootstrap(bootstrap ?? { voters: [], learners: [] }),
        tickMs: 10,
        raft: { electionTicks: 10, heartbeatTicks: 2 },
      })
      network.attach(host)
      hosts.push(host)
    }
    const groups = Array.from({ length: 30 }, (_, i) => `shard-${i}`)
    for (const host of hosts) {
      for (const group of groups) {
        const machine = new MapMachine()
        machines.set(`${host.nodeId}/${group}`, machine)
        await host.addGroup(group, { stateMachine: machine, bootstrap: { voters: NODES, learners: [] } })
      }
      host.start()
    }
    // Elections come at each group's own random time; count once every group has a leader.
    const leaders = await Promise.all(groups.map((group) => leaderOf(group)))
    const counts = () => ({
      items: hosts.reduce((n, h) => n + h.metrics().itemsSent, 0),
      frames: hosts.reduce((n, h) => n + h.metrics().framesSent, 0),
    })
    const before = counts()
    await Promise.all(groups.map((group, i) => leaders[i]?.propose(put('owner', group))))
    for (const host of hosts)
      for (const group of groups)
        await eventually(() => machines.get(`${host.nodeId}/${group}`)?.values.get('owner') === group)
    const after = counts()
    // Thirty groups' appends and heartbeats to the same two peers share frames.
    expect((after.items - before.items) / (after.frames - before.frames)).toBeGreaterThan(5)
  })

  it('sends one frame per destination node per flush, holding the messages of every group', async () => {
    const c = new HostCluster(NODES, { raft: { quiesce: false } })
    try {
      const groups = Array.from({ length: 12 }, (_, i) => `s${i}`)
      for (const group of groups) await c.addGroup(group, NODES)
      await c.tickUntil(() => groups.every((g) => c.leaderOf(g) !== null), 60)
      const before = c.sent.length
      await c.tick()
      const frames = c.sent.slice(before)
      // One tick: every leader heartbeats both peers, and each host's heartbeats share frames.
      const heartbeats = frames.flatMap(({ frame }) =>
        frame.items.filter((item) => item.kind === 'raft' && item.message.type === 'heartbeat'),
      )
      expect(heartbeats).toHaveLength(groups.length * 2)
      const heartbeatFrames = frames.filter(({ frame }) =>
        frame.items.some((item) => item.kind === 'raft' && item.message.type === 'heartbeat'),
      )
      const leaders = new Set(groups.map((g) => c.leaderOf(g)))
      expect(heartbeatFrames.length).toBeLessThanOrEqual(leaders.size * 2)
      for (const host of c.hosts.values()) {
        const m = host.metrics()
        expect(m.framesSent).toBeLessThanOrEqual(m.flushes * 2)
        expect(m.itemsSent).toBeGreaterThan(m.framesSent)
      }
    } finally {
      await c.stop()
    }
  })

  it('a flush that carries entries of twenty groups costs a follower one fsync, not twenty', async () => {
    const network = new MemoryHostNetwork()
    const disks = new Map<string, { fs: SimFileSystem; syncs: number }>()
    for (const nodeId of NODES) {
      const disk = { fs: new SimFileSystem(), syncs: 0 }
      disk.fs.onOperation = (operation, file) => {
        if (operation === 'sync' && file.includes('/wal/')) disk.syncs++
      }
      disks.set(nodeId, disk)
      const host = new RaftHost({
        nodeId,
        transport: network.transport(),
        storageRoot: '/data',
        sharedWal: { fs: disk.fs },
        tickMs: 0,
        raft: { electionTicks: 10, heartbeatTicks: 1 },
      })
      network.attach(host)
      hosts.push(host)
    }
    const groups = Array.from({ length: 20 }, (_, i) => `g${i}`)
    for (const host of hosts)
      for (const group of groups)
        await host.addGroup(group, {
          stateMachine: new MapMachine(),
          bootstrap: { voters: NODES, learners: [] },
        })
    const [h1, h2] = hosts as [Host, Host]
    for (const group of groups) h1.group(group)?.campaign()
    const settle = async () => {
      for (let i = 0; i < 40; i++) await new Promise<void>((resolve) => setImmediate(resolve))
    }
    await settle()
    for (let tick = 0; tick < 5; tick++) {
      for (const host of hosts) host.tick()
      await settle()
    }
    expect(groups.every((g) => h1.group(g)?.isLeader)).toBe(true)
    const follower = disks.get(h2.nodeId) as { syncs: number }
    const before = follower.syncs
    const done = Promise.all(groups.map((g) => h1.propose(g, put('k', g))))
    await settle()
    await done
    expect(follower.syncs - before).toBeGreaterThan(0)
    expect(follower.syncs - before).toBeLessThanOrEqual(2)
  })

  it('a failed fsync of the shared WAL fails every group at its next write, acknowledges nothing, and reports each group once', async () => {
    const fs = new SimFileSystem()
    const failures: Array<[string, string]> = []
    const host = new RaftHost({
      nodeId: 'h1',
      transport: new MemoryHostNetwork().transport(),
      storageRoot: '/data',
      sharedWal: { fs },
      tickMs: 0,
      raft: { electionTicks: 10, heartbeatTicks: 1 },
      onGroupFailure: (group, error) => failures.push([group, (error as { code?: string }).code ?? '']),
    })
    hosts.push(host)
    const machines = new Map<string, MapMachine>()
    for (const group of ['g1', 'g2']) {
      machines.set(group, new MapMachine())
      await host.addGroup(group, {
        stateMachine: machines.get(group) as MapMachine,
        bootstrap: { voters: ['h1'], learners: [] },
      })
      host.group(group)?.campaign()
    }
    await eventually(() => ['g1', 'g2'].every((g) => host.group(g)?.isLeader === true))
    await host.propose('g1', put('k', 'before'))
    fs.fail({ operation: 'sync', pathIncludes: '/wal/' })
    await expect(host.propose('g1', put('k', 'lost'))).rejects.toMatchObject({ code: 'RAFT_STOPPED' })
    fs.clearFaults()
    // The WAL refuses every write after a failed one: the other group fails at its next write too.
    await expect(host.propose('g2', put('k', 'after'))).rejects.toMatchObject({ code: 'RAFT_STOPPED' })
    expect(machines.get('g1')?.values.get('k')).toBe('before')
    expect(machines.get('g2')?.values.get('k')).toBeUndefined()
    expect(failures).toEqual([
      ['g1', 'RAFT_STOPPED'],
      ['g2', 'RAFT_STOPPED'],
    ])
  })

  it('keeps every group in one shared WAL under its storage root and recovers them after a restart', async () => {
    root = await mkdtemp(path.join(tmpdir(), 'shoal-host-'))
    const dir = root
    const network = new MemoryHostNetwork()
    const make = (nodeId: string) => {
      const host = new RaftHost({
        nodeId,
        transport: network.transport(),
        storageRoot: path.join(dir, nodeId),
        tickMs: 10,
        raft: { electionTicks: 10, heartbeatTicks: 2 },
      })
      network.attach(host)
      return host
    }
    const groups = ['alpha', 'beta/with slash']
    for (const nodeId of NODES) {
      const host = make(nodeId)
      hosts.push(host)
      for (const group of groups)
        await host.addGroup(group, {
          stateMachine: new MapMachine(),
          bootstrap: { voters: NODES, learners: [] },
        })
      host.start()
    }
    for (const group of groups) await (await leaderOf(group)).propose(put('k', group))
    for (const host of hosts) await host.stop()
    expect((await readdir(path.join(dir, 'h1'))).sort()).toEqual(['snapshots', 'wal'])
    hosts = []
    const machines: MapMachine[] = []
    for (const nodeId of NODES) {
      const host = make(nodeId)
      hosts.push(host)
      for (const group of groups) {
        const machine = new MapMachine()
        machines.push(machine)
        await host.addGroup(group, { stateMachine: machine })
      }
      host.start()
    }
    for (const group of groups) await (await leaderOf(group)).propose(put('again', group))
    await eventually(() =>
      machines.every((m) => m.values.get('k') !== undefined && m.values.get('again') !== undefined),
    )
  })
})
