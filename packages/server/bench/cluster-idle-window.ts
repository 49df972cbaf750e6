/**
 * Measuring windows of the cluster-idle benchmark: /proc samples of each node
 * process from outside (no IPC while a window is open) and the nodes' counters
 * around the window. An idle window is cut into rounds, so its CPU figures
 * come with their spread.
 */
import type { SuiteContext } from '@shoal/bench'
import { type NodeProcess, type ProcSample, procRates, procSample } from './cluster-idle-processes.ts'
import type { NodeMemory, NodeStatus } from './cluster-idle-protocol.ts'

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
export const maxOf = (values: number[]) => values.reduce((m, v) => Math.max(m, v), 0)

export async function statuses(nodes: NodeProcess[]): Promise<NodeStatus[]> {
  return Promise.all(nodes.map((n) => n.call<NodeStatus>({ op: 'status' })))
}

type Counter = { [K in keyof NodeStatus]: NodeStatus[K] extends number ? K : never }[keyof NodeStatus]
export const sum = (list: NodeStatus[], key: Counter) => list.reduce((total, s) => total + s[key], 0)

/** Heap + external after a full GC, per node. */
export async function memories(nodes: NodeProcess[]): Promise<NodeMemory[]> {
  return Promise.all(nodes.map((n) => n.call<NodeMemory>({ op: 'memory' })))
}

/** Raft messages per type sent by `list` between two statuses, per second. */
function byTypePerS(before: NodeStatus[], after: NodeStatus[], seconds: number): Record<string, number> {
  const totals = new Map<string, number>()
  for (const [sign, list] of [
    [-1, before],
    [1, after],
  ] as const)
    for (const status of list)
      for (const [type, count] of Object.entries(status.raftMessagesByType))
        totals.set(type, (totals.get(type) ?? 0) + sign * count)
  const rates: Record<string, number> = {}
  for (const [type, delta] of totals) if (delta > 0) rates[type] = delta / seconds
  return rates
}

export interface Window {
  seconds: number
  /** Per node, over the whole window. */
  cpuPercent: number[]
  runQueuePercent: number[]
  writeBytesPerS: number[]
  /** Per round, per node (one round for a window that is not cut into rounds). */
  roundCpuPercent: number[][]
  framesPerS: number
  bytesPerS: number
  itemsPerS: number
  /** Ticks the hosts delivered to awake groups, per second: idle work that a busy machine does not distort. */
  groupTicksPerS: number
  /** Raft messages per second by type. */
  messagesByTypePerS: Record<string, number>
}

/**
 * Samples /proc before `during`, after each of its rounds (`during` calls
 * `roundDone` at the end of each; none: one round) and reads the counters
 * around it. `collectFirst`: a full collection in every node first, so an
 * idle window does not pay for garbage that earlier steps left (the healthy
 * window follows the memory reading's collection; the one-dead window would
 * otherwise collect what the mixed load and the reaction to the death left).
 */
export async function measure(
  nodes: NodeProcess[],
  during: (roundDone: () => void) => Promise<unknown>,
  collectFirst = false,
): Promise<Window> {
  if (collectFirst) await memories(nodes)
  const s0 = await statuses(nodes)
  const sample = () => nodes.map((n) => procSample(n.pid))
  const samples: ProcSample[][] = [sample()]
  await during(() => samples.push(sample()))
  const p1 = sample()
  if (samples.length === 1) samples.push(p1)
  const s1 = await statuses(nodes)
  const p0 = samples[0] as ProcSample[]
  const seconds = ((p1[0]?.atMs ?? 0) - (p0[0]?.atMs ?? 0)) / 1000
  const rates = nodes.map((_, i) => procRates(p0[i] as ProcSample, p1[i] as ProcSample))
  const roundCpuPercent = samples
    .slice(1)
    .map((after, r) =>
      nodes.map(
        (_, i) => procRates((samples[r] as ProcSample[])[i] as ProcSample, after[i] as ProcSample).cpuPercent,
      ),
    )
  const per = (key: Counter) => (sum(s1, key) - sum(s0, key)) / seconds
  return {
    seconds,
    cpuPercent: rates.map((r) => r.cpuPercent),
    runQueuePercent: rates.map((r) => r.runQueuePercent),
    writeBytesPerS: rates.map((r) => r.writeBytesPerS),
    roundCpuPercent,
    framesPerS: per('p2pMessagesSent'),
    bytesPerS: per('p2pBytesSent'),
    itemsPerS: per('itemsSent'),
    groupTicksPerS: per('groupTicks'),
    messagesByTypePerS: byTypePerS(s0, s1, seconds),
  }
}

/** An idle window of `rounds` rounds of `roundS` seconds each. */
export function measureIdle(nodes: NodeProcess[], rounds: number, roundS: number): Promise<Window> {
  return measure(
    nodes,
    async (roundDone) => {
      for (let r = 0; r < rounds; r++) {
        await sleep(roundS * 1000)
        roundDone()
      }
    },
    true,
  )
}

/** The busiest of `nodes` (indexes into the window's nodes) in each round. */
export function roundMaxCpu(window: Window, nodes?: number[]): number[] {
  return window.roundCpuPercent.map((perNode) =>
    maxOf(nodes === undefined ? perNode : nodes.map((i) => perNode[i] ?? 0)),
  )
}

export function recordWindow(ctx: SuiteContext, label: string, nodes: NodeProcess[], window: Window): void {
  nodes.forEach((node, i) => {
    ctx.record({
      name: `${label}-cpu-${node.name}`,
      metric: 'cpu',
      value: window.cpuPercent[i] ?? 0,
      unit: '% of one core',
    })
    ctx.record({
      name: `${label}-waiting-for-cpu-${node.name}`,
      metric: 'run-queue wait',
      value: window.runQueuePercent[i] ?? 0,
      unit: '% of the window',
    })
    ctx.record({
      name: `${label}-written-bytes-per-s-${node.name}`,
      metric: 'bytes/s',
      value: window.writeBytesPerS[i] ?? 0,
      unit: 'B/s',
    })
  })
  const rounds = roundMaxCpu(window)
  if (rounds.length > 1) ctx.recordSpread(`${label}-cpu-max-node`, 'cpu', '% of one core', rounds)
  else
    ctx.record({ name: `${label}-cpu-max-node`, metric: 'cpu', value: rounds[0] ?? 0, unit: '% of one core' })
  ctx.record({
    name: `${label}-raft-frames-per-s`,
    metric: 'messages/s',
    value: window.framesPerS,
    unit: 'frames/s',
  })
  ctx.record({ name: `${label}-raft-bytes-per-s`, metric: 'bytes/s', value: window.bytesPerS, unit: 'B/s' })
  ctx.record({
    name: `${label}-raft-items-per-s`,
    metric: 'messages/s',
    value: window.itemsPerS,
    unit: 'items/s',
  })
  ctx.record({
    name: `${label}-group-ticks-per-s`,
    metric: 'ticks/s',
    value: window.groupTicksPerS,
    unit: 'ticks/s',
  })
  for (const [type, perS] of Object.entries(window.messagesByTypePerS))
    ctx.record({ name: `${label}-raft-${type}-per-s`, metric: 'messages/s', value: perS, unit: 'messages/s' })
  ctx.log(
    `${label}: CPU ${window.cpuPercent.map((c) => c.toFixed(2)).join(' / ')} % of one core, ` +
      `${window.framesPerS.toFixed(2)} frames/s, ${window.bytesPerS.toFixed(1)} B/s of Raft frames, ` +
      `${window.writeBytesPerS.map((b) => b.toFixed(0)).join(' / ')} B/s written in all, ` +
      `waiting for a CPU ${window.runQueuePercent.map((w) => w.toFixed(1)).join(' / ')} % (${window.seconds.toFixed(1)} s), ` +
      `${window.groupTicksPerS.toFixed(1)} group ticks/s, messages/s by type ${JSON.stringify(window.messagesByTypePerS)}`,
  )
}
