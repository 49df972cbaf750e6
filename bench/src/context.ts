import path from 'node:path'
import type { LoadSample } from './machine.ts'
import { cpuProfileDir, formatSummary, profileInProcess } from './profile.ts'
import { alternate, MIN_ROUNDS, roundRatios, type Spread, spreadOf } from './rounds.ts'
import { type BenchResult, measure, type RoundFigures, type SuiteContext } from './suite.ts'

/** What a suite's run produced, beside its results: versions named at run time, rounds, load. */
export interface RunState {
  results: BenchResult[]
  peers: Record<string, string>
  rounds: number
  loadStart: LoadSample
}

export function checkResult(suite: string, result: BenchResult): void {
  if (!result.name || !result.metric || !result.unit) {
    throw new Error(`suite ${suite}: a result needs name, metric and unit: ${JSON.stringify(result)}`)
  }
  if (!Number.isFinite(result.value))
    throw new Error(`suite ${suite}: ${result.name} has value ${result.value}`)
}

/** The context a suite runs with; everything it records lands in `state`. */
export function createContext(name: string, smoke: boolean, seed: number, state: RunState): SuiteContext {
  const log = (message: string) => process.stderr.write(`[bench ${name}] ${message}\n`)
  const noteRounds = (rounds: number) => {
    state.rounds = Math.max(state.rounds, rounds)
  }
  const ctx: SuiteContext = {
    smoke,
    seed,
    rounds: MIN_ROUNDS,
    log,
    record: (result) => {
      checkResult(name, result)
      state.results.push(result)
    },
    peerVersion: (peer, version) => {
      state.peers[peer] = version
    },
    measure: async (taskName, fn, options = {}) => {
      const m = await measure(taskName, fn, smoke, options)
      const peer = options.peer === undefined ? {} : { peer: options.peer }
      ctx.record({ name: taskName, metric: 'ops/s', value: m.opsPerSecond, unit: 'ops/s', ...peer })
      ctx.record({ name: taskName, metric: 'p50-latency', value: m.p50Ms, unit: 'ms', ...peer })
      ctx.record({ name: taskName, metric: 'p99-latency', value: m.p99Ms, unit: 'ms', ...peer })
      log(
        `${taskName}: ${Math.round(m.opsPerSecond).toLocaleString('en')} ops/s (p50 ${m.p50Ms.toFixed(4)} ms)`,
      )
      return m
    },
    ratio: (ratioName, ours, peer, peerName, spread) => {
      const ratio = ours / peer
      const extra =
        spread === undefined
          ? {}
          : 'timed' in spread
            ? { timed: false }
            : { rounds: spread.rounds, min: spread.min, max: spread.max }
      ctx.record({
        name: ratioName,
        metric: 'ratio',
        value: ratio,
        unit: 'x',
        peer: peerName,
        ratio,
        ...extra,
      })
      log(`${ratioName}: ${ratio.toFixed(2)}x ${peerName}`)
      return ratio
    },
    cpuProfile: async (label, fn) => {
      const dir = cpuProfileDir()
      if (dir === undefined) return
      const file = path.join(dir, `${name}-${label}.cpuprofile`)
      const summary = await profileInProcess(file, fn)
      log(`${formatSummary(`profile ${label} (${file})`, summary)}`)
    },
    alternate: async (sides, rounds = MIN_ROUNDS) => {
      if (rounds < MIN_ROUNDS) throw new Error(`suite ${name}: ${rounds} rounds, fewer than ${MIN_ROUNDS}`)
      noteRounds(rounds)
      return alternate(sides, rounds, () => new Promise<void>((resolve) => setImmediate(resolve)))
    },
    recordSpread: (resultName, metric, unit, perRound, extra = {}) => {
      if (perRound.length === 0) throw new Error(`suite ${name}: ${resultName} has no rounds`)
      const s = spreadOf(perRound)
      noteRounds(s.rounds)
      ctx.record({
        name: resultName,
        metric,
        value: s.median,
        unit,
        ...(extra.peer === undefined ? {} : { peer: extra.peer }),
        ...(extra.ratio === true ? { ratio: s.median } : {}),
        rounds: s.rounds,
        min: s.min,
        max: s.max,
      })
      const digits = unit === 'x' ? 2 : 1
      log(
        `${resultName}${metric === 'ratio' ? '' : ` ${metric}`}: ${s.median.toFixed(digits)}${unit === 'x' ? 'x' : ` ${unit}`} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)} over ${s.rounds} rounds)${extra.peer === undefined ? '' : ` ${extra.peer}`}`,
      )
      return s
    },
    roundRatio: (ratioName, ours, peer, peerName, options = {}) => {
      const perRound = options.invert === true ? roundRatios(peer, ours) : roundRatios(ours, peer)
      return ctx.recordSpread(ratioName, 'ratio', 'x', perRound, { peer: peerName, ratio: true })
    },
    compare: async (ratioPrefix, contenders, options = {}) => {
      const perRound = await ctx.alternate(
        contenders.map((c) => ({
          name: c.name,
          run: async () => {
            await c.setup?.()
            if (c.measured !== undefined) return c.measured()
            if (c.fn === undefined) throw new Error(`contender ${c.name} has neither fn nor measured`)
            const opsPerCall = c.opsPerCall ?? options.opsPerCall
            return measure(c.name, c.fn, smoke, {
              timeMs: options.timeMs ?? (smoke ? 20 : 400),
              iterations: options.iterations ?? (smoke ? 1 : 5),
              ...(opsPerCall === undefined ? {} : { opsPerCall }),
            })
          },
        })),
      )
      const out = new Map<string, RoundFigures>()
      for (const c of contenders) {
        const runs = perRound.get(c.name)!
        const figures: RoundFigures = {
          opsPerSecond: spreadOf(runs.map((m) => m.opsPerSecond)),
          p50Ms: spreadOf(runs.map((m) => m.p50Ms)),
          p99Ms: spreadOf(runs.map((m) => m.p99Ms)),
          perRound: runs.map((m) => m.opsPerSecond),
          perRoundP50: runs.map((m) => m.p50Ms),
          perRoundP99: runs.map((m) => m.p99Ms),
        }
        out.set(c.name, figures)
        const peer = c.peer === undefined ? {} : { peer: c.peer }
        const put = (metric: string, unit: string, s: Spread) =>
          ctx.record({
            name: c.name,
            metric,
            value: s.median,
            unit,
            rounds: s.rounds,
            min: s.min,
            max: s.max,
            ...peer,
          })
        put('ops/s', 'ops/s', figures.opsPerSecond)
        put('p50-latency', 'ms', figures.p50Ms)
        put('p99-latency', 'ms', figures.p99Ms)
        log(
          `${c.name}: ${Math.round(figures.opsPerSecond.median).toLocaleString('en')} ops/s (${Math.round(figures.opsPerSecond.min).toLocaleString('en')}–${Math.round(figures.opsPerSecond.max).toLocaleString('en')}), p50 ${figures.p50Ms.median.toFixed(4)} ms`,
        )
      }
      const [ours, ...peers] = contenders
      if (ours !== undefined) {
        for (const peer of peers) {
          if (peer.ratio === false) continue
          ctx.roundRatio(
            `${ratioPrefix}-ratio-vs-${peer.name}`,
            out.get(ours.name)!.perRound,
            out.get(peer.name)!.perRound,
            peer.peer ?? peer.name,
          )
        }
      }
      return out
    },
  }
  return ctx
}
