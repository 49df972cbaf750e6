/**
 * What the nemesis runner needs from a system under test: nodes it can start,
 * stop, pause and restart; a client with writes and reads by key; and a way to
 * see that the replicas agree once the faults are healed. The Raft KV example
 * implements it; a Shoal cluster plugs in the same way.
 */
import type { KvInput, KvOutput } from '../lin/kv-model.ts'
import type { Operation } from '../lin/types.ts'
import type { Rng } from '../rng/index.ts'
import type { FaultNetwork } from './fault-network.ts'
import type { FaultRecord } from './scenario.ts'

/**
 * The outcome of one client operation, in Jepsen's terms:
 * - `ok`: it took effect (a write) or observed `value` (a read);
 * - `fail`: it certainly did not take effect (refused before anything was sent
 *   to a leader, or a read that returned nothing);
 * - `info`: unknown (a time-out or a connection lost after sending): it may
 *   have taken effect at any time after its call, or never.
 */
export type OpOutcome<T> =
  | { status: 'ok'; value: T }
  | { status: 'fail'; reason: string }
  | { status: 'info'; reason: string }

export interface ChaosClient {
  write(key: string, value: string): Promise<OpOutcome<void>>
  /** A linearizable read; `null` for a key never written. */
  read(key: string): Promise<OpOutcome<string | null>>
  close(): void
}

/** Faults a system supports beyond network faults, kill -9 and restart. */
export interface SystemCapabilities {
  /** SIGSTOP/SIGCONT of a node's process. */
  pause: boolean
  /**
   * A node's clock can be skewed: it runs fast or slow (`setClockRate`), and,
   * for a system that has `setClockOffset`, its wall clock is stepped ahead or
   * back.
   */
  clock: boolean
  /** A node's disk can fill up (`fillDisk`/`freeDisk`). */
  diskFull: boolean
  /** A node's next fsync can fail (`failFsync`). */
  fsyncFailure: boolean
  /** Voters can be added and removed at runtime. */
  membership: boolean
  /**
   * Data moves between nodes as members join, drain and are replaced
   * (`join`, `drain`, `replace`). @defaultValue false
   */
  shardMoves?: boolean
  /**
   * A primary and a standby: `promote` makes the standby the primary, and
   * `restart` of the deposed primary (running or not) brings it back as the
   * new primary's standby. @defaultValue false
   */
  promotion?: boolean
  /**
   * Independent regions replicating asynchronously to each other: every node
   * takes writes, and a node cut off from the others keeps taking them.
   * @defaultValue false
   */
  regions?: boolean
}

/** What every node holds after settling, to compare replicas. */
export interface ReplicaState {
  node: string
  /** The node's applied position (Raft applied index, or an equivalent). */
  appliedIndex: number
  values: ReadonlyMap<string, string | null>
}

/** A check of a system's own (searches, HTTP statuses), beside the runner's. */
export interface SystemCheck {
  name: string
  passed: boolean
  /** One line: what was checked and what was found. */
  summary: string
  /** Examples of violations (a few), empty when it passed. */
  violations: string[]
}

/** What a system's own checks get once the final reads are done. */
export interface FinalState {
  /** The value of each key, read after healing and settling. */
  values: ReadonlyMap<string, string | null>
  /** The whole recorded history, failed operations left out, on the run's clock. */
  history: readonly Operation<KvInput, KvOutput>[]
  /** The faults applied, on the same clock. */
  faults: readonly FaultRecord[]
}

export interface SystemUnderTest {
  readonly name: string
  readonly nodes: readonly string[]
  readonly capabilities: SystemCapabilities
  /**
   * What the history must satisfy. `linearizable`: the runner checks it per key.
   * `last-writer-wins` (asynchronous replicas, concurrent writes settled by a
   * clock, as between regions): it is not linearizable by design, so the runner
   * skips that check (verdict `not-checked`) and the system's own `checks` say
   * what it does guarantee. @defaultValue 'linearizable'
   */
  readonly consistency?: 'linearizable' | 'last-writer-wins'
  /**
   * The clock drift the system assumes, as a fraction of real time (0.1: each clock runs at
   * 0.9–1.1× real time), for a system whose reads rely on bounded drift (leases): clock-skew
   * draws rates within it. @defaultValue unbounded (rates 0.25–4×)
   */
  readonly clockDrift?: number
  /**
   * Starts every node with its links to the others routed through `network`
   * (the system creates the proxies it needs, `network.tcpMesh(...)`).
   */
  start(network: FaultNetwork): Promise<void>
  /** A new client; `id` names it in the history. */
  client(id: string): ChaosClient
  /** The node that leads now, when there is one and it can be found within `timeoutMs`. */
  leader(timeoutMs: number): Promise<string | null>
  running(node: string): boolean
  /** kill -9; the node's data stays. */
  kill(node: string): Promise<void>
  /** Starts a killed (or crashed) node again with the same data. */
  restart(node: string): Promise<void>
  pause(node: string): void
  resume(node: string): void
  /** Runs the node's clock at `rate` × real time (1: real time again); kept across restarts. */
  setClockRate?(node: string, rate: number): Promise<void>
  /**
   * Steps the node's wall clock `offsetMs` away from real time (0: back to it);
   * its timers and monotonic clock keep real time, as when NTP steps a clock.
   * Kept across restarts.
   */
  setClockOffset?(node: string, offsetMs: number): Promise<void>
  fillDisk?(node: string): Promise<void>
  freeDisk?(node: string): Promise<void>
  failFsync?(node: string): void
  /**
   * With `membership`: the nodes that belong to the system now. Others are
   * spares that may join later; they are neither restarted when healing nor
   * compared as replicas. @defaultValue every node
   */
  members?(): readonly string[]
  /** Starts the spare `node` (with fresh data), joining through the member `via`; resolves once its process is up. */
  join?(node: string, via: string): Promise<void>
  /**
   * The member `node` stops for good (its process ends and it is never
   * restarted); it becomes a spare. Resolves false, changing nothing, when the
   * system cannot spare a member now: losing one more for good could leave a
   * majority of its voters gone for ever, which no consensus system survives.
   */
  leave?(node: string): Promise<boolean>
  /**
   * With `shardMoves`: asks the system, through the member `via`, to move the
   * member `node`'s data to the other members and then let it go (a graceful
   * removal; its process may stop by itself once drained). Resolves with what
   * happened, in a few words; `false` when the system cannot spare a member
   * now (nothing changed).
   */
  drain?(node: string, via: string): Promise<string | false>
  /**
   * With `shardMoves`: the member `old` is killed for good (kill -9, never
   * restarted), the spare `spare` starts on fresh data joining through `via`,
   * and the system is asked to give `spare` everything `old` held. Resolves
   * with what happened; `false` when the system cannot spare a member now
   * (nothing changed).
   */
  replace?(old: string, spare: string, via: string): Promise<string | false>
  /**
   * With `promotion`: the standby becomes the primary (the current primary
   * being lost); `leader` names it from then on. Resolves with what happened.
   */
  promote?(): Promise<string>
  /**
   * True when every node runs and has applied everything that was committed
   * (the replicas are then comparable).
   */
  settled(): Promise<boolean>
  /** What the last `settled()` that answered false was waiting for, in a few words (null: nothing). */
  waitingFor?(): string | null
  /** Each node's state for `keys`, read locally on that node (not through the leader). */
  replicaStates(keys: readonly string[]): Promise<ReplicaState[]>
  /**
   * Starts probes of the system's own beside the workload (searches, say),
   * stamped on the run's clock `now` (the history's), drawing from `rng`
   * (forked from the run's seed); stopped by `stopProbes`
   * once the workload stops, before the replicas settle (and again when the
   * run ends, so it must be idempotent).
   */
  startProbes?(now: () => number, rng: Rng): void
  stopProbes?(): Promise<void>
  /**
   * Checks of the system's own, run after the final reads and the replica
   * comparison; a check that does not pass fails the run.
   */
  checks?(final: FinalState): Promise<SystemCheck[]>
  /** Exits of nodes the runner did not ask for (crashes, fail-stop on a disk error). */
  crashes(): string[]
  /** Stops every node and removes what `start` created. */
  stop(): Promise<void>
}
