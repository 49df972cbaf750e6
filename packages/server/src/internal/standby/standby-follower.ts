import type { Logger } from 'pino'
import type { P2PNode, PeerAddress } from '../p2p/index.ts'
import {
  type FetchRequest,
  isFetchResponse,
  isStandbySnapshotMeta,
  type StandbyRequest,
} from './standby-protocol.ts'
import type { StandbyState } from './standby-state.ts'

/** What a standby drives of its engine. */
export interface FollowerEngine {
  /** Local log index of the last applied command. */
  readonly appliedIndex: number
  appendFollowed(payloads: Uint8Array[]): Promise<number>
  installSnapshot(chunks: AsyncIterable<Uint8Array>): Promise<{ sourceIndex: number; localIndex: number }>
}

export interface StandbyFollowerOptions {
  p2p: Pick<P2PNode, 'request' | 'address'>
  primary: PeerAddress
  engine: FollowerEngine
  state: () => StandbyState
  saveState: (change: Partial<StandbyState>) => Promise<void>
  /** Milliseconds on a monotonic clock. */
  now: () => number
  logger: Logger
  /** Long-poll length asked of the primary. @defaultValue 1000 */
  waitMs?: number
  /** Pause after a failed fetch. @defaultValue 200 */
  retryMs?: number
  /** Most bytes of entries per fetch. @defaultValue 4 MiB */
  maxBytes?: number
}

/** Thrown to a snapshot stream nobody asked for; the sender sees its code. */
class UnexpectedSnapshotError extends Error {
  override readonly name = 'UnexpectedSnapshotError'
  readonly code = 'unexpected_snapshot'
}

/**
 * The standby's side of the link: fetches the primary's log from the next index it lacks,
 * appends and applies each batch durably (and the epoch and task uid it learned) before it asks
 * for more — the next fetch is its acknowledgement — and starts over from a snapshot when the
 * primary compacted what it needs, or when a snapshot install was cut short.
 */
export class StandbyFollower {
  readonly #options: Required<StandbyFollowerOptions>
  readonly #abort = new AbortController()
  #loop: Promise<void> | undefined
  #next: number
  #needSnapshot: boolean
  #expectingSnapshot = false
  #primaryLastIndex = 0
  #lastContactAt = Number.NEGATIVE_INFINITY
  #behindSince: number
  #lastError: string | undefined
  #snapshotsInstalled = 0

  constructor(options: StandbyFollowerOptions) {
    this.#options = { waitMs: 1000, retryMs: 200, maxBytes: 4 * 1024 * 1024, ...options }
    const state = options.state()
    this.#next = options.engine.appliedIndex + state.indexOffset + 1
    this.#needSnapshot = state.installing
    this.#behindSince = options.now()
  }

  start(): void {
    this.#loop ??= this.#run()
  }

  /** Stops following; resolves once no fetch or append is in flight. */
  async stop(): Promise<void> {
    this.#abort.abort()
    await this.#loop
  }

  /** The primary log index of the last command this standby holds. */
  get appliedIndex(): number {
    return this.#next - 1
  }

  status() {
    const lagEntries = Math.max(0, this.#primaryLastIndex - this.appliedIndex)
    return {
      appliedIndex: this.appliedIndex,
      primaryLastIndex: this.#primaryLastIndex,
      lagEntries,
      lagSeconds: lagEntries === 0 ? 0 : (this.#options.now() - this.#behindSince) / 1000,
      sinceContactMs: this.#options.now() - this.#lastContactAt,
      snapshotsInstalled: this.#snapshotsInstalled,
      lastError: this.#lastError ?? null,
    }
  }

  /** The `/shoal/snapshot/1` handler: installs the snapshot this standby asked for. */
  async receiveSnapshot(meta: unknown, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    if (!this.#expectingSnapshot || !isStandbySnapshotMeta(meta)) {
      for await (const _chunk of chunks) {
        // Drained: the stream is refused whole.
      }
      throw new UnexpectedSnapshotError('this standby did not ask for a snapshot')
    }
    const state = this.#options.state()
    await this.#options.saveState({ installing: true })
    const installed = await this.#options.engine.installSnapshot(chunks)
    await this.#options.saveState({
      installing: false,
      indexOffset: installed.sourceIndex - installed.localIndex,
      epoch: Math.max(state.epoch, meta.epoch),
      nextTaskUid: Math.max(state.nextTaskUid, meta.nextTaskUid),
    })
    this.#next = installed.sourceIndex + 1
    this.#needSnapshot = false
    this.#snapshotsInstalled++
    this.#options.logger.info({ primaryIndex: installed.sourceIndex }, 'standby: installed a snapshot')
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal
    while (!signal.aborted) {
      try {
        if (this.#needSnapshot) await this.#fetchSnapshot(signal)
        else await this.#fetchOnce(signal)
        this.#lastError = undefined
      } catch (error) {
        if (signal.aborted) break
        const message = error instanceof Error ? error.message : String(error)
        if (message !== this.#lastError) this.#options.logger.warn({ err: message }, 'standby: fetch failed')
        this.#lastError = message
        await sleep(this.#options.retryMs, signal)
      }
    }
  }

  async #fetchOnce(signal: AbortSignal): Promise<void> {
    const state = this.#options.state()
    const request: FetchRequest = {
      epoch: state.epoch,
      from: this.#next,
      maxBytes: this.#options.maxBytes,
      waitMs: this.#options.waitMs,
      peer: this.#options.p2p.address(),
    }
    const body: StandbyRequest = ['standby.fetch', request]
    const response = await this.#options.p2p.request(this.#options.primary, body, {
      timeoutMs: this.#options.waitMs + 10_000,
      signal,
    })
    if (!isFetchResponse(response)) throw new Error('the primary answered a fetch with something else')
    if (response.epoch < state.epoch)
      throw new Error(
        `the primary is at epoch ${response.epoch}, behind epoch ${state.epoch} this standby knows: not following it`,
      )
    this.#lastContactAt = this.#options.now()
    this.#primaryLastIndex = response.lastIndex
    if ('snapshotNeeded' in response) {
      this.#needSnapshot = true
      return
    }
    // The entries, the epoch and the next task uid are durable before the next fetch says so.
    const durable: Promise<unknown>[] = []
    if (response.epoch > state.epoch || response.nextTaskUid > state.nextTaskUid) {
      durable.push(
        this.#options.saveState({
          epoch: response.epoch,
          nextTaskUid: Math.max(state.nextTaskUid, response.nextTaskUid),
        }),
      )
    }
    if (response.entries.length > 0) durable.push(this.#options.engine.appendFollowed(response.entries))
    await Promise.all(durable)
    this.#next += response.entries.length
    if (this.appliedIndex >= this.#primaryLastIndex) this.#behindSince = this.#options.now()
  }

  async #fetchSnapshot(signal: AbortSignal): Promise<void> {
    const state = this.#options.state()
    this.#expectingSnapshot = true
    try {
      const body: StandbyRequest = [
        'standby.snapshot',
        { epoch: state.epoch, peer: this.#options.p2p.address() },
      ]
      await this.#options.p2p.request(this.#options.primary, body, { timeoutMs: 30 * 60_000, signal })
    } finally {
      this.#expectingSnapshot = false
    }
    if (this.#needSnapshot) throw new Error('the primary sent no snapshot')
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}
