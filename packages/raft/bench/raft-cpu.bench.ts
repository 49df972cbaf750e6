import { defineSuite } from '@shoal/bench'
import { KvClient } from '../examples/kv/client.ts'
import { KvProcessCluster } from '../examples/kv/cluster.ts'
import { type CpuPerPut, measureCpuPerPut, recordCpuPerPut } from './cpu.ts'
import { runLoad, value256 } from './load.ts'
import { recordMachineLoad } from './stats.ts'

/**
 * CPU time per acknowledged put of the example KV (3 processes, raw TCP
 * between members, WAL fsync on every write), by process: leader, both
 * followers, and the load client, user and system time apart. On a shared
 * machine puts/s move with the neighbours' load; CPU per put moves much less,
 * so this is the figure to compare before and after a change. Same cluster
 * settings and load generator as the `raft` suite (pinned to the leader,
 * 256-byte values, 100 keys per worker); medians over rounds.
 */
const HEARTBEAT_MS = 100
const ELECTION_MS = 1000
const CLIENT_COUNTS = [1, 64] as const

export default defineSuite({
  description:
    'Raft KV example, 3 processes, raw TCP, fsync always: CPU microseconds per acknowledged put by process (leader, followers, client)',
  async run(ctx) {
    recordMachineLoad(ctx, 'start')
    const rounds = ctx.smoke ? 2 : 5
    const durationMs = ctx.smoke ? 300 : 3000
    const cluster = await KvProcessCluster.start({
      tickMs: HEARTBEAT_MS,
      electionTicks: ELECTION_MS / HEARTBEAT_MS,
      heartbeatTicks: 1,
    })
    const leader = await cluster.leader(30_000)
    const client = new KvClient([cluster.address(leader)], { attemptTimeoutMs: 5000, deadlineMs: 30_000 })
    try {
      await runLoad(16, ctx.smoke ? 200 : 2000, (w, s) => client.put(`warm-${w}`, value256(s)))
      const runs = new Map<number, CpuPerPut[]>()
      for (let round = 0; round < rounds; round++) {
        for (const clients of CLIENT_COUNTS) {
          const run = await measureCpuPerPut(cluster, leader, client, clients, durationMs)
          runs.set(clients, [...(runs.get(clients) ?? []), run])
        }
      }
      for (const clients of CLIENT_COUNTS) recordCpuPerPut(ctx, `put-${clients}`, runs.get(clients) ?? [])
    } finally {
      client.close()
      await cluster.stop()
      recordMachineLoad(ctx, 'end')
    }
  },
})
