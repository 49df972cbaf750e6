/**
 * The memo table of the search: the set of (linearized operations, state)
 * pairs already explored. Reaching a pair again cannot succeed where the first
 * visit failed, so the search skips it (Lowe, "Testing for linearizability",
 * 2017, §3: the cache that makes Wing & Gong's search practical).
 *
 * The linearized set is a bitset; its hash is kept incrementally (Zobrist
 * hashing: the XOR of one fixed random word per set bit), so a lookup costs
 * one `Map` probe plus a bitset compare per entry in the bucket. Entries are
 * compared in full, never by hash alone, so a collision cannot prune a branch
 * that might succeed.
 */
export class Memo {
  readonly words: number
  readonly bits: Uint32Array
  #zobrist: Int32Array
  #hash = 0
  #buckets = new Map<number, number[]>()
  #storedBits: Uint32Array
  #storedStates: Int32Array
  #size = 0

  constructor(operations: number) {
    this.words = Math.max(1, Math.ceil(operations / 32))
    this.bits = new Uint32Array(this.words)
    this.#zobrist = new Int32Array(operations)
    let x = 0x2545f491
    for (let i = 0; i < operations; i++) {
      // splitmix32: fixed, so the table behaves the same on every run.
      x = (x + 0x9e3779b9) | 0
      let z = x
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
      this.#zobrist[i] = z ^ (z >>> 16)
    }
    this.#storedBits = new Uint32Array(this.words * 1024)
    this.#storedStates = new Int32Array(1024)
  }

  get size(): number {
    return this.#size
  }

  set(op: number): void {
    this.bits[op >>> 5]! |= 1 << (op & 31)
    this.#hash ^= this.#zobrist[op]!
  }

  clear(op: number): void {
    this.bits[op >>> 5]! &= ~(1 << (op & 31))
    this.#hash ^= this.#zobrist[op]!
  }

  /**
   * Records the current bitset with `stateId`; false when that pair was
   * already recorded.
   */
  add(stateId: number): boolean {
    const key = (this.#hash ^ Math.imul(stateId + 1, 0x9e3779b1)) | 0
    let bucket = this.#buckets.get(key)
    if (bucket === undefined) {
      bucket = []
      this.#buckets.set(key, bucket)
    } else {
      for (const entry of bucket) {
        if (this.#storedStates[entry] === stateId && this.#sameBits(entry)) return false
      }
    }
    bucket.push(this.#store(stateId))
    return true
  }

  #sameBits(entry: number): boolean {
    const base = entry * this.words
    for (let w = 0; w < this.words; w++) {
      if (this.#storedBits[base + w] !== this.bits[w]) return false
    }
    return true
  }

  #store(stateId: number): number {
    const entry = this.#size
    if (entry === this.#storedStates.length) {
      const states = new Int32Array(entry * 2)
      states.set(this.#storedStates)
      this.#storedStates = states
      const bits = new Uint32Array(entry * 2 * this.words)
      bits.set(this.#storedBits)
      this.#storedBits = bits
    }
    this.#storedStates[entry] = stateId
    this.#storedBits.set(this.bits, entry * this.words)
    this.#size += 1
    return entry
  }
}
