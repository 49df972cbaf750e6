import type { NodeId } from './core/index.ts'
import { RaftTimeoutError, RaftUnreachableError } from './errors.ts'
import { errorOf, type ForwardItem, type ForwardResultItem } from './host-frame.ts'

/** What a forwarded proposal came back with. */
export type ForwardOutcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: Error; readonly retriable: boolean; readonly leader: NodeId | null }

interface Pending {
  readonly to: NodeId
  readonly group: string
  readonly resolve: (outcome: ForwardOutcome) => void
  readonly reject: (error: unknown) => void
  readonly cleanup: () => void
}

/**
 * The sending side of proposal forwarding: numbers each forwarded proposal,
 * matches results to callers, and gives up at the deadline or on abort (the
 * outcome is then unknown: the leader may still apply it). A late result for
 * a forgotten id is ignored.
 */
export class Forwarder {
  #nextId = 1
  readonly #pending = new Map<number, Pending>()
  readonly #send: (to: NodeId, item: ForwardItem) => void

  constructor(send: (to: NodeId, item: ForwardItem) => void) {
    this.#send = send
  }

  get pending(): number {
    return this.#pending.size
  }

  forward(
    to: NodeId,
    group: string,
    data: Uint8Array,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<ForwardOutcome> {
    if (signal?.aborted) return Promise.reject(signal.reason)
    const id = this.#nextId++
    return new Promise<ForwardOutcome>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#settle(id)?.reject(
          new RaftTimeoutError(
            `proposal forwarded to ${to} for group ${group}: no answer in ${timeoutMs} ms (outcome unknown)`,
          ),
        )
      }, timeoutMs)
      const onAbort = (): void => this.#settle(id)?.reject(signal?.reason)
      signal?.addEventListener('abort', onAbort, { once: true })
      const cleanup = (): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
      }
      this.#pending.set(id, { to, group, resolve, reject, cleanup })
      this.#send(to, { kind: 'forward', group, id, data })
    })
  }

  /** A result came back. */
  settle(item: ForwardResultItem): void {
    const pending = this.#settle(item.id)
    if (pending === undefined) return
    if (item.ok) {
      pending.resolve({ ok: true, value: item.value })
      return
    }
    // Refused before it was appended: resending cannot apply it twice.
    const retriable =
      item.code === 'RAFT_NOT_LEADER' ||
      (item.code === 'RAFT_REJECTED' && item.message.endsWith('transferring'))
    pending.resolve({ ok: false, error: errorOf(item, pending.group), retriable, leader: item.leader })
  }

  /**
   * Fails the forwards waiting for `to` with `RaftUnreachableError` (the
   * connection to it closed: no answer will come on it); returns how many.
   */
  failTo(to: NodeId): number {
    let failed = 0
    for (const [id, pending] of [...this.#pending]) {
      if (pending.to !== to) continue
      this.#settle(id)?.reject(new RaftUnreachableError(to, pending.group))
      failed++
    }
    return failed
  }

  /** Fails every pending forward (the host stops). */
  failAll(error: Error): void {
    for (const id of [...this.#pending.keys()]) this.#settle(id)?.reject(error)
  }

  #settle(id: number): Pending | undefined {
    const pending = this.#pending.get(id)
    if (pending === undefined) return undefined
    this.#pending.delete(id)
    pending.cleanup()
    return pending
  }
}
