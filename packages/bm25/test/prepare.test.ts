import { describe, expect, it } from 'vitest'
import { Bm25Index, Bm25InputError, createAnalyzer } from '../src/index.ts'

// `prepare` does a document's analysis ahead; `addPrepared` then indexes it as `add` would.

async function fresh(): Promise<Bm25Index> {
  return Bm25Index.create({
    fields: { title: { boost: 2 }, body: {} },
    analyzer: createAnalyzer({ stemming: false }),
  })
}

const DOCS = [
  { title: 'Kernel modules', body: 'loadable kernel modules for the linux kernel' },
  { title: 'Compression library', body: 'a fast compression library, zstd and lz4' },
  { title: 'Kernel headers', body: ['headers for building modules', 'against the running kernel'] },
]

describe('prepare and addPrepared', () => {
  it('index exactly as add does, and preparing alone changes no result', async () => {
    const direct = await fresh()
    const ahead = await fresh()
    for (const [i, doc] of DOCS.entries()) direct.add(i + 1, doc)
    ahead.add(1, DOCS[0]!)
    const before = ahead.search('kernel compression', 10)
    const prepared = DOCS.slice(1).map((doc) => ahead.prepare(doc))
    expect(ahead.search('kernel compression', 10)).toEqual(before)
    expect(ahead.size).toBe(1)
    for (const [i, doc] of prepared.entries()) ahead.addPrepared(i + 2, doc)
    for (const query of ['kernel', 'compression library', 'headers modules', 'zstd'])
      expect(ahead.search(query, 10)).toEqual(direct.search(query, 10))
    expect(ahead.stats()).toEqual(direct.stats())
    expect(ahead.serialize()).toEqual(direct.serialize())
  })

  it('refuses a document prepared by another index, and bad input when preparing', async () => {
    const a = await fresh()
    const b = await fresh()
    expect(() => b.addPrepared(1, a.prepare(DOCS[0]!))).toThrow(Bm25InputError)
    expect(() => a.prepare({ nope: 'x' })).toThrow(Bm25InputError)
    expect(b.size).toBe(0)
  })
})
