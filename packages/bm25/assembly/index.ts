// BM25F top-k over block-compressed postings with Block-Max WAND (Ding & Suel, SIGIR 2011).
//
// The TypeScript wrapper owns linear memory: it writes encoded postings, per-document arrays,
// query cursors and parameters at addresses it chooses, then calls `search` once per query.
// Nothing here allocates; every structure is addressed by pointer.
//
// Encoded postings of one term (4-byte aligned), F = number of fields:
//   block table, nBlocks entries of (3 + F + ceil(F/4)) u32 words:
//     lastDoc u32 | dataOffset u32 (from the term's start) | maxX f32 | minLen[F] u32 |
//     maxTf[F] u8, padded
//   maxX is the block's largest x = sum_f boost_f tf_f / (1 - b + b len_f / avgLen_f), computed
//   with the average lengths at encoding time; the cursor's `mult` (+60, f32) rescales it to the
//   query's statistics so that it stays an upper bound (see the wrapper's boundMultiplier).
//   block data: LEB128 doc delta per posting (first posting of a block: from the previous
//     block's lastDoc, or from 0 in the first block), then F tf bytes per posting (tf
//     saturates at 255), read in place without decoding.
//   Blocks hold 128 postings; the last holds the rest. minLen/maxTf bound the block's scores.
//
// Parameters at `params`: F u32 | lensPtr u32 | extPtr u32 | allowPtr u32 | k1 f64 | b f64 |
//   delta f64 (BM25+ lower bound of a matching term's tf factor, 0 for classic BM25) |
//   per field: boost f64, avgLen f64.
// Cursor (64 bytes) per query term, filled by the wrapper at +0 postings u32, +4 nPostings u32,
//   +8 nBlocks u32, +32 weight f64 (query weight x idf), +48 boundsPtr (f64 per block),
//   +52 docsBuf (u32 x 128), +60 mult f32; the rest is state kept here (+56: the decoded
//   block's tf bytes).

const END: u32 = 0xffffffff
const BLOCK: u32 = 128
const C_POST: u32 = 0
const C_N: u32 = 4
const C_NBLOCKS: u32 = 8
const C_BLOCK: u32 = 12
const C_DECODED: u32 = 16
const C_POS: u32 = 20
const C_DOC: u32 = 24
const C_COUNT: u32 = 28
const C_WEIGHT: u32 = 32
const C_UB: u32 = 40
const C_BOUNDS: u32 = 48
const C_DOCS: u32 = 52
const C_TFS: u32 = 56
const C_MULT: u32 = 60
const CURSOR: u32 = 64

let F: u32 = 1
let lensPtr: u32 = 0
let extPtr: u32 = 0
let allowPtr: u32 = 0
let k1: f64 = 1.2
let b: f64 = 0.75
let delta: f64 = 0.0
let fieldsPtr: u32 = 0
let stride: u32 = 0
let readPos: u32 = 0

// Per-document field factors boost / (1 - b + b * len / avgLen), filled by docFactors.
let factorPtr: u32 = 0

@inline function readVarint(): u32 {
  let result: u32 = 0
  let shift: u32 = 0
  while (true) {
    const byte = <u32>load<u8>(readPos)
    readPos++
    result |= (byte & 0x7f) << shift
    if ((byte & 0x80) == 0) return result
    shift += 7
  }
}

// The tf factor of a term present in the document (x > 0).
@inline function saturate(x: f64): f64 {
  return (x * (k1 + 1.0)) / (x + k1) + delta
}

function blockBound(c: u32, block: u32): f64 {
  const entry = load<u32>(c + C_POST) + block * stride * 4
  let x: f64 = 0.0
  for (let f: u32 = 0; f < F; f++) {
    const maxTf = <f64>load<u8>(entry + 12 + F * 4 + f)
    if (maxTf == 0.0) continue
    const minLen = <f64>load<u32>(entry + 12 + f * 4)
    const boost = load<f64>(fieldsPtr + f * 16)
    const avg = load<f64>(fieldsPtr + f * 16 + 8)
    const norm = avg > 0.0 ? 1.0 - b + (b * minLen) / avg : 1.0
    x += (boost * maxTf) / norm
  }
  const tight = <f64>load<f32>(entry + 8) * <f64>load<f32>(c + C_MULT)
  if (tight < x) x = tight
  return load<f64>(c + C_WEIGHT) * saturate(x)
}

function decodeBlock(c: u32, block: u32): void {
  const post = load<u32>(c + C_POST)
  const entry = post + block * stride * 4
  const n = load<u32>(c + C_N)
  const count = block == load<u32>(c + C_NBLOCKS) - 1 ? n - block * BLOCK : BLOCK
  let doc: u32 = block == 0 ? 0 : load<u32>(entry - stride * 4)
  const docs = load<u32>(c + C_DOCS)
  readPos = post + load<u32>(entry + 4)
  for (let i: u32 = 0; i < count; i++) {
    doc += readVarint()
    store<u32>(docs + i * 4, doc)
  }
  store<u32>(c + C_TFS, readPos)
  store<u32>(c + C_DECODED, block)
  store<u32>(c + C_COUNT, count)
  store<u32>(c + C_POS, 0)
}

// Moves the block pointer (not the decoded block) to the first block whose lastDoc >= target.
function shallowAdvance(c: u32, target: u32): void {
  const nBlocks = load<u32>(c + C_NBLOCKS)
  const post = load<u32>(c + C_POST)
  let block = load<u32>(c + C_BLOCK)
  while (block < nBlocks && load<u32>(post + block * stride * 4) < target) block++
  store<u32>(c + C_BLOCK, block)
}

// Moves the cursor to its first posting with doc >= target (END when none).
function nextGEQ(c: u32, target: u32): void {
  if (load<u32>(c + C_DOC) >= target) return
  shallowAdvance(c, target)
  const block = load<u32>(c + C_BLOCK)
  if (block >= load<u32>(c + C_NBLOCKS)) {
    store<u32>(c + C_DOC, END)
    return
  }
  if (load<u32>(c + C_DECODED) != block) decodeBlock(c, block)
  const docs = load<u32>(c + C_DOCS)
  const count = load<u32>(c + C_COUNT)
  let pos = load<u32>(c + C_POS)
  while (pos < count && load<u32>(docs + pos * 4) < target) pos++
  // The block's lastDoc >= target, so pos < count here.
  store<u32>(c + C_POS, pos)
  store<u32>(c + C_DOC, load<u32>(docs + pos * 4))
}

function docFactors(doc: u32): void {
  for (let f: u32 = 0; f < F; f++) {
    const len = <f64>load<u32>(lensPtr + (doc * F + f) * 4)
    const boost = load<f64>(fieldsPtr + f * 16)
    const avg = load<f64>(fieldsPtr + f * 16 + 8)
    const norm = avg > 0.0 ? 1.0 - b + (b * len) / avg : 1.0
    // An empty field (norm 0 when b = 1) holds no term: its factor must not turn 0 x tf into NaN.
    store<f64>(factorPtr + f * 8, norm > 0.0 ? boost / norm : 0.0)
  }
}

function termScore(c: u32): f64 {
  const row = load<u32>(c + C_TFS) + load<u32>(c + C_POS) * F
  let x: f64 = 0.0
  for (let f: u32 = 0; f < F; f++) x += load<f64>(factorPtr + f * 8) * <f64>load<u8>(row + f)
  return load<f64>(c + C_WEIGHT) * saturate(x)
}

@inline function allowed(doc: u32): bool {
  return ((load<u8>(allowPtr + (doc >> 3)) >> (doc & 7)) & 1) != 0
}

// ---- top-k min-heap of (score f64, ext u32, doc u32), the worst result at the root ----

let heapPtr: u32 = 0
let heapSize: u32 = 0

@inline function hScore(i: u32): f64 {
  return load<f64>(heapPtr + i * 16)
}
@inline function hExt(i: u32): u32 {
  return load<u32>(heapPtr + i * 16 + 8)
}

// True when entry i ranks below entry j: lower score, or equal score and larger external id.
@inline function worse(i: u32, j: u32): bool {
  const si = hScore(i)
  const sj = hScore(j)
  return si < sj || (si == sj && hExt(i) > hExt(j))
}

function swap(i: u32, j: u32): void {
  const s = hScore(i)
  const e = hExt(i)
  const d = load<u32>(heapPtr + i * 16 + 12)
  store<f64>(heapPtr + i * 16, hScore(j))
  store<u32>(heapPtr + i * 16 + 8, hExt(j))
  store<u32>(heapPtr + i * 16 + 12, load<u32>(heapPtr + j * 16 + 12))
  store<f64>(heapPtr + j * 16, s)
  store<u32>(heapPtr + j * 16 + 8, e)
  store<u32>(heapPtr + j * 16 + 12, d)
}

function siftDown(i: u32, size: u32): void {
  while (true) {
    const l = i * 2 + 1
    if (l >= size) return
    let m = l
    if (l + 1 < size && worse(l + 1, l)) m = l + 1
    if (!worse(m, i)) return
    swap(i, m)
    i = m
  }
}

function offer(score: f64, doc: u32, k: u32): void {
  const ext = load<u32>(extPtr + doc * 4)
  if (heapSize < k) {
    let i = heapSize
    heapSize++
    store<f64>(heapPtr + i * 16, score)
    store<u32>(heapPtr + i * 16 + 8, ext)
    store<u32>(heapPtr + i * 16 + 12, doc)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!worse(i, parent)) break
      swap(i, parent)
      i = parent
    }
    return
  }
  const top = hScore(0)
  if (score < top || (score == top && ext >= hExt(0))) return
  store<f64>(heapPtr, score)
  store<u32>(heapPtr + 8, ext)
  store<u32>(heapPtr + 12, doc)
  siftDown(0, heapSize)
}

// ---- Block-Max WAND ----

let orderPtr: u32 = 0
let cursorsPtr: u32 = 0

@inline function cur(i: u32): u32 {
  return cursorsPtr + load<u32>(orderPtr + i * 4) * CURSOR
}
@inline function curDoc(i: u32): u32 {
  return load<u32>(cur(i) + C_DOC)
}

// Insertion sort of the cursor order by current doc; the order is nearly sorted between steps.
function sortCursors(n: u32): void {
  for (let i: u32 = 1; i < n; i++) {
    const v = load<u32>(orderPtr + i * 4)
    const d = load<u32>(cursorsPtr + v * CURSOR + C_DOC)
    let j = i
    while (j > 0 && curDoc(j - 1) > d) {
      store<u32>(orderPtr + j * 4, load<u32>(orderPtr + (j - 1) * 4))
      j--
    }
    store<u32>(orderPtr + j * 4, v)
  }
}

// Insertion sort of order[0..last] by term index; they all sit on one doc, so the doc order holds.
function sortByTerm(last: u32): void {
  for (let i: u32 = 1; i <= last; i++) {
    const v = load<u32>(orderPtr + i * 4)
    let j = i
    while (j > 0 && load<u32>(orderPtr + (j - 1) * 4) > v) {
      store<u32>(orderPtr + j * 4, load<u32>(orderPtr + (j - 1) * 4))
      j--
    }
    store<u32>(orderPtr + j * 4, v)
  }
}

function initCursor(c: u32): void {
  const nBlocks = load<u32>(c + C_NBLOCKS)
  const bounds = load<u32>(c + C_BOUNDS)
  let ub: f64 = 0.0
  for (let j: u32 = 0; j < nBlocks; j++) {
    const bound = blockBound(c, j)
    store<f64>(bounds + j * 8, bound)
    if (bound > ub) ub = bound
  }
  store<f64>(c + C_UB, ub)
  store<u32>(c + C_BLOCK, 0)
  store<u32>(c + C_DECODED, END)
  store<u32>(c + C_DOC, 0)
  if (nBlocks == 0) {
    store<u32>(c + C_DOC, END)
    return
  }
  decodeBlock(c, 0)
  store<u32>(c + C_DOC, load<u32>(load<u32>(c + C_DOCS)))
}

/**
 * Top-k of the query whose `nTerms` cursors are at `cursors`. Writes up to k external ids
 * (u32) to `outIds` and scores (f32) to `outScores`, best first, and returns how many.
 * `order` (u32 x nTerms), `heap` (16 x k bytes) and `factors` (8 x F bytes) are scratch.
 */
export function search(
  params: u32, nTerms: u32, k: u32, cursors: u32, order: u32, heap: u32, factors: u32,
  outIds: u32, outScores: u32,
): u32 {
  F = load<u32>(params)
  lensPtr = load<u32>(params + 4)
  extPtr = load<u32>(params + 8)
  allowPtr = load<u32>(params + 12)
  k1 = load<f64>(params + 16)
  b = load<f64>(params + 24)
  delta = load<f64>(params + 32)
  fieldsPtr = params + 40
  stride = 3 + F + ((F + 3) >> 2)
  cursorsPtr = cursors
  orderPtr = order
  heapPtr = heap
  heapSize = 0
  factorPtr = factors
  for (let i: u32 = 0; i < nTerms; i++) {
    initCursor(cursors + i * CURSOR)
    store<u32>(order + i * 4, i)
  }
  wand(nTerms, k)
  const count = heapSize
  // Pop worst first into the back of the output.
  let size = heapSize
  while (size > 0) {
    size--
    store<u32>(outIds + size * 4, hExt(0))
    store<f32>(outScores + size * 4, <f32>hScore(0))
    swap(0, size)
    siftDown(0, size)
  }
  return count
}

function wand(n: u32, k: u32): void {
  while (true) {
    sortCursors(n)
    const theta: f64 = heapSize < k ? 0.0 : hScore(0)
    // Pivot: the first cursor at which the sum of term upper bounds exceeds theta.
    let acc: f64 = 0.0
    let p: i32 = -1
    for (let i: u32 = 0; i < n; i++) {
      if (curDoc(i) == END) break
      acc += load<f64>(cur(i) + C_UB)
      if (acc > theta) {
        p = <i32>i
        break
      }
    }
    if (p < 0) return
    const pivotDoc = curDoc(<u32>p)
    while (<u32>p + 1 < n && curDoc(<u32>p + 1) == pivotDoc) p++
    const last = <u32>p
    // Block-max check: the blocks that may hold pivotDoc bound its score.
    let blockSum: f64 = 0.0
    for (let i: u32 = 0; i <= last; i++) {
      const c = cur(i)
      shallowAdvance(c, pivotDoc)
      blockSum += load<f64>(load<u32>(c + C_BOUNDS) + load<u32>(c + C_BLOCK) * 8)
    }
    if (blockSum > theta) {
      if (curDoc(0) == pivotDoc) {
        if (allowed(pivotDoc)) {
          docFactors(pivotDoc)
          // Sum in query-term order, not in the order the cursors happen to sit in: a
          // document then scores bit for bit the same in any collection holding it (shards).
          sortByTerm(last)
          let score: f64 = 0.0
          for (let i: u32 = 0; i <= last; i++) score += termScore(cur(i))
          offer(score, pivotDoc, k)
        }
        for (let i: u32 = 0; i <= last; i++) nextGEQ(cur(i), pivotDoc + 1)
      } else {
        for (let i: u32 = 0; i < last; i++) {
          const c = cur(i)
          if (load<u32>(c + C_DOC) < pivotDoc) nextGEQ(c, pivotDoc)
        }
      }
    } else {
      // No document up to the end of the shortest of these blocks can enter the top-k.
      let next: u32 = END
      for (let i: u32 = 0; i <= last; i++) {
        const c = cur(i)
        const block = load<u32>(c + C_BLOCK)
        const lastDoc = load<u32>(load<u32>(c + C_POST) + block * stride * 4)
        if (lastDoc != END && lastDoc + 1 < next) next = lastDoc + 1
      }
      if (last + 1 < n) {
        const d = curDoc(last + 1)
        if (d < next) next = d
      }
      if (next <= pivotDoc) next = pivotDoc + 1
      for (let i: u32 = 0; i <= last; i++) {
        const c = cur(i)
        if (load<u32>(c + C_DOC) < next) nextGEQ(c, next)
      }
    }
  }
}
