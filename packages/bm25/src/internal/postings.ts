/**
 * Encoding of one term's postings into the block format read by assembly/index.ts (see the
 * byte layout there): a block table with per-block lastDoc, data offset, per-field minimum
 * length and maximum tf, then LEB128 doc deltas with per-field tf bytes.
 */
export const BLOCK_SIZE = 128

/** Words (u32) of one block-table entry for `fieldCount` fields. */
export function blockStrideWords(fieldCount: number): number {
  return 3 + fieldCount + ((fieldCount + 3) >> 2)
}

/** What block bounds are computed with: field boosts, b, and per-field average lengths now. */
export interface BoundContext {
  boosts: readonly number[]
  b: number
  avgLens: readonly number[]
}

/** Upper bound of the encoded size, for reserving memory before `encodePostings`. */
export function maxEncodedBytes(count: number, fieldCount: number): number {
  const blocks = Math.ceil(count / BLOCK_SIZE)
  return blocks * blockStrideWords(fieldCount) * 4 + count * (5 + 1 + fieldCount) + 4
}

/**
 * Writes the postings (`docs` ascending, `tfs` fieldCount per posting) at `at` (4-aligned) and
 * returns the end offset, rounded up to 4. `lens` holds field lengths, fieldCount per document.
 */
export function encodePostings(
  out: Uint8Array,
  view: DataView,
  at: number,
  docs: readonly number[],
  tfs: readonly number[],
  lens: readonly number[],
  fieldCount: number,
  bound: BoundContext,
): number {
  const { boosts, b, avgLens } = bound
  const count = docs.length
  const blocks = Math.ceil(count / BLOCK_SIZE)
  const stride = blockStrideWords(fieldCount) * 4
  let pos = at + blocks * stride
  let previous = 0
  for (let block = 0; block < blocks; block++) {
    const entry = at + block * stride
    const start = block * BLOCK_SIZE
    const end = Math.min(count, start + BLOCK_SIZE)
    view.setUint32(entry + 4, pos - at, true)
    for (let f = 0; f < fieldCount; f++) {
      view.setUint32(entry + 12 + f * 4, 0xffffffff, true)
      out[entry + 12 + fieldCount * 4 + f] = 0
    }
    let maxX = 0
    for (let i = start; i < end; i++) {
      const doc = docs[i]!
      let delta = doc - previous
      previous = doc
      while (delta >= 0x80) {
        out[pos++] = (delta & 0x7f) | 0x80
        delta >>>= 7
      }
      out[pos++] = delta
      let maskAt = -1
      if (fieldCount > 1) {
        maskAt = pos++
        out[maskAt] = 0
      }
      let x = 0
      for (let f = 0; f < fieldCount; f++) {
        const tf = tfs[i * fieldCount + f]!
        if (tf === 0) continue
        const len = lens[doc * fieldCount + f]!
        const avg = avgLens[f]!
        x += (boosts[f]! * tf) / (avg > 0 ? 1 - b + (b * len) / avg : 1)
        if (fieldCount === 1) out[pos++] = tf
        else {
          out[maskAt] = out[maskAt]! | (1 << f)
          out[pos++] = tf
        }
        const maxAt = entry + 12 + fieldCount * 4 + f
        if (tf > out[maxAt]!) out[maxAt] = tf
        if (len < view.getUint32(entry + 12 + f * 4, true)) view.setUint32(entry + 12 + f * 4, len, true)
      }
      if (x > maxX) maxX = x
      if (fieldCount === 1 && tfs[i]! === 0) out[pos++] = 0
    }
    view.setUint32(entry, previous, true)
    // Rounded up so that the f32 stays an upper bound of the double.
    view.setFloat32(entry + 8, maxX * (1 + 1e-6), true)
  }
  return (pos + 3) & ~3
}
