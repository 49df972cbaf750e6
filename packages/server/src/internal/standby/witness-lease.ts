import type { P2PNode, PeerAddress } from '../p2p/index.ts'

/**
 * A primary's lease at the witness (docs/standby.md, "Automatic promotion"): renewed every quarter
 * lease; valid until `leaseMs` after the *sending* of the last renewal the witness accepted. The
 * primary acknowledges writes only while it is valid. A witness that answers with a higher epoch
 * fences the primary.
 */
export class WitnessLease {
  readonly #p2p: Pick<P2PNode, 'request'>
  readonly #witness: PeerAddress
  readonly #leaseMs: number
  readonly #now: () => number
  readonly #epoch: () => number
  readonly #onFenced: (epoch: number) => void
  #until = Number.NEGATIVE_INFINITY
  #timer: ReturnType<typeof setInterval> | undefined
  #renewing = false
  #stopped = false

  constructor(options: {
    p2p: Pick<P2PNode, 'request'>
    witness: PeerAddress
    leaseMs: number
    now: () => number
    epoch: () => number
    onFenced: (epoch: number) => void
  }) {
    this.#p2p = options.p2p
    this.#witness = options.witness
    this.#leaseMs = options.leaseMs
    this.#now = options.now
    this.#epoch = options.epoch
    this.#onFenced = options.onFenced
  }

  start(): void {
    if (this.#timer !== undefined || this.#stopped) return
    this.#timer = setInterval(() => this.#renew(), Math.max(50, Math.floor(this.#leaseMs / 4)))
    this.#renew()
  }

  stop(): void {
    this.#stopped = true
    if (this.#timer !== undefined) clearInterval(this.#timer)
  }

  /** The witness granted this node the epoch at `sentAt` (a promotion counts as a renewal). */
  granted(sentAt: number): void {
    this.#until = Math.max(this.#until, sentAt + this.#leaseMs)
  }

  valid(): boolean {
    return this.#now() < this.#until
  }

  /** Milliseconds the lease has left (negative: expired). */
  remainingMs(): number {
    return this.#until - this.#now()
  }

  /** Resolves once the lease is valid, or once stopped. */
  async waitValid(): Promise<void> {
    while (!this.valid() && !this.#stopped) await new Promise((resolve) => setTimeout(resolve, 20))
  }

  #renew(): void {
    if (this.#renewing || this.#stopped) return
    this.#renewing = true
    const sentAt = this.#now()
    this.#p2p
      .request(this.#witness, ['witness.renew', { epoch: this.#epoch(), leaseMs: this.#leaseMs }], {
        timeoutMs: Math.max(100, Math.floor(this.#leaseMs / 2)),
      })
      .then((answer) => {
        const a = answer as { ok?: unknown; fenced?: unknown; epoch?: unknown }
        if (a.ok === true) this.granted(sentAt)
        else if (a.fenced === true && typeof a.epoch === 'number') this.#onFenced(a.epoch)
      })
      .catch(() => {})
      .finally(() => {
        this.#renewing = false
      })
  }
}
