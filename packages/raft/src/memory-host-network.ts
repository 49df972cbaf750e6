import type { NodeId, SnapshotMessage } from './core/index.ts'
import type { RaftHost } from './host.ts'
import type { HostFrame } from './host-frame.ts'
import type { HostTransport } from './host-options.ts'

export interface MemoryHostNetworkOptions {
  /**
   * Give the transports the snapshot path (`sendSnapshot`), so snapshot
   * messages leave the frames as over a streaming network. @defaultValue false
   */
  snapshotStreams?: boolean
}

/**
 * An in-process network between hosts, for tests and embedding: a frame is
 * delivered a macrotask later (as over a socket); a node can be isolated
 * (frames to and from it are lost, snapshot transfers fail) and restored.
 */
export class MemoryHostNetwork {
  readonly #hosts = new Map<NodeId, RaftHost>()
  readonly #isolated = new Set<NodeId>()
  readonly #snapshotStreams: boolean
  /** Frames delivered so far, to observe traffic. */
  delivered = 0
  /** Snapshot messages delivered through the snapshot path so far. */
  snapshotsDelivered = 0

  constructor(options: MemoryHostNetworkOptions = {}) {
    this.#snapshotStreams = options.snapshotStreams ?? false
  }

  transport(): HostTransport {
    const send = (to: NodeId, frame: HostFrame): void => {
      if (this.#isolated.has(frame.from) || this.#isolated.has(to)) return
      const copy: HostFrame = { from: frame.from, items: [...frame.items] }
      setImmediate(() => {
        if (this.#isolated.has(copy.from) || this.#isolated.has(to)) return
        const host = this.#hosts.get(to)
        if (host === undefined) return
        this.delivered++
        host.receive(copy)
      })
    }
    if (!this.#snapshotStreams) return { send }
    return { send, sendSnapshot: (to, group, message) => this.#sendSnapshot(to, group, message) }
  }

  /** Delivers a macrotask later; rejects when either end is isolated or `to` is not attached. */
  #sendSnapshot(to: NodeId, group: string, message: SnapshotMessage): Promise<void> {
    const from = message.from
    const copy: SnapshotMessage = { ...message, chunk: message.chunk.slice() }
    return new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        const host = this.#hosts.get(to)
        if (this.#isolated.has(from) || this.#isolated.has(to) || host === undefined) {
          reject(new Error(`snapshot to ${to} lost: unreachable`))
          return
        }
        if (!host.receiveSnapshot(from, group, copy)) {
          reject(new Error(`snapshot to ${to} refused`))
          return
        }
        this.snapshotsDelivered++
        resolve()
      })
    })
  }

  attach(host: RaftHost): void {
    this.#hosts.set(host.nodeId, host)
  }

  detach(nodeId: NodeId): void {
    this.#hosts.delete(nodeId)
  }

  /** Cuts every link of `nodeId` until `restore`. */
  isolate(nodeId: NodeId): void {
    this.#isolated.add(nodeId)
  }

  restore(nodeId: NodeId): void {
    this.#isolated.delete(nodeId)
  }
}
