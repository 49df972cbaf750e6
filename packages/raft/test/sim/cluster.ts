import { HistoryRecorder, type KvInput, type KvOutput } from '@shoal/testkit/lin'
import { Rng } from '@shoal/testkit/rng'
import {
  type ConfChange,
  type HardState,
  type Message,
  type NodeId,
  type RaftConfig,
  RaftCore,
  type Ready,
  resolveRaftConfig,
} from '../../src/core/index.ts'
import { MemoryRaftStorage } from '../../src/storage.ts'
import { Invariants } from './invariants.ts'
import { encodeCommand, type KvCommand, KvStateMachine } from './kv.ts'
import { type NetworkFaults, SimNetwork } from './network.ts'

export interface SimOptions {
  seed: number
  voters: number
  /** Simulated time units of the faulty phase. */
  duration: number
  faults: boolean
  membership: boolean
  clients: number
  /** Keys the clients use; few keys make more contention. */
  keys: number
  /** Take a snapshot after this many applied entries. */
  compactEvery: number
  /** Run the invariants after every step (off only to measure the checker's cost). */
  checkEveryStep: boolean
  /** Core settings to vary (pre-vote, check-quorum, flow control). */
  raft: Partial<Omit<RaftConfig, 'id'>>
  /**
   * Closed-connection signals (`RaftCore.peerUnreachable`), as a transport gives them: every
   * live member that loses its link to a peer (a crash, a partition) is told at once, and now
   * and then a member is told about its live, reachable leader (a spurious signal).
   */
  connectionSignals?: boolean
  /**
   * Follower read leases: followers read locally whenever their lease allows,
   * writes are acknowledged at `acknowledgedIndex`, and after every step each
   * member that could serve a local read must have applied every acknowledged write.
   */
  followerReads: boolean
  /** Each member's clock runs at a rate drawn from [1 − drift, 1 + drift] (0: equal rates). */
  clockDrift: number
  /**
   * Background writes, as `RaftNode` does them: a Ready that promises nothing (a leader's own
   * appends) is advanced with `entriesDurable: false` half the time, its write completing some
   * steps later (lost if the member crashes first) and reported with `entriesPersisted`.
   */
  backgroundWrites: boolean
}

const TICK_UNITS = 4

interface PendingWrite {
  client: string
  term: number
}

interface SimNode {
  readonly id: NodeId
  readonly storage: MemoryRaftStorage
  core: RaftCore | null
  sm: KvStateMachine
  phase: number
  /** Client writes awaiting apply on this node (the leader that took them), by log index. */
  writes: Map<number, PendingWrite>
  /** Writes applied here, successful, awaiting `acknowledgedIndex` (follower read leases). */
  unacknowledged: Map<number, { client: string; ok: boolean }>
  /** Ticks per simulation step, and the fraction of a tick accumulated (clock drift). */
  rate: number
  clock: number
  /** Client reads awaiting their ReadState, by context. */
  reads: Map<string, { client: string; key: string }>
  /** Confirmed reads waiting for the apply index to catch up. */
  confirmed: Array<{ index: number; client: string; key: string }>
  downUntil: number
  /** Background writes not yet in storage, oldest first (`backgroundWrites`). */
  pending: Ready[]
  /** The last hard state a Ready carried: a background write changes neither term nor vote. */
  hard: HardState
  /** The last entry background writes made durable, to report after `advance`. */
  persisted: { index: number; term: number } | null
}

interface SimClient {
  readonly id: string
  seq: number
  busy: boolean
}

/**
 * A seeded, deterministic Raft cluster: members, a faulty network, crashes and
 * restarts from durable (in-memory) storage, membership changes, leadership
 * transfers and key-value clients whose history is recorded for the
 * linearizability checker. Same seed, same run.
 */
export class SimCluster {
  readonly options: SimOptions
  readonly rng: Rng
  readonly net: SimNetwork
  readonly nodes = new Map<NodeId, SimNode>()
  readonly invariants = new Invariants()
  readonly history = new HistoryRecorder<KvInput, KvOutput>()
  readonly clients: SimClient[] = []
  readonly trace: string[] = []
  now = 0
  /** What happened, so tests can show the faults really were exercised. */
  readonly stats = {
    crashes: 0,
    snapshotsInstalled: 0,
    /** Snapshot messages after a snapshot's first chunk. */
    laterSnapshotChunks: 0,
    confChangesApplied: 0,
    transfers: 0,
    writesAcknowledged: 0,
    readsServed: 0,
    /** Closed-connection signals about a live, reachable leader (`connectionSignals`). */
    spuriousSignals: 0,
    /** Readys written in the background (`backgroundWrites`). */
    backgroundWrites: 0,
    /** Entries a member applied before they were durable in its own log (committed by others). */
    appliedBeforeDurable: 0,
  }
  /** Local reads under follower read leases (`followerReads`): served, or refused without a lease. */
  readonly localReads = { served: 0, refused: 0 }
  /** The highest log index of a write acknowledged to its client so far. */
  acknowledgedWatermark = 0
  #nextNodeId = 1
  #faultsOn = true
  #changed = false
  #transferring: NodeId | null = null
  /** Members whose removal some node has applied (ids are never reused). */
  readonly #removed = new Set<NodeId>()

  constructor(options: SimOptions) {
    this.options = options
    this.rng = new Rng(options.seed)
    this.net = new SimNetwork(this.rng.fork(), this.#faultProfile())
    const voters = Array.from({ length: options.voters }, () => `n${this.#nextNodeId++}`)
    for (const id of voters) this.#addNode(id, { voters, learners: [] })
    for (let i = 0; i < options.clients; i++) this.clients.push({ id: `c${i}`, seq: 0, busy: false })
  }

  #faultProfile(): NetworkFaults {
    if (!this.options.faults) return { dropRate: 0, duplicateRate: 0, maxDelay: 3, slowRate: 0 }
    return { dropRate: 0.05, duplicateRate: 0.03, maxDelay: 6, slowRate: 0.02 }
  }

  #addNode(id: NodeId, conf: { voters: NodeId[]; learners: NodeId[] }): SimNode {
    const node: SimNode = {
      id,
      storage: MemoryRaftStorage.bootstrap(conf),
      core: null,
      sm: new KvStateMachine(),
      phase: this.rng.int(TICK_UNITS),
      writes: new Map(),
      unacknowledged: new Map(),
      rate: this.options.clockDrift === 0 ? 1 : 1 + (this.rng.next() * 2 - 1) * this.options.clockDrift,
      clock: 0,
      reads: new Map(),
      confirmed: [],
      downUntil: 0,
      pending: [],
      hard: { term: 0, vote: null, commit: 0 },
      persisted: null,
    }
    this.nodes.set(id, node)
    this.#start(node)
    return node
  }

  #start(node: SimNode): void {
    const stored = node.storage.loadSync()
    const config = resolveRaftConfig({
      electionTicks: 8,
      heartbeatTicks: 1,
      maxInflightMessages: 8,
      // Small chunks, so snapshots travel in many messages that get lost, duplicated and reordered.
      snapshotChunkBytes: 64,
      ...this.options.raft,
      id: node.id,
    })
    node.core = new RaftCore({ config, rng: this.rng.fork(), ...stored, entries: stored.entries })
    node.sm = new KvStateMachine()
    node.sm.restore(stored.snapshot.data)
    node.pending = []
    node.hard = stored.hardState
    node.persisted = null
  }

  note(line: string): void {
    this.trace.push(`[${this.now}] ${line}`)
    if (this.trace.length > 200) this.trace.shift()
  }

  /** Runs the faulty phase, then heals everything and lets the cluster converge. */
  run(): void {
    while (this.now < this.options.duration) this.step()
    this.#faultsOn = false
    this.net.heal()
    this.net.faults = { dropRate: 0, duplicateRate: 0, maxDelay: 3, slowRate: 0 }
    for (const node of this.nodes.values()) if (node.core === null) this.#restart(node)
    this.#reportLiveness()
    const deadline = this.now + 3000
    while (this.now < deadline && !this.converged()) {
      this.step()
      if (this.options.raft.preVote === false) this.#decommissionRemoved()
    }
    if (!this.converged()) throw new Error(`cluster did not converge after healing: ${this.describe()}`)
  }

  step(): void {
    this.now++
    this.#changed = false
    for (const message of this.net.due(this.now)) {
      const node = this.nodes.get(message.to)
      if (node?.core == null) continue
      node.core.step(message)
      this.#process(node)
    }
    for (const node of this.nodes.values()) {
      if (node.core === null) {
        if (this.now >= node.downUntil) this.#restart(node)
        continue
      }
      if (this.#ticksNow(node)) {
        node.core.tick()
        this.#process(node)
      }
    }
    this.#backgroundProgress()
    this.#clientActions()
    if (this.options.followerReads) this.#followerReads()
    if (this.#faultsOn && this.options.faults) this.#faultActions()
    // Nothing observable changes in a step without a Ready, so the check is skipped there.
    if (this.options.checkEveryStep && this.#changed) this.invariants.check([...this.nodes.values()])
    if (this.options.followerReads) this.#checkLeaseReads()
  }

  #ticksNow(node: SimNode): boolean {
    if (this.options.clockDrift === 0) return (this.now + node.phase) % TICK_UNITS === 0
    node.clock += node.rate / TICK_UNITS
    if (node.clock < 1) return false
    node.clock -= 1
    return true
  }

  /** Some follower is asked for a read now and then, as a search would. */
  #followerReads(): void {
    if (!this.#faultsOn || !this.rng.chance(0.3)) return
    const followers = [...this.nodes.values()].filter((n) => n.core?.role === 'follower')
    if (followers.length === 0) return
    const node = this.rng.pick(followers)
    const core = node.core as RaftCore
    core.noteLocalRead()
    const index = core.followerReadIndex()
    if (index !== null && core.log.applied >= index) this.localReads.served++
    else this.localReads.refused++
    this.#process(node)
  }

  /** Read-your-writes: a member that could serve a local read now has applied every acknowledged write. */
  #checkLeaseReads(): void {
    for (const node of this.nodes.values()) {
      const core = node.core
      const index = core?.followerReadIndex() ?? null
      if (core == null || index === null || core.log.applied < index) continue
      if (core.log.applied < this.acknowledgedWatermark)
        throw new Error(
          `stale lease read: ${node.id} could serve a read at applied ${core.log.applied} (lease index ${index}) after the write at ${this.acknowledgedWatermark} was acknowledged`,
        )
    }
  }

  /** Acknowledges the applied writes the leader's `acknowledgedIndex` now covers. */
  #releaseAcknowledged(node: SimNode, core: RaftCore): void {
    if (node.unacknowledged.size === 0) return
    const acknowledged = core.acknowledgedIndex
    for (const [index, write] of node.unacknowledged) {
      if (index > acknowledged) continue
      node.unacknowledged.delete(index)
      this.#acknowledge(index, write.client, write.ok)
    }
  }

  #acknowledge(index: number, client: string, ok: boolean): void {
    this.history.ok(client, { ok })
    this.stats.writesAcknowledged++
    this.acknowledgedWatermark = Math.max(this.acknowledgedWatermark, index)
    this.#client(client).busy = false
  }

  leader(): SimNode | null {
    let best: SimNode | null = null
    for (const node of this.nodes.values()) {
      const core = node.core
      if (core?.role === 'leader' && (best === null || core.term > (best.core as RaftCore).term)) best = node
    }
    return best
  }

  /** One leader, and every member of its configuration has applied its whole committed log. */
  converged(): boolean {
    const leader = this.leader()
    if (leader === null) return false
    const core = leader.core as RaftCore
    if (core.log.committed !== core.log.lastIndex()) return false
    if (this.clients.some((c) => c.busy)) return false
    const conf = core.confState()
    for (const id of [...conf.voters, ...conf.learners]) {
      const member = this.nodes.get(id)?.core
      if (member == null || member.log.applied !== core.log.committed) return false
    }
    return true
  }

  describe(): string {
    const parts: string[] = []
    for (const node of this.nodes.values()) {
      const s = node.core?.status()
      parts.push(
        s === undefined
          ? `${node.id}:down`
          : `${node.id}:${s.role}@${s.term} commit=${s.commitIndex} applied=${s.appliedIndex} last=${s.lastIndex} conf=${s.confState.voters.join(',')}/${s.confState.learners.join(',')}`,
      )
    }
    return parts.join(' ')
  }

  /** Handles every pending Ready of `node`: persist, send, apply, advance. */
  #process(node: SimNode): void {
    let core = node.core
    while (core?.hasReady()) {
      this.#changed = true
      const rd = core.ready()
      // A leader's replication traffic leaves before its own write (thesis §10.2.1)...
      for (const message of rd.earlyMessages) this.#send(message)
      // ...so a crash before the write completes loses the leader's entries but not the messages.
      if (this.#faultsOn && this.options.faults && rd.earlyMessages.length > 0 && this.rng.chance(0.001)) {
        this.#crash(node, 'after sending, before persisting')
        return
      }
      const background = this.#inBackground(node, rd)
      if (background) {
        node.pending.push(rd)
        this.stats.backgroundWrites++
      } else {
        this.#flushWrites(node)
        node.storage.saveSync(rd)
      }
      if (rd.hardState !== null) node.hard = rd.hardState
      // A crash between persisting and sending loses the messages but not the state.
      if (this.#faultsOn && this.options.faults && this.rng.chance(0.0005)) {
        this.#crash(node, 'after persist')
        return
      }
      for (const message of rd.messages) this.#send(message)
      this.#apply(node, rd)
      core.advance(rd, { entriesDurable: !background })
      this.#notePersisted(node, core)
      this.#releaseAcknowledged(node, core)
      this.#afterAdvance(node, core, rd)
      core = node.core
    }
  }

  /**
   * Whether `rd` is written in the background (`backgroundWrites`): one that promises nothing,
   * half the time; and a commit-only Ready while writes are pending, which must not reach
   * storage before them (a durable commit index covers only durable entries).
   */
  #inBackground(node: SimNode, rd: Ready): boolean {
    if (!this.options.backgroundWrites || rd.messages.length > 0 || rd.snapshot !== null) return false
    const hard = rd.hardState
    if (hard !== null && (hard.term !== node.hard.term || hard.vote !== node.hard.vote)) return false
    if (rd.entries.length === 0) return node.pending.length > 0
    return this.rng.chance(0.5)
  }

  /** Completes every pending background write, in order (before any other write). */
  #flushWrites(node: SimNode): void {
    while (node.pending.length > 0) this.#completeWrite(node)
  }

  #completeWrite(node: SimNode): void {
    const rd = node.pending.shift() as Ready
    node.storage.saveSync(rd)
    const last = rd.entries[rd.entries.length - 1]
    if (last !== undefined) node.persisted = { index: last.index, term: last.term }
  }

  /** Tells the core which background writes completed (outside a Ready). */
  #notePersisted(node: SimNode, core: RaftCore): void {
    const durable = node.persisted
    node.persisted = null
    if (durable !== null) core.entriesPersisted(durable.index, durable.term)
  }

  /** Now and then the oldest background write of a member completes. */
  #backgroundProgress(): void {
    for (const node of this.nodes.values()) {
      const core = node.core
      if (core === null || node.pending.length === 0 || !this.rng.chance(0.3)) continue
      this.#completeWrite(node)
      this.#notePersisted(node, core)
      this.#process(node)
    }
  }

  #send(message: Message): void {
    if (message.type === 'snapshot' && message.offset > 0) this.stats.laterSnapshotChunks++
    this.net.send(message, this.now)
  }

  #apply(node: SimNode, rd: Ready): void {
    if (rd.snapshot !== null) {
      node.sm.restore(rd.snapshot.data)
      this.stats.snapshotsInstalled++
    }
    for (const entry of rd.committedEntries) {
      this.invariants.onApply(node.id, entry)
      if (entry.index > (node.core?.log.stableIndex ?? 0)) this.stats.appliedBeforeDurable++
      if (entry.kind === 'conf' && entry.term > 1) this.stats.confChangesApplied++
      if (entry.kind === 'conf' && entry.change.type === 'remove') this.#removed.add(entry.change.node)
      if (entry.kind !== 'normal') continue
      const result = node.sm.apply(entry.data)
      const waiting = node.writes.get(entry.index)
      if (waiting === undefined) continue
      node.writes.delete(entry.index)
      const client = this.#client(waiting.client)
      if (waiting.term === entry.term && result !== null) {
        if (this.options.followerReads) {
          node.unacknowledged.set(entry.index, { client: client.id, ok: result.ok })
          continue
        }
        this.#acknowledge(entry.index, client.id, result.ok)
        continue
      }
      this.history.info(client.id)
      client.busy = false
    }
    for (const read of rd.readStates) {
      const waiting = node.reads.get(read.context)
      if (waiting === undefined) continue
      node.reads.delete(read.context)
      node.confirmed.push({ index: read.index, ...waiting })
    }
  }

  #afterAdvance(node: SimNode, core: RaftCore, rd: Ready): void {
    const applied = core.log.applied
    node.confirmed = node.confirmed.filter((read) => {
      if (read.index > applied) return true
      this.history.ok(read.client, { value: node.sm.get(read.key) })
      this.stats.readsServed++
      this.#client(read.client).busy = false
      return false
    })
    if (rd.softState !== null && rd.softState.role !== 'leader') this.#abandonClientOps(node)
    if (rd.softState?.role === 'leader' && this.#transferring === node.id) {
      this.stats.transfers++
      this.#transferring = null
    }
    if (applied - core.log.snapshotIndex >= this.options.compactEvery) {
      // Compaction replaces the log up to the applied index: it is all durable first.
      this.#flushWrites(node)
      this.#notePersisted(node, core)
      const snapshot = core.compact(applied, node.sm.snapshot())
      node.storage.saveSnapshotSync(snapshot)
    }
  }

  /** A member that stops leading or crashes cannot answer its clients: outcomes become unknown. */
  #abandonClientOps(node: SimNode): void {
    for (const waiting of [...node.writes.values(), ...node.unacknowledged.values()]) {
      this.history.info(waiting.client)
      this.#client(waiting.client).busy = false
    }
    node.writes.clear()
    node.unacknowledged.clear()
    for (const read of [...node.reads.values(), ...node.confirmed]) {
      this.history.fail(read.client)
      this.#client(read.client).busy = false
    }
    node.reads.clear()
    node.confirmed = []
  }

  #client(id: string): SimClient {
    return this.clients.find((c) => c.id === id) as SimClient
  }

  /**
   * Shuts down removed members for good, as an operator or controller would.
   * Without pre-vote, a member removed while cut off never learns of it and
   * keeps starting elections with ever higher terms, deposing every leader
   * (Raft thesis §4.2.3); pre-vote (on by default) is what makes it harmless.
   */
  #decommissionRemoved(): void {
    for (const id of this.#removed) {
      const node = this.nodes.get(id)
      if (node === undefined || node.core === null) continue
      this.note(`decommission ${id}`)
      this.#abandonClientOps(node)
      node.core = null
      node.downUntil = Number.POSITIVE_INFINITY
    }
  }

  #crash(node: SimNode, why: string): void {
    this.#changed = true
    this.stats.crashes++
    this.note(`crash ${node.id} (${why})`)
    this.#abandonClientOps(node)
    node.core = null
    node.downUntil = this.now + this.rng.range(20, 200)
    this.#reportLiveness()
    this.#signalLostLinks()
  }

  /** Tells every live member about each peer it can no longer reach (see `connectionSignals`). */
  #signalLostLinks(): void {
    if (this.options.connectionSignals !== true) return
    for (const node of this.nodes.values()) {
      const core = node.core
      if (core === null) continue
      for (const peer of this.nodes.values())
        if (peer !== node && (peer.core === null || this.net.isCut(node.id, peer.id)))
          core.peerUnreachable(peer.id)
      this.#process(node)
    }
  }

  /** A closed-connection signal about a leader that is alive and reachable. */
  #spuriousSignal(): void {
    if (this.options.connectionSignals !== true || !this.rng.chance(0.01)) return
    const node = this.rng.pick([...this.nodes.values()])
    const leader = node.core?.leader
    if (node.core == null || leader == null) return
    this.stats.spuriousSignals++
    this.note(`spurious connection loss ${node.id} -> ${leader}`)
    node.core.peerUnreachable(leader)
    this.#process(node)
  }

  #restart(node: SimNode): void {
    this.note(`restart ${node.id}`)
    this.#start(node)
    this.#process(node)
    this.#reportLiveness()
  }

  /**
   * With quiescence on, a node-level failure detector stands in for heartbeats:
   * each live member learns which peers are down or cut off from it (what SWIM
   * would conclude a little later), as quiesced groups rely on it to notice.
   */
  #reportLiveness(): void {
    if (this.options.raft.quiesce !== true) return
    for (const node of this.nodes.values()) {
      const core = node.core
      if (core === null) continue
      for (const peer of this.nodes.values()) {
        if (peer === node) continue
        core.setPeerLiveness(peer.id, peer.core !== null && !this.net.isCut(node.id, peer.id))
      }
      this.#process(node)
    }
  }

  #clientActions(): void {
    if (!this.#faultsOn || !this.rng.chance(0.15)) return
    // Any member that believes it leads may be asked, including a deposed one
    // cut off from the rest: that is where stale reads would come from.
    const leaders = [...this.nodes.values()].filter((n) => n.core?.role === 'leader')
    if (leaders.length === 0) return
    const leader = this.rng.pick(leaders)
    const client = this.clients.find((c) => !c.busy)
    if (client === undefined) return
    const core = leader.core as RaftCore
    const key = `k${this.rng.int(this.options.keys)}`
    client.seq++
    const roll = this.rng.int(10)
    if (roll < 3) {
      const context = `${client.id}/${client.seq}`
      if (!core.readIndex(context)) return
      this.history.invoke(client.id, { kind: 'read', key })
      leader.reads.set(context, { client: client.id, key })
    } else {
      const value = `${client.id}-${client.seq}`
      const expected = this.rng.chance(0.5)
        ? null
        : `c${this.rng.int(this.clients.length)}-${this.rng.range(1, client.seq)}`
      const command: KvCommand =
        roll < 7
          ? { op: 'put', key, value, client: client.id, seq: client.seq }
          : { op: 'cas', key, expected, value, client: client.id, seq: client.seq }
      const result = core.propose(encodeCommand(command))
      if (!result.ok) return
      this.history.invoke(
        client.id,
        command.op === 'put' ? { kind: 'write', key, value } : { kind: 'cas', key, expected, value },
      )
      leader.writes.set(result.index, { client: client.id, term: result.term })
    }
    client.busy = true
    this.#process(leader)
  }

  #faultActions(): void {
    const rng = this.rng
    const ids = [...this.nodes.keys()]
    if (rng.chance(0.008)) {
      const side = rng.shuffle([...ids]).slice(0, rng.range(1, Math.floor(ids.length / 2)))
      this.note(`partition ${side.join(',')} | rest`)
      this.net.partition(side, ids)
      this.#reportLiveness()
      this.#signalLostLinks()
    }
    this.#spuriousSignal()
    if (rng.chance(0.012)) {
      this.note('heal')
      this.net.heal()
      this.#reportLiveness()
    }
    if (rng.chance(0.004)) {
      const victim = this.nodes.get(rng.pick(ids)) as SimNode
      if (victim.core !== null) this.#crash(victim, 'random')
    }
    const leader = this.leader()
    if (leader === null) return
    if (rng.chance(0.004)) {
      const voters = (leader.core as RaftCore).confState().voters.filter((v) => v !== leader.id)
      if (voters.length > 0) {
        const to = rng.pick(voters)
        this.note(`transfer ${leader.id} -> ${to}`)
        if ((leader.core as RaftCore).transferLeadership(to)) this.#transferring = to
        this.#process(leader)
      }
    }
    // A transfer above may have crashed the leader (a crash after persisting is one of the faults).
    if (this.options.membership && rng.chance(0.01) && leader.core !== null) this.#membershipAction(leader)
  }

  #membershipAction(leader: SimNode): void {
    const core = leader.core as RaftCore
    const conf = core.confState()
    let change: ConfChange
    const roll = this.rng.int(3)
    if (roll === 0 && conf.learners.length > 0)
      change = { type: 'addVoter', node: this.rng.pick(conf.learners) }
    else if (roll === 1 && (conf.voters.length > 3 || conf.learners.length > 0)) {
      const pool = conf.voters.length > 3 ? [...conf.voters, ...conf.learners] : conf.learners
      change = { type: 'remove', node: this.rng.pick(pool) }
    } else if (conf.voters.length + conf.learners.length < 6) {
      change = { type: 'addLearner', node: `n${this.#nextNodeId}` }
    } else return
    const result = core.proposeConfChange(change)
    this.note(`conf ${change.type} ${change.node}: ${result.ok ? 'proposed' : result.reason}`)
    if (!result.ok) return
    if (change.type === 'addLearner') {
      this.#nextNodeId++
      this.#addNode(change.node, { voters: [], learners: [] })
    }
    this.#process(leader)
  }
}

export function defaultSimOptions(seed: number, overrides: Partial<SimOptions> = {}): SimOptions {
  return {
    seed,
    voters: 3,
    duration: 600,
    faults: true,
    membership: true,
    clients: 3,
    keys: 2,
    compactEvery: 20,
    checkEveryStep: true,
    raft: {},
    followerReads: false,
    clockDrift: 0,
    backgroundWrites: true,
    ...overrides,
  }
}
