import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Bm25Index, Bm25InputError, createAnalyzer } from '../src/index.ts'

// `stage` adds a batch invisibly and `publish` makes all of it visible at once: a search,
// the statistics and `serialize` see the index before the batch or after it, never between.

async function fresh(): Promise<Bm25Index> {
  return Bm25Index.create({
    fields: { title: { boost: 2 }, body: {} },
    analyzer: createAnalyzer({ stemming: false }),
  })
}

const WORDS = ['kernel', 'modules', 'linux', 'compression', 'library', 'zstd', 'headers', 'fast', 'tool']
const QUERIES = ['kernel', 'compression library', 'headers modules', 'zstd', 'fast tool', 'linu']

const docArb = fc.record({
  id: fc.integer({ min: 0, max: 40 }),
  title: fc.array(fc.constantFrom(...WORDS), { maxLength: 3 }).map((w) => w.join(' ')),
  body: fc.array(fc.constantFrom(...WORDS), { maxLength: 8 }).map((w) => w.join(' ')),
})
type Doc = { id: number; title: string; body: string }
const EVERY_ID = Uint32Array.from({ length: 41 }, (_, id) => id)

/** Everything a reader can observe of an index. */
function observe(index: Bm25Index): unknown {
  return {
    size: index.size,
    stats: index.stats(),
    searches: QUERIES.map((q) => index.search(q, 50, { prefix: true })),
    // Filters name documents by external id: a replaced one must stay reachable until publish.
    listed: QUERIES.map((q) => index.search(q, 50, { filter: EVERY_ID })),
    predicate: QUERIES.map((q) => index.search(q, 50, { filter: (id) => id % 3 !== 0 })),
    bytes: index.serialize(),
  }
}

/** The last document of each id in `batch`, in order of last occurrence. */
function lastWins(batch: Doc[]): Doc[] {
  const byId = new Map<number, Doc>()
  for (const doc of batch) {
    byId.delete(doc.id)
    byId.set(doc.id, doc)
  }
  return [...byId.values()]
}

describe('staged batches', () => {
  it('are invisible until published, then read as the same documents added one by one', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(docArb, { maxLength: 30 }),
        fc.array(docArb, { minLength: 1, maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 5 }),
        async (initial, batchDocs, serializeAt) => {
          const staged = await fresh()
          const direct = await fresh()
          for (const doc of initial) {
            staged.add(doc.id, { title: doc.title, body: doc.body })
            direct.add(doc.id, { title: doc.title, body: doc.body })
          }
          const batch = lastWins(batchDocs)
          const prepared = batch.map((doc) => staged.prepare({ title: doc.title, body: doc.body }))
          const before = observe(direct)
          const checks = new Set(serializeAt.map((at) => at % batch.length))
          for (const [i, doc] of batch.entries()) {
            staged.stage(doc.id, prepared[i]!)
            // Between any two staged documents a reader sees the index as it was (serialize
            // compacts, which must carry the staged batch along).
            if (checks.has(i)) expect(withoutTerms(observe(staged))).toEqual(withoutTerms(before))
          }
          expect(staged.staging).toBe(true)
          staged.publish()
          for (const doc of batch) direct.add(doc.id, { title: doc.title, body: doc.body })
          expect(staged.staging).toBe(false)
          expect(withoutTerms(observe(staged))).toEqual(withoutTerms(observe(direct)))
        },
      ),
      { numRuns: 60 },
    )
  })

  it('publishes in one step whose size is the terms touched, however many documents', async () => {
    const index = await fresh()
    const batch = Array.from({ length: 2000 }, (_, i) => ({
      title: 'kernel modules',
      body: `linux tool ${i % 3}`,
    }))
    for (const [i, doc] of batch.entries()) index.stage(i, index.prepare(doc))
    const published = index.publish()
    // 2000 documents, 7 distinct terms: the step walks the terms, not the documents.
    expect(published).toEqual({ documents: 2000, termsTouched: 7, replaced: 0 })
    expect(index.size).toBe(2000)
    expect(index.search('kernel', 3000).ids.length).toBe(2000)
  })

  it('refuses add, addPrepared and remove while a batch is staged, and a second stage of one id', async () => {
    const index = await fresh()
    index.add(1, { title: 'kernel' })
    index.stage(2, index.prepare({ title: 'modules' }))
    expect(() => index.add(3, { title: 'x' })).toThrow(Bm25InputError)
    expect(() => index.remove(1)).toThrow(Bm25InputError)
    expect(() => index.stage(2, index.prepare({ title: 'again' }))).toThrow(Bm25InputError)
    index.publish()
    expect(index.remove(1)).toBe(true)
    expect(index.size).toBe(1)
  })

  it('discards a batch staged part way, leaving the index as it was', async () => {
    const index = await fresh()
    const untouched = await fresh()
    for (const target of [index, untouched]) {
      for (let i = 0; i < 20; i++) target.add(i, { title: `kernel ${i % 3}`, body: 'linux modules' })
    }
    // Replacements and new documents, then the batch is given up.
    for (let i = 10; i < 30; i++) index.stage(i, index.prepare({ title: 'zstd kernel', body: 'tool' }))
    index.discard()
    expect(index.staging).toBe(false)
    expect(withoutTerms(observe(index))).toEqual(withoutTerms(observe(untouched)))
    // Writes are taken again, and the discarded ids are free to add.
    index.remove(3)
    untouched.remove(3)
    index.add(25, { title: 'fast tool' })
    untouched.add(25, { title: 'fast tool' })
    expect(withoutTerms(observe(index))).toEqual(withoutTerms(observe(untouched)))
  })

  it('round-trips a serialization taken while a batch is staged, as the index before the batch', async () => {
    const index = await fresh()
    for (let i = 0; i < 100; i++) index.add(i, { title: `kernel ${i % 7}`, body: 'linux modules' })
    for (let i = 0; i < 90; i++) index.remove(i)
    const before = index.search('kernel', 100)
    for (let i = 50; i < 120; i++) index.stage(i, index.prepare({ title: 'zstd kernel' }))
    const bytes = index.serialize()
    const restored = await Bm25Index.deserialize(bytes, createAnalyzer({ stemming: false }))
    expect(restored.search('kernel', 100)).toEqual(before)
    expect(restored.size).toBe(10)
    index.publish()
    // Ids 90..99 were live and are replaced.
    expect(index.size).toBe(70)
    expect(index.search('zstd', 200).ids.length).toBe(70)
  })
})

describe('serialize', () => {
  it('writes the same bytes whether or not a term was encoded before it lost its postings', async () => {
    const encodedEarlier = await fresh()
    const never = await fresh()
    for (const index of [encodedEarlier, never]) {
      index.add(1, { title: 'zstd kernel' })
      index.add(2, { title: 'kernel modules' })
      // Only this one encodes the term `zstd` (a search and a serialization read it).
      if (index === encodedEarlier) {
        index.search('zstd', 10)
        index.serialize()
      }
      index.remove(1)
      index.add(3, { title: 'linux kernel' })
    }
    expect(Buffer.from(encodedEarlier.serialize()).equals(Buffer.from(never.serialize()))).toBe(true)
  })
})

/** The serialized bytes without the dictionary: a staged batch's new terms enter it early (with no postings). */
function withoutTerms(observed: unknown): unknown {
  const { bytes, ...rest } = observed as { bytes: Uint8Array }
  return { ...rest, bytesLength: bytes.length > 0 }
}
