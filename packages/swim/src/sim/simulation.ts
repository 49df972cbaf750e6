import { encodeMessages } from '../codec.ts'
import {
  type Member,
  type MemberRecord,
  type Message,
  type Metadata,
  type Random,
  resolveConfig,
  type SwimConfig,
  SwimCore,
  type SwimEvent,
  seededRandom,
} from '../core/index.ts'
import { EventHeap } from './event-heap.ts'

/**
 * Members that are periodically slow (the Lifeguard paper's experiments vary
 * message-processing delays). Episodes of slowness start after an
 * exponentially distributed gap (mean `meanGapMs`) and last `episodeMs`.
 *
 * - `delay`: during an episode every incoming message is processed `delayMs`
 *   late (one delay per episode, drawn uniformly), while timers fire on time —
 *   the paper's synthetic benchmark. Refutations reach the slow member late.
 * - `stall`: the process is not scheduled at all for the episode; when it
 *   resumes, expired timers run before the queued packets are read (as in
 *   Node.js's event loop after a blocking stall).
 */
export interface SlowMemberModel {
  /** Share of members that are slow, 0..1 (chosen at random), or their ids. */
  members: number | readonly string[]
  kind: 'delay' | 'stall'
  meanGapMs: number
  episodeMs: { min: number; max: number }
  /** Processing delay during a `delay` episode. */
  delayMs?: { min: number; max: number }
}

export interface SimulationOptions {
  seed: number
  config?: Partial<SwimConfig>
  /** One-way delay, uniform in [min, max]. @defaultValue { min: 1, max: 5 } */
  latencyMs?: { min: number; max: number }
  /** Probability that a message is lost, on every link. @defaultValue 0 */
  lossRate?: number
  /** Encode every message with the wire codec to count bytes (slower). @defaultValue false */
  measureBytes?: boolean
}

export interface SimulationStats {
  messagesSent: number
  messagesDropped: number
  bytesSent: number
}

export type SimulationListener = (observer: string, event: SwimEvent) => void

/**
 * One message seen by a trace: `sent` and `lost` when the sender hands it to
 * the network (lost by loss, a partition or an unknown address), `processed`
 * just before a running member handles it (after latency and slowness). The
 * events the receiver emits right after a `processed` trace were caused by
 * that message, which is how a trace tells how a member learnt something.
 */
export interface MessageTrace {
  phase: 'sent' | 'lost' | 'processed'
  from: string
  to: string
  message: Message
  atMs: number
}

export type TraceListener = (trace: MessageTrace) => void

interface SimNode {
  id: string
  core: SwimCore
  crashed: boolean
  stalledUntilMs: number
  backlog: Message[]
  /** During a `delay` episode: until when, and by how much incoming messages are late. */
  delayedUntilMs: number
  processingDelayMs: number
  scheduledTickAtMs: number
  generation: number
  slow: SlowMemberModel | undefined
}

type SimEvent =
  | { kind: 'tick'; atMs: number; order: number; node: SimNode; generation: number }
  | { kind: 'deliver'; atMs: number; order: number; node: SimNode; message: Message; late: boolean }
  | { kind: 'stall' | 'resume'; atMs: number; order: number; node: SimNode; generation: number }
  | { kind: 'call'; atMs: number; order: number; fn: () => void }

/**
 * A deterministic discrete-event simulation of a SWIM cluster: every member
 * is a `SwimCore`, the network has per-link loss and latency, partitions,
 * crashes, restarts and slow members. Same seed, same run.
 */
export class Simulation {
  readonly config: SwimConfig
  readonly random: Random
  readonly stats: SimulationStats = { messagesSent: 0, messagesDropped: 0, bytesSent: 0 }
  #nowMs = 0
  #order = 0
  readonly #heap = new EventHeap<SimEvent>()
  readonly #nodes = new Map<string, SimNode>()
  readonly #listeners: SimulationListener[] = []
  readonly #traceListeners: TraceListener[] = []
  readonly #latency: { min: number; max: number }
  #lossRate: number
  readonly #linkLoss = new Map<string, number>()
  #groups: Map<string, number> | undefined
  readonly #measureBytes: boolean

  constructor(options: SimulationOptions) {
    this.config = resolveConfig(options.config)
    this.random = seededRandom(options.seed)
    this.#latency = options.latencyMs ?? { min: 1, max: 5 }
    this.#lossRate = options.lossRate ?? 0
    this.#measureBytes = options.measureBytes ?? false
  }

  get nowMs(): number {
    return this.#nowMs
  }

  get memberIds(): string[] {
    return [...this.#nodes.keys()]
  }

  onEvent(listener: SimulationListener): void {
    this.#listeners.push(listener)
  }

  /** Traces every message (for debugging and investigations; slows the run a little). */
  onTrace(listener: TraceListener): void {
    this.#traceListeners.push(listener)
  }

  /** Adds a running member whose address is its id; it joins through `seeds` when given. */
  addMember(
    id: string,
    options: { seeds?: readonly string[]; meta?: Metadata; incarnation?: number } = {},
  ): void {
    const existing = this.#nodes.get(id)
    if (existing !== undefined && !existing.crashed) throw new Error(`member ${id} is already running`)
    const core = new SwimCore({
      id,
      address: id,
      config: this.config,
      random: seededRandom(Math.floor(this.random.next() * 4294967296)),
      nowMs: this.#nowMs,
      ...(options.meta === undefined ? {} : { meta: options.meta }),
      ...(options.incarnation === undefined ? {} : { incarnation: options.incarnation }),
    })
    const node: SimNode = existing ?? {
      id,
      core,
      crashed: false,
      stalledUntilMs: 0,
      backlog: [],
      delayedUntilMs: 0,
      processingDelayMs: 0,
      scheduledTickAtMs: Number.POSITIVE_INFINITY,
      generation: 0,
      slow: undefined,
    }
    node.core = core
    node.crashed = false
    node.stalledUntilMs = 0
    node.backlog = []
    node.delayedUntilMs = 0
    node.scheduledTickAtMs = Number.POSITIVE_INFINITY
    node.generation += 1
    this.#nodes.set(id, node)
    if (options.seeds !== undefined) core.join(options.seeds, this.#nowMs)
    this.#flush(node)
    if (node.slow !== undefined) this.#scheduleStall(node)
  }

  /**
   * Starts `count` members named `n0000…` that already know each other (as
   * after a settled join), so long runs measure steady state.
   */
  addFormedCluster(count: number, prefix = 'n'): string[] {
    const ids = Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`)
    const records: MemberRecord[] = ids.map((id) => ({
      id,
      address: id,
      incarnation: 0,
      state: 'alive',
      meta: {},
    }))
    for (const id of ids) {
      this.addMember(id)
      const node = this.#node(id)
      node.core.restoreMembers(records, this.#nowMs)
      this.#flush(node)
    }
    return ids
  }

  /** Makes members slow (see `SlowMemberModel`); returns their ids. */
  makeSlow(model: SlowMemberModel): string[] {
    let ids: string[]
    if (typeof model.members === 'number') {
      const all = this.memberIds
      const count = Math.round(all.length * model.members)
      ids = []
      while (ids.length < count) {
        const id = all[Math.floor(this.random.next() * all.length)] as string
        if (!ids.includes(id)) ids.push(id)
      }
    } else {
      ids = [...model.members]
    }
    for (const id of ids) {
      const node = this.#node(id)
      node.slow = model
      this.#scheduleStall(node)
    }
    return ids
  }

  /** The process dies: it sends and answers nothing more (kill -9). */
  kill(id: string): void {
    const node = this.#node(id)
    node.crashed = true
    node.generation += 1
  }

  /** A killed member starts again with empty state, joining through `seeds`. */
  restart(id: string, seeds: readonly string[]): void {
    if (!this.#node(id).crashed) throw new Error(`member ${id} is running`)
    this.addMember(id, { seeds })
  }

  isRunning(id: string): boolean {
    const node = this.#nodes.get(id)
    return node !== undefined && !node.crashed
  }

  leave(id: string): void {
    const node = this.#node(id)
    node.core.leave(this.#nowMs)
    this.#flush(node)
  }

  updateMetadata(id: string, meta: Metadata): void {
    const node = this.#node(id)
    node.core.updateMetadata(meta, this.#nowMs)
    this.#flush(node)
  }

  /** Splits the network: messages between different groups are lost. Members in no group form one more group. */
  partition(groups: readonly (readonly string[])[]): void {
    this.#groups = new Map()
    groups.forEach((group, index) => {
      for (const id of group) this.#groups?.set(id, index + 1)
    })
  }

  heal(): void {
    this.#groups = undefined
  }

  setLossRate(rate: number): void {
    this.#lossRate = rate
  }

  /** Loss on the link from `from` to `to` only (one direction). */
  setLinkLoss(from: string, to: string, rate: number): void {
    this.#linkLoss.set(`${from}\u0000${to}`, rate)
  }

  /** The view of one member. */
  view(observer: string): SwimCore {
    return this.#node(observer).core
  }

  stateOf(observer: string, subject: string): Member['state'] | undefined {
    return this.#node(observer).core.member(subject)?.state
  }

  /** Runs `fn` at simulated time `atMs`. */
  at(atMs: number, fn: () => void): void {
    this.#order += 1
    this.#heap.push({ kind: 'call', atMs, order: this.#order, fn })
  }

  /** Advances simulated time to `untilMs`, processing every event due by then. */
  runUntil(untilMs: number): void {
    for (;;) {
      const next = this.#heap.peek()
      if (next === undefined || next.atMs > untilMs) break
      this.#heap.pop()
      this.#nowMs = Math.max(this.#nowMs, next.atMs)
      this.#dispatch(next)
    }
    this.#nowMs = Math.max(this.#nowMs, untilMs)
  }

  runFor(durationMs: number): void {
    this.runUntil(this.#nowMs + durationMs)
  }

  /**
   * Runs until `done()` holds (checked every `checkEveryMs`) or `maxMs` more
   * simulated time passed; returns the time it first held, or undefined.
   */
  runUntilTrue(done: () => boolean, maxMs: number, checkEveryMs = 100): number | undefined {
    const end = this.#nowMs + maxMs
    while (this.#nowMs < end) {
      if (done()) return this.#nowMs
      this.runUntil(Math.min(end, this.#nowMs + checkEveryMs))
    }
    return done() ? this.#nowMs : undefined
  }

  #dispatch(event: SimEvent): void {
    if (event.kind === 'call') {
      event.fn()
      return
    }
    const node = event.node
    if (node.crashed) return
    switch (event.kind) {
      case 'tick':
        if (event.generation !== node.generation || event.atMs !== node.scheduledTickAtMs) return
        node.scheduledTickAtMs = Number.POSITIVE_INFINITY
        if (this.#nowMs < node.stalledUntilMs) return
        node.core.tick(this.#nowMs)
        this.#flush(node)
        return
      case 'deliver':
        if (!event.late && this.#nowMs < node.delayedUntilMs) {
          this.#order += 1
          this.#heap.push({
            ...event,
            atMs: this.#nowMs + node.processingDelayMs,
            order: this.#order,
            late: true,
          })
          return
        }
        if (this.#nowMs < node.stalledUntilMs) {
          node.backlog.push(event.message)
          return
        }
        this.#receive(node, event.message)
        this.#flush(node)
        return
      case 'stall':
        if (event.generation !== node.generation || node.slow === undefined) return
        this.#stall(node, node.slow)
        return
      case 'resume':
        if (event.generation !== node.generation) return
        this.#resume(node)
        return
    }
  }

  #stall(node: SimNode, model: SlowMemberModel): void {
    const { min, max } = model.episodeMs
    const endMs = this.#nowMs + min + this.random.next() * (max - min)
    if (model.kind === 'delay') {
      const delay = model.delayMs ?? { min: 1000, max: 1000 }
      node.delayedUntilMs = endMs
      node.processingDelayMs = delay.min + this.random.next() * (delay.max - delay.min)
    } else {
      node.stalledUntilMs = endMs
    }
    this.#order += 1
    this.#heap.push({ kind: 'resume', atMs: endMs, order: this.#order, node, generation: node.generation })
  }

  /** A starved process wakes: its timers fire first, then it reads what queued up. */
  #resume(node: SimNode): void {
    if (node.delayedUntilMs > 0) {
      node.delayedUntilMs = 0
      this.#scheduleStall(node)
      return
    }
    node.stalledUntilMs = 0
    node.core.tick(this.#nowMs)
    const backlog = node.backlog
    node.backlog = []
    for (const message of backlog) this.#receive(node, message)
    node.scheduledTickAtMs = Number.POSITIVE_INFINITY
    this.#flush(node)
    this.#scheduleStall(node)
  }

  #receive(node: SimNode, message: Message): void {
    if (this.#traceListeners.length > 0) this.#trace('processed', message.from, node.id, message)
    node.core.receive(message, this.#nowMs)
  }

  #trace(phase: MessageTrace['phase'], from: string, to: string, message: Message): void {
    const trace: MessageTrace = { phase, from, to, message, atMs: this.#nowMs }
    for (const listener of this.#traceListeners) listener(trace)
  }

  #scheduleStall(node: SimNode): void {
    const model = node.slow
    if (model === undefined) return
    const gap = -Math.log(1 - this.random.next()) * model.meanGapMs
    this.#order += 1
    this.#heap.push({
      kind: 'stall',
      atMs: this.#nowMs + gap,
      order: this.#order,
      node,
      generation: node.generation,
    })
  }

  #flush(node: SimNode): void {
    const ready = node.core.takeReady()
    for (const outgoing of ready.messages) this.#send(node, outgoing.to, outgoing.message)
    for (const event of ready.events) {
      for (const listener of this.#listeners) listener(node.id, event)
    }
    const deadline = node.core.nextDeadlineMs()
    if (deadline < node.scheduledTickAtMs) {
      node.scheduledTickAtMs = Math.max(deadline, this.#nowMs)
      this.#order += 1
      this.#heap.push({
        kind: 'tick',
        atMs: node.scheduledTickAtMs,
        order: this.#order,
        node,
        generation: node.generation,
      })
    }
  }

  #send(from: SimNode, to: string, message: Message): void {
    this.stats.messagesSent += 1
    if (this.#measureBytes) this.stats.bytesSent += encodeMessages([message]).byteLength
    const target = this.#nodes.get(to)
    const loss = this.#linkLoss.get(`${from.id}\u0000${to}`) ?? this.#lossRate
    const groups = this.#groups
    const cut = groups !== undefined && (groups.get(from.id) ?? 0) !== (groups.get(to) ?? 0)
    if (target === undefined || cut || (loss > 0 && this.random.next() < loss)) {
      this.stats.messagesDropped += 1
      if (this.#traceListeners.length > 0) this.#trace('lost', from.id, to, message)
      return
    }
    if (this.#traceListeners.length > 0) this.#trace('sent', from.id, to, message)
    const { min, max } = this.#latency
    this.#order += 1
    this.#heap.push({
      kind: 'deliver',
      atMs: this.#nowMs + min + this.random.next() * (max - min),
      order: this.#order,
      node: target,
      message,
      late: false,
    })
  }

  #node(id: string): SimNode {
    const node = this.#nodes.get(id)
    if (node === undefined) throw new Error(`no member ${id}`)
    return node
  }
}
