import type { NodeId } from './core/index.ts'
import type { RaftHost } from './host.ts'
import type { HostFrame } from './host-frame.ts'
import type { HostTransport } from './host-options.ts'

/**
 * An in-process network between hosts, for tests and embedding: a frame is
 * delivered a macrotask later (as over a socket); a node can be isolated
 * (frames to and from it are lost) and restored.
 */
export class MemoryHostNetwork {
  readonly #hosts = new Map<NodeId, RaftHost>()
  readonly #isolated = new Set<NodeId>()
  /** Frames delivered so far, to observe traffic. */
  delivered = 0

  transport(): HostTransport {
    return {
      send: (to, frame) => {
        if (this.#isolated.has(frame.from) || this.#isolated.has(to)) return
        const copy: HostFrame = { from: frame.from, items: [...frame.items] }
        setImmediate(() => {
          if (this.#isolated.has(copy.from) || this.#isolated.has(to)) return
          const host = this.#hosts.get(to)
          if (host === undefined) return
          this.delivered++
          host.receive(copy)
        })
      },
    }
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
