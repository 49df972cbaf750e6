/**
 * One node of the cluster-idle benchmark, in its own process: a `RaftHost`
 * (quiescence on, the shared WAL under `dataDir/raft`) whose frames travel
 * through a real `P2PNode` (libp2p over TCP on 127.0.0.1, pnet, Noise,
 * Yamux). Driven by its parent over the fork IPC channel
 * (see cluster-idle-protocol.ts). Node ids are libp2p peer ids, as in the
 * server's cluster runtime.
 */
import path from 'node:path'
import v8 from 'node:v8'
import vm from 'node:vm'
import { percentile } from '@shoal/bench'
import { type HostFrame, type NodeLiveness, RaftHost, type StateMachine } from '@shoal/raft'
import { Registry } from 'prom-client'
import { P2PNode } from '../src/internal/p2p/index.ts'
import type {
  LoadOutcome,
  NodeCommand,
  NodeMemory,
  NodeProcessConfig,
  NodeReady,
  NodeReply,
  NodeStatus,
} from './cluster-idle-protocol.ts'

const config = JSON.parse(process.argv[2] ?? '') as NodeProcessConfig
const registry = new Registry()
const p2p = new P2PNode({
  dataDir: config.dataDir,
  clusterKey: Buffer.from(config.clusterKeyHex, 'hex'),
  listen: { host: '127.0.0.1', port: 0 },
  registry,
})
let addresses = new Map<string, string[]>()
let host: RaftHost | null = null
let applied = 0

/**
 * Applies nothing but a count: the benchmark measures replication, not a
 * state machine. A class, so its methods are not closures held per group.
 */
class CountingMachine implements StateMachine {
  apply(): number {
    applied++
    return applied
  }
  snapshot(): Uint8Array {
    return new Uint8Array(0)
  }
  restore(): undefined {
    return undefined
  }
}

function requireHost(): RaftHost {
  if (host === null) throw new Error('no peers yet: send "peers" first')
  return host
}

function createHost(): RaftHost {
  const created = new RaftHost({
    nodeId: p2p.peerId,
    storageRoot: path.join(config.dataDir, 'raft'),
    tickMs: config.tickMs,
    raft: { electionTicks: config.electionTicks, heartbeatTicks: 1 },
    transport: {
      send: (toNode: string, frame: HostFrame) => {
        const addrs = addresses.get(toNode)
        if (addrs !== undefined) p2p.sendRaft({ peerId: toNode, addrs }, frame)
      },
    },
  })
  p2p.onRaft((_from, frame) => created.receive(frame as HostFrame))
  created.start()
  return created
}

async function counterSum(name: string): Promise<number> {
  const metric = registry.getSingleMetric(name)
  if (metric === undefined) return 0
  const values = (await metric.get()).values
  return values.reduce((sum, v) => sum + v.value, 0)
}

async function status(): Promise<NodeStatus> {
  const h = requireHost()
  const m = h.metrics()
  let leaderOf = 0
  for (const name of h.groups) if (h.group(name)?.isLeader) leaderOf++
  const cpu = process.cpuUsage()
  return {
    groups: m.groups,
    quiescedGroups: m.quiescedGroups,
    leaderOf,
    itemsSent: m.itemsSent,
    framesSent: m.framesSent,
    itemsReceived: m.itemsReceived,
    itemsDropped: m.itemsDropped,
    groupTicks: m.groupTicks,
    raftMessagesByType: { ...m.raftMessagesByType },
    p2pMessagesSent: await counterSum('shoal_p2p_messages_sent_total'),
    p2pBytesSent: await counterSum('shoal_p2p_bytes_sent_total'),
    p2pMessagesReceived: await counterSum('shoal_p2p_messages_received_total'),
    p2pBytesReceived: await counterSum('shoal_p2p_bytes_received_total'),
    p2pFramesDropped: await counterSum('shoal_p2p_frames_dropped_total'),
    cpuMicros: cpu.user + cpu.system,
  }
}

function memory(): NodeMemory {
  let collected = false
  try {
    const exposed = (globalThis as { gc?: () => void }).gc
    if (exposed === undefined) v8.setFlagsFromString('--expose-gc')
    const gc = exposed ?? (vm.runInNewContext('gc') as () => void)
    gc()
    gc()
    collected = true
  } catch {
    // No gc(): the figures include garbage; the reply says so.
  }
  const usage = process.memoryUsage()
  return {
    heapUsedBytes: usage.heapUsed,
    externalBytes: usage.external,
    arrayBuffersBytes: usage.arrayBuffers,
    rssBytes: usage.rss,
    collected,
  }
}

async function addGroups(names: string[], voters: string[], campaign: boolean): Promise<number> {
  const h = requireHost()
  // Together, so that their first writes share the shared WAL's fsyncs.
  await Promise.all(
    names.map((name) =>
      h.addGroup(name, { stateMachine: new CountingMachine(), bootstrap: { voters, learners: [] } }),
    ),
  )
  if (campaign) for (const name of names) h.group(name)?.campaign()
  return names.length
}

const SLOT_MS = 10

function transfer(to: string): number {
  const h = requireHost()
  let handed = 0
  for (const name of h.groups) {
    const group = h.group(name)
    if (group?.isLeader !== true) continue
    group.transferLeadership(to)
    handed++
  }
  return handed
}

/**
 * Proposes at a fixed rate whatever the answers do (an open loop, so a slow
 * cluster shows as latency, not as a lower offered rate), checking every
 * `SLOT_MS`, and waits for every answer (each bounded by the host's propose timeout).
 */
async function load(groups: string[], ratePerS: number, durationMs: number, valueBytes: number) {
  const h = requireHost()
  const value = new Uint8Array(valueBytes).fill(7)
  const latencies: number[] = []
  const pending: Promise<void>[] = []
  let proposed = 0
  let failed = 0
  let firstError: string | null = null
  const started = performance.now()
  for (;;) {
    const elapsedMs = performance.now() - started
    // Due by now, so a late timer is followed by a catch-up burst, as clients would send.
    const due = Math.floor((Math.min(elapsedMs, durationMs) * ratePerS) / 1000)
    while (proposed < due) {
      const group = groups[proposed % groups.length] as string
      proposed++
      const t0 = performance.now()
      pending.push(
        h.propose(group, value).then(
          () => {
            latencies.push(performance.now() - t0)
          },
          (error: unknown) => {
            failed++
            firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error)
          },
        ),
      )
    }
    if (elapsedMs >= durationMs) break
    await new Promise((resolve) => setTimeout(resolve, SLOT_MS))
  }
  await Promise.all(pending)
  latencies.sort((a, b) => a - b)
  const outcome: LoadOutcome = {
    proposed,
    committed: latencies.length,
    failed,
    elapsedMs: performance.now() - started,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    firstError,
  }
  return outcome
}

async function handle(command: NodeCommand): Promise<unknown> {
  switch (command.op) {
    case 'peers':
      addresses = new Map(Object.entries(command.peers))
      host ??= createHost()
      return true
    case 'addGroups':
      return addGroups(command.names, command.voters, command.campaign)
    case 'transfer':
      return transfer(command.to)
    case 'status':
      return status()
    case 'memory':
      return memory()
    case 'liveness':
      requireHost().setNodeLiveness(command.node, command.liveness as NodeLiveness)
      return true
    case 'load':
      return load(command.groups, command.ratePerS, command.durationMs, command.valueBytes)
    case 'stop':
      await host?.stop()
      await p2p.stop()
      setImmediate(() => process.exit(0))
      return true
  }
}

process.on('message', (message: { id: number; command: NodeCommand }) => {
  handle(message.command).then(
    (value) => process.send?.({ id: message.id, ok: true, value } satisfies NodeReply),
    (error: unknown) =>
      process.send?.({
        id: message.id,
        ok: false,
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      } satisfies NodeReply),
  )
})
// The parent's death ends this process too (the IPC channel closes).
process.on('disconnect', () => process.exit(0))

await p2p.start()
process.send?.({ ready: true, peerId: p2p.peerId, addrs: p2p.multiaddrs() } satisfies NodeReady)
