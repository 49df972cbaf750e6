import net from 'node:net'
import { FAILED, FrameReader, FrameWriter, type KvOp, type KvResponse, NOT_LEADER } from './protocol.ts'

interface Pending {
  resolve: (response: KvResponse) => void
  reject: (error: Error) => void
  timer: ReturnType<typeof setTimeout>
}

/** The connection closed before the response; `connected` tells whether the request may have reached the member. */
export class ConnectionClosedError extends Error {
  override readonly name = 'ConnectionClosedError'
  readonly connected: boolean
  constructor(address: string, connected: boolean) {
    super(connected ? `connection to ${address} closed` : `connection to ${address} refused`)
    this.connected = connected
  }
}

/** One pipelined connection to one member. */
export class Connection {
  readonly address: string
  #socket: net.Socket
  #writer: FrameWriter
  #pending = new Map<number, Pending>()
  closed = false
  connected = false

  constructor(address: string) {
    this.address = address
    const [host, port] = address.split(':') as [string, string]
    this.#socket = net.connect({ host, port: Number(port), noDelay: true })
    this.#writer = new FrameWriter(this.#socket)
    const reader = new FrameReader(
      (value) => {
        const response = value as KvResponse
        const pending = this.#pending.get(response[0])
        if (pending === undefined) return
        this.#pending.delete(response[0])
        clearTimeout(pending.timer)
        pending.resolve(response)
      },
      () => this.#socket.destroy(),
    )
    this.#socket.on('data', (chunk) => reader.push(chunk))
    this.#socket.on('error', () => {})
    this.#socket.once('connect', () => {
      this.connected = true
    })
    this.#socket.on('close', () => {
      this.closed = true
      for (const p of this.#pending.values()) {
        clearTimeout(p.timer)
        p.reject(new ConnectionClosedError(address, this.connected))
      }
      this.#pending.clear()
    })
  }

  request(id: number, body: unknown[], timeoutMs: number): Promise<KvResponse> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject(new Error(`request to ${this.address} timed out`))
      }, timeoutMs)
      this.#pending.set(id, { resolve, reject, timer })
      this.#writer.write([id, ...body])
    })
  }

  close(): void {
    this.#socket.destroy()
  }
}

export interface KvClientOptions {
  /** Per-attempt timeout. @defaultValue 2000 */
  attemptTimeoutMs?: number
  /** Give up after this long. @defaultValue 15000 */
  deadlineMs?: number
}

/**
 * Client of the example service: sends to the member it believes leads,
 * follows "not leader" hints, moves on from dead or silent members.
 */
export class KvClient {
  readonly #addresses: string[]
  readonly #options: Required<KvClientOptions>
  #connections = new Map<string, Connection>()
  #current = 0
  #nextId = 1

  constructor(addresses: string[], options: KvClientOptions = {}) {
    this.#addresses = addresses
    this.#options = { attemptTimeoutMs: 2000, deadlineMs: 15_000, ...options }
  }

  put(key: string, value: string): Promise<unknown> {
    return this.call('put', key, value)
  }

  get(key: string): Promise<string | null> {
    return this.call('get', key) as Promise<string | null>
  }

  cas(key: string, expected: string | null, value: string): Promise<boolean> {
    return this.call('cas', key, value, expected) as Promise<boolean>
  }

  /** Sends one request to one member (no leader search): status and local reads. */
  async direct(address: string, op: KvOp, key?: string, value?: string): Promise<unknown> {
    const response = await this.#connection(address).request(
      this.#nextId++,
      [op, key, value],
      this.#options.attemptTimeoutMs,
    )
    if (response[1] !== 0) throw new Error(`request failed: ${String(response[2])}`)
    return response[2]
  }

  async call(op: KvOp, key: string, value?: string, expected?: string | null): Promise<unknown> {
    const deadline = Date.now() + this.#options.deadlineMs
    let lastError: unknown = null
    while (Date.now() < deadline) {
      const address = this.#addresses[this.#current % this.#addresses.length] as string
      try {
        const response = await this.#connection(address).request(
          this.#nextId++,
          [op, key, value, expected],
          this.#options.attemptTimeoutMs,
        )
        if (response[1] === 0) return response[2]
        if (response[1] === NOT_LEADER) {
          const hint = response[2] as string | null
          const at = hint === null ? -1 : this.#addresses.indexOf(hint)
          if (at >= 0 && at !== this.#current % this.#addresses.length) this.#current = at
          else {
            this.#current++
            await sleep(10)
          }
          continue
        }
        lastError = new Error(String(response[2]))
        if (response[1] === FAILED) await sleep(10)
      } catch (error) {
        lastError = error
        this.#current++
        await sleep(10)
      }
    }
    throw new Error(`${op} ${key} failed: ${String(lastError)}`)
  }

  #connection(address: string): Connection {
    let connection = this.#connections.get(address)
    if (connection === undefined || connection.closed) {
      connection = new Connection(address)
      this.#connections.set(address, connection)
    }
    return connection
  }

  close(): void {
    for (const c of this.#connections.values()) c.close()
    this.#connections.clear()
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
