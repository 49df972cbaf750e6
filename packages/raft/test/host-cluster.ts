import { Packr } from 'msgpackr'
import {
  type HostFrame,
  MemoryHostNetwork,
  MemoryRaftStorage,
  type NodeId,
  type RaftConfig,
  RaftHost,
  seededRng,
} from '../src/index.ts'
import { MapMachine } from './node-cluster.ts'

export interface HostClusterOptions {
  raft?: Partial<Omit<RaftConfig, 'id'>>
  leaderWaitMs?: number
  proposeTimeoutMs?: number
  /**
   * The hosts' nominal tick length. The clock stays manual (the hosts are never started); it only
   * matters to the follower read lease clock check, which manual ticks, faster than real ones, pass.
   */
  tickMs?: number
}

/**
 * Hosts on an in-memory network with a manual clock (`tickMs: 0`) and seeded
 * randomness, so scenarios replay tick by tick. Every frame goes through a
 * msgpack round trip, as on a real wire, and is recorded; `hold` can keep
 * frames back for the test to release.
 */
export class HostCluster {
  readonly network = new MemoryHostNetwork()
  readonly hosts = new Map<NodeId, RaftHost>()
  readonly machines = new Map<string, MapMachine>()
  readonly sent: Array<{ to: NodeId; frame: HostFrame }> = []
  hold: ((to: NodeId, frame: HostFrame) => boolean) | null = null
  readonly held: Array<{ to: NodeId; frame: HostFrame }> = []
  readonly #packr = new Packr({ useRecords: false })
  readonly #inner = this.network.transport()

  constructor(nodes: NodeId[], options: HostClusterOptions = {}) {
    for (const nodeId of nodes) {
      const host = new RaftHost({
        nodeId,
        transport: { send: (to, frame) => this.#send(to, frame) },
        storage: (_group, bootstrap) =>
          MemoryRaftStorage.bootstrap(bootstrap ?? { voters: [], learners: [] }),
        tickMs: options.tickMs ?? 0,
        raft: { electionTicks: 10, heartbeatTicks: 1, ...options.raft },
        rng: (group) => seededRng(`${nodeId}/${group}`),
        leaderWaitMs: options.leaderWaitMs,
        proposeTimeoutMs: options.proposeTimeoutMs,
      })
      this.network.attach(host)
      this.hosts.set(nodeId, host)
    }
  }

  host(id: NodeId): RaftHost {
    return this.hosts.get(id) as RaftHost
  }

  machine(node: NodeId, group: string): MapMachine {
    return this.machines.get(`${node}/${group}`) as MapMachine
  }

  async addGroup(
    group: string,
    members: NodeId[],
    options: { leaseReads?: boolean; followerLeases?: boolean } = {},
  ): Promise<void> {
    for (const id of members) {
      const machine = new MapMachine()
      this.machines.set(`${id}/${group}`, machine)
      await this.host(id).addGroup(group, {
        stateMachine: machine,
        bootstrap: { voters: members, learners: [] },
        ...options,
      })
    }
  }

  /** Lets queued work run: frames flush and arrive, loops handle their Readys. */
  async settle(rounds = 12): Promise<void> {
    for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve))
  }

  /** Ticks every host that is not isolated, settling after each tick. */
  async tick(times = 1, except: readonly NodeId[] = []): Promise<void> {
    for (let i = 0; i < times; i++) {
      for (const [id, host] of this.hosts) if (!except.includes(id)) host.tick()
      await this.settle()
    }
  }

  /** Ticks until `done()`; returns the ticks it took, or throws after `limit`. */
  async tickUntil(done: () => boolean, limit: number, except: readonly NodeId[] = []): Promise<number> {
    for (let ticks = 0; ticks <= limit; ticks++) {
      if (done()) return ticks
      await this.tick(1, except)
    }
    throw new Error(`condition not reached within ${limit} ticks`)
  }

  leaderOf(group: string): NodeId | null {
    for (const [id, host] of this.hosts) if (host.group(group)?.isLeader) return id
    return null
  }

  /** Sends the frames held back so far (those `which` selects). */
  release(which: (to: NodeId, frame: HostFrame) => boolean = () => true): void {
    const keep = this.held.filter(({ to, frame }) => !which(to, frame))
    for (const { to, frame } of this.held) if (which(to, frame)) this.#inner.send(to, frame)
    this.held.splice(0, this.held.length, ...keep)
  }

  async stop(): Promise<void> {
    for (const host of this.hosts.values()) await host.stop()
  }

  #send(to: NodeId, frame: HostFrame): void {
    const wire = this.#packr.unpack(this.#packr.pack(frame)) as HostFrame
    this.sent.push({ to, frame: wire })
    if (this.hold?.(to, wire)) this.held.push({ to, frame: wire })
    else this.#inner.send(to, wire)
  }
}

/** Items of every recorded frame, flattened. */
export function itemsOf(sent: HostCluster['sent']): HostFrame['items'][number][] {
  return sent.flatMap((s) => [...s.frame.items])
}
