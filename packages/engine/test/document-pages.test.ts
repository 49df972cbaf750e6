/**
 * A document listing over partitions (`getDocumentsPart` on each, `mergeDocumentPages`) lists
 * what one index holding every document lists: with `sort`, the same documents in the same order
 * (sort rules, then primary key), with `ids`, `filter`, `fields`, `offset` and `limit`, and the
 * same total. Without `sort` the partitions list in primary key order (one index lists in its
 * internal order, which partitions do not share).
 */
import { shardOf } from '@shoal/hashring'
import { Rng, testSeed } from '@shoal/testkit/rng'
import { pack, unpack } from 'msgpackr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  compareDocumentKeys,
  type Doc,
  type Engine,
  type GetDocumentsParams,
  type Index,
  mergeDocumentPages,
  open,
} from '../src/index.ts'
import { removeDir, tempDir } from './helpers.ts'

const SEED = testSeed(20261207)
const PARTS = 3
const GENRES = ['scifi', 'romance', 'crime', 'poetry']

function merged(parts: readonly Index[], params: GetDocumentsParams) {
  // Every part as it would cross the network, and in any order.
  const pages = parts.map((part) => unpack(pack(part.getDocumentsPart(params))))
  const page = mergeDocumentPages(params, pages)
  expect(mergeDocumentPages(params, [...pages].reverse())).toEqual(page)
  return page
}

describe(`a listing over ${PARTS} partitions lists like one index (SEED=${SEED})`, () => {
  const rng = new Rng(SEED)
  let dir: string
  let engine: Engine
  let whole: Index
  const parts: Index[] = []
  let docs: Doc[]

  beforeAll(async () => {
    dir = await tempDir()
    engine = await open(dir, { sync: 'none' })
    const settings = { filterableAttributes: ['genre'], sortableAttributes: ['year', 'title'] }
    docs = Array.from({ length: 300 }, (_, i) => ({
      id: i % 3 === 0 ? `b-${i}` : i * 7,
      genre: GENRES[rng.int(GENRES.length)]!,
      // Ties on year, and some documents without one (listed last either way).
      ...(rng.int(10) === 0 ? {} : { year: 1900 + rng.int(40) }),
      title: `T${rng.int(1000)}`,
    }))
    await engine.createIndex('whole', { primaryKey: 'id', settings })
    whole = engine.index('whole')
    // One index gets the documents in one order, the partitions in reverse.
    await whole.addDocuments(docs)
    for (let p = 0; p < PARTS; p++) {
      await engine.createIndex(`part-${p}`, { primaryKey: 'id', settings })
      parts.push(engine.index(`part-${p}`))
      await parts[p]!.addDocuments(docs.filter((d) => shardOf(String(d.id), PARTS) === p).reverse())
    }
    // Deletions then additions, so that internal ids are reused.
    const gone = docs.filter((_, i) => i % 11 === 0).map((d) => d.id as string | number)
    await whole.deleteDocuments(gone)
    for (const [p, part] of parts.entries())
      await part.deleteDocuments(gone.filter((id) => shardOf(String(id), PARTS) === p))
    const added = Array.from({ length: 30 }, (_, i) => ({ id: 5000 + i, genre: 'crime', year: 1920 }))
    await whole.addDocuments(added)
    for (const [p, part] of parts.entries())
      await part.addDocuments(added.filter((d) => shardOf(String(d.id), PARTS) === p))
  })

  afterAll(async () => {
    await engine?.close()
    await removeDir(dir)
  })

  it('sorts, pages, filters and narrows to ids exactly as one index', () => {
    const ids = () => Array.from({ length: 40 }, () => docs[rng.int(docs.length)]!.id as string | number)
    const cases: GetDocumentsParams[] = [
      { sort: ['year:asc'] },
      { sort: ['year:desc'], offset: 15, limit: 30 },
      { sort: ['year:desc', 'title:asc'], filter: 'genre = scifi OR genre = crime', limit: 50 },
      { sort: ['title:desc'], ids: ids(), fields: ['title'] },
      { sort: ['year:asc'], ids: [...ids(), 'missing'], filter: 'genre != poetry', offset: 3, limit: 5 },
      { sort: ['year:asc'], offset: 1000 },
      { sort: ['year:asc'], limit: 0 },
    ]
    for (let page = 0; page < 20; page++) cases.push({ sort: ['year:desc'], offset: page * 17, limit: 17 })
    for (const params of cases) {
      expect(merged(parts, params), JSON.stringify(params)).toEqual(whole.getDocuments(params))
    }
  })

  it('lists unsorted documents in primary key order, with the same total', () => {
    const all = whole.getDocuments({ limit: 10_000 }).results
    const byKey = [...all].sort((a, b) => compareDocumentKeys(String(a.id), String(b.id)))
    for (const [offset, limit] of [
      [0, 20],
      [37, 50],
      [300, 100],
    ] as const) {
      const page = merged(parts, { offset, limit })
      expect(page.total).toBe(all.length)
      expect(page.results).toEqual(byKey.slice(offset, offset + limit))
    }
    const wanted = [docs[4]!.id, docs[2]!.id, docs[1]!.id] as (string | number)[]
    const page = merged(parts, { ids: wanted, fields: ['id'] })
    expect(page.results.map((d) => d.id)).toEqual(
      wanted
        .filter((id) => all.some((d) => d.id === id))
        .sort((a, b) => compareDocumentKeys(String(a), String(b))),
    )
  })

  it('keeps a document two partitions hold once', () => {
    const pages = parts.map((part) => part.getDocumentsPart({ sort: ['year:asc'], limit: 400 }))
    const copy = pages[0]!.entries[0]!
    pages[1] = { ...pages[1]!, total: pages[1]!.total + 1, entries: [...pages[1]!.entries, copy] }
    const page = mergeDocumentPages({ limit: 400 }, pages)
    expect(page.total).toBe(whole.getDocuments({}).total)
    expect(page.results.filter((d) => d.id === copy.document.id)).toHaveLength(1)
  })
})
