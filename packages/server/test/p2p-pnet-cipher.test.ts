import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { PnetCipher } from '../src/internal/p2p/pnet-cipher.ts'

/**
 * The private-network layer (@libp2p/pnet) encrypts every connection with
 * xsalsa20, whose WebAssembly memory is shared by every cipher in the
 * process. Unpatched, one chunk larger than that memory (about 640 KiB, a
 * read buffer that filled while the node was busy) made every other cipher
 * grow it again at each call, until `WebAssembly.Memory.grow()` threw inside
 * a socket handler and the node process died. patches/xsalsa20@1.2.0.patch
 * fixes it; these tests pin the fix.
 */
type Cipher = { update(input: Uint8Array): Uint8Array }
const pnetEntry = fileURLToPath(import.meta.resolve('@libp2p/pnet'))
const xsalsa20 = createRequire(pnetEntry)('xsalsa20') as (nonce: Uint8Array, key: Uint8Array) => Cipher

const nonce = new Uint8Array(24).fill(2)

describe('pnet cipher (xsalsa20)', () => {
  it('survives a chunk larger than its memory followed by interleaved traffic on other ciphers', () => {
    const a = xsalsa20(nonce, new Uint8Array(32).fill(1))
    const b = xsalsa20(nonce, new Uint8Array(32).fill(3))
    a.update(new Uint8Array(1_000_000))
    const small = new Uint8Array(100)
    // Unpatched, this threw "Maximum memory size exceeded" within 20,000 calls.
    expect(() => {
      for (let i = 0; i < 50_000; i++) (i % 2 === 0 ? a : b).update(small)
    }).not.toThrow()
  })

  it('produces the same keystream whether or not other ciphers grew the memory in between', () => {
    const key = new Uint8Array(32).fill(5)
    const chunks = [1_500_000, 100, 70_000, 3, 2_500_000, 64].map((n) => new Uint8Array(n).fill(n % 251))
    const alone = xsalsa20(nonce, key)
    const expected = chunks.map((chunk) => Buffer.from(alone.update(chunk)))
    const interleaved = xsalsa20(nonce, key)
    const other = xsalsa20(nonce, new Uint8Array(32).fill(9))
    const actual = chunks.map((chunk, i) => {
      other.update(new Uint8Array(4_000_000 + i))
      return Buffer.from(interleaved.update(chunk))
    })
    expect(Buffer.concat(actual).equals(Buffer.concat(expected))).toBe(true)
  })
})

// Shoal's private network runs XSalsa20 natively (libsodium, pnet-cipher.ts); the bytes on the
// wire must stay those of @libp2p/pnet's cipher, or nodes of different versions cannot talk.
describe('pnet cipher (native)', () => {
  it('produces the keystream of @libp2p/pnet’s cipher, whatever the chunking', () => {
    const key = new Uint8Array(32).map((_, i) => i * 7)
    const streamNonce = new Uint8Array(24).map((_, i) => 255 - i)
    // Chunk sizes across the 64-byte block boundary, empty ones and large ones.
    const sizes = [1, 63, 64, 65, 0, 3, 128, 1000, 17, 70_000, 5, 64 * 1024 + 1]
    const chunks = sizes.map((n, i) => new Uint8Array(n).map((_, j) => (i * 31 + j) & 0xff))
    const reference = xsalsa20(streamNonce, key)
    const native = new PnetCipher(streamNonce, key)
    for (const chunk of chunks) {
      const copy = Uint8Array.from(chunk)
      expect(Buffer.from(native.update(chunk)).equals(Buffer.from(reference.update(chunk)))).toBe(true)
      // The input is left as it was.
      expect(Buffer.from(chunk).equals(Buffer.from(copy))).toBe(true)
    }
  })

  it('decrypts what it encrypted under the same nonce and key, not under another key', () => {
    const plain = new TextEncoder().encode('\u0013/multistream/1.0.0\n and the rest')
    const key = new Uint8Array(32).fill(4)
    const sealed = new PnetCipher(nonce, key).update(plain)
    expect(Buffer.from(new PnetCipher(nonce, key).update(sealed)).equals(Buffer.from(plain))).toBe(true)
    const wrong = new PnetCipher(nonce, new Uint8Array(32).fill(6)).update(sealed)
    expect(Buffer.from(wrong).equals(Buffer.from(plain))).toBe(false)
  })

  it('refuses a nonce or key of the wrong length with a RangeError', () => {
    expect(() => new PnetCipher(new Uint8Array(23), new Uint8Array(32))).toThrow(RangeError)
    expect(() => new PnetCipher(nonce, new Uint8Array(31))).toThrow(RangeError)
  })
})
