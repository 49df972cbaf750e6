/**
 * Recent answer times of each node to shard reads, for hedging (shard-rpc.ts `readShards`): an
 * eventual read that a replica has not answered within about its usual p95 is sent to another
 * replica of the same shard too, and the first answer wins. Slow tails of one node then cost a
 * search at most that delay plus another replica's answer, not the whole time-out.
 */
export class ReplicaLatency {
  readonly #samples = new Map<string, { times: Float64Array; next: number; count: number }>()
  readonly #window: number
  readonly #minMs: number
  readonly #maxMs: number
  readonly #defaultMs: number

  constructor(options: { window?: number; minMs?: number; maxMs?: number; defaultMs?: number } = {}) {
    this.#window = options.window ?? 64
    this.#minMs = options.minMs ?? 5
    this.#maxMs = options.maxMs ?? 1_000
    this.#defaultMs = options.defaultMs ?? 100
  }

  /** Records that `nodeId` answered a read in `ms`. */
  record(nodeId: string, ms: number): void {
    let entry = this.#samples.get(nodeId)
    if (entry === undefined) {
      entry = { times: new Float64Array(this.#window), next: 0, count: 0 }
      this.#samples.set(nodeId, entry)
    }
    entry.times[entry.next] = ms
    entry.next = (entry.next + 1) % this.#window
    entry.count = Math.min(this.#window, entry.count + 1)
  }

  /**
   * How long to wait for `nodeId` before hedging: the p95 of its recent answers, within
   * [minMs, maxMs]; `defaultMs` until it has answered 8 reads.
   */
  hedgeDelay(nodeId: string): number {
    const entry = this.#samples.get(nodeId)
    if (entry === undefined || entry.count < 8) return this.#defaultMs
    const sorted = Array.from(entry.times.subarray(0, entry.count)).sort((a, b) => a - b)
    const p95 = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)]!
    return Math.min(this.#maxMs, Math.max(this.#minMs, p95))
  }
}
