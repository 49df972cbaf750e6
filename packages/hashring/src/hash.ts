import { HashRingError } from './errors.ts'
import { Utf8Scratch } from './internal/utf8.ts'
import { xxh64 } from './internal/xxh64.ts'

const scratch = new Utf8Scratch()
const words = new Uint32Array(2)

function hashInto(key: string | Uint8Array): void {
  if (typeof key === 'string') {
    const length = scratch.encode(key) // may replace scratch.bytes
    xxh64(scratch.bytes, length, 0, 0, words)
  } else if (key instanceof Uint8Array) xxh64(key, key.length, 0, 0, words)
  else throw new HashRingError('ERR_INVALID_ARGUMENT', 'a key must be a string or a Uint8Array')
}

/**
 * The stable 64-bit hash of a key: XXH64 with seed 0 of the key's bytes (a
 * string is hashed as UTF-8). Fixed forever: shard routing and placement
 * depend on it, across machines and versions.
 *
 * @example hash64('') === 0xef46db3751d8e999n
 */
export function hash64(key: string | Uint8Array): bigint {
  hashInto(key)
  return (BigInt(words[0]!) << 32n) | BigInt(words[1]!)
}

/** The high 32 bits of `hash64(key)`: a key's position on the ring. */
export function ringPosition(key: string): number {
  const length = scratch.encode(key) // may replace scratch.bytes
  xxh64(scratch.bytes, length, 0, 0, words)
  return words[0]!
}

/** Largest shard count for which `hash mod shardCount` is computed without BigInt. */
const FAST_MOD_LIMIT = 2 ** 21

/**
 * The shard a primary key belongs to: `hash64(key) mod shardCount`.
 *
 * @throws HashRingError `ERR_INVALID_ARGUMENT` unless 1 ≤ shardCount ≤ 2^32 is an integer.
 */
export function shardOf(key: string, shardCount: number): number {
  if (!Number.isInteger(shardCount) || shardCount < 1 || shardCount > 2 ** 32) {
    throw new HashRingError(
      'ERR_INVALID_ARGUMENT',
      `shardCount must be an integer in [1, 2^32], got ${shardCount}`,
    )
  }
  hashInto(key)
  if (shardCount <= FAST_MOD_LIMIT) {
    // (high × 2^32 + low) mod n, kept below 2^53 by reducing high first.
    return ((words[0]! % shardCount) * 4294967296 + words[1]!) % shardCount
  }
  return Number(((BigInt(words[0]!) << 32n) | BigInt(words[1]!)) % BigInt(shardCount))
}
