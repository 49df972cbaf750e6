/**
 * The anti-entropy Merkle tree (src/internal/merkle-tree.ts, document-digests.ts): sums of
 * 64-bit document hashes in 65,536 buckets under a fixed 16-way tree, kept current by every
 * write. Two replicas with the same documents have equal trees whatever order the documents
 * came in; one changed document is located to its bucket by comparing a few dozen hashes.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  bucketOfKey,
  childPositions,
  DocumentDigests,
  differingPositions,
  diffTrees,
  type Engine,
  InvalidMerkleRequestError,
  MERKLE_BUCKETS,
  MERKLE_FANOUT,
  MERKLE_LEAF_LEVEL,
  MerkleTree,
  SPARSE_BUCKETS_LIMIT,
} from '../src/index.ts'
import { encodeValue } from '../src/internal/commands.ts'
import { referenceEngine, removeDir } from './helpers.ts'

const EMPTY_ROOT = '0000000000000000'

/** Digests of `docs` (key → document) added in the given order. */
function digestsOf(docs: readonly (readonly [string, unknown])[]): DocumentDigests {
  const digests = new DocumentDigests()
  docs.forEach(([key, doc], id) => {
    digests.set(id, key, encodeValue(doc))
  })
  return digests
}

const docArbitrary = fc.record({ title: fc.string({ maxLength: 12 }), n: fc.integer() })
const docsArbitrary = fc.uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 10 }), docArbitrary), {
  selector: ([key]) => key,
  minLength: 1,
  maxLength: 40,
})

describe('merkle tree', () => {
  it('has 16 children per node and 65,536 buckets under 4 levels', () => {
    expect(MERKLE_FANOUT).toBe(16)
    expect(MERKLE_LEAF_LEVEL).toBe(4)
    expect(MERKLE_BUCKETS).toBe(65_536)
    expect(childPositions(3, [4095])).toEqual(Array.from({ length: 16 }, (_, i) => 65_520 + i))
    expect(() => childPositions(4, [0])).toThrow(RangeError)
    expect(() => new MerkleTree().node(2, 256)).toThrow(RangeError)
  })

  it('keeps every inner node equal to the sum of its children', () => {
    const tree = new MerkleTree()
    tree.add(7, { high: 0xffffffff, low: 1 })
    tree.add(7 + 16, { high: 1, low: 0xffffffff })
    expect(tree.node(4, 7)).toBe('ffffffff00000001')
    expect(tree.node(3, 0)).toBe('ffffffff00000001')
    expect(tree.node(3, 1)).toBe('00000001ffffffff')
    // Both lie under node 0 of level 2, where the lanes wrap modulo 2^32 to zero.
    expect(tree.node(2, 0)).toBe(EMPTY_ROOT)
    tree.add(1000, { high: 0, low: 5 })
    expect(tree.root).toBe('0000000000000005')
    expect(tree.node(1, 0)).toBe('0000000000000005')
  })

  it('is the same whatever order the documents are added in', () => {
    fc.assert(
      fc.property(docsArbitrary, fc.integer(), (docs, seed) => {
        const shuffled = [...docs].sort(
          (a, b) => ((bucketOfKey(a[0]) ^ seed) >>> 0) - ((bucketOfKey(b[0]) ^ seed) >>> 0),
        )
        expect(digestsOf(shuffled).tree.root).toBe(digestsOf(docs).tree.root)
      }),
    )
  })

  it('returns to the empty tree when every document is removed', () => {
    fc.assert(
      fc.property(docsArbitrary, (docs) => {
        const digests = digestsOf(docs)
        docs.forEach((_, id) => {
          digests.delete(id)
        })
        expect(digests.tree.root).toBe(EMPTY_ROOT)
        expect(digests.size).toBe(0)
      }),
    )
  })

  it('finds no difference between equal trees, comparing the roots only', () => {
    fc.assert(
      fc.property(docsArbitrary, (docs) => {
        const diff = diffTrees(digestsOf(docs).tree, digestsOf([...docs].reverse()).tree)
        expect(diff).toEqual({ buckets: [], hashesCompared: 1, rounds: 1 })
      }),
    )
  })

  it('locates any single changed, missing or extra document to exactly its bucket', () => {
    fc.assert(
      fc.property(
        docsArbitrary,
        fc.nat(),
        fc.constantFrom('changed', 'missing', 'extra'),
        docArbitrary,
        (docs, pick, kind, other) => {
          const [key, doc] = docs[pick % docs.length]!
          const good = digestsOf(docs)
          const bad = digestsOf(docs)
          const id = pick % docs.length
          if (kind === 'changed') {
            const changed =
              JSON.stringify(other) === JSON.stringify(doc) ? { ...other, n: other.n + 1 } : other
            bad.set(id, key, encodeValue(changed))
          } else if (kind === 'missing') bad.delete(id)
          else good.delete(id)
          const diff = diffTrees(good.tree, bad.tree)
          expect(diff.buckets).toEqual([bucketOfKey(key)])
          expect(diff.rounds).toBe(MERKLE_LEAF_LEVEL + 1)
          expect(diff.hashesCompared).toBe(1 + MERKLE_FANOUT * MERKLE_LEAF_LEVEL)
          // In that bucket, the document itself is the one whose (key, hash) pair differs.
          const keyOf = (i: number) => docs[i]![0]
          const goodEntries = good.entries(diff.buckets, keyOf)
          const badEntries = bad.entries(diff.buckets, keyOf)
          const differing = new Set(
            [...goodEntries, ...badEntries]
              .filter(
                (entry) =>
                  !goodEntries.some((e) => e.key === entry.key && e.hash === entry.hash) ||
                  !badEntries.some((e) => e.key === entry.key && e.hash === entry.hash),
              )
              .map((entry) => entry.key),
          )
          expect([...differing]).toEqual([key])
        },
      ),
    )
  })

  it('holds the same sums whether its buckets are held sparsely or densely', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer(), (kept, seed) => {
        // Over SPARSE_BUCKETS_LIMIT buckets in use, the tree turns dense and stays so.
        const many = new MerkleTree()
        const few = new MerkleTree()
        const docs = Array.from({ length: 2 * SPARSE_BUCKETS_LIMIT }, (_, i) => ({
          bucket: bucketOfKey(`k${seed}-${i}`),
          hash: { high: (i * 2_654_435_761 + seed) >>> 0, low: (i ^ seed) >>> 0 },
        }))
        for (const doc of docs) many.add(doc.bucket, doc.hash)
        for (const [i, doc] of docs.entries())
          if (i < kept) few.add(doc.bucket, doc.hash)
          else many.remove(doc.bucket, doc.hash)
        expect(diffTrees(many, few).buckets).toEqual([])
        expect(many.root).toBe(few.root)
      }),
      { numRuns: 20 },
    )
    const empty = new MerkleTree()
    expect(empty.nodes(MERKLE_LEAF_LEVEL, [0, 65_535])).toEqual([EMPTY_ROOT, EMPTY_ROOT])
  })

  it('keys a document to its bucket by id alone, spread over the buckets', () => {
    const counts = new Uint32Array(MERKLE_BUCKETS)
    for (let i = 0; i < 200_000; i++) counts[bucketOfKey(`doc-${i}`)]!++
    // About 3 per bucket: none empty-handed by a bad spread, none overloaded.
    expect(Math.max(...counts)).toBeLessThan(20)
    expect(counts.filter((c) => c === 0).length).toBeLessThan(MERKLE_BUCKETS * 0.1)
  })

  it('finds one changed document among a million by comparing 65 hashes and one bucket of a few dozen', () => {
    // The tree's arithmetic at 1M documents, with seeded 64-bit hashes standing in for documents.
    const count = 1_000_000
    const changed = 123_457
    const good = new MerkleTree()
    const bad = new MerkleTree()
    const perBucket = new Uint32Array(MERKLE_BUCKETS)
    let state = 0x9e3779b9
    const next = () => {
      state ^= state << 13
      state ^= state >>> 17
      state ^= state << 5
      return state >>> 0
    }
    for (let id = 0; id < count; id++) {
      const bucket = bucketOfKey(`doc-${id}`)
      const hash = { high: next(), low: next() }
      perBucket[bucket]!++
      good.add(bucket, hash)
      bad.add(bucket, id === changed ? { high: hash.high, low: hash.low ^ 1 } : hash)
    }
    const diff = diffTrees(good, bad)
    expect(diff.buckets).toEqual([bucketOfKey(`doc-${changed}`)])
    expect(diff.hashesCompared).toBe(65)
    // What a repair reads next to name the document: that bucket's (key, hash) pairs.
    expect(perBucket[diff.buckets[0]!]).toBeLessThanOrEqual(40)
  })

  it('names the one changed document among 100,000 real document hashes', () => {
    const good = new DocumentDigests()
    const bad = new DocumentDigests()
    const keyOf = (id: number) => `doc-${id}`
    for (let id = 0; id < 100_000; id++) {
      const bytes = encodeValue({ id, title: `document number ${id}` })
      good.set(id, keyOf(id), bytes)
      bad.set(id, keyOf(id), id === 4242 ? encodeValue({ id, title: 'document number 4243' }) : bytes)
    }
    const diff = diffTrees(good.tree, bad.tree)
    expect(diff.buckets).toEqual([bucketOfKey('doc-4242')])
    const entries = bad.entries(diff.buckets, keyOf)
    expect(entries.length).toBeLessThanOrEqual(12)
    const theirs = new Map(good.entries(diff.buckets, keyOf).map((e) => [e.key, e.hash]))
    expect(entries.filter((e) => theirs.get(e.key) !== e.hash).map((e) => e.key)).toEqual(['doc-4242'])
  })
})

describe('an index keeps its merkle tree current', () => {
  async function withEngines<T>(run: (a: Engine, b: Engine) => Promise<T>): Promise<T> {
    const a = await referenceEngine()
    const b = await referenceEngine()
    try {
      return await run(a.engine, b.engine)
    } finally {
      await a.engine.close()
      await b.engine.close()
      await removeDir(a.dir)
      await removeDir(b.dir)
    }
  }

  const docs = Array.from({ length: 20_000 }, (_, i) => ({ id: i, title: `title ${i}`, n: i % 7 }))

  it('on writes and after an image is restored, so replicas compare equal', async () => {
    await withEngines(async (a, b) => {
      await a.createIndex('items', { primaryKey: 'id' })
      await a.index('items').addDocuments(docs)
      await a.index('items').deleteDocuments([5, 6])
      await a.index('items').updateDocuments([{ id: 7, extra: true }])
      await b.restoreImage(a.image())
      const root = (engine: Engine) => engine.index('items').merkleNodes(0, [0])[0]
      expect(root(b)).toBe(root(a))
      // The same writes on both keep them equal; replacing a document by itself changes nothing.
      const before = root(a)
      await a.index('items').addDocuments([docs[100]!])
      expect(root(a)).toBe(before)
      for (const engine of [a, b]) await engine.index('items').addDocuments([{ id: 5, title: 'back' }])
      expect(root(b)).toBe(root(a))
      expect(root(a)).not.toBe(before)
    })
  })

  it('so one document changed on one replica is the only one a comparison reads back', async () => {
    await withEngines(async (a, b) => {
      await a.createIndex('items', { primaryKey: 'id' })
      await a.index('items').addDocuments(docs)
      await b.restoreImage(a.image())
      await b.index('items').addDocuments([{ ...docs[4321]!, title: 'silently changed' }])
      const ia = a.index('items')
      const ib = b.index('items')
      // The descent a remote check does, one level per round trip.
      let positions = [0]
      let compared = 0
      const differing = (level: number) =>
        differingPositions(positions, [ia.merkleNodes(level, positions), ib.merkleNodes(level, positions)])
      for (let level = 0; level < MERKLE_LEAF_LEVEL; level++) {
        compared += positions.length
        positions = childPositions(level, differing(level))
      }
      compared += positions.length
      const buckets = differing(MERKLE_LEAF_LEVEL)
      expect(buckets).toEqual([bucketOfKey('4321')])
      expect(compared).toBe(65)
      const entries = ib.merkleEntries(buckets)
      expect(entries.length).toBeLessThanOrEqual(10)
      const theirs = new Map(ia.merkleEntries(buckets).map((e) => [e.key, e.hash]))
      expect(entries.filter((e) => theirs.get(e.key) !== e.hash).map((e) => e.key)).toEqual(['4321'])
      expect(ia.storedDocuments(['4321', 'nope'])).toEqual([docs[4321], null])
    })
  })

  it('empties with the index and refuses a node the tree lacks', async () => {
    await withEngines(async (a) => {
      await a.createIndex('items', { primaryKey: 'id' })
      await a.index('items').addDocuments(docs.slice(0, 100))
      await a.index('items').deleteAllDocuments()
      expect(a.index('items').merkleNodes(0, [0])).toEqual([EMPTY_ROOT])
      expect(() => a.index('items').merkleNodes(5, [0])).toThrow(InvalidMerkleRequestError)
      expect(() => a.index('items').merkleEntries([MERKLE_BUCKETS])).toThrow(InvalidMerkleRequestError)
    })
  })
})
