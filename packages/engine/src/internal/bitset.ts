/**
 * A fixed-capacity set of document ids (internal u32 ids) as a bit array.
 * Filters evaluate to bitsets: AND/OR/NOT are word-wise loops, so a filter
 * over a million documents costs about 31k word operations per operator.
 */
export class Bitset {
  readonly words: Uint32Array

  constructor(capacity: number) {
    this.words = new Uint32Array(Math.ceil(Math.max(capacity, 1) / 32))
  }

  get capacity(): number {
    return this.words.length * 32
  }

  add(id: number): void {
    this.words[id >>> 5]! |= 1 << (id & 31)
  }

  has(id: number): boolean {
    const word = id >>> 5
    return word < this.words.length && (this.words[word]! & (1 << (id & 31))) !== 0
  }

  delete(id: number): void {
    const word = id >>> 5
    if (word < this.words.length) this.words[word]! &= ~(1 << (id & 31))
  }

  addAll(ids: ArrayLike<number>): this {
    for (let i = 0; i < ids.length; i++) this.add(ids[i]!)
    return this
  }

  and(other: Bitset): this {
    const a = this.words
    const b = other.words
    for (let i = 0; i < a.length; i++) a[i]! &= i < b.length ? b[i]! : 0
    return this
  }

  or(other: Bitset): this {
    const a = this.words
    const b = other.words
    const n = Math.min(a.length, b.length)
    for (let i = 0; i < n; i++) a[i]! |= b[i]!
    return this
  }

  andNot(other: Bitset): this {
    const a = this.words
    const b = other.words
    const n = Math.min(a.length, b.length)
    for (let i = 0; i < n; i++) a[i]! &= ~b[i]!
    return this
  }

  copy(): Bitset {
    const out = new Bitset(this.capacity)
    out.words.set(this.words)
    return out
  }

  count(): number {
    let total = 0
    const w = this.words
    for (let i = 0; i < w.length; i++) total += popcount(w[i]!)
    return total
  }

  /** How many of `ids` are in the set (ids may repeat; each occurrence counts). */
  countOf(ids: ArrayLike<number>): number {
    let total = 0
    for (let i = 0; i < ids.length; i++) if (this.has(ids[i]!)) total++
    return total
  }

  /** The members in ascending order. */
  toArray(): Uint32Array {
    const out = new Uint32Array(this.count())
    let at = 0
    const w = this.words
    for (let i = 0; i < w.length; i++) {
      let word = w[i]!
      while (word !== 0) {
        const bit = 31 - Math.clz32(word & -word)
        out[at++] = i * 32 + bit
        word &= word - 1
      }
    }
    return out
  }

  /** Calls `visit` for members in ascending order until it returns false. */
  forEach(visit: (id: number) => boolean | undefined): void {
    const w = this.words
    for (let i = 0; i < w.length; i++) {
      let word = w[i]!
      while (word !== 0) {
        const bit = 31 - Math.clz32(word & -word)
        if (visit(i * 32 + bit) === false) return
        word &= word - 1
      }
    }
  }
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333)
  x = (x + (x >>> 4)) & 0x0f0f0f0f
  return Math.imul(x, 0x01010101) >>> 24
}
