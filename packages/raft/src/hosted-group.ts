import type { Message, NodeId, RaftConfig, RaftRng, SoftState } from './core/index.ts'
import { RaftNode, type RaftNodeOptions, type StateMachine } from './node.ts'
import type { RaftStorage } from './storage.ts'
import type { Transport } from './transport.ts'

/** What a hosted group needs from its host: one object shared by every group. */
export interface GroupSink {
  /** Queues `messages` of `group` for the next frame to `to`. */
  sendRaft(group: string, to: NodeId, messages: readonly Message[]): void
  /** The group had input: tick it until it quiesces again. */
  awaken(hosted: HostedGroup): void
  /** The group's node failed (see `RaftNodeOptions.onFailure`). */
  failed(hosted: HostedGroup, error: Error): void
}

/**
 * A `RaftHost`'s record of one group. It is also the group's `RaftNodeOptions`
 * and `Transport`: the node calls back into it through methods rather than
 * closures, so a group costs one object here (a host keeps thousands).
 */
export class HostedGroup implements RaftNodeOptions, Transport {
  readonly name: string
  readonly raft: Partial<RaftConfig> & { id: NodeId }
  readonly storage: RaftStorage
  readonly stateMachine: StateMachine
  readonly snapshotEntries: number | undefined
  readonly rng: RaftRng | undefined
  readonly node: RaftNode
  /** Callers of `propose()` waiting for a leader to become known (null when none). */
  leaderWaiters: Set<() => void> | null = null
  readonly #sink: GroupSink
  readonly #tickMs: number

  constructor(
    sink: GroupSink,
    name: string,
    raft: Partial<RaftConfig> & { id: NodeId },
    storage: RaftStorage,
    stateMachine: StateMachine,
    snapshotEntries: number | undefined,
    rng: RaftRng | undefined,
    tickMs: number,
  ) {
    this.#tickMs = tickMs
    this.#sink = sink
    this.name = name
    this.raft = raft
    this.storage = storage
    this.stateMachine = stateMachine
    this.snapshotEntries = snapshotEntries
    this.rng = rng
    this.node = new RaftNode(this)
  }

  /** The host's clock ticks the group. */
  get tickMs(): number {
    return 0
  }

  /** The host's tick length, for the follower read lease clock check. */
  get leaseClockMs(): number {
    return this.#tickMs
  }

  get transport(): Transport {
    return this
  }

  send(to: NodeId, messages: readonly Message[]): void {
    this.#sink.sendRaft(this.name, to, messages)
  }

  onInput(): void {
    this.#sink.awaken(this)
  }

  onFailure(error: Error): void {
    this.#sink.failed(this, error)
  }

  /** A role, leader or term change may be the news a waiting `propose()` needs. */
  onSoftState(_state: SoftState): void {
    if (this.leaderWaiters === null) return
    for (const check of [...this.leaderWaiters]) check()
  }
}
