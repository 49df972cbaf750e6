import type { Entry } from './core/index.ts'

/**
 * A node's background writes: Readys whose entries nothing promises yet (a
 * leader's own appends, see `RaftCore.advance` with `entriesDurable: false`)
 * are written while the node's loop goes on, so followers' acknowledgements
 * can commit an entry while the leader's own fsync is still running (Raft
 * thesis §10.2.1). Writes run one at a time, in the order queued, and before
 * any write the node makes in its loop (it `drain`s first), so storage sees
 * the same sequence of saves as without them.
 */
export class BackgroundWrites {
  #tail: Promise<void> = Promise.resolve()
  #failure: { error: unknown } | null = null
  #durable: { index: number; term: number } | null = null
  #pending = 0

  /**
   * Queues `write` of entries ending with `last`. `onDurable` runs once it is
   * durable; `onFailure` once, if any write fails (no later write runs then).
   */
  enqueue(
    last: Entry,
    write: () => Promise<void>,
    onDurable: () => void,
    onFailure: (error: unknown) => void,
  ): void {
    this.#pending++
    this.#tail = this.#tail.then(async () => {
      try {
        if (this.#failure !== null) return
        await write()
        // Writes finish in order: the latest is the highest durable entry.
        this.#durable = { index: last.index, term: last.term }
        onDurable()
      } catch (error) {
        this.#failure = { error }
        onFailure(error)
      } finally {
        this.#pending--
      }
    })
  }

  /** True while a write is queued or running. */
  get busy(): boolean {
    return this.#pending > 0
  }

  /** True when a write finished since the last `takeDurable`. */
  get hasDurable(): boolean {
    return this.#durable !== null
  }

  /** The last entry made durable since the previous call (for `RaftCore.entriesPersisted`), or null. */
  takeDurable(): { index: number; term: number } | null {
    const durable = this.#durable
    this.#durable = null
    return durable
  }

  /** Resolves once every queued write is durable; rejects with the error of one that failed. */
  async drain(): Promise<void> {
    await this.#tail
    if (this.#failure !== null) throw this.#failure.error
  }
}
