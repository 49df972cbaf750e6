import { defineSuite, type SuiteContext } from '@shoal/bench'
import type { Etcd3 } from 'etcd3'
import { KvClient } from '../examples/kv/client.ts'
import { KvProcessCluster } from '../examples/kv/cluster.ts'
import { ETCD_BINARY, EtcdCluster, etcdVersion } from './etcd.ts'
import { checkPerf, etcdctlAvailable, etcdGoLoadAvailable, goClientPuts } from './etcd-control.ts'
import { FAILOVER_PROBE, type FailoverTiming, type LeaderFault, timeFailover } from './failover.ts'
import { type LoadResult, runLoad, value256 } from './load.ts'
import { median, recordMachineLoad, recordRatio } from './stats.ts'

/**
 * The example KV (3 processes, WAL fsync on every write) next to etcd (3
 * members, default fsync), like for like:
 * - heartbeat 100 ms, election timeout 1000 ms, pre-vote on, for both;
 * - both load clients talk to the leader only (etcd3 is given the leader's
 *   endpoint alone, the KV client the leader's address alone), one
 *   connection each, multiplexed; re-pinned after every failover;
 * - both are driven by the same closed-loop load generator (256-byte values);
 * - failover is timed by one probe for both (`failover.ts`), several times
 *   per round, after SIGKILL (the OS refuses the dead leader's connections,
 *   which Shoal's members act on and etcd's do not) and after SIGSTOP (the
 *   leader paused, its sockets open: the election timeout alone, for both);
 * - rounds alternate the systems (and which goes first), so load on the
 *   shared machine falls on both; ratios are per round, reported as the
 *   median with the min–max spread;
 * - control: etcd's own Go client (clientv3, `etcd-go-load/`) against the
 *   same etcd leader at the same client counts, in the same rounds, right
 *   after the Node client, to show how much of the etcd figure is the Node
 *   client; and `etcdctl check perf` (full runs).
 */
const HEARTBEAT_MS = 100
const ELECTION_MS = 1000
const CLIENT_COUNTS = [1, 16, 64] as const
const KEYS_PER_CLIENT = 100
/** Failovers per system, per fault, per round: one election's random timeout is too noisy alone. */
const FAILOVERS_PER_ROUND = 3
const FAULTS: readonly LeaderFault[] = ['SIGKILL', 'SIGSTOP']

interface System {
  name: 'shoal' | 'etcd'
  /** Finds the leader and points the load client at it alone. */
  pin(): Promise<void>
  put(key: string, value: string): Promise<unknown>
  get(key: string): Promise<unknown>
  /**
   * Stops the leader with `fault`, times the failover, then brings the member
   * back (restarts it after SIGKILL, continues it after SIGSTOP) and re-pins.
   */
  failover(fault: LeaderFault): Promise<FailoverTiming>
  close(): Promise<void>
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function shoalSystem(): Promise<System> {
  const cluster = await KvProcessCluster.start({
    tickMs: HEARTBEAT_MS,
    electionTicks: ELECTION_MS / HEARTBEAT_MS,
    heartbeatTicks: 1,
  })
  let client: KvClient | null = null
  const pinned = () => {
    if (client === null) throw new Error('shoal: not pinned')
    return client
  }
  const system: System = {
    name: 'shoal',
    async pin() {
      const leader = await cluster.leader()
      client?.close()
      client = new KvClient([cluster.address(leader)], { attemptTimeoutMs: 2000, deadlineMs: 30_000 })
    },
    put: (key, value) => pinned().put(key, value),
    get: (key) => pinned().get(key),
    async failover(fault) {
      const victim = await cluster.leader()
      const survivors = cluster.members.filter((m) => m.id !== victim).map((m) => m.id)
      const probes = new Map(
        survivors.map((id) => [
          id,
          new KvClient([cluster.address(id)], { attemptTimeoutMs: FAILOVER_PROBE.attemptDeadlineMs }),
        ]),
      )
      try {
        for (const [id, probe] of probes) await probe.direct(cluster.address(id), 'status')
        return await timeFailover({
          kill: async () => {
            if (fault === 'SIGKILL') await cluster.kill(victim, 'SIGKILL')
            else cluster.pause(victim)
          },
          survivors,
          attempt: (id, sequence) =>
            (probes.get(id) as KvClient).direct(cluster.address(id), 'put', 'failover', value256(sequence)),
        })
      } finally {
        for (const probe of probes.values()) probe.close()
        if (fault === 'SIGKILL') await cluster.restart(victim)
        else cluster.resume(victim)
        await sleep(1000)
        await system.pin()
      }
    },
    async close() {
      client?.close()
      await cluster.stop()
    },
  }
  await system.pin()
  return system
}

async function etcdSystem(): Promise<System & { leaderEndpoint(): string; endpoints(): string[] }> {
  const cluster = await EtcdCluster.start({
    heartbeatMs: HEARTBEAT_MS,
    electionMs: ELECTION_MS,
    preVote: true,
  })
  let client: Etcd3 | null = null
  let leader = ''
  const pinned = () => {
    if (client === null) throw new Error('etcd: not pinned')
    return client
  }
  const system = {
    name: 'etcd' as const,
    leaderEndpoint: () => cluster.endpoint(leader),
    endpoints: () => cluster.endpoints(),
    async pin() {
      leader = await cluster.leader()
      client?.close()
      client = cluster.client(leader)
    },
    put: (key: string, value: string) => pinned().put(key).value(value).exec(),
    get: (key: string) => pinned().get(key).string(),
    async failover(fault: LeaderFault) {
      const victim = await cluster.leader()
      const survivors = cluster.members.filter((m) => m.name !== victim).map((m) => m.name)
      const probes = new Map(survivors.map((name) => [name, cluster.client(name, { direct: true })]))
      try {
        for (const probe of probes.values()) await probe.put('failover').value('warm').exec()
        return await timeFailover({
          kill: async () => {
            if (fault === 'SIGKILL') await cluster.kill(victim)
            else cluster.pause(victim)
          },
          survivors,
          attempt: (name, sequence, deadlineMs) =>
            (probes.get(name) as Etcd3)
              .put('failover')
              .value(value256(sequence))
              .options({ deadline: Date.now() + deadlineMs })
              .exec(),
        })
      } finally {
        for (const probe of probes.values()) probe.close()
        if (fault === 'SIGKILL') cluster.restart(victim)
        else cluster.resume(victim)
        await sleep(1000)
        await system.pin()
      }
    },
    async close() {
      client?.close()
      await cluster.stop()
    },
  }
  await system.pin()
  return system
}

/** Per-round figures of one system (or the Go-client control) for one workload. */
type Figures = Map<string, LoadResult[]>

function add(figures: Figures, key: string, result: LoadResult): void {
  const list = figures.get(key) ?? []
  list.push(result)
  figures.set(key, list)
}

function recordFigures(ctx: SuiteContext, prefix: string, results: LoadResult[], peer?: string): void {
  const p = peer === undefined ? {} : { peer }
  const ops = median(results.map((r) => r.opsPerSecond))
  const p50 = median(results.map((r) => r.p50Ms))
  const p99 = median(results.map((r) => r.p99Ms))
  ctx.record({ name: `${prefix}-ops`, metric: 'ops/s', value: ops, unit: 'ops/s', ...p })
  ctx.record({ name: `${prefix}-p50`, metric: 'p50-latency', value: p50, unit: 'ms', ...p })
  ctx.record({ name: `${prefix}-p99`, metric: 'p99-latency', value: p99, unit: 'ms', ...p })
  ctx.log(
    `${prefix} (median of ${results.length}): ${ops.toFixed(0)} ops/s p50 ${p50.toFixed(1)} ms p99 ${p99.toFixed(1)} ms`,
  )
}

/** Names of the failover results: SIGKILL keeps the names earlier runs used. */
const failoverName = (fault: LeaderFault) => (fault === 'SIGKILL' ? 'failover' : 'failover-sigstop')

/** A system's failovers after `fault`: the median per round (spread over rounds), and every one in the log. */
function recordFailovers(
  ctx: SuiteContext,
  system: 'shoal' | 'etcd',
  fault: LeaderFault,
  rounds: number[][],
  peer?: string,
): void {
  const name = `${system === 'etcd' ? 'etcd-' : ''}${failoverName(fault)}`
  const extra = peer === undefined ? {} : { peer }
  ctx.recordSpread(name, 'median-failover', 'ms', rounds.map(median), extra)
  const all = rounds.flat()
  ctx.record({ name: `${name}-all`, metric: 'median-failover', value: median(all), unit: 'ms', ...extra })
  ctx.log(
    `${system} failovers after ${fault}, by round: ${rounds.map((r) => r.map((t) => t.toFixed(0)).join(' ')).join(' | ')} ms; median of all ${all.length}: ${median(all).toFixed(0)} ms`,
  )
}

/** Per-round ratio of the medians, and the ratio of the medians of all failovers. */
function compareFailovers(
  ctx: SuiteContext,
  fault: LeaderFault,
  ours: number[][],
  theirs: number[][],
  peer: string,
): void {
  const name = failoverName(fault)
  const perRoundRatios = recordRatio(
    ctx,
    `${name}-ratio-vs-etcd`,
    ours.map((r, i) => median(r) / median(theirs[i] as number[])),
    peer,
  )
  // Taken over the same rounds: the per-round ratios' spread goes with it.
  ctx.ratio(`${name}-all-ratio-vs-etcd`, median(ours.flat()), median(theirs.flat()), peer, perRoundRatios)
}

function perRound(ours: LoadResult[], theirs: LoadResult[], pick: (r: LoadResult) => number): number[] {
  return ours.map((r, i) => pick(r) / pick(theirs[i] as LoadResult))
}

export default defineSuite({
  description:
    'Raft: example KV (3 processes, WAL fsync always) vs etcd (3 members), both clients pinned to the leader, alternating rounds, same failover probe, Go-client control',
  async run(ctx) {
    recordMachineLoad(ctx, 'start')
    const rounds = ctx.smoke ? 2 : ctx.rounds
    const durationMs = ctx.smoke ? 300 : 3000
    const version = etcdVersion()
    if (version === null) {
      const reason = `etcd is not installed (${ETCD_BINARY}; bash scripts/install-peers.sh)`
      if (!ctx.smoke) throw new Error(`the full benchmark needs etcd: ${reason}`)
      ctx.log(`${reason}: the peer is skipped in this smoke run`)
      ctx.record({ name: 'etcd-skipped', metric: 'skipped', value: 1, unit: 'flag', peer: reason })
    } else ctx.log(`peer: ${version}`)
    const peer = version ?? 'etcd (absent)'
    const goPeer = `${peer}, Go clientv3 (etcd-go-load)`
    const goControl = version !== null && etcdGoLoadAvailable()
    if (version !== null && !goControl) {
      const reason = 'etcd-go-load not built (packages/raft/bench/etcd-go-load/build.sh)'
      ctx.log(`${reason}: no Go-client control`)
      ctx.record({ name: 'etcd-go-control-skipped', metric: 'skipped', value: 1, unit: 'flag', peer: reason })
    }

    const shoal = await shoalSystem()
    const etcd = version === null ? null : await etcdSystem()
    const figures: Figures = new Map()
    /** Per system and fault (`shoal-SIGKILL`), per round, every failover's time. */
    const failovers = new Map<string, number[][]>()
    try {
      // Warm-up (JIT, connections, first WAL segments), not recorded.
      for (const system of [shoal, etcd]) {
        if (system === null) continue
        await runLoad(16, ctx.smoke ? 200 : 2000, (w, s) => system.put(`warm-${w}`, value256(s)))
      }
      for (let round = 0; round < rounds; round++) {
        const order = [shoal, etcd].filter((s): s is System => s !== null)
        if (round % 2 === 1) order.reverse()
        ctx.log(`round ${round + 1}/${rounds}: ${order.map((s) => s.name).join(' then ')}`)
        for (const clients of CLIENT_COUNTS) {
          for (const system of order) {
            const result = await runLoad(clients, durationMs, (w, s) =>
              system.put(`key-${w}-${s % KEYS_PER_CLIENT}`, value256(s)),
            )
            add(figures, `${system.name}-put-${clients}`, result)
            if (system === etcd && goControl) {
              const go = await goClientPuts({
                endpoint: etcd.leaderEndpoint(),
                clients,
                durationMs,
                valueBytes: 256,
                keysPerClient: KEYS_PER_CLIENT,
              })
              add(figures, `go-put-${clients}`, go)
            }
          }
        }
        for (const system of order) {
          const result = await runLoad(64, durationMs, (w, s) =>
            system.get(`key-${w}-${s % KEYS_PER_CLIENT}`),
          )
          add(figures, `${system.name}-get-64`, result)
        }
        for (const fault of FAULTS) {
          for (const system of order)
            failovers.set(`${system.name}-${fault}`, [
              ...(failovers.get(`${system.name}-${fault}`) ?? []),
              [],
            ])
          for (let i = 0; i < (ctx.smoke ? 2 : FAILOVERS_PER_ROUND); i++) {
            for (const system of order) {
              const timing = await system.failover(fault)
              failovers.get(`${system.name}-${fault}`)?.at(-1)?.push(timing.elapsedMs)
              ctx.log(
                `${system.name} failover after ${fault}: ${timing.elapsedMs.toFixed(0)} ms (${timing.attempts} attempts)`,
              )
            }
          }
        }
      }

      const workloads = [...CLIENT_COUNTS.map((c) => `put-${c}`), 'get-64']
      for (const workload of workloads) {
        recordFigures(ctx, workload, figures.get(`shoal-${workload}`) ?? [])
        if (etcd !== null) recordFigures(ctx, `etcd-${workload}`, figures.get(`etcd-${workload}`) ?? [], peer)
        if (figures.has(`go-${workload}`))
          recordFigures(ctx, `etcd-go-${workload}`, figures.get(`go-${workload}`) ?? [], goPeer)
      }
      for (const fault of FAULTS) recordFailovers(ctx, 'shoal', fault, failovers.get(`shoal-${fault}`) ?? [])
      if (etcd === null) return
      for (const fault of FAULTS) {
        const theirs = failovers.get(`etcd-${fault}`) ?? []
        recordFailovers(ctx, 'etcd', fault, theirs, peer)
        compareFailovers(ctx, fault, failovers.get(`shoal-${fault}`) ?? [], theirs, peer)
      }
      for (const workload of workloads) {
        const ours = figures.get(`shoal-${workload}`) as LoadResult[]
        const theirs = figures.get(`etcd-${workload}`) as LoadResult[]
        recordRatio(
          ctx,
          `${workload}-ratio-vs-etcd`,
          perRound(ours, theirs, (r) => r.opsPerSecond),
          peer,
        )
        const clients = workload.split('-')[1]
        recordRatio(
          ctx,
          `p99-${clients}${workload.startsWith('get') ? '-get' : ''}-ratio-vs-etcd`,
          perRound(ours, theirs, (r) => r.p99Ms),
          peer,
        )
        const go = figures.get(`go-${workload}`)
        if (go === undefined) continue
        recordRatio(
          ctx,
          `${workload}-ratio-vs-etcd-go-client`,
          perRound(ours, go, (r) => r.opsPerSecond),
          goPeer,
        )
        recordRatio(
          ctx,
          `${workload}-etcd-node-client-vs-go-client`,
          perRound(theirs, go, (r) => r.opsPerSecond),
          goPeer,
        )
      }

      if (!ctx.smoke && etcdctlAvailable()) {
        ctx.log('etcdctl check perf --load=s against the etcd cluster (60 s)')
        const perf = await checkPerf(etcd.endpoints())
        ctx.record({
          name: 'etcdctl-check-perf-writes',
          metric: 'writes/s',
          value: perf.writesPerSecond,
          unit: 'writes/s',
          peer,
        })
        ctx.record({
          name: 'etcdctl-check-perf-slowest',
          metric: 'max-latency',
          value: perf.slowestMs,
          unit: 'ms',
          peer,
        })
        ctx.record({
          name: 'etcdctl-check-perf-stddev',
          metric: 'stddev-latency',
          value: perf.stddevMs,
          unit: 'ms',
          peer,
        })
        ctx.record({
          name: 'etcdctl-check-perf-pass',
          metric: 'pass',
          value: perf.passed ? 1 : 0,
          unit: 'flag',
          peer,
        })
        ctx.log(
          `etcdctl check perf: ${perf.passed ? 'PASS' : 'FAIL'}, ${perf.writesPerSecond} writes/s, slowest ${perf.slowestMs.toFixed(0)} ms`,
        )
      }
    } finally {
      await shoal.close()
      await etcd?.close()
      recordMachineLoad(ctx, 'end')
    }
  },
})
