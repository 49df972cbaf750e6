import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { defineSuite } from '@shoal/bench'
import { type CpuPerPut, measureCpuPerPut, recordCpuPerPut } from '../../raft/bench/cpu.ts'
import { runLoad, value256 } from '../../raft/bench/load.ts'
import { median, recordMachineLoad, recordRatio } from '../../raft/bench/stats.ts'
import { KvClient } from '../../raft/examples/kv/client.ts'
import { KvProcessCluster } from '../../raft/examples/kv/cluster.ts'
import { CLUSTER_KEY_ENV } from './raft-libp2p-transport.ts'

/**
 * Raft over libp2p against Raft over raw TCP: the same 3-process Raft KV
 * (the raft package's example: same WAL storage, fsync on every Ready, same
 * client port and client) with its member-to-member transport either the
 * example's raw TCP framing or Shoal's `P2PNode` (TCP + pnet + Noise +
 * Yamux, `/shoal/raft/1`), loaded with `--transport-module`. Both clusters
 * run at once on this machine; the load client is pinned to each leader;
 * rounds alternate which goes first. The ratio (libp2p ÷ TCP) is the price
 * of the encrypted, multiplexed transport. Beside puts/s it records the CPU
 * time each put costs per process (leader, followers, client; `cpu.ts`),
 * which shows that price where the machine's load blurs throughput.
 */
const HEARTBEAT_MS = 100
const ELECTION_MS = 1000
const CLIENT_COUNTS = [1, 64] as const
const TRANSPORT_MODULE = fileURLToPath(new URL('./raft-libp2p-transport.ts', import.meta.url))

interface Kv {
  name: 'tcp' | 'libp2p'
  cluster: KvProcessCluster
  leader: string
  client: KvClient
}

async function startKv(name: Kv['name']): Promise<Kv> {
  const cluster = await KvProcessCluster.start({
    tickMs: HEARTBEAT_MS,
    electionTicks: ELECTION_MS / HEARTBEAT_MS,
    heartbeatTicks: 1,
    ...(name === 'libp2p'
      ? { transportModule: TRANSPORT_MODULE, env: { [CLUSTER_KEY_ENV]: randomBytes(32).toString('hex') } }
      : {}),
  })
  const leader = await cluster.leader(30_000)
  const client = new KvClient([cluster.address(leader)], { attemptTimeoutMs: 5000, deadlineMs: 30_000 })
  return { name, cluster, leader, client }
}

export default defineSuite({
  description:
    'Raft KV example, 3 processes, fsync always: member transport libp2p (pnet + Noise + Yamux) vs raw TCP framing, same run',
  async run(ctx) {
    recordMachineLoad(ctx, 'start')
    const rounds = ctx.smoke ? 2 : ctx.rounds
    const durationMs = ctx.smoke ? 300 : 3000
    const systems: Kv[] = []
    try {
      systems.push(await startKv('tcp'))
      systems.push(await startKv('libp2p'))
      for (const kv of systems) {
        await runLoad(16, ctx.smoke ? 200 : 2000, (w, s) => kv.client.put(`warm-${w}`, value256(s)))
      }
      const figures = new Map<string, { ops: number; p50: number; p99: number }[]>()
      const cpu = new Map<string, CpuPerPut[]>()
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? [...systems] : [...systems].reverse()
        ctx.log(`round ${round + 1}/${rounds}: ${order.map((kv) => kv.name).join(' then ')}`)
        for (const clients of CLIENT_COUNTS) {
          for (const kv of order) {
            const run = await measureCpuPerPut(kv.cluster, kv.leader, kv.client, clients, durationMs)
            const r = run.load
            const key = `${kv.name}-put-${clients}`
            cpu.set(key, [...(cpu.get(key) ?? []), run])
            figures.set(key, [
              ...(figures.get(key) ?? []),
              { ops: r.opsPerSecond, p50: r.p50Ms, p99: r.p99Ms },
            ])
          }
        }
      }
      for (const clients of CLIENT_COUNTS) {
        for (const kv of systems) {
          const list = figures.get(`${kv.name}-put-${clients}`) ?? []
          const name = `${kv.name}-put-${clients}`
          const ops = median(list.map((f) => f.ops))
          const p50 = median(list.map((f) => f.p50))
          const p99 = median(list.map((f) => f.p99))
          ctx.record({ name: `${name}-ops`, metric: 'ops/s', value: ops, unit: 'ops/s' })
          ctx.record({ name: `${name}-p50`, metric: 'p50-latency', value: p50, unit: 'ms' })
          ctx.record({ name: `${name}-p99`, metric: 'p99-latency', value: p99, unit: 'ms' })
          ctx.log(
            `${name} (median of ${list.length}): ${ops.toFixed(0)} ops/s p50 ${p50.toFixed(1)} ms p99 ${p99.toFixed(1)} ms`,
          )
          recordCpuPerPut(ctx, name, cpu.get(name) ?? [])
        }
        const p2p = figures.get(`libp2p-put-${clients}`) ?? []
        const tcp = figures.get(`tcp-put-${clients}`) ?? []
        recordRatio(
          ctx,
          `put-${clients}-libp2p-vs-tcp`,
          p2p.map((f, i) => f.ops / (tcp[i]?.ops ?? Number.NaN)),
          'raw TCP transport',
        )
        const p2pCpu = cpu.get(`libp2p-put-${clients}`) ?? []
        const tcpCpu = cpu.get(`tcp-put-${clients}`) ?? []
        recordRatio(
          ctx,
          `cpu-per-put-${clients}-libp2p-vs-tcp`,
          p2pCpu.map((c, i) => c.totalUs / (tcpCpu[i]?.totalUs ?? Number.NaN)),
          'raw TCP transport',
        )
        recordRatio(
          ctx,
          `p99-${clients}-libp2p-vs-tcp`,
          p2p.map((f, i) => f.p99 / (tcp[i]?.p99 ?? Number.NaN)),
          'raw TCP transport',
        )
      }
    } finally {
      for (const kv of systems) {
        kv.client.close()
        await kv.cluster.stop()
      }
      recordMachineLoad(ctx, 'end')
    }
  },
})
