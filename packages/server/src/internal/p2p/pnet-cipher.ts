/**
 * The private network's stream cipher: XSalsa20 (24-byte nonce, 32-byte
 * key), its keystream XORed over every byte of one direction of a
 * connection, continued across calls — the cipher @libp2p/pnet uses, so the
 * bytes on the wire are the same. Here it is libsodium's, run natively
 * (sodium-native), rather than the WebAssembly build @libp2p/pnet loads:
 * every byte between nodes goes through it twice (out and in), and the
 * native one takes a fraction of the CPU per byte.
 */

import { createRequire } from 'node:module'

/** sodium-native's streaming XSalsa20 (its `crypto_stream_xor_*` state API). */
interface Sodium {
  readonly crypto_stream_xor_STATEBYTES: number
  readonly crypto_stream_NONCEBYTES: number
  readonly crypto_stream_KEYBYTES: number
  crypto_stream_xor_init(state: Uint8Array, nonce: Uint8Array, key: Uint8Array): void
  crypto_stream_xor_update(state: Uint8Array, output: Uint8Array, input: Uint8Array): void
  crypto_stream_xor_final(state: Uint8Array): void
}

const sodium = createRequire(import.meta.url)('sodium-native') as Sodium

export const PNET_NONCE_BYTES = 24
const KEY_BYTES = 32
if (sodium.crypto_stream_NONCEBYTES !== PNET_NONCE_BYTES || sodium.crypto_stream_KEYBYTES !== KEY_BYTES)
  throw new Error('libsodium crypto_stream is not XSalsa20 with a 24-byte nonce and a 32-byte key')

/** One direction of a connection. Not for use after `finalize()`. */
export class PnetCipher {
  readonly #state = new Uint8Array(sodium.crypto_stream_xor_STATEBYTES)

  /** Throws `RangeError` unless the nonce has 24 bytes and the key 32 (the binding would abort the process). */
  constructor(nonce: Uint8Array, key: Uint8Array) {
    if (nonce.byteLength !== PNET_NONCE_BYTES || key.byteLength !== KEY_BYTES)
      throw new RangeError(`pnet cipher needs a ${PNET_NONCE_BYTES}-byte nonce and a ${KEY_BYTES}-byte key`)
    sodium.crypto_stream_xor_init(this.#state, nonce, key)
  }

  /** The next `input.byteLength` bytes, XORed with the keystream, in a new buffer (the input is left alone). */
  update(input: Uint8Array): Uint8Array {
    const output = Buffer.allocUnsafe(input.byteLength)
    sodium.crypto_stream_xor_update(this.#state, output, input)
    return output
  }

  /** Wipes the key material. */
  finalize(): void {
    sodium.crypto_stream_xor_final(this.#state)
  }
}
