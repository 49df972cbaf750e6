import { createSocket, type Socket } from 'node:dgram'
import { connect, createServer, type Server } from 'node:net'
import { decodeMessages, encodeMessages } from './codec.ts'
import type { Message } from './core/index.ts'
import { MalformedMessageError, TransportError } from './errors.ts'
import { type DropReason, PacketSeal } from './packet.ts'
import { emptyStats, type Transport, type TransportStats } from './transport.ts'

export interface UdpTransportOptions {
  /** 32 bytes shared by the cluster: every packet is authenticated with it. */
  clusterKey: Uint8Array
  /** More keys whose packets are accepted (a rotation in progress; see `setClusterKeys`). @defaultValue [] */
  acceptedKeys?: readonly Uint8Array[]
  /** Encrypt packets (AES-256-GCM) as well. @defaultValue false */
  encrypt?: boolean
  /** Interface to bind. @defaultValue '127.0.0.1' */
  host?: string
  /** UDP and TCP port; 0 picks a free one (the same for both). @defaultValue 0 */
  port?: number
  /** Largest UDP packet sent or accepted, header and MAC included. @defaultValue 1400 */
  packetBudgetBytes?: number
  /** Largest push-pull state accepted over TCP. @defaultValue 8388608 */
  maxStreamBytes?: number
  /** See `PacketSeal`. @defaultValue 30000 */
  freshnessWindowMs?: number
  /** Wall clock for packet timestamps; injectable for tests. @defaultValue Date.now */
  clock?: () => number
}

/**
 * SWIM over UDP (`node:dgram`): messages are packed into compound packets of
 * at most `packetBudgetBytes`; a message that cannot fit one packet (push-pull
 * state of a large cluster) goes over a short-lived TCP connection to the
 * same port instead, in one length-prefixed frame:
 *
 * ```
 * offset size field
 *      0    4 length of the sealed packet, big-endian uint32
 *      4    n the sealed packet (see packet.ts)
 * ```
 *
 * Anything that fails verification or decoding is dropped and counted.
 */
export class UdpTransport implements Transport {
  readonly #seal: PacketSeal
  readonly #host: string
  readonly #port: number
  readonly #budget: number
  readonly #maxStreamBytes: number
  readonly #clock: () => number
  readonly #stats = emptyStats()
  #socket: Socket | undefined
  #server: Server | undefined
  #address = ''
  #onMessages: (messages: Message[]) => void = () => {}

  constructor(options: UdpTransportOptions) {
    this.#seal = new PacketSeal({
      clusterKey: options.clusterKey,
      acceptedKeys: options.acceptedKeys ?? [],
      encrypt: options.encrypt ?? false,
      freshnessWindowMs: options.freshnessWindowMs ?? 30_000,
    })
    this.#host = options.host ?? '127.0.0.1'
    this.#port = options.port ?? 0
    this.#budget = options.packetBudgetBytes ?? 1400
    this.#maxStreamBytes = options.maxStreamBytes ?? 8 * 1024 * 1024
    this.#clock = options.clock ?? Date.now
    if (this.#budget < this.#seal.overheadBytes + 64) throw new RangeError('packetBudgetBytes is too small')
  }

  get address(): string {
    return this.#address
  }

  async start(onMessages: (messages: Message[]) => void): Promise<void> {
    this.#onMessages = onMessages
    // With port 0 the UDP port is picked first and TCP must take the same
    // number, which another process may hold for TCP: pick again a few times.
    const attempts = this.#port === 0 ? 8 : 1
    for (let attempt = 1; ; attempt++) {
      const socket = await this.#bindUdp()
      const port = socket.address().port
      try {
        this.#server = await this.#listenTcp(port)
        this.#socket = socket
        this.#address = `${this.#host}:${port}`
        return
      } catch (error) {
        await new Promise<void>((resolve) => socket.close(() => resolve()))
        if (attempt >= attempts) throw error
      }
    }
  }

  async #bindUdp(): Promise<Socket> {
    const socket = createSocket({ type: 'udp4' })
    socket.on('message', (packet) => this.#receivePacket(packet, true))
    socket.on('error', () => {
      this.#stats.sendErrors += 1
    })
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      socket.bind(this.#port, this.#host, () => {
        socket.off('error', reject)
        resolve()
      })
    }).catch((cause: unknown) => {
      throw new TransportError(`cannot bind UDP ${this.#host}:${this.#port}`, { cause })
    })
    return socket
  }

  async #listenTcp(port: number): Promise<Server> {
    const server = createServer((connection) => {
      const chunks: Buffer[] = []
      let received = 0
      connection.on('data', (chunk: Buffer) => {
        received += chunk.byteLength
        if (received > this.#maxStreamBytes + 4) {
          this.#drop('oversized')
          connection.destroy()
          return
        }
        chunks.push(chunk)
      })
      connection.on('end', () => this.#receiveFrame(Buffer.concat(chunks)))
      connection.on('error', () => {})
      connection.setTimeout(10_000, () => connection.destroy())
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, this.#host, () => {
        server.off('error', reject)
        resolve()
      })
    }).catch((cause: unknown) => {
      throw new TransportError(`cannot listen on TCP ${this.#host}:${port}`, { cause })
    })
    return server
  }

  send(to: string, messages: readonly Message[]): void {
    const socket = this.#socket
    if (socket === undefined || messages.length === 0) return
    const target = parseAddress(to)
    if (target === undefined) {
      this.#stats.sendErrors += 1
      return
    }
    const payloadBudget = this.#budget - this.#seal.overheadBytes
    let batch: Message[] = []
    let batchBytes = 8
    const flush = () => {
      if (batch.length === 0) return
      this.#sendPacket(socket, target, encodeMessages(batch))
      batch = []
      batchBytes = 8
    }
    for (const message of messages) {
      const size = encodeMessages([message]).byteLength
      if (size > payloadBudget) {
        this.#sendStream(target, encodeMessages([message]))
        continue
      }
      if (batchBytes + size > payloadBudget) flush()
      batch.push(message)
      batchBytes += size
    }
    flush()
  }

  async stop(): Promise<void> {
    const socket = this.#socket
    const server = this.#server
    this.#socket = undefined
    this.#server = undefined
    if (socket !== undefined) await new Promise<void>((resolve) => socket.close(() => resolve()))
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  /**
   * Seals packets with `clusterKey` from now on and accepts those sealed with
   * it or any of `acceptedKeys`: a key rotation without a restart. Throws
   * `RangeError` for a key that is not 32 bytes long.
   */
  setClusterKeys(clusterKey: Uint8Array, acceptedKeys: readonly Uint8Array[] = []): void {
    this.#seal.setKeys(clusterKey, acceptedKeys)
  }

  stats(): TransportStats {
    return structuredClone(this.#stats)
  }

  #sendPacket(socket: Socket, target: { host: string; port: number }, payload: Uint8Array): void {
    const packet = this.#seal.seal(payload, this.#clock())
    if (packet.byteLength > this.#budget) {
      // The estimate was off (multi-byte text): fall back to a stream rather than send an oversized datagram.
      this.#sendStream(target, payload)
      return
    }
    this.#stats.packetsSent += 1
    this.#stats.bytesSent += packet.byteLength
    socket.send(packet, target.port, target.host, (error) => {
      if (error) this.#stats.sendErrors += 1
    })
  }

  #sendStream(target: { host: string; port: number }, payload: Uint8Array): void {
    const packet = this.#seal.seal(payload, this.#clock())
    const frame = Buffer.alloc(4 + packet.byteLength)
    frame.writeUInt32BE(packet.byteLength, 0)
    packet.copy(frame, 4)
    this.#stats.streamsSent += 1
    this.#stats.bytesSent += frame.byteLength
    const connection = connect(target.port, target.host, () => connection.end(frame))
    connection.on('error', () => {
      this.#stats.sendErrors += 1
    })
    connection.setTimeout(10_000, () => connection.destroy())
  }

  #receiveFrame(frame: Buffer): void {
    if (frame.byteLength < 4 || frame.readUInt32BE(0) !== frame.byteLength - 4) {
      this.#drop('malformed')
      return
    }
    this.#stats.streamsReceived += 1
    this.#receivePacket(frame.subarray(4), false)
  }

  #receivePacket(packet: Buffer, datagram: boolean): void {
    if (this.#socket === undefined) return
    if (datagram) this.#stats.packetsReceived += 1
    this.#stats.bytesReceived += packet.byteLength
    const opened = this.#seal.open(packet, this.#clock(), datagram ? this.#budget : this.#maxStreamBytes)
    if (!opened.ok) {
      this.#drop(opened.reason)
      return
    }
    if (opened.keyIndex > 0)
      this.#stats.packetsReceivedWithOtherKey = (this.#stats.packetsReceivedWithOtherKey ?? 0) + 1
    let messages: Message[]
    try {
      messages = decodeMessages(opened.payload)
    } catch (error) {
      if (!(error instanceof MalformedMessageError)) throw error
      this.#drop('malformed')
      return
    }
    this.#onMessages(messages)
  }

  #drop(reason: DropReason): void {
    this.#stats.dropped[reason] += 1
  }
}

function parseAddress(address: string): { host: string; port: number } | undefined {
  const colon = address.lastIndexOf(':')
  if (colon <= 0) return undefined
  const port = Number(address.slice(colon + 1))
  if (!Number.isInteger(port) || port <= 0 || port > 65_535) return undefined
  return { host: address.slice(0, colon), port }
}
