import type { ClusterNode } from './cluster-node.ts'
import { NotDeliveredError } from './errors.ts'
import type {
  ClusterTransport,
  NodeAddress,
  RaftFrame,
  RequestOptions,
  RpcRequest,
  RpcResponse,
} from './transport.ts'

/**
 * An in-process network between cluster nodes, for tests and simulations:
 * delivery is asynchronous (a macrotask later, as over a socket), and links
 * can be cut one way or both. Nodes are addressed by their first address.
 */
export class MemoryClusterNetwork {
  readonly #nodes = new Map<string, ClusterNode>()
  readonly #cut = new Set<string>()
  /** Frames and requests delivered, for tests. */
  readonly delivered = { frames: 0, requests: 0 }

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
