import { decodeMessages, encodeMessages } from './codec.ts'
import { type Message, type Random, seededRandom } from './core/index.ts'
import { emptyStats, type Transport, type TransportStats } from './transport.ts'

export interface MemoryNetworkOptions {
  /** One-way delay, uniform in [min, max]. @defaultValue { min: 0, max: 2 } */
  latencyMs?: { min: number; max: number }
  /** Probability that a packet is lost. @defaultValue 0 */
  lossRate?: number
  /** Randomness for loss and delay. @defaultValue seededRandom(1) */
  random?: Random
}

/**
 * An in-process network for running real `SwimNode`s (with real timers)
 * without sockets: delay, loss and partitions. Messages go through the wire
 * codec, so what arrives is exactly what UDP would deliver.
 */
export class MemoryNetwork {
  readonly #endpoints = new Map<string, MemoryTransport>()
  readonly #latency: { min: number; max: number }
  readonly #random: Random
  #lossRate: number
  #groups: Map<string, number> | undefined
  #nextPort = 1

  constructor(options: MemoryNetworkOptions = {}) {
    this.#latency = options.latencyMs ?? { min: 0, max: 2 }
    this.#lossRate = options.lossRate ?? 0
    this.#random = options.random ?? seededRandom(1)
  }

  /** A transport on this network; `address` defaults to a fresh `mem:<n>`. */
  createTransport(address?: string): Transport {
    const chosen = address ?? `mem:${this.#nextPort++}`
    return new MemoryTransport(this, chosen)
  }

  setLossRate(rate: number): void {
    this.#lossRate = rate
  }

  /** Packets between different groups are lost; addresses in no group form one more group. */
  partition(groups: readonly (readonly string[])[]): void {
    this.#groups = new Map()
    groups.forEach((group, index) => {
      for (const address of group) this.#groups?.set(address, index + 1)
    })
  }

  heal(): void {
    this.#groups = undefined
  }

  /** @internal */
  attach(transport: MemoryTransport): void {
    if (this.#endpoints.has(transport.address)) throw new Error(`address ${transport.address} is in use`)
    this.#endpoints.set(transport.address, transport)
  }

  /** @internal */
  detach(transport: MemoryTransport): void {
    if (this.#endpoints.get(transport.address) === transport) this.#endpoints.delete(transport.address)
  }

  /** @internal Returns false when the packet was lost. */
  route(from: string, to: string, packet: Uint8Array): boolean {
    const groups = this.#groups
    if (groups !== undefined && (groups.get(from) ?? 0) !== (groups.get(to) ?? 0)) return false
    if (this.#lossRate > 0 && this.#random.next() < this.#lossRate) return false
    const { min, max } = this.#latency
    const delay = min + this.#random.next() * (max - min)
    setTimeout(() => this.#endpoints.get(to)?.deliver(packet), delay)
    return true
  }
}

class MemoryTransport implements Transport {
  readonly address: string
  readonly #network: MemoryNetwork
  readonly #stats = emptyStats()
  #onMessages: ((messages: Message[]) => void) | undefined

  constructor(network: MemoryNetwork, address: string) {
    this.#network = network
    this.address = address
  }

  async start(onMessages: (messages: Message[]) => void): Promise<void> {
    this.#network.attach(this)
    this.#onMessages = onMessages
  }

  send(to: string, messages: readonly Message[]): void {
    if (this.#onMessages === undefined || messages.length === 0) return
    const packet = encodeMessages(messages)
    this.#stats.packetsSent += 1
    this.#stats.bytesSent += packet.byteLength
    this.#network.route(this.address, to, packet)
  }

  async stop(): Promise<void> {
    this.#onMessages = undefined
    this.#network.detach(this)
  }

  stats(): TransportStats {
    return structuredClone(this.#stats)
  }

  deliver(packet: Uint8Array): void {
    const onMessages = this.#onMessages
    if (onMessages === undefined) return
    this.#stats.packetsReceived += 1
    this.#stats.bytesReceived += packet.byteLength
    onMessages(decodeMessages(packet))
  }
}
