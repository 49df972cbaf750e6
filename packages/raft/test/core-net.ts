import { Rng } from '@shoal/testkit/rng'
import { type Message, type RaftConfig, RaftCore, resolveRaftConfig } from '../src/core/index.ts'
import { MemoryRaftStorage } from '../src/storage.ts'

/**
 * A synchronous, deterministic network of cores for scenario tests: `settle()`
 * delivers until quiet; links can be cut; every message sent is logged; a
 * member can be held so its messages wait in `held` for the test to deliver.
 */
export class CoreNet {
  readonly cores = new Map<string, RaftCore>()
  readonly storages = new Map<string, MemoryRaftStorage>()
  readonly cut = new Set<string>()
  readonly sent: Message[] = []
  readonly held: Message[] = []
  holdFrom: string | null = null
  #queue: Message[] = []

  constructor(ids: string[], overrides: Partial<RaftConfig> = {}, seed = 7) {
    const rng = new Rng(seed)
    for (const id of ids) {
      const storage = MemoryRaftStorage.bootstrap({ voters: ids, learners: [] })
      this.storages.set(id, storage)
      const config = resolveRaftConfig({ id, electionTicks: 10, heartbeatTicks: 1, ...overrides })
      this.cores.set(id, new RaftCore({ config, rng: rng.fork(), ...storage.loadSync() }))
    }
    this.drain()
  }

  core(id: string): RaftCore {
    return this.cores.get(id) as RaftCore
  }

  /** Handles every pending Ready of one member (early messages, persist, messages, advance). */
  process(id: string): void {
    const core = this.core(id)
    while (core.hasReady()) {
      const rd = core.ready()
      for (const m of rd.earlyMessages) this.#send(m)
      this.storages.get(id)?.saveSync(rd)
      for (const m of rd.messages) this.#send(m)
      core.advance(rd)
    }
  }

  drain(): void {
    for (const id of this.cores.keys()) this.process(id)
  }

  deliver(m: Message): void {
    this.core(m.to).step(m)
    this.drain()
  }

  settle(): void {
    this.drain()
    while (this.#queue.length > 0) this.deliver(this.#queue.shift() as Message)
  }

  /** Ticks every member not cut off (a cut member's node is down). */
  tick(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const [id, core] of this.cores) if (!this.cut.has(id)) core.tick()
      this.settle()
    }
  }

  /** Ticks until `done()` holds; returns the ticks it took, or throws after `limit`. */
  tickUntil(done: () => boolean, limit: number): number {
    for (let ticks = 1; ticks <= limit; ticks++) {
      this.tick()
      if (done()) return ticks
    }
    throw new Error(`condition not reached within ${limit} ticks`)
  }

  leader(): RaftCore | undefined {
    return [...this.cores.entries()].find(([id, c]) => !this.cut.has(id) && c.role === 'leader')?.[1]
  }

  elect(id: string): void {
    this.core(id).campaign()
    this.settle()
  }

  #send(m: Message): void {
    this.sent.push(m)
    if (this.cut.has(m.from) || this.cut.has(m.to)) return
    if (this.holdFrom === m.from) this.held.push(m)
    else this.#queue.push(m)
  }
}

export const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
