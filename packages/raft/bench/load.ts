import { percentile } from '@shoal/bench'
/** The load generator both systems share: closed-loop workers, each one request at a time. */
export interface KvTarget {
  put(key: string, value: string): Promise<unknown>
  get(key: string): Promise<unknown>
}

export interface LoadResult {
  opsPerSecond: number
  p50Ms: number
  p99Ms: number
  operations: number
}

/** Runs `clients` workers for `durationMs` doing `op`; latency is per request, throughput over the window. */
export async function runLoad(
  clients: number,
  durationMs: number,
  op: (worker: number, sequence: number) => Promise<unknown>,
): Promise<LoadResult> {
  const latencies: number[] = []
  const started = performance.now()
  const end = started + durationMs
  await Promise.all(
    Array.from({ length: clients }, async (_, worker) => {
      for (let sequence = 0; performance.now() < end; sequence++) {
        const t0 = performance.now()
        await op(worker, sequence)
        latencies.push(performance.now() - t0)
      }
    }),
  )
  const elapsed = performance.now() - started
  latencies.sort((a, b) => a - b)
  return {
    opsPerSecond: (latencies.length / elapsed) * 1000,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    operations: latencies.length,
  }
}

export function value256(seed: number): string {
  return `${seed}:`.padEnd(256, 'x')
}
