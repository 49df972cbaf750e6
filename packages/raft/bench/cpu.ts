import { readFileSync } from 'node:fs'
import type { SuiteContext } from '@shoal/bench'
import type { KvClient } from '../examples/kv/client.ts'
import type { KvProcessCluster } from '../examples/kv/cluster.ts'
import { type LoadResult, runLoad, value256 } from './load.ts'
import { median } from './stats.ts'

/** CPU time split as the kernel accounts it, in microseconds. */
export interface CpuTime {
  user: number
  system: number
}

/**
 * CPU time per put, by process, rather than wall time: on a shared machine a
 * busy neighbour lowers puts/s but changes much less how much CPU each put
 * takes. Members are read from /proc (all their threads: the file system's
 * thread pool too), the load client (this process) from `process.cpuUsage()`.
 * All figures are microseconds per acknowledged put.
 */
export interface CpuPerPut {
  /** The load itself: puts done, puts/s, latencies. */
  load: LoadResult
  leader: CpuTime
  /** Both followers together. */
  followers: CpuTime
  client: CpuTime
  /** Leader, followers and client, user and system. */
  totalUs: number
}

/** USER_HZ: the unit of /proc/<pid>/stat times on Linux. */
const TICKS_PER_SECOND = 100

/** User and system CPU of a process (all threads) so far, from /proc. */
export function processCpu(pid: number): CpuTime {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the parenthesised command name, which may itself hold spaces: utime is the 14th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const us = (ticks: string | undefined) => (Number(ticks) * 1_000_000) / TICKS_PER_SECOND
  return { user: us(fields[11]), system: us(fields[12]) }
}

const per = (a: CpuTime, b: CpuTime, puts: number): CpuTime => ({
  user: (b.user - a.user) / puts,
  system: (b.system - a.system) / puts,
})

const sum = (times: CpuTime[]): CpuTime => ({
  user: times.reduce((s, t) => s + t.user, 0),
  system: times.reduce((s, t) => s + t.system, 0),
})

/**
 * Runs `clients` closed-loop writers through `client` (pinned to `leader`)
 * for `durationMs` and divides each process's CPU time by the puts done.
 */
export async function measureCpuPerPut(
  cluster: KvProcessCluster,
  leader: string,
  client: KvClient,
  clients: number,
  durationMs: number,
): Promise<CpuPerPut> {
  const pids = cluster.members.map((m) => {
    const pid = cluster.pid(m.id)
    if (pid === null) throw new Error(`member ${m.id} is not running`)
    return { id: m.id, pid }
  })
  const read = () => ({ members: pids.map(({ pid }) => processCpu(pid)), client: process.cpuUsage() })
  const before = read()
  const load = await runLoad(clients, durationMs, (w, s) => client.put(`key-${w}-${s % 100}`, value256(s)))
  const after = read()
  const puts = load.operations
  const leaderAt = pids.findIndex((p) => p.id === leader)
  const members = pids.map((_, i) => per(before.members[i] as CpuTime, after.members[i] as CpuTime, puts))
  const leaderCpu = members[leaderAt] as CpuTime
  const followers = sum(members.filter((_, i) => i !== leaderAt))
  const clientCpu = per(before.client, after.client, puts)
  const all = sum([leaderCpu, followers, clientCpu])
  return {
    load,
    leader: leaderCpu,
    followers,
    client: clientCpu,
    totalUs: all.user + all.system,
  }
}

/** Records the median CPU per put of `runs` under `name`, by process. */
export function recordCpuPerPut(ctx: SuiteContext, name: string, runs: readonly CpuPerPut[]): void {
  const us = (pick: (run: CpuPerPut) => number) => median(runs.map(pick))
  const both = (t: CpuTime) => t.user + t.system
  const figures: Array<[string, number]> = [
    ['leader', us((r) => both(r.leader))],
    ['leader-user', us((r) => r.leader.user)],
    ['leader-system', us((r) => r.leader.system)],
    ['followers', us((r) => both(r.followers))],
    ['client', us((r) => both(r.client))],
    ['total', us((r) => r.totalUs)],
  ]
  for (const [part, value] of figures) {
    ctx.record({ name: `${name}-cpu-${part}`, metric: 'cpu-per-put', value, unit: 'us', rounds: runs.length })
  }
  const ops = us((r) => r.load.opsPerSecond)
  ctx.record({ name: `${name}-ops`, metric: 'ops/s', value: ops, unit: 'ops/s', rounds: runs.length })
  ctx.log(
    `${name} (median of ${runs.length}): ${figures.map(([p, v]) => `${p} ${v.toFixed(0)}`).join(', ')} µs/put; ${ops.toFixed(0)} puts/s`,
  )
}
