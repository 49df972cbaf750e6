/**
 * Client-overhead controls: etcd measured by Go clients, so the share of the
 * Node gRPC client (etcd3) in the etcd figures can be read off.
 *
 * - `etcd-go-load` (`etcd-go-load/main.go`): etcd's own Go client (clientv3,
 *   one gRPC connection shared by every worker, as etcd's `benchmark put
 *   --conns=1`) in the same closed loop as the Node load generator. etcd's
 *   `benchmark` tool itself cannot be built here: Debian's
 *   golang-etcd-server-dev ships no `tools/` folder. `etcd-go-load/build.sh`
 *   builds the control with Debian's Go from Debian's etcd sources.
 * - `etcdctl check perf` (Debian's etcd-client): etcd's own pass/fail check
 *   of a cluster at a fixed write rate (60 s), a sanity check that the
 *   cluster set up here is not slowed by its setup.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { promisify } from 'node:util'
import type { LoadResult } from './load.ts'

const run = promisify(execFile)

export const ETCD_GO_LOAD = process.env.ETCD_GO_LOAD ?? '/usr/local/bin/etcd-go-load'
export const ETCDCTL = '/usr/bin/etcdctl'

export function etcdGoLoadAvailable(): boolean {
  return existsSync(ETCD_GO_LOAD)
}

export function etcdctlAvailable(): boolean {
  return existsSync(ETCDCTL)
}

/** `clients` Go workers putting `valueBytes`-byte values at one endpoint for `durationMs`. */
export async function goClientPuts(options: {
  endpoint: string
  clients: number
  durationMs: number
  valueBytes: number
  keysPerClient: number
}): Promise<LoadResult> {
  const { stdout } = await run(
    ETCD_GO_LOAD,
    [
      `--endpoint=${options.endpoint}`,
      `--clients=${options.clients}`,
      `--duration-ms=${options.durationMs}`,
      `--value-bytes=${options.valueBytes}`,
      `--keys-per-client=${options.keysPerClient}`,
    ],
    { timeout: options.durationMs + 60_000 },
  )
  const result = JSON.parse(stdout) as LoadResult & { errors: number }
  if (result.errors > 0) throw new Error(`etcd-go-load: ${result.errors} puts failed`)
  return {
    opsPerSecond: result.opsPerSecond,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    operations: result.operations,
  }
}

export interface CheckPerfResult {
  passed: boolean
  writesPerSecond: number
  slowestMs: number
  stddevMs: number
}

/** `etcdctl check perf --load=s` against `endpoints` (takes about 60 s). */
export async function checkPerf(endpoints: readonly string[]): Promise<CheckPerfResult> {
  const output = await run(ETCDCTL, [`--endpoints=${endpoints.join(',')}`, 'check', 'perf', '--load=s'], {
    env: { ...process.env, ETCDCTL_API: '3' },
    timeout: 180_000,
    maxBuffer: 16 * 1024 * 1024,
  }).catch((error: { stdout?: string; stderr?: string }) => {
    // It exits non-zero when a check fails; the report is still on stdout.
    if (typeof error.stdout === 'string' && error.stdout.includes('Throughput')) {
      return { stdout: error.stdout, stderr: error.stderr ?? '' }
    }
    throw error
  })
  const text = output.stdout
  const number = (pattern: RegExp): number => {
    const match = pattern.exec(text)
    if (match?.[1] === undefined) throw new Error(`etcdctl check perf output has no ${pattern}: ${text}`)
    return Number(match[1])
  }
  return {
    passed: /^PASS\s*$/m.test(text),
    writesPerSecond: number(/Throughput is (\d+) writes\/s/),
    slowestMs: number(/Slowest request took ([\d.]+)s/) * 1000,
    stddevMs: number(/Stddev is ([\d.]+)s/) * 1000,
  }
}
