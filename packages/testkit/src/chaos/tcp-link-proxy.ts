import net from 'node:net'
import { corruptOneByte, drawDelayMs, type FaultTable } from './fault-table.ts'
import type { LinkFaults } from './link-faults.ts'

/** Counters of what a proxy did, for tests and reports. */
export interface TcpProxyStats {
  connections: number
  refused: number
  chunks: number
  bytes: number
  delayed: number
  stalls: number
  corrupted: number
  resets: number
  blackholed: number
}

export interface TcpLinkProxyOptions {
  table: FaultTable
  /** The node that dials through this proxy. */
  from: string
  /** The node it reaches. */
  to: string
  target: { host: string; port: number }
  /** Where to listen. @defaultValue 127.0.0.1, an ephemeral port */
  listen?: { host?: string; port?: number }
}

/** Bytes queued in one direction before the sending side is paused. */
const HIGH_WATER_BYTES = 4 * 1024 * 1024
/** Doublings of the retransmission stall (TCP caps its back-off too). */
const MAX_BACKOFFS = 6

/**
 * One direction of one proxied connection: chunks wait until their delivery
 * time, in order (a TCP stream never reorders), then go to `sink`.
 */
class Pipe {
  #queue: Array<{ bytes: Buffer; at: number }> = []
  #queuedBytes = 0
  #lastAt = 0
  #timer: ReturnType<typeof setTimeout> | null = null
  readonly #source: net.Socket
  readonly #sink: net.Socket
  readonly #now: () => number

  constructor(source: net.Socket, sink: net.Socket, now: () => number) {
    this.#source = source
    this.#sink = sink
    this.#now = now
    sink.on('drain', () => this.#resumeSource())
  }

  get idle(): boolean {
    return this.#queue.length === 0
  }

  push(bytes: Buffer, delayMs: number): void {
    const now = this.#now()
    if (delayMs <= 0 && this.#queue.length === 0) {
      this.#write(bytes)
      return
    }
    const at = Math.max(this.#lastAt, now + delayMs)
    this.#lastAt = at
    this.#queue.push({ bytes, at })
    this.#queuedBytes += bytes.length
    if (this.#queuedBytes > HIGH_WATER_BYTES) this.#source.pause()
    this.#arm()
  }

  close(): void {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    this.#queue = []
  }

  #arm(): void {
    if (this.#timer !== null) return
    const head = this.#queue[0]
    if (head === undefined) return
    this.#timer = setTimeout(() => this.#flush(), Math.max(0, head.at - this.#now()))
  }

  #flush(): void {
    this.#timer = null
    const now = this.#now()
    while (this.#queue.length > 0 && (this.#queue[0] as { at: number }).at <= now) {
      const { bytes } = this.#queue.shift() as { bytes: Buffer }
      this.#queuedBytes -= bytes.length
      this.#write(bytes)
    }
    this.#resumeSource()
    this.#arm()
  }

  /** Writes to the sink; a sink that cannot keep up (a stopped process) pauses the source, as TCP would. */
  #write(bytes: Buffer): void {
    if (this.#sink.destroyed) return
    if (!this.#sink.write(bytes)) this.#source.pause()
  }

  #resumeSource(): void {
    const sinkFull = this.#sink.writableNeedDrain
    if (!sinkFull && this.#queuedBytes <= HIGH_WATER_BYTES / 4 && this.#source.isPaused())
      this.#source.resume()
  }
}

interface Proxied {
  inbound: net.Socket
  outbound: net.Socket
  /** Bytes were discarded (blackhole): the stream has a gap and must not carry on after the heal. */
  gap: boolean
}

/**
 * A TCP proxy for one directed link: node `from` dials the proxy's port instead
 * of `to`'s, and every chunk in either direction passes the faults of its
 * direction in the `FaultTable` (from→to for what the dialer sends, to→from
 * for the replies).
 *
 * Cuts act on application data, not on TCP segments: a connection is refused
 * while the dialer's direction is cut with `reset`, and a connection whose
 * reply direction is cut survives until a byte flows that way. So a one-way
 * cut of a protocol that dials separate connections per direction (the Raft
 * KV example) stops exactly one direction.
 */
export class TcpLinkProxy {
  readonly from: string
  readonly to: string
  readonly stats: TcpProxyStats = {
    connections: 0,
    refused: 0,
    chunks: 0,
    bytes: 0,
    delayed: 0,
    stalls: 0,
    corrupted: 0,
    resets: 0,
    blackholed: 0,
  }
  readonly #options: TcpLinkProxyOptions
  readonly #server: net.Server
  readonly #open = new Set<Proxied>()
  #unsubscribe: (() => void) | null = null
  #port = 0

  constructor(options: TcpLinkProxyOptions) {
    this.#options = options
    this.from = options.from
    this.to = options.to
    options.table.link(options.from, options.to) // validates the names
    this.#server = net.createServer((socket) => this.#accept(socket))
  }

  /** The port nodes dial to reach `to` from `from`. */
  get port(): number {
    return this.#port
  }

  get address(): string {
    return `${this.#options.listen?.host ?? '127.0.0.1'}:${this.#port}`
  }

  async start(): Promise<void> {
    const { host = '127.0.0.1', port = 0 } = this.#options.listen ?? {}
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(port, host, () => resolve())
    })
    this.#port = (this.#server.address() as net.AddressInfo).port
    this.#unsubscribe = this.#options.table.onChange((link, faults, previous) =>
      this.#onChange(link.from, link.to, faults, previous),
    )
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.()
    this.dropConnections()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  /** Closes every open connection through this proxy (both ends see the connection end). */
  dropConnections(): number {
    const count = this.#open.size
    for (const proxied of [...this.#open]) this.#destroy(proxied)
    return count
  }

  get openConnections(): number {
    return this.#open.size
  }

  #accept(inbound: net.Socket): void {
    const { table, from, to, target } = this.#options
    inbound.on('error', () => {})
    if (table.faults(from, to).cut === 'reset') {
      this.stats.refused++
      inbound.destroy()
      return
    }
    this.stats.connections++
    inbound.setNoDelay(true)
    inbound.pause()
    const outbound = net.connect({ host: target.host, port: target.port, noDelay: true })
    outbound.on('error', () => {})
    const proxied: Proxied = { inbound, outbound, gap: false }
    this.#open.add(proxied)
    const forward = new Pipe(inbound, outbound, table.now)
    const backward = new Pipe(outbound, inbound, table.now)
    inbound.on('data', (chunk: Buffer) => this.#chunk(proxied, forward, from, to, chunk))
    outbound.on('data', (chunk: Buffer) => this.#chunk(proxied, backward, to, from, chunk))
    const end = (): void => {
      forward.close()
      backward.close()
      this.#destroy(proxied)
    }
    inbound.on('close', end)
    outbound.on('close', end)
    outbound.once('connect', () => inbound.resume())
  }

  #chunk(proxied: Proxied, pipe: Pipe, a: string, b: string, chunk: Buffer): void {
    const state = this.#options.table.link(a, b)
    const faults = state.faults
    this.stats.chunks++
    this.stats.bytes += chunk.length
    if (faults.cut === 'reset') {
      this.#reset(proxied)
      return
    }
    if (faults.cut === 'blackhole') {
      this.stats.blackholed++
      proxied.gap = true
      return
    }
    if (faults.reset > 0 && state.rng.chance(faults.reset)) {
      this.#reset(proxied)
      return
    }
    let bytes = chunk
    if (faults.corrupt > 0 && state.rng.chance(faults.corrupt)) {
      bytes = Buffer.from(chunk)
      corruptOneByte(bytes, state.rng)
      this.stats.corrupted++
    }
    let delay = drawDelayMs(state, this.#options.table.now())
    if (faults.loss > 0) {
      for (let k = 0; k < MAX_BACKOFFS && state.rng.chance(faults.loss); k++) {
        delay += faults.retransmitMs * 2 ** k
        this.stats.stalls++
      }
    }
    if (delay > 0) this.stats.delayed++
    pipe.push(bytes, delay)
  }

  #onChange(a: string, b: string, faults: LinkFaults, previous: LinkFaults): void {
    const { from, to } = this.#options
    const forward = a === from && b === to
    const backward = a === to && b === from
    if (!forward && !backward) return
    if (forward && faults.cut === 'reset') this.dropConnections()
    if (previous.cut === 'blackhole' && faults.cut !== 'blackhole') {
      for (const proxied of [...this.#open]) if (proxied.gap) this.#destroy(proxied)
    }
  }

  #reset(proxied: Proxied): void {
    this.stats.resets++
    this.#destroy(proxied)
  }

  #destroy(proxied: Proxied): void {
    if (!this.#open.delete(proxied)) return
    proxied.inbound.destroy()
    proxied.outbound.destroy()
  }
}
