import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import os, { tmpdir } from 'node:os'
import path from 'node:path'
import { defineSuite, type SuiteContext } from '@shoal/bench'
import { NodeProcess } from './cluster-idle-processes.ts'
import type { LoadOutcome, NodeMemory } from './cluster-idle-protocol.ts'
import {
  maxOf,
  measure,
  measureIdle,
  memories,
  recordWindow,
  roundMaxCpu,
  sleep,
  statuses,
  sum,
  type Window,
} from './cluster-idle-window.ts'

/**
 * The idle cost of a multi-raft cluster over the real transport: three node
 * processes, each a `RaftHost` (quiescence on, shared WAL on disk) whose
 * frames travel through a `P2PNode` (libp2p: TCP on 127.0.0.1, pnet, Noise,
 * Yamux). One node leads every group; the other two hold its replicas.
 *
 * 1. Idle, healthy: once every group has quiesced and the transport is
 *    silent, a window of `ctx.rounds` rounds measures each process's CPU
 *    (every thread's schedstat, from outside; median of the rounds with their spread),
 *    Raft frames and bytes per second (the `shoal_p2p_*` counters), every
 *    byte each process wrote (/proc io: libp2p's own keep-alives included),
 *    and memory per idle group (heap + external after a full GC, less the
 *    same before the groups were added).
 * 2. Mixed load: the leader proposes into `active` groups at a fixed rate
 *    (open loop) while the rest stay idle: throughput, p50/p99 latency, CPU.
 * 3. One node dead: a follower is killed (SIGKILL) and declared dead on the
 *    survivors (`setNodeLiveness`, SWIM's verdict); once the groups are
 *    quiet again the idle window is measured again.
 *
 * SWIM is not run: its cost is per node, not per group, and the swim suite
 * measures it.
 */
const TICK_MS = 100
const ELECTION_TICKS = 10
const TARGET_CPU_PERCENT = 1
const TARGET_BYTES_PER_GROUP = 2048
const TARGET_DEAD_FACTOR = 2

interface Scale {
  groups: number
  /** Groups added before the memory baseline (see idleCost). */
  warmupGroups: number
  active: number
  /** Offered rates of the mixed load, one step each. */
  proposalsPerS: number[]
  /** An idle window is `ctx.rounds` rounds of this many seconds. */
  roundS: number
  loadS: number
  calmS: number
  deadlineMs: number
}

const FULL: Scale = {
  groups: 10_000,
  warmupGroups: 100,
  active: 1_000,
  proposalsPerS: [200, 1_000],
  roundS: 6,
  loadS: 20,
  calmS: 3,
  deadlineMs: 900_000,
}
const SMOKE: Scale = {
  groups: 110,
  warmupGroups: 10,
  active: 10,
  proposalsPerS: [50],
  roundS: 0.25,
  loadS: 1,
  calmS: 0.5,
  deadlineMs: 60_000,
}

function recordLoadAverage(ctx: SuiteContext, when: 'start' | 'end'): void {
  const [m1, m5, m15] = os.loadavg()
  for (const [span, value] of [
    ['1m', m1],
    ['5m', m5],
    ['15m', m15],
  ] as const) {
    ctx.record({ name: `load-average-${when}-${span}`, metric: 'loadavg', value: value ?? 0, unit: 'tasks' })
  }
  ctx.log(
    `load average at ${when}: ${os
      .loadavg()
      .map((v) => v.toFixed(2))
      .join(' ')}`,
  )
}

/**
 * Waits until `leader` leads every group, every live node has quiesced all of
 * them, and no Raft frame has left any node for `calmS`.
 */
async function quiet(
  nodes: NodeProcess[],
  leader: NodeProcess,
  groups: number,
  scale: Scale,
  what: string,
): Promise<number> {
  const started = performance.now()
  for (;;) {
    const before = await statuses(nodes)
    if (performance.now() - started > scale.deadlineMs) {
      const seen = before.map((s) => `${s.leaderOf} led, ${s.quiescedGroups}/${s.groups} quiesced`)
      throw new Error(`${what}: not reached in ${scale.deadlineMs} ms (${seen.join('; ')})`)
    }
    const settled =
      before.every((s) => s.quiescedGroups === groups) && before[nodes.indexOf(leader)]?.leaderOf === groups
    if (!settled) {
      // A follower whose group timed out before the leader's election reached
      // it leads that group; once things are calm it hands it to `leader`.
      if (before.every((s) => s.quiescedGroups === groups))
        for (const node of nodes) if (node !== leader) await node.call({ op: 'transfer', to: leader.peerId })
      await sleep(250)
      continue
    }
    await sleep(scale.calmS * 1000)
    const after = await statuses(nodes)
    if (
      sum(after, 'p2pMessagesSent') === sum(before, 'p2pMessagesSent') &&
      after.every((s) => s.quiescedGroups === groups)
    )
      return (performance.now() - started) / 1000
  }
}

/**
 * Adds the groups a chunk at a time, on the followers first and then on the
 * leader, which campaigns in them at once: the groups' election timers start
 * together on every node, so the leader's election usually comes first.
 */
async function addGroups(
  nodes: NodeProcess[],
  leader: NodeProcess,
  names: string[],
  log: (message: string) => void,
): Promise<void> {
  const voters = nodes.map((n) => n.peerId)
  const followers = nodes.filter((n) => n !== leader)
  const chunk = 250
  for (let i = 0; i < names.length; i += chunk) {
    const slice = names.slice(i, i + chunk)
    await Promise.all(
      followers.map((n) => n.call({ op: 'addGroups', names: slice, voters, campaign: false })),
    )
    await leader.call({ op: 'addGroups', names: slice, voters, campaign: true })
    if ((i + chunk) % 2000 === 0) log(`${i + chunk} groups added`)
  }
}

async function idleCost(ctx: SuiteContext, nodes: NodeProcess[], scale: Scale): Promise<Window> {
  const leader = nodes[0] as NodeProcess
  const names = Array.from({ length: scale.groups }, (_, i) => `shard-${i}`)
  const setupStarted = performance.now()
  // A first few groups open the shared WAL and the connections and warm the
  // code up, so the memory delta that follows is the groups' own.
  const warm = scale.warmupGroups
  await addGroups(nodes, leader, names.slice(0, warm), ctx.log)
  await quiet(nodes, leader, warm, scale, 'warm-up groups led by n1 and quiesced')
  const before = await memories(nodes)
  await addGroups(nodes, leader, names.slice(warm), ctx.log)
  const settleS = await quiet(nodes, leader, scale.groups, scale, 'all groups led by n1 and quiesced')
  ctx.record({
    name: 'setup-add-groups',
    metric: 'time',
    value: (performance.now() - setupStarted) / 1000,
    unit: 's',
  })
  ctx.log(`${scale.groups} groups on 3 nodes, led by n1, quiesced (last ${settleS.toFixed(1)} s waiting)`)
  const after = await memories(nodes)
  const measured = scale.groups - warm
  const perGroup = nodes.map((node, i) => {
    const b = before[i] as NodeMemory
    const a = after[i] as NodeMemory
    const bytes = (a.heapUsedBytes + a.externalBytes - b.heapUsedBytes - b.externalBytes) / measured
    ctx.record({ name: `memory-per-idle-group-${node.name}`, metric: 'memory', value: bytes, unit: 'bytes' })
    ctx.record({
      name: `rss-per-idle-group-${node.name}`,
      metric: 'memory',
      value: (a.rssBytes - b.rssBytes) / measured,
      unit: 'bytes',
    })
    if (!a.collected) ctx.log(`${node.name}: no gc(), memory includes garbage`)
    return bytes
  })
  // A count against a target, the same on every run: not a timed ratio.
  ctx.ratio('memory-per-idle-group-max-vs-target', maxOf(perGroup), TARGET_BYTES_PER_GROUP, '2 KiB target', {
    timed: false,
  })
  const window = await measureIdle(nodes, ctx.rounds, scale.roundS)
  recordWindow(ctx, 'healthy', nodes, window)
  ctx.recordSpread(
    'healthy-cpu-max-vs-target',
    'ratio',
    'x',
    roundMaxCpu(window).map((cpu) => cpu / TARGET_CPU_PERCENT),
    { peer: '1% of one core target', ratio: true },
  )
  return window
}

async function mixedLoad(
  ctx: SuiteContext,
  nodes: NodeProcess[],
  scale: Scale,
  ratePerS: number,
): Promise<void> {
  const leader = nodes[0] as NodeProcess
  const active = Array.from({ length: scale.active }, (_, i) => `shard-${i}`)
  let outcome: LoadOutcome | undefined
  const window = await measure(nodes, async () => {
    outcome = await leader.call<LoadOutcome>({
      op: 'load',
      groups: active,
      ratePerS,
      durationMs: scale.loadS * 1000,
      valueBytes: 256,
    })
  })
  const o = outcome as LoadOutcome
  const label = `mixed-${ratePerS}-per-s-${scale.active}-active-${scale.groups - scale.active}-idle`
  ctx.record({ name: `${label}-offered`, metric: 'ops/s', value: ratePerS, unit: 'proposals/s' })
  ctx.record({
    name: `${label}-committed`,
    metric: 'ops/s',
    value: o.committed / (o.elapsedMs / 1000),
    unit: 'proposals/s',
  })
  ctx.record({ name: `${label}-failed`, metric: 'count', value: o.failed, unit: 'proposals' })
  ctx.record({ name: `${label}-p50-latency`, metric: 'p50-latency', value: o.p50Ms, unit: 'ms' })
  ctx.record({ name: `${label}-p99-latency`, metric: 'p99-latency', value: o.p99Ms, unit: 'ms' })
  recordWindow(ctx, label, nodes, window)
  ctx.log(
    `${label}: ${o.committed}/${o.proposed} committed in ${(o.elapsedMs / 1000).toFixed(1)} s, ` +
      `p50 ${o.p50Ms.toFixed(1)} ms, p99 ${o.p99Ms.toFixed(1)} ms${o.firstError === null ? '' : `, first error ${o.firstError}`}`,
  )
  const [afterLoad] = await statuses([leader])
  ctx.record({
    name: `${label}-groups-led-by-n1-after`,
    metric: 'count',
    value: afterLoad?.leaderOf ?? 0,
    unit: 'groups',
  })
  await quiet(nodes, leader, scale.groups, scale, 'groups quiet again after the load')
}

async function oneDead(
  ctx: SuiteContext,
  nodes: NodeProcess[],
  scale: Scale,
  healthy: Window,
): Promise<void> {
  const [n1, n2, n3] = nodes as [NodeProcess, NodeProcess, NodeProcess]
  const survivors = [n1, n2]
  const before = await statuses(survivors)
  await n3.kill()
  const started = performance.now()
  for (const node of survivors) await node.call({ op: 'liveness', node: n3.peerId, liveness: 'dead' })
  await quiet(survivors, n1, scale.groups, scale, 'groups quiet again with n3 dead')
  const after = await statuses(survivors)
  ctx.record({
    name: 'one-dead-requiesce',
    metric: 'time',
    value: (performance.now() - started) / 1000,
    unit: 's',
  })
  ctx.record({
    name: 'one-dead-reaction-items-per-group',
    metric: 'messages',
    value: (sum(after, 'itemsSent') - sum(before, 'itemsSent')) / scale.groups,
    unit: 'items/group',
  })
  const window = await measureIdle(survivors, ctx.rounds, scale.roundS)
  recordWindow(ctx, 'one-dead', survivors, window)
  // Survivors against their own healthy figures (n1 and n2 are the first two).
  // Round i of each window against round i of the other: the death cannot be undone, so the
  // rounds are not interleaved; their spread shows how steady each window was.
  ctx.roundRatio(
    'one-dead-cpu-max-vs-healthy',
    roundMaxCpu(window),
    roundMaxCpu(healthy, [0, 1]),
    'healthy, same nodes',
  )
  const framesWithin = window.framesPerS <= TARGET_DEAD_FACTOR * healthy.framesPerS
  ctx.record({
    name: 'one-dead-frames-within-2x-healthy',
    metric: 'target-met',
    value: framesWithin ? 1 : 0,
    unit: 'bool',
  })
  if (healthy.framesPerS > 0)
    ctx.ratio('one-dead-frames-vs-healthy', window.framesPerS, healthy.framesPerS, 'healthy', {
      timed: false,
    })
  ctx.record({
    name: 'one-dead-group-ticks-within-2x-healthy',
    metric: 'target-met',
    value: window.groupTicksPerS <= TARGET_DEAD_FACTOR * healthy.groupTicksPerS ? 1 : 0,
    unit: 'bool',
  })
}

export default defineSuite({
  description:
    'Cluster idle cost over the real transport: 3 node processes (RaftHost + P2PNode), one leading every quiesced group; CPU, frames and bytes/s, memory per idle group, a mixed load, and the same idle figures with one node killed',
  async run(ctx) {
    const scale = ctx.smoke ? SMOKE : FULL
    const started = performance.now()
    recordLoadAverage(ctx, 'start')
    const clusterKeyHex = randomBytes(32).toString('hex')
    const dirs: string[] = []
    const nodes: NodeProcess[] = []
    try {
      for (const name of ['n1', 'n2', 'n3'])
        dirs.push(await mkdtemp(path.join(tmpdir(), `shoal-cluster-idle-${name}-`)))
      const spawned = await Promise.allSettled(
        dirs.map((dataDir, i) =>
          NodeProcess.spawn(
            `n${i + 1}`,
            { dataDir, clusterKeyHex, tickMs: TICK_MS, electionTicks: ELECTION_TICKS },
            60_000,
            (message) => ctx.log(`unexpected exit: ${message}`),
          ),
        ),
      )
      for (const outcome of spawned) if (outcome.status === 'fulfilled') nodes.push(outcome.value)
      for (const outcome of spawned) if (outcome.status === 'rejected') throw outcome.reason
      ctx.log(`3 node processes listening after ${((performance.now() - started) / 1000).toFixed(1)} s`)
      const peers = Object.fromEntries(nodes.map((n) => [n.peerId, n.addrs]))
      for (const node of nodes) await node.call({ op: 'peers', peers })
      const healthy = await idleCost(ctx, nodes, scale)
      for (const rate of scale.proposalsPerS) await mixedLoad(ctx, nodes, scale, rate)
      await oneDead(ctx, nodes, scale, healthy)
    } finally {
      await Promise.allSettled(nodes.map((n) => n.stop()))
      await Promise.allSettled(dirs.map((dir) => rm(dir, { recursive: true, force: true })))
      recordLoadAverage(ctx, 'end')
    }
  },
})
