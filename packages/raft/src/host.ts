import path from 'node:path'
import type { ConfState, Message, NodeId, RaftConfig } from './core/index.ts'
import { RaftNode, type StateMachine } from './node.ts'
import type { RaftStorage } from './storage.ts'
import { WalRaftStorage } from './wal-storage.ts'

/** One Raft message of one group, as carried between hosts. */
export interface GroupMessage {
  readonly group: string
  readonly message: Message
}

/**
 * Carries batches between hosts: one call per destination node per flush,
 * holding the messages of every group for that node (one frame on the wire).
 * May lose batches; must not block.
 */
export interface HostTransport {
  send(toNode: NodeId, batch: readonly GroupMessage[]): void
}

export interface RaftHostOptions {
  /** This node's id; it is the member id of this node in every group it hosts. */
  nodeId: NodeId
  transport: HostTransport
  /** Folder under which each group keeps a WAL-backed store in its own sub-folder. */
  storageRoot?: string
  /** Storage factory overriding `storageRoot` (in-memory storage in tests). */
  storage?: (group: string, bootstrap: ConfState | undefined) => RaftStorage
  /** Milliseconds per tick of the shared clock. @defaultValue 100 */
  tickMs?: number
  /** Core settings shared by every group (the id is set per host). */
  raft?: Partial<Omit<RaftConfig, 'id'>>
}

export interface AddGroupOptions {
  stateMachine: StateMachine
  /** Founding membership; omit when joining a group that already exists elsewhere. */
  bootstrap?: ConfState
  snapshotEntries?: number
}

interface HostedGroup {
  readonly node: RaftNode
  readonly storage: RaftStorage
}

/**
 * Many Raft groups in one process: one clock ticks them all, one storage root
 * holds their logs, one transport carries their messages, and all messages a
 * tick produces for one destination node leave as one batch.
 */
export class RaftHost {
  readonly nodeId: NodeId
  readonly #options: RaftHostOptions
  readonly #groups = new Map<string, HostedGroup>()
  #outbox = new Map<NodeId, GroupMessage[]>()
  #flushScheduled = false
  #timer: ReturnType<typeof setInterval> | null = null
  /** Batches and messages sent, to observe batching. */
  readonly sent = { batches: 0, messages: 0 }

  constructor(options: RaftHostOptions) {
    if (options.storage === undefined && options.storageRoot === undefined)
      throw new TypeError('RaftHost needs storageRoot or a storage factory')
    this.#options = options
    this.nodeId = options.nodeId
  }

  /** Starts the shared clock. */
  start(): void {
    if (this.#timer !== null) return
    this.#timer = setInterval(() => {
      for (const group of this.#groups.values()) group.node.tick()
    }, this.#options.tickMs ?? 100)
    this.#timer.unref?.()
  }

  /** Stops the clock and every group, and closes their storage. */
  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    for (const name of [...this.#groups.keys()]) await this.removeGroup(name)
  }

  /** Starts hosting `group` (recovering it from storage when it exists). */
  async addGroup(group: string, options: AddGroupOptions): Promise<RaftNode> {
    if (this.#groups.has(group)) throw new Error(`group ${group} is already hosted`)
    const storage =
      this.#options.storage?.(group, options.bootstrap) ??
      new WalRaftStorage(path.join(this.#options.storageRoot as string, encodeURIComponent(group)), {
        bootstrap: options.bootstrap,
      })
    const node = new RaftNode({
      raft: { ...this.#options.raft, id: this.nodeId },
      storage,
      transport: { send: (to, messages) => this.#enqueue(group, to, messages) },
      stateMachine: options.stateMachine,
      tickMs: 0,
      snapshotEntries: options.snapshotEntries,
    })
    this.#groups.set(group, { node, storage })
    await node.start()
    return node
  }

  /** Stops hosting `group` (its storage stays on disk). */
  async removeGroup(group: string): Promise<void> {
    const hosted = this.#groups.get(group)
    if (hosted === undefined) return
    this.#groups.delete(group)
    await hosted.node.stop()
    await hosted.storage.close()
  }

  group(name: string): RaftNode | undefined {
    return this.#groups.get(name)?.node
  }

  get groups(): string[] {
    return [...this.#groups.keys()]
  }

  /** Delivers a batch that arrived from another node; messages of unknown groups are dropped. */
  receive(batch: readonly GroupMessage[]): void {
    for (const { group, message } of batch) this.#groups.get(group)?.node.receive(message)
  }

  #enqueue(group: string, to: NodeId, messages: readonly Message[]): void {
    let queue = this.#outbox.get(to)
    if (queue === undefined) {
      queue = []
      this.#outbox.set(to, queue)
    }
    for (const message of messages) queue.push({ group, message })
    if (this.#flushScheduled) return
    this.#flushScheduled = true
    // Every group that runs in this turn of the event loop joins the same batch.
    setImmediate(() => this.#flush())
  }

  #flush(): void {
    this.#flushScheduled = false
    const outbox = this.#outbox
    this.#outbox = new Map()
    for (const [to, batch] of outbox) {
      this.sent.batches++
      this.sent.messages += batch.length
      this.#options.transport.send(to, batch)
    }
  }
}

/** An in-process network between hosts, for tests and embedding. */
export class MemoryHostNetwork {
  readonly #hosts = new Map<NodeId, RaftHost>()

  transport(): HostTransport {
    return {
      send: (to, batch) => {
        const copy = [...batch]
        setImmediate(() => this.#hosts.get(to)?.receive(copy))
      },
    }
  }

  attach(host: RaftHost): void {
    this.#hosts.set(host.nodeId, host)
  }

  detach(nodeId: NodeId): void {
    this.#hosts.delete(nodeId)
  }
}
