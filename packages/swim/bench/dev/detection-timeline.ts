/**
 * Development script, not a benchmark: replays the detection benchmark's
 * kill loop for one cell (same seed, same random draws, so the same kills)
 * and prints, for every kill slower than the threshold, a per-member timeline:
 * when it probed the victim, when and how it came to suspect it, which
 * independent confirmations reached it, and when and how it learnt the victim
 * was dead (its own suspicion timing out, or a message: gossip, piggyback on a
 * ping/ack/ping-req, push-pull).
 *
 *   node packages/swim/bench/dev/detection-timeline.ts [members] [loss] [lifeguard|swim] [kills] [seed] [slowMs]
 *
 * e.g. `node packages/swim/bench/dev/detection-timeline.ts 10 0.1 lifeguard 30 42`.
 * `slowMs` defaults to the detection bound; 0 prints every kill.
 */
import { detectionBoundMs, type Message, resolveConfig, Simulation } from '../../src/index.ts'

const [sizeArg, lossArg, modeArg, killsArg, seedArg, slowArg] = process.argv.slice(2)
const size = Number(sizeArg ?? 10)
const loss = Number(lossArg ?? 0.1)
const lifeguard = (modeArg ?? 'lifeguard') !== 'swim'
const kills = Number(killsArg ?? 30)
const [seedFrom, seedTo] = (seedArg ?? '42').split('-').map(Number) as [number, number | undefined]
const quiet = seedTo !== undefined

interface MemberTimeline {
  probes: number[]
  relays: number[]
  deadHeard: number
  suspectAt?: number
  suspectHow?: string
  confirmers: Map<string, number>
  deadAt?: number
  deadHow?: string
}

function runCell(seed: number) {
  const sim = new Simulation({ seed, lossRate: loss, config: { lifeguard } })
  const ids = sim.addFormedCluster(size)
  const bound = detectionBoundMs({ ...sim.config, lifeguard: true }, size)
  const slowMs = Number(slowArg ?? bound)
  const phases: { took: number; firstProbe: number; firstSuspect: number; afterSuspect: number }[] = []

  let victim = ''
  let killedAt = 0
  let timelines = new Map<string, MemberTimeline>()
  let processing: { to: string; atMs: number; how: string } | undefined
  /** `member:atMs` of ping-reqs about the victim being processed: the pings sent then are relays, not probes. */
  const relaying = new Set<string>()
  const sent = { total: 0, aboutVictim: 0, toVictim: 0 }

  const timeline = (id: string): MemberTimeline => {
    let entry = timelines.get(id)
    if (entry === undefined) {
      entry = { probes: [], relays: [], deadHeard: 0, confirmers: new Map() }
      timelines.set(id, entry)
    }
    return entry
  }
  const rel = (atMs: number): string => `${((atMs - killedAt) / 1000).toFixed(2)}s`

  function updatesOf(message: Message) {
    return 'updates' in message ? message.updates : []
  }

  sim.onTrace((trace) => {
    if (victim === '') return
    const { message } = trace
    if (trace.phase !== 'processed') {
      sent.total += 1
      if (trace.to === victim) sent.toVictim += 1
      if (updatesOf(message).some((u) => u.id === victim && u.kind !== 'alive')) sent.aboutVictim += 1
      if (message.type === 'ping' && message.target === victim) {
        const entry = timeline(trace.from)
        if (relaying.has(`${trace.from}:${trace.atMs}`)) entry.relays.push(trace.atMs)
        else entry.probes.push(trace.atMs)
      }
      return
    }
    processing = { to: trace.to, atMs: trace.atMs, how: `${message.type}<-${trace.from}` }
    if (message.type === 'ping-req' && message.target === victim) relaying.add(`${trace.to}:${trace.atMs}`)
    if (updatesOf(message).some((u) => u.id === victim && u.kind === 'dead'))
      timeline(trace.to).deadHeard += 1
    for (const update of updatesOf(message)) {
      if (update.id !== victim || update.kind !== 'suspect') continue
      const entry = timeline(trace.to)
      if (!entry.confirmers.has(update.from)) entry.confirmers.set(update.from, trace.atMs)
    }
  })

  sim.onEvent((observer, event) => {
    if (victim === '' || event.member.id !== victim) return
    if (event.type !== 'suspect' && event.type !== 'dead') return
    const caused = processing !== undefined && processing.to === observer && processing.atMs === sim.nowMs
    const how = caused ? (processing?.how ?? '') : 'own timer'
    const entry = timeline(observer)
    if (event.type === 'suspect' && entry.suspectAt === undefined) {
      entry.suspectAt = sim.nowMs
      entry.suspectHow = `${how} (raised by ${event.by})`
    }
    if (event.type === 'dead' && entry.deadAt === undefined) {
      entry.deadAt = sim.nowMs
      entry.deadHow = event.by === observer && !caused ? 'own suspicion timed out' : `${how} (by ${event.by})`
    }
  })

  function printKill(k: number, detectedAt: number | undefined): void {
    const took = detectedAt === undefined ? Number.POSITIVE_INFINITY : detectedAt - killedAt
    const all = [...timelines.values()]
    const earliest = (values: (number | undefined)[]) =>
      Math.min(...values.map((v) => v ?? Number.POSITIVE_INFINITY))
    const firstDead = earliest(all.map((t) => t.deadAt))
    const firstProbe = earliest(all.map((t) => t.probes[0]))
    const firstSuspect = earliest(all.map((t) => t.suspectAt))
    // When each distinct member's suspicion was first heard anywhere: the raiser, then confirmations.
    const raisedAt = new Map<string, number>()
    for (const t of all) {
      for (const [from, at] of t.confirmers) raisedAt.set(from, Math.min(at, raisedAt.get(from) ?? at))
    }
    const raisers = [...raisedAt.values()].sort((a, b) => a - b)
    const kth = raisers[2]
    const lastDead = Math.max(...all.map((t) => t.deadAt ?? Number.POSITIVE_INFINITY))
    phases.push({
      took,
      firstProbe: firstProbe - killedAt,
      firstSuspect: firstSuspect - killedAt,
      afterSuspect: lastDead - firstSuspect,
    })
    if (quiet && took <= slowMs) return
    console.log(
      `seed ${seed} kill ${k} ${victim} at ${(killedAt / 1000).toFixed(1)}s: everywhere ${took} ms (bound ${bound}); ` +
        `first probe ${rel(firstProbe)}, first suspect ${rel(firstSuspect)}, 2nd confirmation heard ${kth === undefined ? '-' : rel(kth)}, ` +
        `first dead ${rel(firstDead)}, last dead ${rel(lastDead)}; messages sent ${sent.total}, to victim ${sent.toVictim}, ` +
        `carrying suspect/dead of it ${sent.aboutVictim}`,
    )
    if (quiet || took <= slowMs) return
    for (const id of ids) {
      if (id === victim) continue
      const t = timelines.get(id)
      if (t === undefined) {
        console.log(`  ${id}: nothing`)
        continue
      }
      const probes = `${t.probes.map(rel).join(',') || '-'} (relayed ${t.relays.map(rel).join(',') || '-'})`
      const confirmers = [...t.confirmers].map(([from, at]) => `${from}@${rel(at)}`).join(' ')
      console.log(
        `  ${id}: probes ${probes} | suspect ${t.suspectAt === undefined ? '-' : rel(t.suspectAt)} ${t.suspectHow ?? ''}` +
          ` | heard suspicions ${confirmers || '-'} | dead ${t.deadAt === undefined ? '-' : rel(t.deadAt)} ${t.deadHow ?? ''}` +
          ` | dead updates received ${t.deadHeard}`,
      )
    }
  }

  // The benchmark's loop (bench/swim.bench.ts `detection`), draw for draw.
  sim.runFor(5_000)
  const samples: number[] = []
  for (let k = 0; k < kills; k++) {
    victim = ids[Math.floor(sim.random.next() * ids.length)] as string
    timelines = new Map()
    sent.total = 0
    sent.aboutVictim = 0
    sent.toVictim = 0
    killedAt = sim.nowMs
    sim.kill(victim)
    const at = sim.runUntilTrue(
      () => ids.every((id) => id === victim || !sim.isRunning(id) || sim.stateOf(id, victim) === 'dead'),
      bound * 4,
      50,
    )
    if (at !== undefined) samples.push(at - killedAt)
    printKill(k, at)
    const restarted = victim
    victim = ''
    sim.restart(restarted, [ids[(ids.indexOf(restarted) + 1) % ids.length] as string])
    sim.runFor(5_000)
  }
  samples.sort((a, b) => a - b)
  const p99 = samples[Math.min(samples.length - 1, Math.ceil(0.99 * samples.length) - 1)] ?? Number.NaN
  console.log(
    `seed ${seed}: ${size} members, ${loss * 100}% loss, ${lifeguard ? 'lifeguard' : 'swim'}: median ${samples[Math.floor((samples.length - 1) / 2)]} ms, ` +
      `p99 ${p99} ms, bound ${bound} ms, over bound ${samples.filter((s) => s > bound).length}/${kills}, ` +
      `messages per member per s ${(sim.stats.messagesSent / size / (sim.nowMs / 1000)).toFixed(2)}`,
  )
  return { p99, bound, samples, phases }
}

const all: { took: number; firstSuspect: number; afterSuspect: number }[] = []
let cellsOver = 0
let cells = 0
for (let seed = seedFrom; seed <= (seedTo ?? seedFrom); seed++) {
  const { p99, bound, phases } = runCell(seed)
  cells += 1
  if (p99 > bound) cellsOver += 1
  all.push(...phases)
}
if (quiet) {
  const bound = detectionBoundMs({ ...resolveConfig(), lifeguard: true }, size)
  const over = all.filter((s) => s.took > bound).length
  console.log(
    `all seeds: ${over}/${all.length} kills over the bound, ${cellsOver}/${cells} cells with p99 over the bound`,
  )
  const minMs = bound - 5 * resolveConfig().probeIntervalMs
  const lateFirst = all.filter((s) => s.took > bound && s.afterSuspect <= minMs + 500).length
  const slowAfter = all.filter((s) => s.afterSuspect > minMs + 500).length
  const firstSuspects = all.map((s) => s.firstSuspect).sort((a, b) => a - b)
  const q = (p: number) => (firstSuspects[Math.ceil(p * firstSuspects.length) - 1] ?? Number.NaN).toFixed(0)
  console.log(
    `  over the bound although the last member learnt it within min + 0.5 s of the first suspicion: ${lateFirst}; ` +
      `kills where it took longer: ${slowAfter}; first suspicion after the kill: ` +
      `median ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms`,
  )
}
