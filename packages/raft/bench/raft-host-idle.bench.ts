import v8 from 'node:v8'
import vm from 'node:vm'
import { defineSuite, type SuiteContext } from '@shoal/bench'
import {
  MemoryHostNetwork,
  MemoryRaftStorage,
  type NormalEntry,
  RaftHost,
  type StateMachine,
  seededRng,
} from '../src/index.ts'

/**
 * The idle cost of a multi-raft host, in process: three hosts on the
 * in-memory network, N groups with a replica on each, all led from h1, on a
 * 100 ms clock. Once every group has quiesced, a window measures the items
 * the hosts send per second, the process CPU (all three hosts share it) and
 * the heap per idle group replica; then h3 is cut off and declared dead, the
 * groups react and fall quiet again, and the window is measured again.
 */
const NODES = ['h1', 'h2', 'h3']
const TICK_MS = 100

/** A state machine with no state, as a class: its methods live on the prototype, not in closures per group. */
class IdleMachine implements StateMachine {
  apply(_entry: NormalEntry): undefined {
    return undefined
  }
  snapshot(): Uint8Array {
    return new Uint8Array(0)
  }
  restore(): undefined {
    return undefined
  }
}

async function until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`${what}: not reached in ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Waits until `hosts` have quiesced every group and then sent nothing for `calmTicks`. */
async function quiet(hosts: RaftHost[], groups: number, calmTicks: number, what: string): Promise<void> {
  const sent = () => hosts.reduce((n, h) => n + h.metrics().itemsSent, 0)
  const deadline = performance.now() + 600_000
  for (;;) {
    await until(() => hosts.every((h) => h.metrics().quiescedGroups === groups), 600_000, what)
    const before = sent()
    await new Promise((resolve) => setTimeout(resolve, calmTicks * TICK_MS))
    if (sent() === before && hosts.every((h) => h.metrics().quiescedGroups === groups)) return
    if (performance.now() > deadline) throw new Error(`${what}: traffic does not stop`)
  }
}

/** A full collection before reading the heap, so garbage from elections does not count as idle state. */
function heapUsed(): number {
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc') as () => void
  gc()
  return process.memoryUsage().heapUsed
}

interface Window {
  itemsPerS: number
  framesPerS: number
  /** Ticks delivered to awake groups per second: the clock's work, which a busy machine does not distort. */
  groupTicksPerS: number
  /** Raft messages per second by type. */
  byTypePerS: Record<string, number>
  cpuPercentOfOneCore: number
  /** The same per round of the window. */
  roundCpuPercent: number[]
}

/** The hosts' counters summed: items, frames, group ticks and Raft messages by type. */
function counters(hosts: RaftHost[]): {
  items: number
  frames: number
  ticks: number
  byType: Map<string, number>
} {
  const byType = new Map<string, number>()
  let items = 0
  let frames = 0
  let ticks = 0
  for (const host of hosts) {
    const m = host.metrics()
    items += m.itemsSent
    frames += m.framesSent
    ticks += m.groupTicks
    for (const [type, count] of Object.entries(m.raftMessagesByType))
      byType.set(type, (byType.get(type) ?? 0) + count)
  }
  return { items, frames, ticks, byType }
}

/**
 * One idle window of `rounds` rounds. It starts after a full collection, so
 * garbage left by what came before (elections, the reaction to a death) is not
 * collected, and counted as idle CPU, inside one window but not the other.
 */
async function measureWindow(hosts: RaftHost[], rounds: number, roundS: number): Promise<Window> {
  heapUsed()
  const c0 = counters(hosts)
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const roundCpuPercent: number[] = []
  for (let r = 0; r < rounds; r++) {
    const roundCpu = process.cpuUsage()
    const roundStart = performance.now()
    await new Promise((resolve) => setTimeout(resolve, roundS * 1000))
    const used = process.cpuUsage(roundCpu)
    roundCpuPercent.push(((used.user + used.system) / 1e6 / ((performance.now() - roundStart) / 1000)) * 100)
  }
  const elapsedS = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  const c1 = counters(hosts)
  const byTypePerS: Record<string, number> = {}
  for (const [type, count] of c1.byType) {
    const delta = count - (c0.byType.get(type) ?? 0)
    if (delta > 0) byTypePerS[type] = delta / elapsedS
  }
  return {
    itemsPerS: (c1.items - c0.items) / elapsedS,
    framesPerS: (c1.frames - c0.frames) / elapsedS,
    groupTicksPerS: (c1.ticks - c0.ticks) / elapsedS,
    byTypePerS,
    cpuPercentOfOneCore: ((cpu.user + cpu.system) / 1e6 / elapsedS) * 100,
    roundCpuPercent,
  }
}

function record(ctx: SuiteContext, label: string, window: Window, groups: number): void {
  ctx.record({ name: `${label}-items-per-s`, metric: 'messages/s', value: window.itemsPerS, unit: 'items/s' })
  ctx.record({
    name: `${label}-frames-per-s`,
    metric: 'frames/s',
    value: window.framesPerS,
    unit: 'frames/s',
  })
  ctx.record({
    name: `${label}-group-ticks-per-s`,
    metric: 'ticks/s',
    value: window.groupTicksPerS,
    unit: 'ticks/s',
  })
  for (const [type, perS] of Object.entries(window.byTypePerS))
    ctx.record({ name: `${label}-${type}-per-s`, metric: 'messages/s', value: perS, unit: 'messages/s' })
  ctx.recordSpread(`${label}-cpu-3-hosts`, 'cpu', '% of one core', window.roundCpuPercent)
  ctx.log(
    `${label}: ${groups} groups, ${window.itemsPerS.toFixed(1)} items/s ${JSON.stringify(window.byTypePerS)}, ` +
      `${window.groupTicksPerS.toFixed(1)} group ticks/s, ${window.cpuPercentOfOneCore.toFixed(2)}% of one core for 3 hosts`,
  )
}

export default defineSuite({
  description:
    'Multi-raft host idle cost: 3 hosts, quiesced groups, messages/s, CPU and memory, healthy and with one host dead',
  async run(ctx) {
    const groups = ctx.smoke ? 200 : 10_000
    // An idle window is ctx.rounds rounds of roundS seconds.
    const roundS = ctx.smoke ? 0.1 : 2
    const calmTicks = ctx.smoke ? 5 : 20
    const network = new MemoryHostNetwork()
    const hosts = NODES.map((nodeId) => {
      const host = new RaftHost({
        nodeId,
        transport: network.transport(),
        storage: (_group, bootstrap) =>
          MemoryRaftStorage.bootstrap(bootstrap ?? { voters: [], learners: [] }),
        tickMs: TICK_MS,
        raft: { electionTicks: 10, heartbeatTicks: 1 },
        rng: (group) => seededRng(`${nodeId}/${group}`),
      })
      network.attach(host)
      return host
    })
    const names = Array.from({ length: groups }, (_, i) => `shard-${i}`)
    const heapBefore = heapUsed()
    for (const host of hosts)
      for (const name of names)
        await host.addGroup(name, {
          stateMachine: new IdleMachine(),
          bootstrap: { voters: NODES, learners: [] },
        })
    const [h1, h2, h3] = hosts as [RaftHost, RaftHost, RaftHost]
    for (const name of names) h1.group(name)?.campaign()
    for (const host of hosts) host.start()
    await until(() => names.every((n) => h1.group(n)?.isLeader), 600_000, 'all groups led by h1')
    await quiet(hosts, groups, calmTicks, 'all groups quiesced')
    const heapPerReplica = (heapUsed() - heapBefore) / (groups * NODES.length)
    ctx.record({
      name: 'heap-per-idle-group-replica',
      metric: 'memory',
      value: heapPerReplica,
      unit: 'bytes',
    })
    ctx.record({
      name: 'groups-quiesced',
      metric: 'count',
      value: h1.metrics().quiescedGroups,
      unit: 'groups',
    })
    const healthy = await measureWindow(hosts, ctx.rounds, roundS)
    record(ctx, 'healthy', healthy, groups)

    network.isolate('h3')
    h3.stop().catch(() => undefined)
    const itemsBefore = h1.metrics().itemsSent + h2.metrics().itemsSent
    for (const host of [h1, h2]) host.setNodeLiveness('h3', 'dead')
    // The groups wake (a heartbeat round) and quiesce again without h3.
    await quiet([h1, h2], groups, calmTicks, 'groups quiet again with h3 dead')
    ctx.record({
      name: 'one-dead-reaction-items-per-group',
      metric: 'messages',
      value: (h1.metrics().itemsSent + h2.metrics().itemsSent - itemsBefore) / groups,
      unit: 'items/group',
    })
    const degraded = await measureWindow([h1, h2], ctx.rounds, roundS)
    record(ctx, 'one-dead', degraded, groups)
    const within = (dead: number, healthyValue: number) => (dead <= 2 * healthyValue ? 1 : 0)
    ctx.record({
      name: 'one-dead-items-within-2x-healthy',
      metric: 'target-met',
      value: within(degraded.itemsPerS, healthy.itemsPerS),
      unit: 'bool',
    })
    ctx.record({
      name: 'one-dead-group-ticks-within-2x-healthy',
      metric: 'target-met',
      value: within(degraded.groupTicksPerS, healthy.groupTicksPerS),
      unit: 'bool',
    })
    // Round i of each window against round i of the other (the death cannot be undone, so the
    // rounds are not interleaved); the spread shows how steady each window was.
    ctx.roundRatio(
      'one-dead-cpu-vs-healthy',
      degraded.roundCpuPercent,
      healthy.roundCpuPercent.map((cpu) => Math.max(cpu, 1e-9)),
      'healthy',
    )
    for (const host of [h1, h2]) await host.stop()
  },
})
