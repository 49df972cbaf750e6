import type { Rng } from '@shoal/testkit/rng'
import type { Message, NodeId } from '../../src/core/index.ts'

export interface NetworkFaults {
  /** Probability that a message is lost. */
  dropRate: number
  /** Probability that a message is delivered twice. */
  duplicateRate: number
  /** Delivery delay in time units: uniform in [1, maxDelay]; with `slowRate`, up to 10x. */
  maxDelay: number
  slowRate: number
}

/**
 * A simulated network: every message gets a random delay (so messages are
 * reordered), may be dropped or duplicated, and never crosses a cut link.
 */
export class SimNetwork {
  readonly #rng: Rng
  faults: NetworkFaults
  /** Delivery time -> messages due then. */
  #queue = new Map<number, Message[]>()
  #count = 0
  /** Unordered pairs "a|b" that cannot talk. */
  #cut = new Set<string>()

  constructor(rng: Rng, faults: NetworkFaults) {
    this.#rng = rng
    this.faults = faults
  }

  send(message: Message, now: number): void {
    if (this.#rng.chance(this.faults.dropRate)) return
    const copies = this.#rng.chance(this.faults.duplicateRate) ? 2 : 1
    for (let i = 0; i < copies; i++) {
      const slow = this.#rng.chance(this.faults.slowRate) ? 10 : 1
      const at = now + this.#rng.range(1, this.faults.maxDelay * slow)
      const bucket = this.#queue.get(at)
      if (bucket === undefined) this.#queue.set(at, [message])
      else bucket.push(message)
      this.#count++
    }
  }

  /** Messages due at `now` (call once per time unit), in random order; cut links swallow them. */
  due(now: number): Message[] {
    const bucket = this.#queue.get(now)
    if (bucket === undefined) return []
    this.#queue.delete(now)
    this.#count -= bucket.length
    const ready = this.#cut.size === 0 ? bucket : bucket.filter((m) => !this.isCut(m.from, m.to))
    return ready.length > 1 ? this.#rng.shuffle(ready) : ready
  }

  isCut(a: NodeId, b: NodeId): boolean {
    return this.#cut.has(a < b ? `${a}|${b}` : `${b}|${a}`)
  }

  cut(a: NodeId, b: NodeId): void {
    this.#cut.add(a < b ? `${a}|${b}` : `${b}|${a}`)
  }

  /** Splits `nodes` into `side` and the rest. */
  partition(side: readonly NodeId[], nodes: readonly NodeId[]): void {
    for (const a of side) for (const b of nodes) if (!side.includes(b)) this.cut(a, b)
  }

  heal(): void {
    this.#cut.clear()
  }

  get inFlight(): number {
    return this.#count
  }
}
