import { randomInt } from 'node:crypto'
import {
  type Member,
  type Message,
  type Metadata,
  resolveConfig,
  type SwimConfig,
  SwimCore,
  type SwimEvent,
  seededRandom,
} from './core/index.ts'
import type { Transport } from './transport.ts'

export interface SwimNodeOptions {
  /** This member's unique name. */
  id: string
  transport: Transport
  config?: Partial<SwimConfig>
  meta?: Metadata
  /** Addresses of members to join through. */
  seeds?: readonly string[]
  /** The incarnation to start from (persisted by a restarting member, if it keeps one). @defaultValue 0 */
  incarnation?: number
  /** How often the driver loop checks the core's deadlines. @defaultValue 10 */
  tickMs?: number
  /** Seed for the core's randomness. @defaultValue a random one */
  randomSeed?: number
  /**
   * Wall clock, in ms; injectable for tests. Read once, at construction: the core's time is this
   * reading advanced by `monotonicClock`, so its timestamps (`stateChangedAtMs`) are wall-clock
   * times while a step of the wall clock (NTP, an operator) neither stalls the probes and
   * deadlines for as long as it went back nor fires every suspicion timeout at once when it went
   * ahead. @defaultValue Date.now
   */
  clock?: () => number
  /** A clock that never steps, in ms. @defaultValue performance.now */
  monotonicClock?: () => number
}

export type SwimListener = (event: SwimEvent) => void

/**
 * The driver: runs a `SwimCore` on a `Transport` with a steady clock (see
 * `SwimNodeOptions.clock`). It owns
 * the loop (the only timer), turns received packets into `receive` calls and
 * ready batches into sends and events.
 */
export class SwimNode {
  readonly id: string
  readonly config: SwimConfig
  readonly #options: SwimNodeOptions
  readonly #transport: Transport
  readonly #clock: () => number
  readonly #listeners = new Set<SwimListener>()
  #core: SwimCore | undefined
  #timer: ReturnType<typeof setInterval> | undefined

  constructor(options: SwimNodeOptions) {
    this.id = options.id
    this.config = resolveConfig(options.config)
    this.#options = options
    this.#transport = options.transport
    const monotonic = options.monotonicClock ?? (() => performance.now())
    const originMs = (options.clock ?? Date.now)() - monotonic()
    this.#clock = () => originMs + monotonic()
  }

  get address(): string {
    return this.#transport.address
  }

  get incarnation(): number {
    return this.#requireCore().incarnation
  }

  /** Lifeguard's local health score (0 = healthy). */
  get localHealthScore(): number {
    return this.#requireCore().localHealthScore
  }

  async start(options: { signal?: AbortSignal } = {}): Promise<void> {
    options.signal?.throwIfAborted()
    if (this.#core !== undefined) return
    await this.#transport.start((messages) => this.#receive(messages))
    const now = this.#clock()
    this.#core = new SwimCore({
      id: this.id,
      address: this.#transport.address,
      config: this.config,
      random: seededRandom(this.#options.randomSeed ?? randomInt(2 ** 32)),
      nowMs: now,
      ...(this.#options.meta === undefined ? {} : { meta: this.#options.meta }),
      ...(this.#options.incarnation === undefined ? {} : { incarnation: this.#options.incarnation }),
    })
    this.#join(now)
    this.#timer = setInterval(() => this.#loop(), this.#options.tickMs ?? 10)
    this.#flush()
  }

  /** Stops at once (others will detect it as failed); see `leave` for a graceful exit. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    await this.#transport.stop()
  }

  /** Announces the leave, keeps gossiping for `propagateMs` so it spreads, then stops. */
  async leave(options: { propagateMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    const core = this.#requireCore()
    core.leave(this.#clock())
    this.#flush()
    const wait = options.propagateMs ?? this.config.gossipIntervalMs * 5
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, wait)
      options.signal?.addEventListener('abort', () => {
        clearTimeout(timer)
        resolve()
      })
    })
    await this.stop()
  }

  updateMetadata(meta: Metadata): void {
    this.#requireCore().updateMetadata(meta, this.#clock())
    this.#flush()
  }

  members(): Member[] {
    return this.#requireCore().members()
  }

  member(id: string): Member | undefined {
    return this.#requireCore().member(id)
  }

  /** Subscribes to membership events; returns the unsubscribe function. */
  on(listener: SwimListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  #loop(): void {
    const core = this.#core
    if (core === undefined) return
    const now = this.#clock()
    // The core repeats the join until a seed answers (seeds may start after us).
    if (now >= core.nextDeadlineMs()) core.tick(now)
    this.#flush()
  }

  #join(now: number): void {
    const seeds = this.#options.seeds ?? []
    if (seeds.length === 0) return
    this.#core?.join(seeds, now)
  }

  #receive(messages: Message[]): void {
    const core = this.#core
    if (core === undefined) return
    const now = this.#clock()
    for (const message of messages) core.receive(message, now)
    this.#flush()
  }

  #flush(): void {
    const core = this.#core
    if (core === undefined) return
    const ready = core.takeReady()
    const byTarget = new Map<string, Message[]>()
    for (const { to, message } of ready.messages) {
      const batch = byTarget.get(to)
      if (batch === undefined) byTarget.set(to, [message])
      else batch.push(message)
    }
    for (const [to, batch] of byTarget) this.#transport.send(to, batch)
    for (const event of ready.events) {
      for (const listener of this.#listeners) listener(event)
    }
  }

  #requireCore(): SwimCore {
    if (this.#core === undefined) throw new Error('the node is not started')
    return this.#core
  }
}
