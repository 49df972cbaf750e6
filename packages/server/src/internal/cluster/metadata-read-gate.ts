import type { ClusterNode } from '@shoal/cluster'

/** How long one request waits for the metadata leader's read point before answering from this copy. */
const CATCH_UP_TIMEOUT_MS = 3_000

/**
 * Whether this node's copy of the metadata (tasks, indexes, keys, webhooks) may answer reads yet.
 *
 * Like a shard replica (replica-read-gate.ts), the metadata replica of a node that restarts
 * rebuilds its state from its snapshot and log up to its durable commit index, which may lag what
 * it had applied before it stopped: it could show a task it had reported `succeeded` as
 * `processing` again. So the first reads after a start wait for a read point the metadata leader
 * confirms (ReadIndex, then this copy applies up to it), unless the replica has applied its whole
 * log (every entry it applied before is in it). Once either holds, reads answer at once for as
 * long as the node runs. When no leader confirms within the bound (no majority), a read answers
 * from this copy, as every read does without a majority, and the next read tries again.
 */
export class MetadataReadGate {
  readonly #node: ClusterNode
  #ready = false
  #pending: Promise<void> | null = null

  constructor(node: ClusterNode) {
    this.#node = node
  }

  get ready(): boolean {
    return this.#ready
  }

  /** Resolves once this copy is at least as new as what this node served before it started. */
  async caughtUp(): Promise<void> {
    if (this.#ready) return
    const status = this.#status()
    if (status !== null && status.lastIndex > 0 && status.appliedIndex >= status.lastIndex) {
      this.#ready = true
      return
    }
    this.#pending ??= this.#node
      .readLinearizable({ timeoutMs: CATCH_UP_TIMEOUT_MS })
      .then(
        () => {
          this.#ready = true
        },
        () => {},
      )
      .finally(() => {
        this.#pending = null
      })
    await this.#pending
  }

  #status(): { appliedIndex: number; lastIndex: number } | null {
    try {
      return this.#node.metaRaft?.status() ?? null
    } catch {
      return null // stopped
    }
  }
}
