import { afterEach, describe, expect, it } from 'vitest'
import {
  MemoryNetwork,
  MemoryRaftStorage,
  type NormalEntry,
  RaftNode,
  type StateMachine,
} from '../src/index.ts'
import { MapMachine, put } from './node-cluster.ts'

/** The map machine behind promises that settle after a delay, out of call order if allowed to. */
class SlowMachine implements StateMachine {
  readonly inner = new MapMachine()
  readonly order: number[] = []
  running = 0
  maxRunning = 0

  async apply(entry: NormalEntry): Promise<string> {
    this.running++
    this.maxRunning = Math.max(this.maxRunning, this.running)
    // Later entries wait less: a node that did not wait would apply them first.
    await new Promise((r) => setTimeout(r, Math.max(0, 8 - (entry.index % 8))))
    this.order.push(entry.index)
    this.running--
    return this.inner.apply(entry)
  }
  async snapshot(): Promise<Uint8Array> {
    await new Promise((r) => setTimeout(r, 2))
    return this.inner.snapshot()
  }
  async restore(data: Uint8Array): Promise<void> {
    await new Promise((r) => setTimeout(r, 2))
    this.inner.restore(data)
  }
}

const nodes: RaftNode[] = []
afterEach(async () => {
  for (const node of nodes.splice(0)) await node.stop()
})

async function singleNode(machine: StateMachine, storage: MemoryRaftStorage, snapshotEntries = 10_000) {
  const network = new MemoryNetwork()
  let node: RaftNode | null = null
  const transport = network.connect('a', (m) => node?.receive(m))
  node = new RaftNode({
    raft: { id: 'a', electionTicks: 10, heartbeatTicks: 2 },
    storage,
    transport,
    stateMachine: machine,
    tickMs: 5,
    snapshotEntries,
  })
  await node.start()
  nodes.push(node)
  const started = Date.now()
  while (!node.isLeader) {
    if (Date.now() - started > 5000) throw new Error('no leader')
    await new Promise((r) => setTimeout(r, 5))
  }
  return node
}

describe('RaftNode with an asynchronous state machine', () => {
  it('applies one entry at a time in log order and resolves proposals with the awaited result', async () => {
    const machine = new SlowMachine()
    const node = await singleNode(machine, MemoryRaftStorage.bootstrap({ voters: ['a'], learners: [] }))
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => node.propose(put(`k${i}`, `v${i}`))),
    )
    expect(results.every((r, i) => typeof r === 'string' && r.startsWith(`k${i}@`))).toBe(true)
    expect(machine.maxRunning).toBe(1)
    expect(machine.order).toEqual([...machine.order].sort((x, y) => x - y))
    expect(machine.inner.values.get('k19')).toBe('v19')
  })

  it('takes and restores snapshots through the asynchronous methods', async () => {
    const storage = MemoryRaftStorage.bootstrap({ voters: ['a'], learners: [] })
    const first = new SlowMachine()
    const node = await singleNode(first, storage, 5)
    for (let i = 0; i < 12; i++) await node.propose(put(`k${i}`, `v${i}`))
    await node.stop()
    nodes.splice(nodes.indexOf(node), 1)
    const second = new SlowMachine()
    await singleNode(second, storage, 5)
    // The snapshot restores most keys at start; the log after it replays the rest.
    const started = Date.now()
    while (second.inner.values.get('k11') !== 'v11') {
      if (Date.now() - started > 5000) throw new Error('not recovered')
      await new Promise((r) => setTimeout(r, 5))
    }
    expect(second.inner.values.size).toBe(12)
    expect(second.order.length).toBeLessThan(12)
  })
})
