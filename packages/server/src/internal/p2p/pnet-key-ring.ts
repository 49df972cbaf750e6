/**
 * A private network (pnet) that accepts several pre-shared keys at once, so
 * the cluster key can be rotated on a live cluster (docs/operations/rotate-keys.md).
 *
 * The wire format is @libp2p/pnet's, unchanged: each side sends a random
 * 24-byte nonce in the clear, then everything it sends is XORed with the
 * XSalsa20 keystream of (its own nonce, the pre-shared key). A node with a
 * single key is indistinguishable from one running @libp2p/pnet.
 *
 * What differs is the inbound direction. pnet has no key identifier, but the
 * first bytes each side sends after the nonces are known: libp2p's upgrader
 * starts multistream-select on both ends, whose first message is
 * `0x13 "/multistream/1.0.0\n"`. The receiver buffers those 20 bytes, tries
 * every key it accepts on them, and keeps the one that yields the header. So
 * each side sends with its *sending* key and reads with whichever accepted
 * key its peer sends with, and a rotation is three reloads of every node:
 * accept the new key, send with it, drop the old one.
 */

import { randomBytes } from 'node:crypto'
import type { AbortOptions, ConnectionProtector, MessageStream, MultiaddrConnection } from '@libp2p/interface'
import { AbstractMultiaddrConnection, byteStream } from '@libp2p/utils'
import type { Uint8ArrayList } from 'uint8arraylist'
import { P2PConfigError } from './errors.ts'
import { derivePnetPsk } from './keys.ts'
import { PNET_NONCE_BYTES, PnetCipher } from './pnet-cipher.ts'

/** multistream-select's first message, length-prefixed: what both ends send first. */
const FIRST_MESSAGE = new Uint8Array([0x13, ...new TextEncoder().encode('/multistream/1.0.0\n')])

/**
 * The pre-shared keys a node holds: the first sends, every one is accepted.
 * `set()` changes them for connections opened afterwards; connections already
 * open keep the keys they were opened with.
 */
export class PnetKeyRing {
  #psks: Uint8Array[]

  /** `clusterKeys[0]` is the sending key. Throws `P2PConfigError`. */
  constructor(clusterKeys: readonly Uint8Array[]) {
    this.#psks = PnetKeyRing.#derive(clusterKeys)
  }

  set(clusterKeys: readonly Uint8Array[]): void {
    this.#psks = PnetKeyRing.#derive(clusterKeys)
  }

  get sending(): Uint8Array {
    return this.#psks[0] as Uint8Array
  }

  get accepted(): readonly Uint8Array[] {
    return this.#psks
  }

  static #derive(clusterKeys: readonly Uint8Array[]): Uint8Array[] {
    if (clusterKeys.length === 0) throw new P2PConfigError('at least one cluster key is needed')
    return clusterKeys.map(derivePnetPsk)
  }
}

/** Which accepted key an inbound direction turned out to use: 0 is the sending key. */
export type KeyChoice = (keyIndex: number | undefined) => void

export function keyRingProtector(ring: PnetKeyRing, onChoice: KeyChoice): () => ConnectionProtector {
  return () => ({
    async protect(connection: MessageStream, options?: AbortOptions): Promise<MessageStream> {
      const signal = options?.signal ?? AbortSignal.timeout(1000)
      const localNonce = new Uint8Array(randomBytes(PNET_NONCE_BYTES))
      const bytes = byteStream(connection)
      const [remote] = await Promise.all([
        bytes.read({ bytes: PNET_NONCE_BYTES, signal }),
        bytes.write(localNonce, { signal }),
      ])
      return new KeyRingStream({
        localNonce,
        remoteNonce: remote.subarray(),
        sending: ring.sending,
        accepted: ring.accepted,
        maConn: bytes.unwrap() as MultiaddrConnection,
        onChoice,
      })
    },
  })
}

interface KeyRingStreamInit {
  localNonce: Uint8Array
  remoteNonce: Uint8Array
  sending: Uint8Array
  accepted: readonly Uint8Array[]
  maConn: MultiaddrConnection
  onChoice: KeyChoice
}

/** The encrypted connection: XSalsa20 out with the sending key, in with the key the peer uses. */
class KeyRingStream extends AbstractMultiaddrConnection {
  readonly #maConn: MultiaddrConnection
  readonly #outbound: PnetCipher
  readonly #remoteNonce: Uint8Array
  readonly #accepted: readonly Uint8Array[]
  readonly #onChoice: KeyChoice
  #inbound: PnetCipher | undefined
  #closed = false
  /** Bytes received before the key is known (at most the first message). */
  #pending = new Uint8Array(0)

  constructor(init: KeyRingStreamInit) {
    super({
      log: init.maConn.log.newScope('pnet'),
      remoteAddr: init.maConn.remoteAddr,
      direction: init.maConn.direction,
    })
    this.#maConn = init.maConn
    this.#outbound = new PnetCipher(init.localNonce, init.sending)
    this.#remoteNonce = init.remoteNonce
    this.#accepted = init.accepted
    this.#onChoice = init.onChoice
    this.#maConn.addEventListener('message', (event) => {
      const data = event.data as Uint8Array | Uint8ArrayList
      if (data instanceof Uint8Array) this.#receive(data)
      else for (const chunk of data) this.#receive(chunk)
    })
    this.#maConn.addEventListener('drain', () => this.onMuxerDrain())
    this.#maConn.addEventListener('close', (event) => {
      this.#release()
      if (event.error == null) this.onTransportClosed()
      else if (event.local) this.abort(event.error)
      else this.onRemoteReset()
    })
  }

  #receive(chunk: Uint8Array): void {
    if (this.#closed) return
    if (this.#inbound !== undefined) {
      this.onData(this.#inbound.update(chunk))
      return
    }
    const joined = new Uint8Array(this.#pending.byteLength + chunk.byteLength)
    joined.set(this.#pending)
    joined.set(chunk, this.#pending.byteLength)
    this.#pending = joined
    if (joined.byteLength < FIRST_MESSAGE.byteLength) return
    const head = joined.subarray(0, FIRST_MESSAGE.byteLength)
    const index = this.#accepted.findIndex((psk) => {
      const trial = new PnetCipher(this.#remoteNonce, psk)
      const plain = trial.update(head)
      trial.finalize()
      return plain.every((byte, i) => byte === FIRST_MESSAGE[i])
    })
    this.#onChoice(index === -1 ? undefined : index)
    if (index === -1) {
      // The peer holds none of our keys. Closing before the encrypted
      // handshake completes counts as a handshake failure.
      this.#maConn.abort(new Error('the peer uses none of the accepted private-network keys'))
      return
    }
    this.#inbound = new PnetCipher(this.#remoteNonce, this.#accepted[index] as Uint8Array)
    this.#pending = new Uint8Array(0)
    this.onData(this.#inbound.update(joined))
  }

  #release(): void {
    this.#closed = true
    this.#inbound?.finalize()
    this.#inbound = undefined
  }

  async sendClose(options?: AbortOptions): Promise<void> {
    await this.#maConn.close(options)
  }

  sendData(data: Uint8ArrayList): { sentBytes: number; canSendMore: boolean } {
    return {
      sentBytes: data.byteLength,
      canSendMore: this.#maConn.send(this.#outbound.update(data.subarray())),
    }
  }

  sendReset(err: Error): void {
    this.#maConn.abort(err)
  }

  sendPause(): void {
    this.#maConn.pause()
  }

  sendResume(): void {
    this.#maConn.resume()
  }
}
