import { describe, expect, it } from 'vitest'
import {
  Bm25ConfigError,
  Bm25DuplicateIdError,
  Bm25Index,
  Bm25InputError,
  createAnalyzer,
  type DocumentFields,
} from '../src/index.ts'

const packages: Array<[number, DocumentFields]> = [
  [10, { name: 'python3', summary: 'interactive high-level object-oriented language' }],
  [11, { name: 'pythonpy', summary: 'command line utility for Python' }],
  [12, { name: 'nginx', summary: 'small, powerful, scalable web/proxy server' }],
  [13, { name: 'apache2', summary: 'Apache HTTP Server' }],
  [14, { name: 'color', summary: 'terminal color output' }],
  [15, { name: 'colour', summary: 'colour schemes', description: 'colour colour colour' }],
  [16, { name: 'libnetwork', summary: 'networking library for servers' }],
]

async function packageIndex(options: { onDuplicate?: 'replace' | 'error' } = {}): Promise<Bm25Index> {
  const index = await Bm25Index.create({
    fields: { name: { boost: 3 }, summary: { boost: 1.5 }, description: {} },
    ...options,
  })
  for (const [id, doc] of packages) index.add(id, doc)
  return index
}

describe('Bm25Index', () => {
  it('finds documents by their words, best first, and reports its size', async () => {
    const index = await packageIndex()
    expect(index.size).toBe(7)
    const { ids, scores } = index.search('web server', 10)
    expect(ids[0]).toBe(12)
    expect([...ids]).toContain(13)
    expect(scores[0]).toBeGreaterThan(scores[1]!)
  })

  it('matches the last query word as a prefix (search as you type), unless prefix is off', async () => {
    const index = await packageIndex()
    expect([...index.search('ngi', 5).ids]).toEqual([12])
    expect(index.search('ngi', 5, { prefix: false }).ids.length).toBe(0)
    // Only the last word is a prefix.
    expect(index.search('ngi server', 5, { prefix: true }).ids[0]).not.toBe(12)
  })

  it('tolerates typos within the edit budget, and typos: auto follows word length', async () => {
    const index = await packageIndex()
    expect(index.search('pyhton', 5, { typos: 0, prefix: false }).ids.length).toBe(0)
    expect([...index.search('pyhton', 5, { typos: 1, prefix: false }).ids]).toEqual([11])
    expect([...index.search('scalabel', 5, { typos: 'auto', prefix: false }).ids]).toEqual([12])
    // 'auto' allows no typo below 5 letters.
    expect(index.search('ngimx', 5, { typos: 'auto', prefix: false }).ids[0]).toBe(12)
    expect(index.search('ngnx', 5, { typos: 'auto', prefix: false }).ids.length).toBe(0)
    expect(index.search('ngnx', 5, { typos: 1, prefix: false }).ids[0]).toBe(12)
  })

  it('typos: { oneTypo, twoTypos } sets the word lengths that allow one and two typos', async () => {
    const index = await packageIndex()
    expect(index.search('ngnx', 5, { typos: { oneTypo: 4, twoTypos: 8 }, prefix: false }).ids[0]).toBe(12)
    expect(
      index.search('scalabel', 5, { typos: { oneTypo: 9, twoTypos: 12 }, prefix: false }).ids.length,
    ).toBe(0)
    expect(() => index.search('x', 5, { typos: { oneTypo: 5, twoTypos: 2 }, prefix: false })).toThrow()
  })

  it('ranks an exact match above a typo match even when the typo term is rarer', async () => {
    const index = await packageIndex()
    // 'colour' appears 5 times in doc 15; 'color' once in doc 14.
    const { ids } = index.search('color', 5, { typos: 1, prefix: false })
    expect([...ids]).toEqual([14, 15])
  })

  it('restricts results to an allowed-id filter, as an array or a predicate', async () => {
    const index = await packageIndex()
    expect([...index.search('server', 10, { filter: Uint32Array.of(13, 99) }).ids]).toEqual([13])
    expect([...index.search('server', 10, { filter: (id) => id !== 12 }).ids].sort()).toEqual([13, 16])
  })

  it('removes documents at once and reports whether they were present', async () => {
    const index = await packageIndex()
    expect(index.remove(12)).toBe(true)
    expect(index.remove(12)).toBe(false)
    expect(index.size).toBe(6)
    expect([...index.search('nginx', 10).ids]).toEqual([])
    expect(index.stats(['nginx']).docFrequencies.nginx).toBe(0)
  })

  it('replaces a document added again under the same id (default onDuplicate: replace)', async () => {
    const index = await packageIndex()
    index.add(12, { name: 'lighttpd', summary: 'fast webserver' })
    expect(index.size).toBe(7)
    expect(index.search('nginx', 10).ids.length).toBe(0)
    expect([...index.search('lighttpd', 10).ids]).toEqual([12])
  })

  it('rejects a duplicate id with a typed error under onDuplicate: error, leaving the index unchanged', async () => {
    const index = await packageIndex({ onDuplicate: 'error' })
    expect(() => index.add(12, { name: 'other' })).toThrow(Bm25DuplicateIdError)
    expect([...index.search('nginx', 10).ids]).toEqual([12])
  })

  it('rejects bad documents and bad queries with typed errors and changes nothing', async () => {
    const index = await packageIndex()
    const before = index.search('server', 10)
    expect(() => index.add(20, { name: 42 } as unknown as DocumentFields)).toThrow(Bm25InputError)
    expect(() => index.add(20, { title: 'x' })).toThrow(Bm25InputError)
    expect(() => index.add(20, { name: ['ok', 3] } as unknown as DocumentFields)).toThrow(Bm25InputError)
    expect(() => index.add(-1, { name: 'x' })).toThrow(Bm25InputError)
    expect(() => index.add(2 ** 32, { name: 'x' })).toThrow(Bm25InputError)
    expect(() => index.add(1.5, { name: 'x' })).toThrow(Bm25InputError)
    expect(() => index.search('server', 0)).toThrow(Bm25InputError)
    expect(() => index.search('server', 2.5)).toThrow(Bm25InputError)
    expect(() => index.search('server', 5, { typos: 3 as 2 })).toThrow(Bm25InputError)
    expect(index.size).toBe(7)
    expect(index.search('server', 10)).toEqual(before)
  })

  it('rejects bad configuration with Bm25ConfigError', async () => {
    await expect(Bm25Index.create({ fields: {} })).rejects.toThrow(Bm25ConfigError)
    await expect(Bm25Index.create({ fields: { a: { boost: 0 } } })).rejects.toThrow(Bm25ConfigError)
    await expect(Bm25Index.create({ fields: { a: {} }, b: 2 })).rejects.toThrow(Bm25ConfigError)
    const nine = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`f${i}`, {}]))
    await expect(Bm25Index.create({ fields: nine })).rejects.toThrow(Bm25ConfigError)
  })

  it('accepts string arrays, counts all their tokens, and indexes non-Latin scripts', async () => {
    const index = await Bm25Index.create({
      fields: { tags: {} },
      analyzer: createAnalyzer({ locale: 'none' }),
    })
    index.add(1, { tags: ['Москва', '東京タワー', 'café 🍕'] })
    index.add(2, { tags: ['paris'] })
    expect([...index.search('москва', 5).ids]).toEqual([1])
    expect([...index.search('cafe', 5).ids]).toEqual([1])
    expect([...index.search('🍕', 5).ids]).toEqual([1])
    expect([...index.search('東京', 5).ids]).toEqual([1])
    expect(index.stats().fieldLengths.tags).toBe(5)
  })

  it('explains a score: the sum of the listed term contributions, equal to the search score', async () => {
    const index = await packageIndex()
    const { ids, scores } = index.search('web server', 3)
    const explanation = index.explain('web server', ids[0]!)!
    expect(explanation.score).toBeCloseTo(scores[0]!, 5)
    expect(explanation.terms.map((t) => t.term).sort()).toEqual(['server', 'web'])
    const sum = explanation.terms.reduce((total, t) => total + t.contribution, 0)
    expect(sum).toBeCloseTo(explanation.score, 10)
    expect(explanation.k1).toBe(1.2)
    expect(explanation.formula).toContain('k1')
    expect(index.explain('web', 999)).toBeUndefined()
  })

  it('reclaims the space of removed documents by compaction and still answers the same', async () => {
    const index = await packageIndex()
    for (let id = 100; id < 400; id++) index.add(id, { summary: `filler server number${id}` })
    const before = index.search('web server', 10)
    for (let id = 100; id < 400; id += 2) index.remove(id)
    const after = index.search('web server', 10)
    index.compact()
    expect(index.search('web server', 10)).toEqual(after)
    expect(after).not.toEqual(before)
    expect(index.size).toBe(7 + 150)
  })
})
