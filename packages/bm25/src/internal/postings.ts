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
  return blocks * blockStrideWords(fieldCount) * 4 + count * (5 + fieldCount) + 4
}

/** Exact bytes of the data (doc deltas and tf bytes) of postings [from, count), before rounding. */
export function dataBytes(docs: Uint32Array, from: number, count: number, fieldCount: number): number {
  let bytes = (count - from) * fieldCount
  let previous = from > 0 ? docs[from - 1]! : 0
  for (let i = from; i < count; i++) {
    const delta = docs[i]! - previous
    previous = docs[i]!
    bytes += delta < 0x80 ? 1 : delta < 0x4000 ? 2 : delta < 0x200000 ? 3 : delta < 0x10000000 ? 4 : 5
  }
  return bytes
}

/**
 * Writes the postings (`docs` ascending, `tfs` fieldCount per posting) at `at` (4-aligned) and
 * returns the end offset, rounded up to 4. `lens` holds field lengths, fieldCount per document.
 */
export function encodePostings(
  out: Uint8Array,
  view: DataView,
  at: number,
  docs: Uint32Array,
  tfs: Uint8Array,
  count: number,
  lens: ArrayLike<number>,
  fieldCount: number,
  bound: BoundContext,
): number {
  const blocks = Math.ceil(count / BLOCK_SIZE)
  const dataAt = at + blocks * blockStrideWords(fieldCount) * 4
  return encodeBlocks(out, view, at, 0, dataAt, docs, tfs, count, lens, fieldCount, bound)
}

/**
 * Writes blocks `fromBlock` onwards of the postings whose block table starts at `at`: their table
 * entries, and their data from `dataAt` on (the table may hold spare entries before the data, so
 * a term can grow in place). Blocks before `fromBlock` are left as they are: appending postings
 * rewrites only the last, partial block and the new ones. Returns the data's end, rounded up to 4.
 */
export function encodeBlocks(
  out: Uint8Array,
  view: DataView,
  at: number,
  fromBlock: number,
  dataAt: number,
  docs: Uint32Array,
  tfs: Uint8Array,
  count: number,
  lens: ArrayLike<number>,
  fieldCount: number,
  bound: BoundContext,
): number {
  const { boosts, b, avgLens } = bound
  const blocks = Math.ceil(count / BLOCK_SIZE)
  const stride = blockStrideWords(fieldCount) * 4
  let pos = dataAt
  let previous = fromBlock > 0 ? docs[fromBlock * BLOCK_SIZE - 1]! : 0
  const minLen = new Array<number>(fieldCount)
  const maxTf = new Array<number>(fieldCount)
  for (let block = fromBlock; block < blocks; block++) {
    const entry = at + block * stride
    const start = block * BLOCK_SIZE
    const end = Math.min(count, start + BLOCK_SIZE)
    view.setUint32(entry + 4, pos - at, true)
    minLen.fill(0xffffffff)
    maxTf.fill(0)
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
    }
    for (let i = start; i < end; i++) {
      const doc = docs[i]!
      let x = 0
      for (let f = 0; f < fieldCount; f++) {
        const tf = tfs[i * fieldCount + f]!
        out[pos++] = tf
        if (tf === 0) continue
        const len = lens[doc * fieldCount + f]!
        const avg = avgLens[f]!
        x += (boosts[f]! * tf) / (avg > 0 ? 1 - b + (b * len) / avg : 1)
        if (tf > maxTf[f]!) maxTf[f] = tf
        if (len < minLen[f]!) minLen[f] = len
      }
      if (x > maxX) maxX = x
    }
    view.setUint32(entry, previous, true)
    // Rounded up so that the f32 stays an upper bound of the double.
    view.setFloat32(entry + 8, maxX * (1 + 1e-6), true)
    for (let f = 0; f < fieldCount; f++) {
      view.setUint32(entry + 12 + f * 4, minLen[f]!, true)
      out[entry + 12 + fieldCount * 4 + f] = maxTf[f]!
    }
  }
  return (pos + 3) & ~3
}
