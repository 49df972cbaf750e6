import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * The authenticated packet that carries encoded messages, over UDP and in TCP
 * frames alike.
 *
 * ```
 * offset  size  field
 *      0     2  magic 0x53 0x57 ("SW")
 *      2     1  version (1)
 *      3     1  flags: bit 0 = payload encrypted
 *      4     8  sentAtMs, big-endian uint64 (sender's wall clock)
 *     12    12  nonce (random; the AES-GCM IV when encrypted)
 *     24     n  payload: msgpack, or AES-256-GCM ciphertext + 16-byte tag
 *   24+n    32  HMAC-SHA256 of bytes [0, 24+n) under the MAC key
 * ```
 *
 * Both keys derive from the 32-byte cluster key (HMAC-SHA256 of a label), so
 * one shared secret authenticates and, optionally, encrypts. A packet is
 * accepted only if its MAC verifies, its timestamp is within the freshness
 * window of the receiver's clock, and its nonce was not seen within that
 * window (replay protection).
 */
export const PACKET_MAGIC = 0x5357
export const PACKET_VERSION = 1
export const HEADER_BYTES = 24
export const MAC_BYTES = 32
export const TAG_BYTES = 16
const FLAG_ENCRYPTED = 1

export type DropReason = 'malformed' | 'unauthenticated' | 'oversized' | 'stale' | 'replayed'

/** `keyIndex`: which accepted key verified the packet (0 is the sending key). */
export type OpenResult =
  | { ok: true; payload: Uint8Array; keyIndex: number }
  | { ok: false; reason: DropReason }

export interface PacketSealOptions {
  /** 32 bytes shared by every member of the cluster; packets are sealed with it. */
  clusterKey: Uint8Array
  /**
   * More 32-byte keys whose packets are accepted too (a key rotation in
   * progress: see `setKeys`). @defaultValue []
   */
  acceptedKeys?: readonly Uint8Array[]
  /** Encrypt payloads with AES-256-GCM as well as authenticating them. @defaultValue false */
  encrypt?: boolean
  /** Accept packets whose timestamp is within this many ms of the local clock. @defaultValue 30000 */
  freshnessWindowMs?: number
  /** Nonces remembered for replay detection. @defaultValue 65536 */
  replayCacheSize?: number
}

export class PacketSeal {
  readonly encrypt: boolean
  readonly freshnessWindowMs: number
  /** The sending key's MAC and encryption keys first, then those of every other accepted key. */
  #keys: Array<{ mac: Buffer; enc: Buffer }>
  readonly #seen = new Map<string, number>()
  readonly #replayCacheSize: number

  constructor(options: PacketSealOptions) {
    this.#keys = PacketSeal.#derive(options.clusterKey, options.acceptedKeys ?? [])
    this.encrypt = options.encrypt ?? false
    this.freshnessWindowMs = options.freshnessWindowMs ?? 30_000
    this.#replayCacheSize = options.replayCacheSize ?? 65_536
  }

  /**
   * Seals with `clusterKey` from now on, and accepts packets sealed with it or
   * with any of `acceptedKeys`. Throws `RangeError` for a key not 32 bytes long.
   */
  setKeys(clusterKey: Uint8Array, acceptedKeys: readonly Uint8Array[] = []): void {
    this.#keys = PacketSeal.#derive(clusterKey, acceptedKeys)
  }

  static #derive(clusterKey: Uint8Array, acceptedKeys: readonly Uint8Array[]) {
    return [clusterKey, ...acceptedKeys].map((key) => {
      if (key.byteLength !== 32) throw new RangeError('the cluster key must be 32 bytes')
      return {
        mac: createHmac('sha256', key).update('shoal-swim/mac/v1').digest(),
        enc: createHmac('sha256', key).update('shoal-swim/enc/v1').digest(),
      }
    })
  }

  /** Bytes a sealed packet adds around its payload. */
  get overheadBytes(): number {
    return HEADER_BYTES + MAC_BYTES + (this.encrypt ? TAG_BYTES : 0)
  }

  seal(payload: Uint8Array, nowMs: number): Buffer {
    const nonce = randomBytes(12)
    const keys = this.#keys[0] as { mac: Buffer; enc: Buffer }
    let body: Uint8Array = payload
    if (this.encrypt) {
      const cipher = createCipheriv('aes-256-gcm', keys.enc, nonce)
      body = Buffer.concat([cipher.update(payload), cipher.final(), cipher.getAuthTag()])
    }
    const packet = Buffer.alloc(HEADER_BYTES + body.byteLength + MAC_BYTES)
    packet.writeUInt16BE(PACKET_MAGIC, 0)
    packet.writeUInt8(PACKET_VERSION, 2)
    packet.writeUInt8(this.encrypt ? FLAG_ENCRYPTED : 0, 3)
    packet.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(nowMs))), 4)
    nonce.copy(packet, 12)
    packet.set(body, HEADER_BYTES)
    const mac = createHmac('sha256', keys.mac)
      .update(packet.subarray(0, HEADER_BYTES + body.byteLength))
      .digest()
    mac.copy(packet, HEADER_BYTES + body.byteLength)
    return packet
  }

  /** Verifies and unwraps a packet; never throws on bad input. */
  open(packet: Uint8Array, nowMs: number, maxBytes: number): OpenResult {
    if (packet.byteLength > maxBytes) return { ok: false, reason: 'oversized' }
    if (packet.byteLength < HEADER_BYTES + MAC_BYTES) return { ok: false, reason: 'malformed' }
    const bytes = Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength)
    if (bytes.readUInt16BE(0) !== PACKET_MAGIC || bytes.readUInt8(2) !== PACKET_VERSION) {
      return { ok: false, reason: 'malformed' }
    }
    const macAt = bytes.byteLength - MAC_BYTES
    const signed = bytes.subarray(0, macAt)
    const keyIndex = this.#keys.findIndex((keys) =>
      timingSafeEqual(createHmac('sha256', keys.mac).update(signed).digest(), bytes.subarray(macAt)),
    )
    if (keyIndex === -1) return { ok: false, reason: 'unauthenticated' }
    const keys = this.#keys[keyIndex] as { mac: Buffer; enc: Buffer }
    const sentAtMs = Number(bytes.readBigUInt64BE(4))
    if (Math.abs(nowMs - sentAtMs) > this.freshnessWindowMs) return { ok: false, reason: 'stale' }
    const nonce = bytes.subarray(12, HEADER_BYTES)
    const nonceKey = nonce.toString('base64')
    if (this.#seen.has(nonceKey)) return { ok: false, reason: 'replayed' }
    this.#remember(nonceKey, nowMs)
    const body = bytes.subarray(HEADER_BYTES, macAt)
    if ((bytes.readUInt8(3) & FLAG_ENCRYPTED) === 0) {
      // A cluster that encrypts refuses plaintext, even when authenticated.
      if (this.encrypt) return { ok: false, reason: 'unauthenticated' }
      return { ok: true, payload: body, keyIndex }
    }
    if (body.byteLength < TAG_BYTES) return { ok: false, reason: 'malformed' }
    try {
      const decipher = createDecipheriv('aes-256-gcm', keys.enc, nonce)
      decipher.setAuthTag(body.subarray(body.byteLength - TAG_BYTES))
      const plain = Buffer.concat([
        decipher.update(body.subarray(0, body.byteLength - TAG_BYTES)),
        decipher.final(),
      ])
      return { ok: true, payload: plain, keyIndex }
    } catch {
      return { ok: false, reason: 'unauthenticated' }
    }
  }

  #remember(nonceKey: string, nowMs: number): void {
    this.#seen.set(nonceKey, nowMs + this.freshnessWindowMs)
    if (this.#seen.size <= this.#replayCacheSize) return
    // Forget expired nonces first (insertion order is expiry order); if none expired, the oldest.
    for (const [key, expiresAtMs] of this.#seen) {
      if (this.#seen.size <= this.#replayCacheSize && expiresAtMs > nowMs) break
      this.#seen.delete(key)
    }
  }
}
