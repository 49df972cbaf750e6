import { BroadcastQueue, estimateUpdateBytes } from './broadcast-queue.ts'
import { LAN, type SwimConfig } from './config.ts'
import { type Random, randomInt, shuffleInPlace } from './random.ts'
import { Awareness, expectedConfirmations, Suspicion, suspicionMinTimeoutMs } from './suspicion.ts'
import type {
  Member,
  MemberRecord,
  MemberState,
  Message,
  Metadata,
  Outgoing,
  Ready,
  SwimEvent,
  Update,
} from './types.ts'

export interface SwimCoreOptions {
  id: string
  address: string
  meta?: Metadata
  /** A resolved configuration (see `resolveConfig`). @defaultValue LAN */
  config?: SwimConfig
  random: Random
  /** The driver's clock at creation. */
  nowMs: number
  /** The incarnation to start from; a restarted member may pass what it persisted. @defaultValue 0 */
  incarnation?: number
}

interface MemberEntry {
  id: string
  address: string
  incarnation: number
  state: MemberState
  meta: Metadata
  stateChangedAtMs: number
  /** When a message from the member itself last arrived (or when it was first heard of). */
  lastHeardMs: number
  suspicion: Suspicion | undefined
}

/** The probe in flight this protocol period (SWIM §3.1). */
interface PendingProbe {
  seq: number
  target: string
  ackDeadlineMs: number
  periodEndMs: number
  indirectSent: boolean
  expectedNacks: number
  nacks: number
}

/** A ping this node sent on behalf of another (ping-req). */
interface Relay {
  requesterId: string
  requesterAddress: string
  requesterSeq: number
  nackAtMs: number
}

/**
 * The SWIM + Lifeguard state machine. Pure and deterministic: the driver
 * calls `tick(now)` when `nextDeadlineMs()` is reached and `receive(message,
 * now)` for every message, then sends and delivers what `takeReady()` returns.
 * Time and randomness come from the caller; nothing here blocks or does I/O.
 */
export class SwimCore {
  readonly id: string
  readonly config: SwimConfig
  readonly #random: Random
  readonly #self: MemberEntry
  readonly #members = new Map<string, MemberEntry>()
  /** Every member but self, for O(1) random choice. */
  readonly #others: MemberEntry[] = []
  readonly #othersIndex = new Map<string, number>()
  readonly #suspects = new Set<MemberEntry>()
  #liveCount = 1
  /**
   * Members dead or left for less than `gossipToTheDeadMs`, by id, with when
   * they went. They still count in the cluster size estimate, as in
   * memberlist (whose node list keeps them until then), so an update about a
   * death is retransmitted as often as one sent a moment before it.
   */
  readonly #recentlyGone = new Map<string, number>()
  /** Seeds to repeat the join through until one answers with its state. */
  #joinSeeds: readonly string[] = []
  #joinRetryAtMs = Number.POSITIVE_INFINITY
  #joinAttempts = 0
  #probeOrder: string[] = []
  #probeCursor = 0
  /** Suspects to probe before resuming the round-robin (see `#applySuspect`). */
  #priorityProbes: string[] = []
  #pending: PendingProbe | undefined
  readonly #relays = new Map<number, Relay>()
  #seq = 0
  readonly #awareness: Awareness
  readonly #broadcasts: BroadcastQueue
  #outbox: Outgoing[] = []
  #events: SwimEvent[] = []
  #nextProbeAtMs: number
  #nextGossipAtMs: number
  #nextPushPullAtMs: number
  #nextReconnectAtMs: number
  #nextReapAtMs: number

  constructor(options: SwimCoreOptions) {
    this.id = options.id
    this.config = options.config ?? LAN
    this.#random = options.random
    const now = options.nowMs
    this.#self = {
      id: options.id,
      address: options.address,
      incarnation: options.incarnation ?? 0,
      state: 'alive',
      meta: { ...(options.meta ?? {}) },
      stateChangedAtMs: now,
      lastHeardMs: now,
      suspicion: undefined,
    }
    this.#members.set(this.id, this.#self)
    this.#awareness = new Awareness(this.config.awarenessMaxMultiplier)
    this.#broadcasts = new BroadcastQueue(this.config.retransmitMult)
    this.#broadcastSelfAlive()
    // Spread the first probe and gossip over one interval so members started together do not beat in step.
    this.#nextProbeAtMs = now + randomInt(this.#random, this.config.probeIntervalMs)
    this.#nextGossipAtMs = now + randomInt(this.#random, this.config.gossipIntervalMs)
    this.#nextPushPullAtMs = this.#staggered(now, this.config.pushPullIntervalMs)
    this.#nextReconnectAtMs = this.#staggered(now, this.config.reconnectIntervalMs)
    this.#nextReapAtMs = now + 60_000
  }

  // ---- Queries ------------------------------------------------------------

  get incarnation(): number {
    return this.#self.incarnation
  }

  /** Lifeguard's local health multiplier minus one (0 = healthy). */
  get localHealthScore(): number {
    return this.#awareness.score
  }

  /** Members alive or suspect, this node included. */
  get clusterSize(): number {
    return this.#liveCount
  }

  /**
   * memberlist's `estNumNodes`: this node (even after leaving) and the
   * members alive or suspect, plus those dead or left for less than
   * `gossipToTheDeadMs`. Retransmit limits and suspicion timeouts are sized
   * by it.
   */
  get estimatedClusterSize(): number {
    const selfGone = this.#self.state === 'left' ? 1 : 0
    return this.#liveCount + this.#recentlyGone.size + selfGone
  }

  /** True while a join has not yet been answered with a full state. */
  get joining(): boolean {
    return this.#joinSeeds.length > 0
  }

  member(id: string): Member | undefined {
    const entry = this.#members.get(id)
    return entry === undefined ? undefined : snapshot(entry)
  }

  /** Every known member, this node included, dead and left ones too. */
  members(): Member[] {
    return [...this.#members.values()].map(snapshot)
  }

  /** The earliest time `tick` has work to do. */
  nextDeadlineMs(): number {
    let deadline = Math.min(
      this.#nextProbeAtMs,
      this.#nextGossipAtMs,
      this.#nextPushPullAtMs,
      this.#nextReconnectAtMs,
      this.#nextReapAtMs,
      this.#joinRetryAtMs,
    )
    const pending = this.#pending
    if (pending !== undefined) {
      deadline = Math.min(deadline, pending.indirectSent ? pending.periodEndMs : pending.ackDeadlineMs)
    }
    for (const relay of this.#relays.values()) deadline = Math.min(deadline, relay.nackAtMs)
    for (const entry of this.#suspects) {
      if (entry.suspicion !== undefined) deadline = Math.min(deadline, entry.suspicion.deadlineMs)
    }
    return deadline
  }

  /** Messages to send and events to deliver since the last call; the caller owns both arrays. */
  takeReady(): Ready {
    const ready = { messages: this.#outbox, events: this.#events }
    this.#outbox = []
    this.#events = []
    return ready
  }

  // ---- Commands -----------------------------------------------------------

  /**
   * Starts a full-state sync with each seed address (memberlist `Join`) and
   * repeats it until some member answers with its state: memberlist joins
   * over TCP, so a lost datagram must not leave a (re)started member knowing
   * nobody. Retries go every probe interval five times, then back off to 16
   * intervals; each also goes to one member learnt meanwhile, in case the
   * seeds are gone.
   */
  join(seedAddresses: readonly string[], nowMs: number): void {
    this.#joinSeeds = seedAddresses.filter((address) => address !== this.#self.address)
    this.#joinAttempts = 0
    this.#sendJoin(nowMs)
  }

  #sendJoin(nowMs: number): void {
    if (this.#joinSeeds.length === 0 || this.#self.state === 'left') {
      this.#joinRetryAtMs = Number.POSITIVE_INFINITY
      return
    }
    for (const address of this.#joinSeeds) this.#sendPushPull(address, true, false)
    if (this.#joinAttempts > 0) {
      const known = this.#pickOthers(1, (m) => m.state === 'alive' && !this.#joinSeeds.includes(m.address))[0]
      if (known !== undefined) this.#sendPushPull(known.address, true, false)
    }
    const backoff = 2 ** Math.min(4, Math.max(0, this.#joinAttempts - 5))
    this.#joinRetryAtMs = nowMs + this.config.probeIntervalMs * backoff
    this.#joinAttempts += 1
  }

  /**
   * Adds members known from elsewhere (a saved snapshot, a fixture that
   * starts a cluster already formed) without gossiping them or emitting events.
   * Members already known are left as they are.
   */
  restoreMembers(records: readonly MemberRecord[], nowMs: number): void {
    for (const record of records) {
      if (record.id === this.id || this.#members.has(record.id)) continue
      const state: MemberState = record.state === 'suspect' ? 'alive' : record.state
      const entry: MemberEntry = {
        ...record,
        state: 'alive',
        stateChangedAtMs: nowMs,
        lastHeardMs: nowMs,
        suspicion: undefined,
      }
      this.#addMember(entry, false)
      this.#setState(entry, state, nowMs)
    }
    this.#probeOrder = shuffleInPlace(
      this.#random,
      this.#others.map((m) => m.id),
    )
    this.#probeCursor = 0
    // The cluster just grew: spread this member's syncs over the size-scaled interval.
    this.#nextPushPullAtMs = this.#staggered(nowMs, this.config.pushPullIntervalMs)
  }

  /** Announces a graceful leave; the driver keeps ticking a little so it spreads, then stops. */
  leave(nowMs: number): void {
    if (this.#self.state === 'left') return
    this.#self.incarnation += 1
    this.#setState(this.#self, 'left', nowMs)
    this.#broadcasts.enqueue({
      kind: 'dead',
      id: this.id,
      incarnation: this.#self.incarnation,
      from: this.id,
    })
    this.#pending = undefined
    this.#nextProbeAtMs = Number.POSITIVE_INFINITY
  }

  /** Replaces this node's metadata; the new incarnation is its version. */
  updateMetadata(meta: Metadata, nowMs: number): void {
    void nowMs
    this.#self.meta = { ...meta }
    this.#self.incarnation += 1
    this.#broadcastSelfAlive()
  }

  // ---- Time ---------------------------------------------------------------

  tick(nowMs: number): void {
    if (nowMs >= this.#joinRetryAtMs) this.#sendJoin(nowMs)
    this.#forgetGone(nowMs)
    this.#expireSuspicions(nowMs)
    this.#advanceProbe(nowMs)
    this.#expireRelays(nowMs)
    if (nowMs >= this.#nextProbeAtMs) this.#startProbe(nowMs)
    if (nowMs >= this.#nextGossipAtMs) {
      this.#nextGossipAtMs = nowMs + this.config.gossipIntervalMs
      this.#gossip(nowMs)
    }
    if (nowMs >= this.#nextPushPullAtMs) {
      this.#nextPushPullAtMs = this.#scheduleEvery(nowMs, this.config.pushPullIntervalMs, true)
      const peer = this.#pickOthers(1, (m) => m.state === 'alive' || m.state === 'suspect')[0]
      if (peer !== undefined && this.#self.state !== 'left') this.#sendPushPull(peer.address, false, false)
    }
    if (nowMs >= this.#nextReconnectAtMs) {
      this.#nextReconnectAtMs = this.#scheduleEvery(nowMs, this.config.reconnectIntervalMs, false)
      this.#reconnect()
    }
    if (nowMs >= this.#nextReapAtMs) {
      this.#nextReapAtMs = nowMs + 60_000
      this.#reap(nowMs)
    }
  }

  /** The first run of a periodic task: a random point within one (size-scaled) interval. */
  #staggered(nowMs: number, intervalMs: number): number {
    const next = this.#scheduleEvery(nowMs, intervalMs, true)
    if (!Number.isFinite(next)) return next
    return nowMs + Math.floor(this.#random.next() * (next - nowMs))
  }

  #scheduleEvery(nowMs: number, intervalMs: number, scaleBySize: boolean): number {
    if (intervalMs <= 0) return Number.POSITIVE_INFINITY
    // memberlist `pushPullScale`: above 32 members, sync less often so the total rate stays flat.
    const n = this.#liveCount
    const scale = scaleBySize && n > 32 ? Math.ceil(Math.log2(n) - Math.log2(32)) + 1 : 1
    return nowMs + intervalMs * scale
  }

  #forgetGone(nowMs: number): void {
    for (const [id, goneAtMs] of this.#recentlyGone) {
      if (nowMs - goneAtMs >= this.config.gossipToTheDeadMs) this.#recentlyGone.delete(id)
    }
  }

  #expireSuspicions(nowMs: number): void {
    for (const entry of [...this.#suspects]) {
      const suspicion = entry.suspicion
      if (suspicion === undefined || nowMs < suspicion.deadlineMs) continue
      this.#applyDead({ kind: 'dead', id: entry.id, incarnation: entry.incarnation, from: this.id }, nowMs)
    }
  }

  #startProbe(nowMs: number): void {
    if (this.#pending !== undefined) {
      this.#nextProbeAtMs = this.#pending.periodEndMs
      return
    }
    const intervalMs = this.#scaled(this.config.probeIntervalMs)
    this.#nextProbeAtMs = nowMs + intervalMs
    const target = this.#nextPriorityTarget() ?? this.#nextProbeTarget()
    if (target === undefined) return
    this.#seq += 1
    this.#pending = {
      seq: this.#seq,
      target: target.id,
      ackDeadlineMs: nowMs + this.#scaled(this.config.probeTimeoutMs),
      periodEndMs: nowMs + intervalMs,
      indirectSent: false,
      expectedNacks: 0,
      nacks: 0,
    }
    const updates: Update[] = []
    let budget = this.config.piggybackBudgetBytes
    if (this.config.lifeguard && target.state === 'suspect') {
      // Lifeguard buddy system: tell a suspect it is suspected, so it can refute at once.
      const buddy: Update = { kind: 'suspect', id: target.id, incarnation: target.incarnation, from: this.id }
      updates.push(buddy)
      budget -= estimateUpdateBytes(buddy)
    }
    updates.push(...this.#broadcasts.take(budget, this.estimatedClusterSize, target.id))
    this.#send(target.address, {
      type: 'ping',
      seq: this.#seq,
      from: this.id,
      fromAddress: this.#self.address,
      target: target.id,
      updates,
    })
  }

  #nextPriorityTarget(): MemberEntry | undefined {
    while (this.#priorityProbes.length > 0) {
      const entry = this.#members.get(this.#priorityProbes.shift() as string)
      if (entry !== undefined && entry.state === 'suspect') return entry
    }
    return undefined
  }

  #nextProbeTarget(): MemberEntry | undefined {
    for (let attempts = 0; attempts <= this.#probeOrder.length + 1; attempts++) {
      if (this.#probeCursor >= this.#probeOrder.length) {
        this.#probeOrder = shuffleInPlace(
          this.#random,
          this.#others.map((m) => m.id),
        )
        this.#probeCursor = 0
        if (this.#probeOrder.length === 0) return undefined
      }
      const id = this.#probeOrder[this.#probeCursor] as string
      this.#probeCursor += 1
      const entry = this.#members.get(id)
      if (entry !== undefined && (entry.state === 'alive' || entry.state === 'suspect')) return entry
    }
    return undefined
  }

  #advanceProbe(nowMs: number): void {
    const pending = this.#pending
    if (pending === undefined) return
    const target = this.#members.get(pending.target)
    if (target === undefined || target.state === 'dead' || target.state === 'left') {
      this.#pending = undefined
      return
    }
    if (!pending.indirectSent && nowMs >= pending.ackDeadlineMs) {
      pending.indirectSent = true
      this.#sendIndirectProbes(pending, target)
    }
    if (nowMs < pending.periodEndMs) return
    this.#pending = undefined
    if (this.config.lifeguard) {
      // Lifeguard §IV-A: missing nacks mean this node may be the slow one.
      const delta = pending.expectedNacks > 0 ? Math.max(0, pending.expectedNacks - pending.nacks) : 1
      this.#awareness.applyDelta(delta)
    }
    this.#applySuspect(
      { kind: 'suspect', id: target.id, incarnation: target.incarnation, from: this.id },
      nowMs,
    )
  }

  #sendIndirectProbes(pending: PendingProbe, target: MemberEntry): void {
    const helpers = this.#pickOthers(
      this.config.indirectChecks,
      (m) => m.state === 'alive' && m.id !== target.id,
    )
    pending.expectedNacks = this.config.lifeguard ? helpers.length : 0
    for (const helper of helpers) {
      this.#send(helper.address, {
        type: 'ping-req',
        seq: pending.seq,
        from: this.id,
        fromAddress: this.#self.address,
        target: target.id,
        targetAddress: target.address,
        updates: this.#broadcasts.take(
          this.config.piggybackBudgetBytes,
          this.estimatedClusterSize,
          helper.id,
        ),
      })
    }
  }

  #expireRelays(nowMs: number): void {
    for (const [seq, relay] of this.#relays) {
      if (nowMs < relay.nackAtMs) continue
      this.#relays.delete(seq)
      if (this.config.lifeguard) {
        this.#send(relay.requesterAddress, { type: 'nack', seq: relay.requesterSeq, from: this.id })
      }
    }
  }

  #gossip(nowMs: number): void {
    if (this.#broadcasts.size === 0) return
    const targets = this.#pickOthers(this.config.gossipNodes, (m) => {
      if (m.state === 'alive' || m.state === 'suspect') return true
      return m.state === 'dead' && nowMs - m.stateChangedAtMs < this.config.gossipToTheDeadMs
    })
    for (const target of targets) {
      const updates = this.#broadcasts.take(
        this.config.piggybackBudgetBytes,
        this.estimatedClusterSize,
        target.id,
      )
      if (updates.length === 0) continue
      this.#send(target.address, { type: 'gossip', from: this.id, updates })
    }
  }

  #reconnect(): void {
    // Everyone alive or suspect: nobody to reconnect to (the common case; skip the scan).
    if (this.#self.state === 'left' || this.#liveCount === this.#others.length + 1) return
    const dead = this.#others.filter((m) => m.state === 'dead')
    if (dead.length === 0) return
    const target = dead[randomInt(this.#random, dead.length)] as MemberEntry
    this.#sendPushPull(target.address, false, false)
  }

  #reap(nowMs: number): void {
    for (const entry of [...this.#others]) {
      if (entry.state !== 'dead' && entry.state !== 'left') continue
      if (nowMs - entry.stateChangedAtMs < this.config.deadMemberRetentionMs) continue
      this.#removeMember(entry)
    }
  }

  // ---- Messages -----------------------------------------------------------

  receive(message: Message, nowMs: number): void {
    const sender = this.#members.get(message.from)
    if (sender !== undefined) sender.lastHeardMs = nowMs
    switch (message.type) {
      case 'ping':
        this.#applyUpdates(message.updates, nowMs)
        // A ping meant for another member (an address reused after a restart) gets no ack.
        if (message.target !== this.id) return
        this.#send(message.fromAddress, {
          type: 'ack',
          seq: message.seq,
          from: this.id,
          updates: this.#broadcasts.take(
            this.config.piggybackBudgetBytes,
            this.estimatedClusterSize,
            message.from,
          ),
        })
        return
      case 'ack':
        this.#applyUpdates(message.updates, nowMs)
        this.#onAck(message.seq, message.from)
        return
      case 'ping-req':
        this.#applyUpdates(message.updates, nowMs)
        this.#relayProbe(message, nowMs)
        return
      case 'nack':
        if (this.#pending !== undefined && this.#pending.seq === message.seq) this.#pending.nacks += 1
        return
      case 'gossip':
        this.#applyUpdates(message.updates, nowMs)
        return
      case 'push-pull':
        if (message.reply) {
          this.#joinSeeds = []
          this.#joinRetryAtMs = Number.POSITIVE_INFINITY
        }
        this.#mergeState(message.from, message.members, nowMs)
        if (!message.reply) this.#sendPushPull(message.fromAddress, message.join, true)
        return
    }
  }

  #onAck(seq: number, from: string): void {
    const relay = this.#relays.get(seq)
    if (relay !== undefined) {
      this.#relays.delete(seq)
      // Like every packet memberlist sends, the relayed ack carries gossip too.
      const updates = this.#broadcasts.take(
        this.config.piggybackBudgetBytes,
        this.estimatedClusterSize,
        relay.requesterId,
      )
      this.#send(relay.requesterAddress, { type: 'ack', seq: relay.requesterSeq, from, updates })
      return
    }
    const pending = this.#pending
    if (pending === undefined || pending.seq !== seq) return
    if (this.config.lifeguard && !pending.indirectSent) this.#awareness.applyDelta(-1)
    this.#pending = undefined
  }

  #relayProbe(request: Extract<Message, { type: 'ping-req' }>, nowMs: number): void {
    this.#seq += 1
    // The nack must reach the requester before its protocol period ends.
    this.#relays.set(this.#seq, {
      requesterId: request.from,
      requesterAddress: request.fromAddress,
      requesterSeq: request.seq,
      nackAtMs: nowMs + Math.floor(this.config.probeTimeoutMs * 0.8),
    })
    this.#send(request.targetAddress, {
      type: 'ping',
      seq: this.#seq,
      from: this.id,
      fromAddress: this.#self.address,
      target: request.target,
      updates: this.#broadcasts.take(
        this.config.piggybackBudgetBytes,
        this.estimatedClusterSize,
        request.target,
      ),
    })
  }

  #sendPushPull(address: string, join: boolean, reply: boolean): void {
    const members: MemberRecord[] = []
    for (const entry of this.#members.values()) {
      members.push({
        id: entry.id,
        address: entry.address,
        incarnation: entry.incarnation,
        state: entry.state,
        meta: entry.meta,
      })
    }
    this.#send(address, {
      type: 'push-pull',
      from: this.id,
      fromAddress: this.#self.address,
      join,
      reply,
      members,
    })
  }

  /**
   * memberlist `mergeState`: a remote "dead" only makes us suspect, so a live
   * member gets the chance to refute (this is what lets partitions heal).
   */
  #mergeState(from: string, records: readonly MemberRecord[], nowMs: number): void {
    for (const record of records) {
      const { id, incarnation } = record
      switch (record.state) {
        case 'alive':
          this.#applyAlive(
            { kind: 'alive', id, incarnation, address: record.address, meta: record.meta },
            nowMs,
          )
          break
        case 'suspect':
        case 'dead':
          if (!this.#members.has(id) && id !== this.id) {
            // Learn the member first, so its suspicion (and a refutation) can follow.
            this.#applyAlive(
              { kind: 'alive', id, incarnation, address: record.address, meta: record.meta },
              nowMs,
            )
          }
          // A synced record names no prober: it may start a suspicion but never confirms one.
          this.#applySuspect({ kind: 'suspect', id, incarnation, from }, nowMs, false)
          break
        case 'left':
          this.#applyDead({ kind: 'dead', id, incarnation, from: id }, nowMs)
          break
      }
    }
  }

  // ---- Membership rules (SWIM §4.2, memberlist state.go) -------------------

  #applyUpdates(updates: readonly Update[], nowMs: number): void {
    for (const update of updates) {
      if (update.kind === 'alive') this.#applyAlive(update, nowMs)
      else if (update.kind === 'suspect') this.#applySuspect(update, nowMs)
      else this.#applyDead(update, nowMs)
    }
  }

  #applyAlive(update: Extract<Update, { kind: 'alive' }>, nowMs: number): void {
    if (update.id === this.id) {
      // Someone spreads a newer record of us (we restarted and lost our incarnation): out-bid it.
      if (update.incarnation > this.#self.incarnation && this.#self.state !== 'left')
        this.#refute(update.incarnation)
      return
    }
    const entry = this.#members.get(update.id)
    if (entry === undefined) {
      const added: MemberEntry = {
        id: update.id,
        address: update.address,
        incarnation: update.incarnation,
        state: 'alive',
        meta: update.meta,
        stateChangedAtMs: nowMs,
        lastHeardMs: nowMs,
        suspicion: undefined,
      }
      this.#addMember(added)
      this.#events.push({ type: 'join', member: snapshot(added), atMs: nowMs })
      this.#broadcasts.enqueue(update)
      return
    }
    if (update.incarnation <= entry.incarnation) return
    const previous = entry.state
    const metaChanged = !sameMeta(entry.meta, update.meta)
    entry.incarnation = update.incarnation
    entry.address = update.address
    entry.meta = update.meta
    this.#broadcasts.enqueue(update)
    if (previous === 'alive') {
      if (metaChanged) this.#events.push({ type: 'update', member: snapshot(entry), atMs: nowMs })
      return
    }
    this.#setState(entry, 'alive', nowMs)
    const type = previous === 'suspect' ? 'alive' : 'join'
    this.#events.push({ type, member: snapshot(entry), atMs: nowMs })
  }

  #applySuspect(update: Extract<Update, { kind: 'suspect' }>, nowMs: number, confirms = true): void {
    if (update.id === this.id) {
      if (this.#self.state !== 'left' && update.incarnation >= this.#self.incarnation)
        this.#refute(update.incarnation)
      return
    }
    const entry = this.#members.get(update.id)
    if (entry === undefined || update.incarnation < entry.incarnation) return
    if (entry.state === 'dead' || entry.state === 'left') return
    if (entry.state === 'suspect' && entry.suspicion !== undefined) {
      entry.incarnation = update.incarnation
      // Lifeguard: an independent confirmation shortens the timeout; pass it on.
      if (confirms && entry.suspicion.confirm(update.from)) this.#broadcasts.enqueue(update)
      return
    }
    entry.incarnation = update.incarnation
    const n = this.estimatedClusterSize
    const minMs = suspicionMinTimeoutMs(this.config.suspicionMult, n, this.config.probeIntervalMs)
    const lifeguard = this.config.lifeguard
    const k = lifeguard ? expectedConfirmations(this.config.suspicionMult, n) : 0
    const maxMs = lifeguard ? minMs * this.config.suspicionMaxTimeoutMult : minMs
    this.#setState(entry, 'suspect', nowMs)
    entry.suspicion = new Suspicion(update.from, nowMs, k, minMs, maxMs)
    this.#suspects.add(entry)
    this.#broadcasts.enqueue(update)
    this.#events.push({ type: 'suspect', member: snapshot(entry), atMs: nowMs, by: update.from })
    this.#maybeProbeSoon(entry, update.from, k, n)
  }

  /**
   * Lifeguard's timeout only shrinks with independent confirmations, and in
   * a small cluster the round-robin may not bring another probe of the
   * suspect for several periods. So a member that hears of a new suspicion
   * makes the suspect its next probe target with probability (k + 1)/(n − 2):
   * about k + 1 members re-probe it at once whatever the cluster size, which
   * keeps a live suspect from being flooded with pings (and each such ping
   * carries the suspicion to it, so it refutes sooner). The probe replaces
   * one round-robin probe, so the probe rate does not change.
   */
  #maybeProbeSoon(entry: MemberEntry, raisedBy: string, k: number, n: number): void {
    if (k < 1 || raisedBy === this.id || this.#self.state === 'left') return
    if (this.#pending?.target === entry.id || this.#priorityProbes.includes(entry.id)) return
    const probability = Math.min(1, (k + 1) / Math.max(1, n - 2))
    if (this.#random.next() < probability) this.#priorityProbes.push(entry.id)
  }

  #applyDead(update: Extract<Update, { kind: 'dead' }>, nowMs: number): void {
    const leaving = update.from === update.id
    if (update.id === this.id) {
      if (!leaving && this.#self.state !== 'left' && update.incarnation >= this.#self.incarnation) {
        this.#refute(update.incarnation)
      }
      return
    }
    const entry = this.#members.get(update.id)
    if (entry === undefined || update.incarnation < entry.incarnation) return
    if (entry.state === 'left' || (entry.state === 'dead' && !leaving)) return
    entry.incarnation = update.incarnation
    this.#setState(entry, leaving ? 'left' : 'dead', nowMs)
    this.#broadcasts.enqueue(update)
    if (leaving) this.#events.push({ type: 'leave', member: snapshot(entry), atMs: nowMs })
    else this.#events.push({ type: 'dead', member: snapshot(entry), atMs: nowMs, by: update.from })
  }

  /** SWIM §4.2: a member that hears it is suspected (or dead) raises its incarnation and says it is alive. */
  #refute(heardIncarnation: number): void {
    this.#self.incarnation = Math.max(this.#self.incarnation, heardIncarnation) + 1
    if (this.config.lifeguard) this.#awareness.applyDelta(1)
    this.#broadcastSelfAlive()
  }

  #broadcastSelfAlive(): void {
    const self = this.#self
    this.#broadcasts.enqueue({
      kind: 'alive',
      id: self.id,
      incarnation: self.incarnation,
      address: self.address,
      meta: self.meta,
    })
  }

  // ---- Bookkeeping ----------------------------------------------------------

  #setState(entry: MemberEntry, state: MemberState, nowMs: number): void {
    if (entry.state === state) return
    const wasLive = entry.state === 'alive' || entry.state === 'suspect'
    const isLive = state === 'alive' || state === 'suspect'
    if (wasLive && !isLive) this.#liveCount -= 1
    if (!wasLive && isLive) this.#liveCount += 1
    if (entry !== this.#self) {
      if (isLive) this.#recentlyGone.delete(entry.id)
      else this.#recentlyGone.set(entry.id, nowMs)
    }
    entry.state = state
    entry.stateChangedAtMs = nowMs
    if (state !== 'suspect') {
      entry.suspicion = undefined
      this.#suspects.delete(entry)
    }
  }

  #addMember(entry: MemberEntry, probeSoon = true): void {
    this.#members.set(entry.id, entry)
    this.#othersIndex.set(entry.id, this.#others.length)
    this.#others.push(entry)
    this.#liveCount += 1
    if (!probeSoon) return
    // Insert at a random point of the probe order so a newcomer is probed within one round.
    const at = randomInt(this.#random, this.#probeOrder.length + 1)
    this.#probeOrder.splice(at, 0, entry.id)
    if (at < this.#probeCursor) this.#probeCursor += 1
  }

  #removeMember(entry: MemberEntry): void {
    this.#members.delete(entry.id)
    this.#recentlyGone.delete(entry.id)
    this.#suspects.delete(entry)
    const index = this.#othersIndex.get(entry.id)
    if (index === undefined) return
    const last = this.#others.pop() as MemberEntry
    if (last !== entry) {
      this.#others[index] = last
      this.#othersIndex.set(last.id, index)
    }
    this.#othersIndex.delete(entry.id)
  }

  /** Up to `count` distinct other members that satisfy `accept`, chosen at random. */
  #pickOthers(count: number, accept: (m: MemberEntry) => boolean): MemberEntry[] {
    const picked: MemberEntry[] = []
    if (count <= 0 || this.#others.length === 0) return picked
    if (this.#others.length <= count * 4) {
      const all = shuffleInPlace(this.#random, this.#others.filter(accept))
      return all.slice(0, count)
    }
    // Rejection sampling keeps this O(count) on large clusters.
    for (let attempts = 0; attempts < count * 8 && picked.length < count; attempts++) {
      const candidate = this.#others[randomInt(this.#random, this.#others.length)] as MemberEntry
      if (!picked.includes(candidate) && accept(candidate)) picked.push(candidate)
    }
    return picked
  }

  #scaled(durationMs: number): number {
    return this.config.lifeguard ? this.#awareness.scale(durationMs) : durationMs
  }

  #send(to: string, message: Message): void {
    this.#outbox.push({ to, message })
  }
}

function snapshot(entry: MemberEntry): Member {
  return {
    id: entry.id,
    address: entry.address,
    incarnation: entry.incarnation,
    state: entry.state,
    meta: entry.meta,
    stateChangedAtMs: entry.stateChangedAtMs,
    lastHeardMs: entry.lastHeardMs,
  }
}

function sameMeta(a: Metadata, b: Metadata): boolean {
  const keys = Object.keys(a)
  if (keys.length !== Object.keys(b).length) return false
  return keys.every((key) => a[key] === b[key])
}
