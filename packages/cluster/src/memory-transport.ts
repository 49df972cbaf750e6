import type { ClusterNode } from './cluster-node.ts'
import { NotDeliveredError } from './errors.ts'
import type {
  ClusterTransport,
  NodeAddress,
  RaftFrame,
  RaftSnapshot,
  RequestOptions,
  RpcRequest,
  RpcResponse,
  SnapshotSendOptions,
} from './transport.ts'

/**
 * An in-process network between cluster nodes, for tests and simulations:
 * delivery is asynchronous (a macrotask later, as over a socket), and links
 * can be cut one way or both. Nodes are addressed by their first address.
 */
export class MemoryClusterNetwork {
  readonly #nodes = new Map<string, ClusterNode>()
  readonly #cut = new Set<string>()
  /** Frames, requests and snapshot messages delivered, for tests. */
  readonly delivered = { frames: 0, requests: 0, snapshots: 0 }

  /** The transport of the node reached at `address`. */
  transport(address: string): ClusterTransport {
    return {
      sendRaft: (to: NodeAddress, frame: RaftFrame) => {
        const target = to.addrs[0]
        if (target === undefined || this.#isCut(address, target)) return
        setImmediate(() => {
          if (this.#isCut(address, target)) return
          this.delivered.frames++
          this.#nodes.get(target)?.receiveRaft(frame)
        })
      },
      sendSnapshot: (to: NodeAddress, snapshot: RaftSnapshot, options?: SnapshotSendOptions): Promise<void> =>
        this.#sendSnapshot(address, to, snapshot, options?.signal),
      request: (to: NodeAddress, body: RpcRequest, options?: RequestOptions): Promise<RpcResponse> => {
        const target = to.addrs[0]
        const node = target === undefined ? undefined : this.#nodes.get(target)
        if (
          target === undefined ||
          node === undefined ||
          this.#isCut(address, target) ||
          this.#isCut(target, address)
        )
          return Promise.reject(new NotDeliveredError(`unreachable: ${to.nodeId}`))
        this.delivered.requests++
        const timeoutMs = options?.timeoutMs ?? 10_000
        return new Promise<RpcResponse>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`request to ${to.nodeId} timed out`)), timeoutMs)
          setImmediate(() => {
            void node.handleRequest(structuredClone(body)).then((response) => {
              clearTimeout(timer)
              if (this.#isCut(target, address)) reject(new Error(`unreachable: ${to.nodeId}`))
              else resolve(response)
            })
          })
        })
      },
    }
  }

  /**
   * A snapshot message, delivered a macrotask later; rejects when the link is
   * cut either way (the acknowledgement must come back), the node is gone or
   * it refused the message, or with the signal's reason when it fired first.
   */
  #sendSnapshot(
    from: string,
    to: NodeAddress,
    snapshot: RaftSnapshot,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const target = to.addrs[0]
    const copy = structuredClone(snapshot)
    return new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        if (signal?.aborted) {
          reject(signal.reason)
          return
        }
        const node = target === undefined ? undefined : this.#nodes.get(target)
        const sender = this.#nodes.get(from)
        if (
          target === undefined ||
          node === undefined ||
          sender === undefined ||
          this.#isCut(from, target) ||
          this.#isCut(target, from)
        ) {
          reject(new NotDeliveredError(`unreachable: ${to.nodeId}`))
          return
        }
        if (!node.receiveSnapshot(sender.nodeId, copy)) {
          reject(new Error(`snapshot refused by ${to.nodeId}`))
          return
        }
        this.delivered.snapshots++
        resolve()
      })
    })
  }

  attach(address: string, node: ClusterNode): void {
    this.#nodes.set(address, node)
  }

  detach(address: string): void {
    this.#nodes.delete(address)
  }

  /** Cuts the link from `a` to `b` (and back, unless `oneWay`). */
  cut(a: string, b: string, oneWay = false): void {
    this.#cut.add(`${a}>${b}`)
    if (!oneWay) this.#cut.add(`${b}>${a}`)
  }

  heal(): void {
    this.#cut.clear()
  }

  #isCut(from: string, to: string): boolean {
    return this.#cut.has(`${from}>${to}`)
  }
}
