import dgram, { type RemoteInfo } from 'node:dgram'
import net from 'node:net'
import type { Endpoint } from './fault-network.ts'

/** Counters of a `NodeFront`. */
export interface NodeFrontStats {
  connections: number
  datagrams: number
  /** Connections closed and datagrams dropped because their source node was not found. */
  unidentified: number
}

export interface NodeFrontOptions {
  /** The node behind this front (for messages). */
  node: string
  /** @defaultValue '127.0.0.1' */
  host?: string
  /** @defaultValue 0 (ephemeral; with both protocols, one port free for both) */
  port?: number
  /**
   * Accept TCP: each connection is attributed to the node that dialed it and
   * passed on, byte for byte, to `route(source)`; a connection whose source
   * is not found is closed.
   */
  tcp?: {
    identify(socket: net.Socket): Promise<string | null>
    route(source: string): Endpoint
  }
  /** Accept UDP: each datagram goes on to `route(source)`, or is dropped when its source is unknown. */
  udp?: {
    identify(sender: RemoteInfo): string | null
    route(source: string): Endpoint
  }
}

/**
 * One address in front of one node, for systems whose nodes advertise a
 * single address that every peer dials (gossip-learned addresses): the node
 * advertises the front, the front finds which peer a connection or datagram
 * comes from, and hands it to that link's proxy (`FaultNetwork`'s
 * `dial(source, node)`), which applies the link's faults and reaches the node.
 * So per-link faults work although the node has one address for everyone.
 * TCP and UDP share one port when both are given (as SWIM's gossip port does).
 */
export class NodeFront {
  readonly stats: NodeFrontStats = { connections: 0, datagrams: 0, unidentified: 0 }
  readonly #options: NodeFrontOptions
  readonly #open = new Set<net.Socket>()
  #server: net.Server | null = null
  #udp: dgram.Socket | null = null
  #sender: dgram.Socket | null = null
  #port = 0

  constructor(options: NodeFrontOptions) {
    if (options.tcp === undefined && options.udp === undefined)
      throw new TypeError('a NodeFront needs tcp, udp or both')
    this.#options = options
  }

  get host(): string {
    return this.#options.host ?? '127.0.0.1'
  }

  get port(): number {
    return this.#port
  }

  get address(): string {
    return `${this.host}:${this.#port}`
  }

  async start(): Promise<void> {
    const both = this.#options.tcp !== undefined && this.#options.udp !== undefined
    const attempts = both && (this.#options.port ?? 0) === 0 ? 16 : 1
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#bind()
        return
      } catch (error) {
        await this.#close()
        if (attempt >= attempts) throw error
      }
    }
  }

  async stop(): Promise<void> {
    for (const socket of this.#open) socket.destroy()
    this.#open.clear()
    await this.#close()
  }

  async #bind(): Promise<void> {
    let port = this.#options.port ?? 0
    if (this.#options.udp !== undefined) {
      const udp = dgram.createSocket('udp4')
      this.#udp = udp
      udp.on('error', () => {})
      udp.on('message', (datagram, sender) => this.#datagram(datagram, sender))
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject)
        udp.bind(port, this.host, () => resolve())
      })
      port = udp.address().port
      const sender = dgram.createSocket('udp4')
      sender.on('error', () => {})
      this.#sender = sender
      await new Promise<void>((resolve) => sender.bind(0, this.host, () => resolve()))
    }
    if (this.#options.tcp !== undefined) {
      const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) =>
        this.#accept(socket),
      )
      this.#server = server
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, this.host, () => resolve())
      })
      port = (server.address() as net.AddressInfo).port
    }
    this.#port = port
  }

  async #close(): Promise<void> {
    const server = this.#server
    const udp = this.#udp
    const sender = this.#sender
    this.#server = this.#udp = this.#sender = null
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()))
    for (const socket of [udp, sender])
      if (socket !== null) await new Promise<void>((resolve) => socket.close(() => resolve()))
  }

  #datagram(datagram: Buffer, sender: RemoteInfo): void {
    const udp = this.#options.udp
    if (udp === undefined || this.#sender === null) return
    const source = udp.identify(sender)
    if (source === null) {
      this.stats.unidentified++
      return
    }
    this.stats.datagrams++
    const to = udp.route(source)
    this.#sender.send(datagram, to.port, to.host ?? '127.0.0.1')
  }

  async #accept(inbound: net.Socket): Promise<void> {
    const tcp = this.#options.tcp
    inbound.on('error', () => {})
    if (tcp === undefined) {
      inbound.destroy()
      return
    }
    this.#open.add(inbound)
    inbound.once('close', () => this.#open.delete(inbound))
    const source = await tcp.identify(inbound).catch(() => null)
    if (source === null || inbound.destroyed) {
      this.stats.unidentified++
      inbound.destroy()
      return
    }
    this.stats.connections++
    const to = tcp.route(source)
    const outbound = net.connect({
      host: to.host ?? '127.0.0.1',
      port: to.port,
      noDelay: true,
      allowHalfOpen: true,
    })
    outbound.on('error', () => {})
    this.#open.add(outbound)
    outbound.once('close', () => {
      this.#open.delete(outbound)
      inbound.destroy()
    })
    inbound.once('close', () => outbound.destroy())
    inbound.setNoDelay(true)
    inbound.pipe(outbound)
    outbound.pipe(inbound)
    outbound.once('connect', () => inbound.resume())
  }
}
