import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { HashRingError, hash64, shardOf } from '../src/index.ts'
import { xxh64 } from '../src/internal/xxh64.ts'
import { xxh64Reference } from './reference/xxh64-bigint.ts'

const PRIME32 = 2654435761n
const PRIME64 = 11400714785074694797n

/** xxHash's sanity buffer: byte i is the top byte of PRIME32 × PRIME64^i (mod 2^64). */
function sanityBuffer(length: number): Uint8Array {
  const buffer = new Uint8Array(length)
  let generator = PRIME32
  for (let i = 0; i < length; i++) {
    buffer[i] = Number(generator >> 56n)
    generator = (generator * PRIME64) & ((1n << 64n) - 1n)
  }
  return buffer
}

// XXH64 sanity vectors published with xxHash (cli/xsum_sanity_check.c, XSUM_XXH64_testdata).
const SANITY_VECTORS: Array<[length: number, seed: bigint, hash: bigint]> = [
  [0, 0n, 0xef46db3751d8e999n],
  [0, PRIME32, 0xac75fda2929b17efn],
  [1, 0n, 0xe934a84adb052768n],
  [1, PRIME32, 0x5014607643a9b4c3n],
  [4, 0n, 0x9136a0dca57457een],
  [14, 0n, 0x8282dcc4994e35c8n],
  [14, PRIME32, 0xc3bd6bf63deb6df0n],
  [222, 0n, 0xb641ae8cb691c174n],
  [222, PRIME32, 0x20cb8ab7ae10c14an],
]

function xxh64Halves(bytes: Uint8Array, seed: bigint): bigint {
  const out = new Uint32Array(2)
  xxh64(bytes, bytes.length, Number(seed >> 32n), Number(seed & 0xffffffffn), out)
  return (BigInt(out[0]!) << 32n) | BigInt(out[1]!)
}

describe('hash64 (XXH64)', () => {
  const buffer = sanityBuffer(4096 + 64 + 1)

  it.each(SANITY_VECTORS)('matches the published vector for %i bytes with seed %s', (length, seed, hash) => {
    const input = buffer.subarray(0, length)
    expect(xxh64Halves(input, seed)).toBe(hash)
    expect(xxh64Reference(input, seed)).toBe(hash)
    if (seed === 0n) expect(hash64(input)).toBe(hash)
  })

  // Fixed string vectors, produced by an independent XXH64 (the reference C code compiled to WASM).
  const STRING_VECTORS: Array<[key: string, hash: bigint]> = [
    ['', 0xef46db3751d8e999n],
    ['a', 0xd24ec4f1a98c6e5bn],
    ['abc', 0x44bc2cf5ad770999n],
    ['user:42', 0xdc1fea7da8d2d1c2n],
    ['Nobody inspects the spammish repetition', 0xfbcea83c8a378bf1n],
    ['é', 0x17d757dfb8b46f78n],
    ['日本語', 0x7179a19f3719f5e1n],
    ['😀 emoji', 0x30f89d299e102631n],
    ['docs/0', 0xd4b53e55b243fcafn],
    ['x'.repeat(100), 0x92f0de5a88a3c094n],
  ]

  it.each(STRING_VECTORS)('hashes %j as UTF-8 to its fixed vector', (key, hash) => {
    expect(hash64(key)).toBe(hash)
  })

  it('hashes strings as UTF-8, as the reference does', () => {
    const encoder = new TextEncoder()
    for (const key of ['a', 'abc', 'user:42', 'é', '日本語', '😀 emoji', 'x'.repeat(100)]) {
      expect(hash64(key)).toBe(xxh64Reference(encoder.encode(key)))
    }
  })

  it('encodes a lone surrogate as U+FFFD, like TextEncoder', () => {
    expect(hash64('a\ud800b')).toBe(hash64(new TextEncoder().encode('a\ud800b')))
  })

  it('agrees with the BigInt reference on random inputs of every length class', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300, size: 'max' }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        (bytes, seed) => {
          expect(xxh64Halves(bytes, seed)).toBe(xxh64Reference(bytes, seed))
        },
      ),
      { numRuns: 500 },
    )
  })

  it('agrees with the reference on random strings', () => {
    const encoder = new TextEncoder()
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80, size: 'max' }), (key) => {
        expect(hash64(key)).toBe(xxh64Reference(encoder.encode(key)))
      }),
      { numRuns: 500 },
    )
  })

  it('rejects a key that is neither a string nor bytes', () => {
    expect(() => hash64(42 as unknown as string)).toThrow(HashRingError)
  })
})

describe('shardOf', () => {
  it('is hash64 mod shardCount', () => {
    for (const count of [1, 2, 7, 16, 1000, 2 ** 21, 2 ** 21 + 1, 2 ** 32]) {
      for (const key of ['a', 'doc-1', 'doc-2', 'ü']) {
        expect(shardOf(key, count)).toBe(Number(hash64(key) % BigInt(count)))
      }
    }
  })

  it('rejects a shard count that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 33]) {
      expect(() => shardOf('a', bad)).toThrow(HashRingError)
    }
  })
})
