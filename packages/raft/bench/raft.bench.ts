import { defineSuite, type SuiteContext } from '@shoal/bench'
import { KvProcessCluster } from '../examples/kv/cluster.ts'
import { EtcdCluster } from './etcd.ts'
import { type LoadResult, runLoad, value256 } from './load.ts'

/**
 * The example KV (3 processes, WAL fsync on every write) next to etcd 3.4 (3
 * members, default fsync), both on loopback with heartbeat 100 ms and election
 * timeout 1000 ms, driven by the same closed-loop load generator.
 */
const HEARTBEAT_MS = 100
const ELECTION_MS = 1000

interface System {
  name: string
  peer?: string
  put(key: string, value: string): Promise<unknown>
  get(key: string): Promise<unknown>
  /** Kills the leader with SIGKILL and returns the milliseconds until the next successful put. */
  failover(): Promise<number>
  close(): Promise<void>
}

async function shoalSystem(): Promise<System> {
  const cluster = await KvProcessCluster.start({
    tickMs: HEARTBEAT_MS,
    electionTicks: ELECTION_MS / HEARTBEAT_MS,
    heartbeatTicks: 1,
  })
  const client = cluster.client({ attemptTimeoutMs: 2000, deadlineMs: 30_000 })
  return {
    name: 'shoal',
    put: (key, value) => client.put(key, value),
    get: (key) => client.get(key),
    async failover() {
      const victim = await cluster.leader()
      const survivors = cluster.members.filter((m) => m.id !== victim).map((m) => cluster.address(m.id))
      const probe = new (client.constructor as typeof import('../examples/kv/client.ts').KvClient)(
        survivors,
        {
          attemptTimeoutMs: 500,
          deadlineMs: 30_000,
        },
      )
      // Open the connections first (a put would bounce off the followers to the leader, outside this client).
      for (const address of survivors) await probe.direct(address, 'status')
      const started = performance.now()
      await cluster.kill(victim, 'SIGKILL')
      await probe.put('failover', 'after')
      const elapsed = performance.now() - started
      probe.close()
      await cluster.restart(victim)
      await cluster.leader()
      return elapsed
    },
    async close() {
      client.close()
      await cluster.stop()
    },
  }
}

async function etcdSystem(): Promise<System> {
  const cluster = await EtcdCluster.start({ heartbeatMs: HEARTBEAT_MS, electionMs: ELECTION_MS })
  const client = cluster.client()
  return {
    name: 'etcd',
    peer: 'etcd 3.4',
    put: (key, value) => client.put(key).value(value).exec(),
    get: (key) => client.get(key).string(),
    async failover() {
      const victim = await cluster.leader()
      const probe = cluster.client(victim, { direct: true })
      await probe.put('failover').value('warm')
      const started = performance.now()
      await cluster.kill(victim)
      for (;;) {
        try {
          await probe
            .put('failover')
            .value('after')
            .options({ deadline: Date.now() + 500 })
          break
        } catch {
          if (performance.now() - started > 30_000) throw new Error('etcd did not recover within 30 s')
          await new Promise((r) => setTimeout(r, 10))
        }
      }
      const elapsed = performance.now() - started
      probe.close()
      cluster.restart(victim)
      await new Promise((r) => setTimeout(r, 1000))
      await cluster.leader()
      return elapsed
    },
    async close() {
      client.close()
      await cluster.stop()
    },
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

function recordLoad(ctx: SuiteContext, system: System, name: string, result: LoadResult): void {
  const peer = system.peer === undefined ? {} : { peer: system.peer }
  const prefix = system.peer === undefined ? name : `etcd-${name}`
  ctx.record({ name: `${prefix}-ops`, metric: 'ops/s', value: result.opsPerSecond, unit: 'ops/s', ...peer })
  ctx.record({ name: `${prefix}-p50`, metric: 'p50-latency', value: result.p50Ms, unit: 'ms', ...peer })
  ctx.record({ name: `${prefix}-p99`, metric: 'p99-latency', value: result.p99Ms, unit: 'ms', ...peer })
  ctx.log(
    `${system.name} ${name}: ${result.opsPerSecond.toFixed(0)} ops/s p50 ${result.p50Ms.toFixed(1)} ms p99 ${result.p99Ms.toFixed(1)} ms`,
  )
}

export default defineSuite({
  description: 'Raft: example KV (3 processes, WAL fsync always) vs etcd 3.4 (3 members) on loopback',
  async run(ctx) {
    const durationMs = ctx.smoke ? 400 : 5000
    const failoverRuns = ctx.smoke ? 1 : 9
    const systems: System[] = []
    try {
      systems.push(await shoalSystem())
      if (EtcdCluster.available()) systems.push(await etcdSystem())
      else if (ctx.smoke) ctx.log('etcd is not installed (/usr/bin/etcd); skipping the peer in smoke mode')
      else throw new Error('the full benchmark needs etcd (/usr/bin/etcd; scripts/install-peers.sh)')

      // Warm-up (JIT, connections, first WAL segments), not recorded.
      for (const system of systems)
        await runLoad(16, ctx.smoke ? 200 : 2000, (w, s) => system.put(`warm-${w}`, value256(s)))
      const results = new Map<string, LoadResult>()
      for (const clients of [1, 16, 64]) {
        for (const system of systems) {
          const result = await runLoad(clients, durationMs, (w, s) =>
            system.put(`key-${w}-${s % 100}`, value256(s)),
          )
          recordLoad(ctx, system, `put-${clients}`, result)
          results.set(`${system.name}-put-${clients}`, result)
        }
      }
      for (const system of systems) {
        const result = await runLoad(64, durationMs, (w, s) => system.get(`key-${w}-${s % 100}`))
        recordLoad(ctx, system, 'get-64', result)
        results.set(`${system.name}-get-64`, result)
      }
      const failovers = new Map<string, number>()
      for (const system of systems) {
        const times: number[] = []
        for (let i = 0; i < failoverRuns; i++) times.push(await system.failover())
        const value = median(times)
        failovers.set(system.name, value)
        ctx.log(
          `${system.name} failover: ${times.map((t) => t.toFixed(0)).join(', ')} ms (median ${value.toFixed(0)})`,
        )
        const peer = system.peer === undefined ? {} : { peer: system.peer }
        const name = system.peer === undefined ? 'failover' : 'etcd-failover'
        ctx.record({ name, metric: 'median-failover', value, unit: 'ms', ...peer })
      }
      if (systems.length < 2) return
      const ours = (key: string) => results.get(`shoal-${key}`) as LoadResult
      const theirs = (key: string) => results.get(`etcd-${key}`) as LoadResult
      ctx.ratio(
        'put-64-ratio-vs-etcd',
        ours('put-64').opsPerSecond,
        theirs('put-64').opsPerSecond,
        'etcd 3.4',
      )
      ctx.ratio('p99-64-ratio-vs-etcd', ours('put-64').p99Ms, theirs('put-64').p99Ms, 'etcd 3.4')
      ctx.ratio('put-1-ratio-vs-etcd', ours('put-1').opsPerSecond, theirs('put-1').opsPerSecond, 'etcd 3.4')
      ctx.ratio(
        'get-64-ratio-vs-etcd',
        ours('get-64').opsPerSecond,
        theirs('get-64').opsPerSecond,
        'etcd 3.4',
      )
      ctx.ratio(
        'failover-ratio-vs-etcd',
        failovers.get('shoal') as number,
        failovers.get('etcd') as number,
        'etcd 3.4',
      )
    } finally {
      for (const system of systems) await system.close()
    }
  },
})
