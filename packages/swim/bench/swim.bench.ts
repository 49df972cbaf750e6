import { randomBytes } from 'node:crypto'
import { defineSuite, type SuiteContext } from '@shoal/bench'
import {
  detectionBoundMs,
  LAN,
  resolveConfig,
  Simulation,
  type SlowMemberModel,
  SwimNode,
  UdpTransport,
} from '../src/index.ts'

/**
 * SWIM + Lifeguard, measured in the deterministic simulator (LAN defaults,
 * 1–5 ms one-way latency) and on real UDP sockets on 127.0.0.1:
 * detection time and false positives by cluster size, loss and Lifeguard
 * on/off; message and byte load; rounds to spread one update; Lifeguard's
 * effect with slow members. Anchors: memberlist's detection bound for the
 * same parameters (a formula, see `detectionBoundMs`) and the Lifeguard
 * paper's published false-positive reduction (more than 50x). The npm `swim`
 * package (0.6.0) cannot be installed on Node 24 (its native msgpack@1.0.3
 * addon does not compile), so it has no figures here.
 */
export default defineSuite({
  description:
    'SWIM+Lifeguard: detection time, false positives, load and spread in simulation (10/100/1000 members, 0–10% loss) and on real UDP',
  async run(ctx) {
    const sizes = ctx.smoke ? [10, 100] : [10, 100, 1000]
    const losses = ctx.smoke ? [0, 0.05] : [0, 0.01, 0.05, 0.1]
    for (const size of sizes) {
      for (const loss of losses) {
        for (const lifeguard of [true, false]) detection(ctx, size, loss, lifeguard)
      }
    }
    for (const size of sizes) load(ctx, size)
    for (const size of sizes) spread(ctx, size)
    slowMembers(ctx)
    await realUdp(ctx)
    ctx.record({
      name: 'npm-swim-0.6.0-runs-on-node-24',
      metric: 'available',
      value: 0,
      unit: 'bool',
      peer: 'swim@0.6.0 (npm)',
    })
  },
})

function label(size: number, loss: number, lifeguard: boolean): string {
  return `${size}-loss-${Math.round(loss * 100)}%-${lifeguard ? 'lifeguard' : 'swim'}`
}

function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const index = Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)
  return sorted[Math.max(0, index)] as number
}

/** Kills members one at a time (restarting each once it is dead everywhere); measures detection and false positives. */
function detection(ctx: SuiteContext, size: number, loss: number, lifeguard: boolean): void {
  const kills = ctx.smoke ? 3 : size >= 1000 ? 8 : 30
  const sim = new Simulation({ seed: ctx.seed, lossRate: loss, config: { lifeguard } })
  const ids = sim.addFormedCluster(size)
  // memberlist always runs Lifeguard, so its bound is the Lifeguard one for both modes.
  const bound = detectionBoundMs({ ...sim.config, lifeguard: true }, size)
  const firstDead = new Map<string, number>()
  const falseIncidents = new Set<string>()
  let falseEvents = 0
  sim.onEvent((observer, event) => {
    if (event.type !== 'dead') return
    const id = event.member.id
    if (sim.isRunning(id)) {
      falseEvents += 1
      if (event.by === observer) falseIncidents.add(`${id}@${event.member.incarnation}`)
    } else if (!firstDead.has(id)) {
      firstDead.set(id, sim.nowMs)
    }
  })
  sim.runFor(5_000)
  const full: number[] = []
  const first: number[] = []
  let undetected = 0
  for (let k = 0; k < kills; k++) {
    const victim = ids[Math.floor(sim.random.next() * ids.length)] as string
    firstDead.delete(victim)
    const killedAt = sim.nowMs
    sim.kill(victim)
    const at = sim.runUntilTrue(
      () => ids.every((id) => id === victim || !sim.isRunning(id) || sim.stateOf(id, victim) === 'dead'),
      bound * 4,
      50,
    )
    if (at === undefined) undetected += 1
    else full.push(at - killedAt)
    const firstAt = firstDead.get(victim)
    if (firstAt !== undefined) first.push(firstAt - killedAt)
    sim.restart(victim, [ids[(ids.indexOf(victim) + 1) % ids.length] as string])
    sim.runFor(5_000)
  }
  const name = label(size, loss, lifeguard)
  const memberHours = (size * sim.nowMs) / 3_600_000
  ctx.record({
    name: `detection-median-ms-${name}`,
    metric: 'median',
    value: quantile(full, 0.5),
    unit: 'ms',
  })
  ctx.record({ name: `detection-p99-ms-${name}`, metric: 'p99', value: quantile(full, 0.99), unit: 'ms' })
  ctx.record({
    name: `first-detection-median-ms-${name}`,
    metric: 'median',
    value: quantile(first, 0.5),
    unit: 'ms',
  })
  ctx.record({ name: `detection-samples-${name}`, metric: 'count', value: full.length, unit: 'kills' })
  ctx.record({ name: `undetected-${name}`, metric: 'count', value: undetected, unit: 'kills' })
  ctx.record({
    name: `false-positives-${name}`,
    metric: 'count',
    value: falseIncidents.size,
    unit: 'declarations',
  })
  ctx.record({ name: `false-positive-events-${name}`, metric: 'count', value: falseEvents, unit: 'events' })
  ctx.record({
    name: `false-positives-per-member-hour-${name}`,
    metric: 'rate',
    value: falseIncidents.size / memberHours,
    unit: '1/member-hour',
  })
  if (lifeguard) {
    ctx.record({
      name: `detection-bound-ms-${size}`,
      metric: 'bound',
      value: bound,
      unit: 'ms',
      peer: 'memberlist LAN (same formulas)',
    })
  }
  ctx.ratio(
    `detection-p99-vs-memberlist-bound-${name}`,
    quantile(full, 0.99),
    bound,
    'memberlist LAN bound',
    {
      // Simulated time: the same on every run, whatever the machine's load.
      timed: false,
    },
  )
  ctx.log(
    `${name}: detection median ${quantile(full, 0.5)} ms, p99 ${quantile(full, 0.99)} ms (bound ${bound}), ` +
      `false positives ${falseIncidents.size} over ${(sim.nowMs / 1000).toFixed(0)} s`,
  )
}

/** Steady-state message and byte load per member (bytes as encoded by the wire codec, before sealing). */
function load(ctx: SuiteContext, size: number): void {
  const sim = new Simulation({ seed: ctx.seed, measureBytes: true })
  sim.addFormedCluster(size)
  sim.runFor(5_000)
  const before = { ...sim.stats }
  const seconds = ctx.smoke ? 5 : size >= 1000 ? 20 : 60
  sim.runFor(seconds * 1000)
  const messages = (sim.stats.messagesSent - before.messagesSent) / size / seconds
  const bytes = (sim.stats.bytesSent - before.bytesSent) / size / seconds
  ctx.record({ name: `messages-per-member-per-s-${size}`, metric: 'rate', value: messages, unit: 'msg/s' })
  ctx.record({ name: `bytes-per-member-per-s-${size}`, metric: 'rate', value: bytes, unit: 'B/s' })
  ctx.log(`load ${size}: ${messages.toFixed(2)} msg/s, ${bytes.toFixed(0)} B/s per member`)
}

/** Gossip rounds (gossip intervals) until every member has one metadata update. */
function spread(ctx: SuiteContext, size: number): void {
  const trials = ctx.smoke ? 2 : 7
  const rounds: number[] = []
  for (let trial = 0; trial < trials; trial++) {
    const sim = new Simulation({ seed: ctx.seed + trial })
    const ids = sim.addFormedCluster(size)
    sim.runFor(3_000)
    const origin = ids[trial % ids.length] as string
    const startedAt = sim.nowMs
    sim.updateMetadata(origin, { version: `v${trial}` })
    const at = sim.runUntilTrue(
      () => ids.every((id) => sim.view(id).member(origin)?.meta.version === `v${trial}`),
      30_000,
      10,
    )
    if (at !== undefined) rounds.push((at - startedAt) / sim.config.gossipIntervalMs)
  }
  const median = quantile(rounds, 0.5)
  ctx.record({ name: `rounds-to-spread-${size}`, metric: 'median', value: median, unit: 'rounds' })
  ctx.record({
    name: `rounds-to-spread-${size}-per-log2n`,
    metric: 'ratio',
    timed: false,
    value: median / Math.log2(size),
    unit: 'x',
  })
  ctx.log(`spread ${size}: ${median} rounds (log2 n = ${Math.log2(size).toFixed(1)})`)
}

/** The Lifeguard paper's experiment shape: 10% of members process messages late in episodes. */
function slowMembers(ctx: SuiteContext): void {
  const size = 100
  const seeds = ctx.smoke ? 1 : 3
  const seconds = ctx.smoke ? 30 : 300
  const model: SlowMemberModel = {
    members: 0.1,
    kind: 'delay',
    meanGapMs: 10_000,
    episodeMs: { min: 5_000, max: 30_000 },
    delayMs: { min: 1_000, max: 12_000 },
  }
  const totals = { lifeguard: { healthy: 0, all: 0 }, swim: { healthy: 0, all: 0 } }
  for (let s = 0; s < seeds; s++) {
    for (const lifeguard of [true, false]) {
      const sim = new Simulation({ seed: ctx.seed + s, lossRate: 0.01, config: { lifeguard } })
      sim.addFormedCluster(size)
      const slow = new Set(sim.makeSlow(model))
      const bucket = lifeguard ? totals.lifeguard : totals.swim
      sim.onEvent((observer, event) => {
        if (event.type !== 'dead' || event.by !== observer) return
        bucket.all += 1
        if (!slow.has(event.member.id)) bucket.healthy += 1
      })
      sim.runFor(seconds * 1000)
    }
  }
  for (const mode of ['lifeguard', 'swim'] as const) {
    ctx.record({
      name: `false-positives-healthy-${size}-slow-10%-${mode}`,
      metric: 'count',
      value: totals[mode].healthy,
      unit: 'declarations',
    })
    ctx.record({
      name: `false-positives-all-${size}-slow-10%-${mode}`,
      metric: 'count',
      value: totals[mode].all,
      unit: 'declarations',
    })
  }
  // With zero false positives under Lifeguard the reduction is unbounded; report swim ÷ max(lifeguard, 1) as a floor.
  ctx.record({
    name: `lifeguard-fp-reduction-healthy-${size}-slow-10%-at-least`,
    metric: 'ratio',
    timed: false,
    value: totals.swim.healthy / Math.max(1, totals.lifeguard.healthy),
    unit: 'x',
  })
  ctx.record({
    name: `lifeguard-fp-reduction-all-${size}-slow-10%`,
    metric: 'ratio',
    timed: false,
    value: totals.swim.all / Math.max(1, totals.lifeguard.all),
    unit: 'x',
  })
  ctx.record({
    name: 'lifeguard-paper-fp-reduction',
    metric: 'published',
    value: 50,
    unit: 'x',
    peer: 'Lifeguard paper (Dadgar, Phillips, Currey): "more than 50x"',
  })
  ctx.log(
    `slow members: healthy false positives lifeguard ${totals.lifeguard.healthy} vs swim ${totals.swim.healthy}`,
  )
}

/** Real sockets: in-process members on 127.0.0.1 with encrypted, authenticated UDP and short intervals. */
async function realUdp(ctx: SuiteContext): Promise<void> {
  const size = ctx.smoke ? 5 : 10
  const kills = ctx.smoke ? 1 : 3
  const config = {
    probeIntervalMs: 500,
    probeTimeoutMs: 200,
    gossipIntervalMs: 100,
    pushPullIntervalMs: 5_000,
  }
  const key = randomBytes(32)
  const nodes = new Map<string, SwimNode>()
  const transports = new Map<string, UdpTransport>()
  const deadAt = new Map<string, Map<string, number>>()
  const startNode = async (id: string, seeds: string[]) => {
    const transport = new UdpTransport({ clusterKey: key, encrypt: true })
    const node = new SwimNode({ id, transport, config, seeds })
    node.on((event) => {
      if (event.type !== 'dead') return
      const seen = deadAt.get(event.member.id) ?? new Map<string, number>()
      seen.set(id, Date.now())
      deadAt.set(event.member.id, seen)
    })
    await node.start()
    nodes.set(id, node)
    transports.set(id, transport)
    return node
  }
  const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
  try {
    const first = await startNode('u0', [])
    for (let i = 1; i < size; i++) await startNode(`u${i}`, [first.address])
    const joined = async () => {
      for (let t = 0; t < 200; t++) {
        const ok = [...nodes.values()].every(
          (n) => n.members().filter((m) => m.state === 'alive').length === nodes.size,
        )
        if (ok) return true
        await wait(50)
      }
      return false
    }
    await joined()
    const statsBefore = [...transports.values()].map((t) => t.stats())
    const seconds = ctx.smoke ? 2 : 10
    await wait(seconds * 1000)
    const statsAfter = [...transports.values()].map((t) => t.stats())
    let packets = 0
    let bytes = 0
    statsAfter.forEach((after, i) => {
      const before = statsBefore[i]
      if (before === undefined) return
      packets += after.packetsSent + after.streamsSent - before.packetsSent - before.streamsSent
      bytes += after.bytesSent - before.bytesSent
    })
    ctx.record({
      name: `real-udp-packets-per-member-per-s-${size}`,
      metric: 'rate',
      value: packets / size / seconds,
      unit: 'packets/s',
    })
    ctx.record({
      name: `real-udp-bytes-per-member-per-s-${size}`,
      metric: 'rate',
      value: bytes / size / seconds,
      unit: 'B/s',
    })
    const bound = detectionBoundMs(resolveConfig({ ...LAN, ...config }), size)
    const samples: number[] = []
    for (let k = 0; k < kills; k++) {
      const victimId = `u${size - 1 - k}`
      const victim = nodes.get(victimId)
      if (victim === undefined) continue
      deadAt.delete(victimId)
      const killedAt = Date.now()
      await victim.stop()
      nodes.delete(victimId)
      for (let t = 0; t < (bound * 3) / 50; t++) {
        if ((deadAt.get(victimId)?.size ?? 0) >= nodes.size) break
        await wait(50)
      }
      const seen = deadAt.get(victimId)
      if (seen !== undefined && seen.size >= nodes.size) samples.push(Math.max(...seen.values()) - killedAt)
    }
    ctx.record({
      name: `real-udp-detection-median-ms-${size}`,
      metric: 'median',
      value: quantile(samples, 0.5),
      unit: 'ms',
    })
    ctx.record({
      name: `real-udp-detection-samples-${size}`,
      metric: 'count',
      value: samples.length,
      unit: 'kills',
    })
    ctx.record({
      name: `real-udp-detection-bound-ms-${size}`,
      metric: 'bound',
      value: bound,
      unit: 'ms',
      peer: 'memberlist (same formulas, probe 500 ms)',
    })
    ctx.log(`real UDP ${size}: detection ${samples.join(', ')} ms (bound ${bound} ms)`)
  } finally {
    for (const node of nodes.values()) await node.stop()
  }
}
