/**
 * XXH64 written directly from the specification with BigInt: slow and
 * obviously correct, the oracle for the 32-bit-halves implementation.
 */
const MASK = (1n << 64n) - 1n
const P1 = 0x9e3779b185ebca87n
const P2 = 0xc2b2ae3d27d4eb4fn
const P3 = 0x165667b19e3779f9n
const P4 = 0x85ebca77c2b2ae63n
const P5 = 0x27d4eb2f165667c5n

const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & MASK
const round = (acc: bigint, input: bigint): bigint => (rotl((acc + input * P2) & MASK, 31n) * P1) & MASK
const merge = (acc: bigint, v: bigint): bigint => (((acc ^ round(0n, v)) * P1) & MASK) + P4

function lane64(b: Uint8Array, i: number): bigint {
  let v = 0n
  for (let k = 7; k >= 0; k--) v = (v << 8n) | BigInt(b[i + k]!)
  return v
}

function lane32(b: Uint8Array, i: number): bigint {
  let v = 0n
  for (let k = 3; k >= 0; k--) v = (v << 8n) | BigInt(b[i + k]!)
  return v
}

export function xxh64Reference(input: Uint8Array, seed = 0n): bigint {
  const n = input.length
  let i = 0
  let h: bigint
  if (n >= 32) {
    let v1 = (seed + P1 + P2) & MASK
    let v2 = (seed + P2) & MASK
    let v3 = seed
    let v4 = (seed - P1) & MASK
    for (; i + 32 <= n; i += 32) {
      v1 = round(v1, lane64(input, i))
      v2 = round(v2, lane64(input, i + 8))
      v3 = round(v3, lane64(input, i + 16))
      v4 = round(v4, lane64(input, i + 24))
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & MASK
    for (const v of [v1, v2, v3, v4]) h = merge(h, v) & MASK
  } else {
    h = (seed + P5) & MASK
  }
  h = (h + BigInt(n)) & MASK
  for (; i + 8 <= n; i += 8) h = (((rotl(h ^ round(0n, lane64(input, i)), 27n) * P1) & MASK) + P4) & MASK
  if (i + 4 <= n) {
    h = (((rotl(h ^ ((lane32(input, i) * P1) & MASK), 23n) * P2) & MASK) + P3) & MASK
    i += 4
  }
  for (; i < n; i++) h = (rotl(h ^ ((BigInt(input[i]!) * P5) & MASK), 11n) * P1) & MASK
  h ^= h >> 33n
  h = (h * P2) & MASK
  h ^= h >> 29n
  h = (h * P3) & MASK
  h ^= h >> 32n
  return h
}
