/**
 * Search semantics against a plain-TypeScript model on generated data:
 * random writes (add, replace, merge, delete), then random placeholder
 * searches with filters, facets, sort and pagination. The model keeps the
 * documents in slots ordered as the documents route lists them (by internal
 * id): a replaced document keeps its slot, a deleted one frees it, and a new
 * one takes the first free slot (else a new one at the end). Search orders
 * what ties (here: every document of a placeholder search) by primary key
 * instead, so that a sharded index answers alike (docs/distributed-search.md).
 * It implements Meilisearch's filter, facet and sort rules directly on the JSON.
 */
import { Rng, testSeed } from '@shoal/testkit/rng'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Doc, type Engine, type Index, open } from '../src/index.ts'
import { removeDir, tempDir } from './helpers.ts'

const SEED = testSeed(20261129)
const GENRES = ['Action', 'action', 'Drama', 'comedy', 'Sci-Fi']
const TAGS = ['a', 'b', 'c', 'd']

function randomDoc(rng: Rng, id: number): Doc {
  const doc: Doc = { id }
  if (rng.chance(0.85)) doc.genre = rng.pick(GENRES)
  if (rng.chance(0.9)) doc.price = rng.chance(0.5) ? rng.int(50) : Math.round(rng.next() * 5000) / 100
  if (rng.chance(0.8)) doc.tags = TAGS.filter(() => rng.chance(0.4))
  if (rng.chance(0.7)) doc.rating = rng.chance(0.2) ? null : rng.range(1, 5)
  if (rng.chance(0.7)) doc.meta = rng.chance(0.1) ? {} : { year: rng.range(1990, 2025) }
  if (rng.chance(0.5)) doc.available = rng.chance(0.5)
  return doc
}

// ---- the model -------------------------------------------------------------------------------

function valuesAt(doc: Doc, path: string): unknown[] {
  let nodes: unknown[] = [doc]
  for (const part of path.split('.')) {
    const next: unknown[] = []
    for (const node of nodes.flatMap((n) => (Array.isArray(n) ? n : [n]))) {
      if (node !== null && typeof node === 'object' && !Array.isArray(node) && part in node) {
        next.push((node as Record<string, unknown>)[part])
      }
    }
    nodes = next
  }
  return nodes
}

function leaves(doc: Doc, path: string): unknown[] {
  return valuesAt(doc, path).flatMap((v) => (Array.isArray(v) ? v : [v]))
}

function equals(value: unknown, literal: string): boolean {
  if (typeof value === 'string') return value.toLowerCase() === literal.toLowerCase()
  if (typeof value === 'boolean') return String(value) === literal.toLowerCase()
  if (typeof value === 'number') return literal.trim() !== '' && Number(literal) === value
  return false
}

interface Generated {
  text: string
  test: (doc: Doc) => boolean
}

function randomLeaf(rng: Rng): Generated {
  const numeric = (path: string, test: (n: number) => boolean) => (doc: Doc) =>
    leaves(doc, path).some((v) => typeof v === 'number' && test(v))
  const eq = (path: string, literal: string) => (doc: Doc) =>
    leaves(doc, path).some((v) => equals(v, literal))
  switch (rng.int(12)) {
    case 0: {
      const g = rng.pick(GENRES).toLowerCase()
      return { text: `genre = "${g}"`, test: eq('genre', g) }
    }
    case 1: {
      const g = rng.pick(GENRES)
      return { text: `genre != '${g}'`, test: (d) => !eq('genre', g)(d) }
    }
    case 2: {
      const n = rng.int(50)
      const op = rng.pick(['>', '>=', '<', '<='])
      const cmp: Record<string, (v: number) => boolean> = {
        '>': (v) => v > n,
        '>=': (v) => v >= n,
        '<': (v) => v < n,
        '<=': (v) => v <= n,
      }
      return { text: `price ${op} ${n}`, test: numeric('price', cmp[op]!) }
    }
    case 3: {
      const a = rng.int(30)
      const b = a + rng.int(30)
      return { text: `price ${a} TO ${b}`, test: numeric('price', (v) => v >= a && v <= b) }
    }
    case 4: {
      const picked = TAGS.filter(() => rng.chance(0.4))
      const list = picked.length === 0 ? ['x'] : picked
      const inList = (d: Doc) => list.some((t) => eq('tags', t)(d))
      return rng.chance(0.5)
        ? { text: `tags IN [${list.join(', ')}]`, test: inList }
        : { text: `tags NOT IN [${list.join(',')}]`, test: (d) => !inList(d) }
    }
    case 5:
      return rng.chance(0.5)
        ? { text: 'rating EXISTS', test: (d) => 'rating' in d }
        : { text: 'rating NOT EXISTS', test: (d) => !('rating' in d) }
    case 6:
      return rng.chance(0.5)
        ? { text: 'rating IS NULL', test: (d) => d.rating === null }
        : { text: 'rating IS NOT NULL', test: (d) => d.rating !== null }
    case 7: {
      const empty = (d: Doc) => Array.isArray(d.tags) && d.tags.length === 0
      return rng.chance(0.5)
        ? { text: 'tags IS EMPTY', test: empty }
        : { text: 'tags IS NOT EMPTY', test: (d) => !empty(d) }
    }
    case 8: {
      const y = rng.range(1990, 2025)
      return { text: `meta.year >= ${y}`, test: numeric('meta.year', (v) => v >= y) }
    }
    case 9:
      return {
        text: 'meta IS EMPTY',
        test: (d) => d.meta !== undefined && Object.keys(d.meta as object).length === 0,
      }
    case 10: {
      const b = rng.chance(0.5)
      return { text: `available = ${b}`, test: (d) => d.available === b }
    }
    default: {
      const r = rng.range(1, 5)
      return { text: `rating = ${r}`, test: (d) => d.rating === r }
    }
  }
}

function randomFilter(rng: Rng, depth: number): Generated {
  if (depth === 0 || rng.chance(0.4)) return randomLeaf(rng)
  const a = randomFilter(rng, depth - 1)
  const b = randomFilter(rng, depth - 1)
  switch (rng.int(3)) {
    case 0:
      return { text: `(${a.text}) AND (${b.text})`, test: (d) => a.test(d) && b.test(d) }
    case 1:
      return { text: `(${a.text}) OR (${b.text})`, test: (d) => a.test(d) || b.test(d) }
    default:
      return { text: `NOT (${a.text})`, test: (d) => !a.test(d) }
  }
}

type Key = { rank: number; n: number; s: string }

function sortKey(doc: Doc, path: string, descending: boolean): Key {
  const keys: Key[] = []
  for (const v of leaves(doc, path)) {
    if (typeof v === 'number') keys.push({ rank: 0, n: v, s: '' })
    else if (typeof v === 'string') keys.push({ rank: 1, n: 0, s: v.toLowerCase() })
    else if (typeof v === 'boolean') keys.push({ rank: 1, n: 0, s: String(v) })
  }
  if (keys.length === 0) return { rank: 2, n: 0, s: '' }
  keys.sort(compareKeys)
  return descending ? keys[keys.length - 1]! : keys[0]!
}

function compareKeys(a: Key, b: Key): number {
  if (a.rank !== b.rank) return a.rank - b.rank
  if (a.rank === 0) return a.n - b.n
  return a.s < b.s ? -1 : a.s > b.s ? 1 : 0
}

/** Search's order of last resort: the primary key (integers here, so by value). */
function byKey(docs: Doc[]): Doc[] {
  return [...docs].sort((a, b) => (a.id as number) - (b.id as number))
}

function modelSort(docs: Doc[], rules: [string, boolean][]): Doc[] {
  return docs
    .map((doc, position) => ({ doc, position }))
    .sort((x, y) => {
      for (const [path, descending] of rules) {
        const a = sortKey(x.doc, path, descending)
        const b = sortKey(y.doc, path, descending)
        if (a.rank === 2 || b.rank === 2) {
          if (a.rank !== b.rank) return a.rank === 2 ? 1 : -1
          continue
        }
        const c = compareKeys(a, b)
        if (c !== 0) return descending ? -c : c
      }
      return x.position - y.position
    })
    .map((e) => e.doc)
}

function modelFacets(docs: Doc[], facet: string): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const doc of docs) {
    const seen = new Set<string>()
    for (const v of leaves(doc, facet)) {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
        seen.add(String(v).toLowerCase())
    }
    for (const key of seen) counts[key] = (counts[key] ?? 0) + 1
  }
  return counts
}

function lowerKeys(counts: Record<string, number> | undefined): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(counts ?? {})) out[k.toLowerCase()] = (out[k.toLowerCase()] ?? 0) + v
  return out
}

// ---- the test --------------------------------------------------------------------------------

describe(`search semantics against the reference model (SEED=${SEED})`, () => {
  let engine: Engine
  let dir: string
  let index: Index
  const rng = new Rng(SEED)
  let model: Doc[] = []
  // Documents by slot (the engine's internal id); `model` is the occupied slots in order.
  let slots: (Doc | undefined)[] = []
  const keep = (test: (doc: Doc) => boolean) => {
    slots = slots.map((doc) => (doc !== undefined && test(doc) ? doc : undefined))
    while (slots.length > 0 && slots.at(-1) === undefined) slots.pop()
    model = slots.filter((doc) => doc !== undefined)
  }

  beforeAll(async () => {
    dir = await tempDir()
    engine = await open(dir, { sync: 'none' })
    await engine.createIndex('items', {
      primaryKey: 'id',
      settings: {
        filterableAttributes: ['genre', 'price', 'tags', 'rating', 'meta', 'available'],
        sortableAttributes: ['genre', 'price', 'rating', 'meta.year'],
      },
    })
    index = engine.index('items')
    for (let round = 0; round < 12; round++) {
      const batch = Array.from({ length: 60 }, () => randomDoc(rng, rng.int(600)))
      const merge = rng.chance(0.3)
      if (merge) await index.updateDocuments(batch)
      else await index.addDocuments(batch)
      // The batch's final documents, in order of each key's last occurrence.
      const finals = new Map<unknown, Doc>()
      for (const doc of batch) {
        const base = finals.get(doc.id) ?? slots.find((d) => d?.id === doc.id)
        finals.delete(doc.id)
        finals.set(doc.id, merge && base !== undefined ? { ...base, ...doc } : doc)
      }
      for (const [id, doc] of finals) {
        const slot = slots.findIndex((d) => d?.id === id)
        const free = slots.indexOf(undefined)
        if (slot >= 0) slots[slot] = doc
        else if (free >= 0) slots[free] = doc
        else slots.push(doc)
      }
      keep(() => true)
      if (rng.chance(0.5)) {
        const ids = Array.from({ length: 20 }, () => rng.int(600))
        await index.deleteDocuments(ids)
        keep((d) => !ids.includes(d.id as number))
      }
      if (rng.chance(0.3)) {
        const filter = randomFilter(rng, 1)
        await index.deleteDocumentsByFilter(filter.text)
        keep((d) => !filter.test(d))
      }
    }
  })

  afterAll(async () => {
    await engine.close()
    await removeDir(dir)
  })

  it('holds the same documents as the model', () => {
    const page = index.getDocuments({ limit: 10_000 })
    expect(page.total).toBe(model.length)
    expect(page.results).toEqual(model)
  })

  it('random filters, sorts, facets and pages agree with the model', () => {
    for (let q = 0; q < 300; q++) {
      const filter = randomFilter(rng, 3)
      const rules: [string, boolean][] = rng.chance(0.6)
        ? Array.from({ length: rng.range(1, 2) }, () => [
            rng.pick(['genre', 'price', 'rating', 'meta.year']),
            rng.chance(0.5),
          ])
        : []
      const offset = rng.int(40)
      const limit = rng.range(1, 30)
      const facets = rng.chance(0.5) ? ['genre', 'tags'] : undefined
      const result = index.search({
        filter: filter.text,
        sort: rules.map(([path, desc]) => `${path}:${desc ? 'desc' : 'asc'}`),
        offset,
        limit,
        ...(facets === undefined ? {} : { facets }),
      })
      const matching = byKey(model.filter(filter.test))
      const expected = modelSort(matching, rules).slice(offset, offset + limit)
      const context = `filter ${filter.text} sort ${JSON.stringify(rules)} offset ${offset} limit ${limit}`
      expect(
        result.hits.map((h) => h.id),
        context,
      ).toEqual(expected.map((d) => d.id))
      expect(result.estimatedTotalHits, context).toBe(matching.length)
      if (facets !== undefined) {
        for (const facet of facets) {
          expect(lowerKeys(result.facetDistribution?.[facet]), `${context} facet ${facet}`).toEqual(
            modelFacets(matching, facet),
          )
        }
      }
    }
  })

  it('array-form filters agree with the model', () => {
    for (let q = 0; q < 50; q++) {
      const a = randomFilter(rng, 1)
      const b = randomFilter(rng, 1)
      const c = randomFilter(rng, 1)
      const result = index.search({ filter: [[a.text, b.text], c.text], limit: 1000 })
      const expected = byKey(model.filter((d) => (a.test(d) || b.test(d)) && c.test(d)))
      expect(result.hits.map((h) => h.id)).toEqual(expected.map((d) => d.id))
    }
  })
})
