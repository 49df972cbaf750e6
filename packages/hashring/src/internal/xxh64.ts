/**
 * xxHash64 (Yann Collet's XXH64, as specified in xxHash's `doc/xxhash_spec.md`)
 * on unsigned 32-bit halves, without BigInt: every 64-bit value is a pair
 * (high, low) of unsigned 32-bit numbers, so the hot path stays in small
 * integers and doubles that V8 keeps unboxed.
 *
 * The functions below pass results through the module registers `rh`/`rl`
 * instead of allocating; each reads its arguments before writing them.
 */

const P1H = 0x9e3779b1
const P1L = 0x85ebca87
const P2H = 0xc2b2ae3d
const P2L = 0x27d4eb4f
const P3H = 0x165667b1
const P3L = 0x9e3779f9
const P4H = 0x85ebca77
const P4L = 0xc2b2ae63
const P5H = 0x27d4eb2f
const P5L = 0x165667c5
const TWO_32 = 4294967296

let rh = 0
let rl = 0

/** (ah, al) × (bh, bl) mod 2^64 into (rh, rl). */
function mul(ah: number, al: number, bh: number, bl: number): void {
  // al × bl exactly, from 16-bit pieces (every partial product fits in a double).
  const a0 = al & 0xffff
  const a1 = al >>> 16
  const b0 = bl & 0xffff
  const b1 = bl >>> 16
  const mid = a0 * b1 + a1 * b0
  const midLow = mid % 65536
  const low = a0 * b0 + midLow * 65536
  const lo = low >>> 0
  const carry = (low - lo) / TWO_32
  const high = a1 * b1 + (mid - midLow) / 65536 + carry
  // The cross terms only reach the high word, so their low 32 bits suffice.
  rh = (high + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0
  rl = lo
}

/** (ah, al) + (bh, bl) mod 2^64 into (rh, rl). */
function add(ah: number, al: number, bh: number, bl: number): void {
  const low = al + bl
  rl = low >>> 0
  rh = (ah + bh + (low >= TWO_32 ? 1 : 0)) >>> 0
}

/** Rotates (h, l) left by 0 < r < 32 bits into (rh, rl). */
function rotl(h: number, l: number, r: number): void {
  rh = ((h << r) | (l >>> (32 - r))) >>> 0
  rl = ((l << r) | (h >>> (32 - r))) >>> 0
}

/** XXH64 round: acc = rotl(acc + input × P2, 31) × P1. */
function round(accH: number, accL: number, inH: number, inL: number): void {
  mul(inH, inL, P2H, P2L)
  add(accH, accL, rh, rl)
  rotl(rh, rl, 31)
  mul(rh, rl, P1H, P1L)
}

function read32(bytes: Uint8Array, i: number): number {
  return (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) >>> 0
}

/**
 * XXH64 of `bytes[0, length)` with the 64-bit seed (seedHigh, seedLow);
 * writes the high word to `out[0]` and the low word to `out[1]`.
 */
export function xxh64(
  bytes: Uint8Array,
  length: number,
  seedHigh: number,
  seedLow: number,
  out: Uint32Array,
): void {
  let i = 0
  let hh: number
  let hl: number
  if (length >= 32) {
    add(seedHigh, seedLow, P1H, P1L)
    add(rh, rl, P2H, P2L)
    let v1h = rh
    let v1l = rl
    add(seedHigh, seedLow, P2H, P2L)
    let v2h = rh
    let v2l = rl
    let v3h = seedHigh
    let v3l = seedLow
    // seed - P1 = seed + (2^64 - P1)
    add(seedHigh, seedLow, ~P1H >>> 0, ((~P1L >>> 0) + 1) >>> 0)
    let v4h = rh
    let v4l = rl
    const limit = length - 32
    while (i <= limit) {
      round(v1h, v1l, read32(bytes, i + 4), read32(bytes, i))
      v1h = rh
      v1l = rl
      round(v2h, v2l, read32(bytes, i + 12), read32(bytes, i + 8))
      v2h = rh
      v2l = rl
      round(v3h, v3l, read32(bytes, i + 20), read32(bytes, i + 16))
      v3h = rh
      v3l = rl
      round(v4h, v4l, read32(bytes, i + 28), read32(bytes, i + 24))
      v4h = rh
      v4l = rl
      i += 32
    }
    rotl(v1h, v1l, 1)
    hh = rh
    hl = rl
    rotl(v2h, v2l, 7)
    add(hh, hl, rh, rl)
    hh = rh
    hl = rl
    rotl(v3h, v3l, 12)
    add(hh, hl, rh, rl)
    hh = rh
    hl = rl
    rotl(v4h, v4l, 18)
    add(hh, hl, rh, rl)
    hh = rh
    hl = rl
    const lanes = [v1h, v1l, v2h, v2l, v3h, v3l, v4h, v4l]
    for (let lane = 0; lane < 8; lane += 2) {
      // mergeRound: acc = (acc ^ round(0, v)) × P1 + P4
      round(0, 0, lanes[lane]!, lanes[lane + 1]!)
      mul((hh ^ rh) >>> 0, (hl ^ rl) >>> 0, P1H, P1L)
      add(rh, rl, P4H, P4L)
      hh = rh
      hl = rl
    }
  } else {
    add(seedHigh, seedLow, P5H, P5L)
    hh = rh
    hl = rl
  }
  add(hh, hl, 0, length >>> 0)
  hh = rh
  hl = rl
  while (i + 8 <= length) {
    round(0, 0, read32(bytes, i + 4), read32(bytes, i))
    rotl((hh ^ rh) >>> 0, (hl ^ rl) >>> 0, 27)
    mul(rh, rl, P1H, P1L)
    add(rh, rl, P4H, P4L)
    hh = rh
    hl = rl
    i += 8
  }
  if (i + 4 <= length) {
    mul(0, read32(bytes, i), P1H, P1L)
    rotl((hh ^ rh) >>> 0, (hl ^ rl) >>> 0, 23)
    mul(rh, rl, P2H, P2L)
    add(rh, rl, P3H, P3L)
    hh = rh
    hl = rl
    i += 4
  }
  while (i < length) {
    mul(0, bytes[i]!, P5H, P5L)
    rotl((hh ^ rh) >>> 0, (hl ^ rl) >>> 0, 11)
    mul(rh, rl, P1H, P1L)
    hh = rh
    hl = rl
    i += 1
  }
  // Avalanche.
  hl = (hl ^ (hh >>> 1)) >>> 0
  mul(hh, hl, P2H, P2L)
  hh = rh
  hl = (rl ^ ((rl >>> 29) | (rh << 3))) >>> 0
  hh = (hh ^ (hh >>> 29)) >>> 0
  mul(hh, hl, P3H, P3L)
  out[0] = rh
  out[1] = (rl ^ rh) >>> 0
}
