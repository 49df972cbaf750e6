import type { Message, NodeId } from './core/index.ts'

/**
 * Carries messages between members. `send` never blocks and may lose
 * messages (Raft tolerates loss, duplication and reordering); delivery on the
 * other side calls the receiving member's `receive`. Messages to one
 * destination come in one call, so a transport can put them in one frame.
 */
export interface Transport {
  send(to: NodeId, messages: readonly Message[]): void
}

/** Where an in-memory network delivers messages for one member. */
export type MessageHandler = (message: Message) => void

/**
 * An in-process network for tests and embedding: delivery is asynchronous
 * (a macrotask later, as over a socket), links can be cut and restored.
 */
export class MemoryNetwork {
  readonly #handlers = new Map<NodeId, MessageHandler>()
  readonly #cut = new Set<NodeId>()

  /** Registers the member `id`; returns its transport. */
  connect(id: NodeId, handler: MessageHandler): Transport {
    this.#handlers.set(id, handler)
    return {
      send: (to, messages) => {
        if (this.#cut.has(id) || this.#cut.has(to)) return
        const copy = [...messages]
        setImmediate(() => {
          if (this.#cut.has(id) || this.#cut.has(to)) return
          const deliver = this.#handlers.get(to)
          if (deliver !== undefined) for (const m of copy) deliver(m)
        })
      },
    }
  }

  disconnect(id: NodeId): void {
    this.#handlers.delete(id)
  }

  /** Cuts every link of `id` (messages to and from it are lost) until `restore`. */
  isolate(id: NodeId): void {
    this.#cut.add(id)
  }

  restore(id: NodeId): void {
    this.#cut.delete(id)
  }
}
