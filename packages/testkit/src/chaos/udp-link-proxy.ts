import dgram from 'node:dgram'
import { corruptOneByte, drawDelayMs, type FaultTable } from './fault-table.ts'

export interface UdpProxyStats {
  datagrams: number
  dropped: number
  duplicated: number
  reordered: number
  corrupted: number
  delayed: number
}

export interface UdpLinkProxyOptions {
  table: FaultTable
  /** The node that sends through this proxy. */
  from: string
  /** The node it reaches. */
  to: string
  target: { host: string; port: number }
  /** Where to listen. @defaultValue 127.0.0.1, an ephemeral port */
  listen?: { host?: string; port?: number }
}

/**
 * A UDP proxy for one directed link: `from` sends its datagrams for `to` to
 * this proxy's port; they leave from a socket of the proxy towards `to`, and
 * whatever `to` answers to that socket comes back to the last sender, from
 * the proxy's port. Each datagram passes the faults of its direction: it may
 * be dropped (loss, cut), delivered twice, held back so later ones overtake it,
 * delayed, or have a byte changed.
 */
export class UdpLinkProxy {
  readonly from: string
  readonly to: string
  readonly stats: UdpProxyStats = {
    datagrams: 0,
    dropped: 0,
    duplicated: 0,
    reordered: 0,
    corrupted: 0,
    delayed: 0,
  }
  readonly #options: UdpLinkProxyOptions
  readonly #inbound = dgram.createSocket('udp4')
  readonly #outbound = dgram.createSocket('udp4')
  readonly #timers = new Set<ReturnType<typeof setTimeout>>()
  #replyTo: { address: string; port: number } | null = null
  #port = 0
  #stopped = false

  constructor(options: UdpLinkProxyOptions) {
    this.#options = options
    this.from = options.from
    this.to = options.to
    options.table.link(options.from, options.to)
  }

  get port(): number {
    return this.#port
  }

  get address(): string {
    return `${this.#options.listen?.host ?? '127.0.0.1'}:${this.#port}`
  }

  async start(): Promise<void> {
    const { host = '127.0.0.1', port = 0 } = this.#options.listen ?? {}
    const { from, to, target } = this.#options
    this.#inbound.on('error', () => {})
    this.#outbound.on('error', () => {})
    this.#inbound.on('message', (msg, rinfo) => {
      this.#replyTo = { address: rinfo.address, port: rinfo.port }
      this.#pass(from, to, msg, (bytes) => this.#outbound.send(bytes, target.port, target.host))
    })
    this.#outbound.on('message', (msg) => {
      const replyTo = this.#replyTo
      if (replyTo === null) return
      this.#pass(to, from, msg, (bytes) => this.#inbound.send(bytes, replyTo.port, replyTo.address))
    })
    await new Promise<void>((resolve) => this.#inbound.bind(port, host, resolve))
    await new Promise<void>((resolve) => this.#outbound.bind(0, host, resolve))
    this.#port = this.#inbound.address().port
  }

  async stop(): Promise<void> {
    this.#stopped = true
    for (const timer of this.#timers) clearTimeout(timer)
    this.#timers.clear()
    await Promise.all([
      new Promise<void>((resolve) => this.#inbound.close(() => resolve())),
      new Promise<void>((resolve) => this.#outbound.close(() => resolve())),
    ])
  }

  #pass(a: string, b: string, datagram: Buffer, send: (bytes: Buffer) => void): void {
    const table = this.#options.table
    const state = table.link(a, b)
    const faults = state.faults
    this.stats.datagrams++
    if (faults.cut !== 'none' || (faults.loss > 0 && state.rng.chance(faults.loss))) {
      this.stats.dropped++
      return
    }
    const copies = faults.duplicate > 0 && state.rng.chance(faults.duplicate) ? 2 : 1
    if (copies === 2) this.stats.duplicated++
    for (let i = 0; i < copies; i++) {
      let bytes = datagram
      if (faults.corrupt > 0 && state.rng.chance(faults.corrupt)) {
        bytes = Buffer.from(datagram)
        corruptOneByte(bytes, state.rng)
        this.stats.corrupted++
      }
      let delay = drawDelayMs(state, table.now())
      if (faults.reorder > 0 && state.rng.chance(faults.reorder)) {
        delay += faults.reorderMs
        this.stats.reordered++
      }
      if (delay <= 0) {
        send(bytes)
        continue
      }
      this.stats.delayed++
      const timer = setTimeout(() => {
        this.#timers.delete(timer)
        if (!this.#stopped) send(bytes)
      }, delay)
      this.#timers.add(timer)
    }
  }
}
