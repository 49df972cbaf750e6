/**
 * Jump consistent hash (Lamping & Veach, "A Fast, Minimal Memory, Consistent
 * Hash Algorithm", 2014) on a 64-bit key given as 32-bit halves: the peer a
 * user would pick when nodes only ever join or leave at the end.
 */
export function jumpHash(keyHigh: number, keyLow: number, buckets: number): number {
  let hi = keyHigh >>> 0
  let lo = keyLow >>> 0
  let b = -1
  let j = 0
  while (j < buckets) {
    b = j
    // key = key × 2862933555777941757 + 1 (mod 2^64)
    const mh = 0x27bb2ee6
    const ml = 0x87b0b0fd
    const newLo = (Math.imul(lo, ml) >>> 0) + 1
    hi = (mulHigh32(lo, ml) + Math.imul(hi, ml) + Math.imul(lo, mh) + (newLo > 0xffffffff ? 1 : 0)) >>> 0
    lo = newLo >>> 0
    // j = (b + 1) × 2^31 / ((key >>> 33) + 1)
    j = Math.floor((b + 1) * (2147483648 / ((hi >>> 1) + 1)))
  }
  return b
}

function mulHigh32(a: number, b: number): number {
  const a0 = a & 0xffff
  const a1 = a >>> 16
  const b0 = b & 0xffff
  const b1 = b >>> 16
  const cross = a1 * b0 + ((a0 * b0) >>> 16)
  const mid = (cross % 65536) + a0 * b1
  return (a1 * b1 + Math.floor(cross / 65536) + Math.floor(mid / 65536)) >>> 0
}
