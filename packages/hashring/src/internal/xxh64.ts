/**
 * xxHash64 (Yann Collet's XXH64, as specified in xxHash's `doc/xxhash_spec.md`)
 * on unsigned 32-bit halves, without BigInt: every 64-bit value is a pair
 * (high, low) of unsigned 32-bit numbers held in locals.
 *
 * Each helper returns one half, so V8 inlines them and keeps every value in a
 * register: nothing is allocated per hash (returning pairs, or writing module
 * variables, boxes values above 2^30 into heap numbers).
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

/**
 * High 32 bits of the 64-bit product of two unsigned 32-bit numbers: a × b =
 * a × b₁ × 2^16 + a × b₀ with b = b₁ × 2^16 + b₀; both partial products are
 * below 2^48, so exact in a double, and so is their sum after shifting.
 */
function mulHigh32(a: number, b: number): number {
  return Math.floor((a * (b >>> 16) + Math.floor((a * (b & 0xffff)) / 65536)) / 65536)
}

/** High half of (ah, al) × (bh, bl) mod 2^64. */
function mulHi(ah: number, al: number, bh: number, bl: number): number {
  return (mulHigh32(al, bl) + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0
}

/** Low half of a product: only the low halves take part. */
function mulLo(al: number, bl: number): number {
  return Math.imul(al, bl) >>> 0
}

/** High half of (ah, al) + (bh, bl) mod 2^64. */
function addHi(ah: number, al: number, bh: number, bl: number): number {
  return (ah + bh + (al + bl >= TWO_32 ? 1 : 0)) >>> 0
}

function addLo(al: number, bl: number): number {
  return (al + bl) >>> 0
}

/** High half of (h, l) rotated left by 0 < r < 32. */
function rotlHi(h: number, l: number, r: number): number {
  return ((h << r) | (l >>> (32 - r))) >>> 0
}

function rotlLo(h: number, l: number, r: number): number {
  return ((l << r) | (h >>> (32 - r))) >>> 0
}

function read32(bytes: Uint8Array, i: number): number {
  return (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) >>> 0
}

/** One accumulator lane of the 32-byte stripe loop; `lanes` holds (high, low) × 4. */
function roundLane(lanes: Uint32Array, lane: number, inH: number, inL: number): void {
  // acc = rotl(acc + input × P2, 31) × P1
  const th = mulHi(inH, inL, P2H, P2L)
  const tl = mulLo(inL, P2L)
  const accH = lanes[lane]!
  const accL = lanes[lane + 1]!
  const sh = addHi(accH, accL, th, tl)
  const sl = addLo(accL, tl)
  const rh = rotlHi(sh, sl, 31)
  const rl = rotlLo(sh, sl, 31)
  lanes[lane] = mulHi(rh, rl, P1H, P1L)
  lanes[lane + 1] = mulLo(rl, P1L)
}

const lanes = new Uint32Array(8)

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
    const s1h = addHi(seedHigh, seedLow, P1H, P1L)
    const s1l = addLo(seedLow, P1L)
    lanes[0] = addHi(s1h, s1l, P2H, P2L)
    lanes[1] = addLo(s1l, P2L)
    lanes[2] = addHi(seedHigh, seedLow, P2H, P2L)
    lanes[3] = addLo(seedLow, P2L)
    lanes[4] = seedHigh
    lanes[5] = seedLow
    // seed − P1 = seed + (2^64 − P1)
    const negH = ~P1H >>> 0
    const negL = ((~P1L >>> 0) + 1) >>> 0
    lanes[6] = addHi(seedHigh, seedLow, negH, negL)
    lanes[7] = addLo(seedLow, negL)
    for (; i + 32 <= length; i += 32) {
      roundLane(lanes, 0, read32(bytes, i + 4), read32(bytes, i))
      roundLane(lanes, 2, read32(bytes, i + 12), read32(bytes, i + 8))
      roundLane(lanes, 4, read32(bytes, i + 20), read32(bytes, i + 16))
      roundLane(lanes, 6, read32(bytes, i + 28), read32(bytes, i + 24))
    }
    hh = 0
    hl = 0
    const rotations = [1, 7, 12, 18]
    for (let lane = 0; lane < 4; lane++) {
      const vh = lanes[2 * lane]!
      const vl = lanes[2 * lane + 1]!
      const r = rotations[lane]!
      const rh = rotlHi(vh, vl, r)
      const rl = rotlLo(vh, vl, r)
      const nh = addHi(hh, hl, rh, rl)
      hl = addLo(hl, rl)
      hh = nh
    }
    for (let lane = 0; lane < 8; lane += 2) {
      // mergeRound: acc = (acc ^ round(0, v)) × P1 + P4
      const vh = lanes[lane]!
      const vl = lanes[lane + 1]!
      lanes[lane] = 0
      lanes[lane + 1] = 0
      roundLane(lanes, lane, vh, vl)
      const xh = (hh ^ lanes[lane]!) >>> 0
      const xl = (hl ^ lanes[lane + 1]!) >>> 0
      const mh = mulHi(xh, xl, P1H, P1L)
      const ml = mulLo(xl, P1L)
      hh = addHi(mh, ml, P4H, P4L)
      hl = addLo(ml, P4L)
    }
  } else {
    hh = addHi(seedHigh, seedLow, P5H, P5L)
    hl = addLo(seedLow, P5L)
  }
  const lh = addHi(hh, hl, 0, length >>> 0)
  hl = addLo(hl, length >>> 0)
  hh = lh
  for (; i + 8 <= length; i += 8) {
    // k = round(0, lane) = rotl(lane × P2, 31) × P1; h = rotl(h ^ k, 27) × P1 + P4
    const inH = read32(bytes, i + 4)
    const inL = read32(bytes, i)
    const th = mulHi(inH, inL, P2H, P2L)
    const tl = mulLo(inL, P2L)
    const uh = rotlHi(th, tl, 31)
    const ul = rotlLo(th, tl, 31)
    const kh = mulHi(uh, ul, P1H, P1L)
    const kl = mulLo(ul, P1L)
    const xh = (hh ^ kh) >>> 0
    const xl = (hl ^ kl) >>> 0
    const rh = rotlHi(xh, xl, 27)
    const rl = rotlLo(xh, xl, 27)
    const mh = mulHi(rh, rl, P1H, P1L)
    const ml = mulLo(rl, P1L)
    hh = addHi(mh, ml, P4H, P4L)
    hl = addLo(ml, P4L)
  }
  if (i + 4 <= length) {
    // h = rotl(h ^ (lane32 × P1), 23) × P2 + P3
    const w = read32(bytes, i)
    const xh = (hh ^ mulHi(0, w, P1H, P1L)) >>> 0
    const xl = (hl ^ mulLo(w, P1L)) >>> 0
    const rh = rotlHi(xh, xl, 23)
    const rl = rotlLo(xh, xl, 23)
    const mh = mulHi(rh, rl, P2H, P2L)
    const ml = mulLo(rl, P2L)
    hh = addHi(mh, ml, P3H, P3L)
    hl = addLo(ml, P3L)
    i += 4
  }
  for (; i < length; i++) {
    // h = rotl(h ^ (byte × P5), 11) × P1
    const b = bytes[i]!
    const xh = (hh ^ mulHi(0, b, P5H, P5L)) >>> 0
    const xl = (hl ^ mulLo(b, P5L)) >>> 0
    const rh = rotlHi(xh, xl, 11)
    const rl = rotlLo(xh, xl, 11)
    hh = mulHi(rh, rl, P1H, P1L)
    hl = mulLo(rl, P1L)
  }
  // Avalanche: h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32.
  hl = (hl ^ (hh >>> 1)) >>> 0
  let ah = mulHi(hh, hl, P2H, P2L)
  let al = mulLo(hl, P2L)
  al = (al ^ ((al >>> 29) | (ah << 3))) >>> 0
  ah = (ah ^ (ah >>> 29)) >>> 0
  const fh = mulHi(ah, al, P3H, P3L)
  const fl = mulLo(al, P3L)
  out[0] = fh
  out[1] = (fl ^ fh) >>> 0
}
