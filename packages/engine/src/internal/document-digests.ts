/**
 * The Merkle tree of one index's documents, kept current on every write (see merkle-tree.ts).
 *
 * A document's hash is the first 64 bits of SHA-256 over its external id key and its stored
 * bytes (the plain-MessagePack encoding the document store and snapshots hold):
 *
 *   sha256( u32be(utf8 length of key) | utf8(key) | document bytes )[0..8)
 *
 * so the same id with the same stored document hashes the same on every replica, and a change
 * of either changes the hash. Its bucket depends on the key alone (`bucketOfKey`).
 *
 * The hash and bucket of every live internal id are kept (10 bytes per id), so a deletion
 * subtracts exactly what the insertion added without re-encoding the document, and a bucket's
 * documents are listed by one pass over a typed array.
 */

import { hash } from 'node:crypto'
import { type Hash64, hex64, MERKLE_BUCKETS, MerkleTree } from './merkle-tree.ts'

const encoder = new TextEncoder()
/** Reused for the hashed bytes of every document (grown as needed): no allocation per write. */
let scratch = new Uint8Array(4096)

/** The 64-bit hash of a document: its key and its stored bytes. */
export function documentHash(key: string, bytes: Uint8Array): Hash64 {
  const needed = 4 + 3 * key.length + bytes.byteLength
  if (scratch.byteLength < needed) scratch = new Uint8Array(Math.max(needed, 2 * scratch.byteLength))
  const keyLength = encoder.encodeInto(key, scratch.subarray(4)).written
  new DataView(scratch.buffer).setUint32(0, keyLength)
  scratch.set(bytes, 4 + keyLength)
  const digest = hash('sha256', scratch.subarray(0, 4 + keyLength + bytes.byteLength), 'buffer')
  return { high: digest.readUInt32BE(0), low: digest.readUInt32BE(4) }
}

/** The bucket of a document id key: FNV-1a over its UTF-16 code units, mixed, top 16 bits. */
export function bucketOfKey(key: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193)
  // murmur3's finaliser, so that ids differing in their last character spread over buckets.
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return (h >>> 0) % MERKLE_BUCKETS
}

/** One document as anti-entropy compares it. */
export interface DigestEntry {
  /** The document's external id key (as `externalIdKey` gives it). */
  readonly key: string
  /** Its 64-bit hash, 16 hex digits. */
  readonly hash: string
}

export class DocumentDigests {
  readonly tree = new MerkleTree()
  /** Per internal id: high and low lanes of its document's hash. */
  #hashes = new Uint32Array(0)
  /** Per internal id: its bucket. */
  #buckets = new Uint16Array(0)
  /** Per internal id: 1 when it holds a document. */
  #present = new Uint8Array(0)
  #count = 0

  get size(): number {
    return this.#count
  }

  /** Records that internal id `id` now holds the document `bytes` under `key` (replacing any). */
  set(id: number, key: string, bytes: Uint8Array): void {
    const hash = documentHash(key, bytes)
    this.setHash(id, bucketOfKey(key), hash.high, hash.low)
  }

  /**
   * As `set`, with the document's bucket (`bucketOfKey`) and hash (`documentHash`) worked out
   * ahead: a few typed-array writes and the tree's sums above one bucket.
   */
  setHash(id: number, bucket: number, high: number, low: number): void {
    this.delete(id)
    if (id >= this.#present.length) this.#grow(Math.max(id + 1, 2 * this.#present.length, 64))
    this.#hashes[2 * id] = high
    this.#hashes[2 * id + 1] = low
    this.#buckets[id] = bucket
    this.#present[id] = 1
    this.#count++
    this.tree.add(bucket, { high, low })
  }

  /** Forgets internal id `id` (nothing when it holds no document). */
  delete(id: number): void {
    if (id >= this.#present.length || this.#present[id] === 0) return
    this.tree.remove(this.#buckets[id]!, { high: this.#hashes[2 * id]!, low: this.#hashes[2 * id + 1]! })
    this.#present[id] = 0
    this.#count--
  }

  clear(): void {
    this.tree.clear()
    this.#hashes = new Uint32Array(0)
    this.#buckets = new Uint16Array(0)
    this.#present = new Uint8Array(0)
    this.#count = 0
  }

  /**
   * The documents in `buckets`, as (key, hash) pairs ordered by key; `keyOf` names an internal
   * id's key. One pass over the ids.
   */
  entries(buckets: readonly number[], keyOf: (id: number) => string): DigestEntry[] {
    const wanted = new Uint8Array(MERKLE_BUCKETS)
    for (const bucket of buckets) {
      if (!Number.isInteger(bucket) || bucket < 0 || bucket >= MERKLE_BUCKETS)
        throw new RangeError(`no merkle bucket ${bucket}`)
      wanted[bucket] = 1
    }
    const out: DigestEntry[] = []
    for (let id = 0; id < this.#present.length; id++) {
      if (this.#present[id] === 0 || wanted[this.#buckets[id]!] === 0) continue
      out.push({ key: keyOf(id), hash: hex64(this.#hashes[2 * id]!, this.#hashes[2 * id + 1]!) })
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }

  #grow(capacity: number): void {
    const hashes = new Uint32Array(2 * capacity)
    hashes.set(this.#hashes)
    const buckets = new Uint16Array(capacity)
    buckets.set(this.#buckets)
    const present = new Uint8Array(capacity)
    present.set(this.#present)
    this.#hashes = hashes
    this.#buckets = buckets
    this.#present = present
  }
}
