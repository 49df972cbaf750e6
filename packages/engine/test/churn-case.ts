// Shared by churn.test.ts and churn.soak.test.ts: documents, engines and the comparison of a
// churned index with a fresh one holding the same documents.

import { Rng, testSeed } from '@shoal/testkit/rng'
import { afterEach, expect } from 'vitest'
import {
  type EmbedderSettings,
  type Engine,
  type IndexStorageStats,
  open,
  type SearchResult,
} from '../src/index.ts'
import { removeDir, tempDir } from './helpers.ts'

export const WORDS =
  'alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar'
    .split(' ')
    .concat(Array.from({ length: 400 }, (_, i) => `w${i.toString(36)}`))
const SECTIONS = ['admin', 'devel', 'editors', 'games', 'httpd', 'libs', 'net', 'science']

export interface Churned {
  id: number
  title: string
  body: string
  section: string
  size: number
  round: number
  _vectors?: { v: number[] }
}

export function makeDoc(rng: Rng, id: number, round: number, dimensions: number): Churned {
  const words = (n: number) => Array.from({ length: n }, () => rng.pick(WORDS)).join(' ')
  const doc: Churned = {
    id,
    title: words(3),
    body: words(3 + rng.int(8)),
    section: rng.pick(SECTIONS),
    size: rng.int(1000),
    round,
  }
  if (dimensions > 0) doc._vectors = { v: Array.from({ length: dimensions }, () => rng.gaussian()) }
  return doc
}

const SETTINGS = {
  searchableAttributes: ['title', 'body'],
  filterableAttributes: ['section', 'size', 'round'],
}

const engines: { engine: Engine; dir: string }[] = []

export async function fresh(embedder?: number): Promise<Engine> {
  const dir = await tempDir()
  const engine = await open(dir, { sync: 'none', snapshotEvery: 50 })
  engines.push({ engine, dir })
  const embedders: Record<string, EmbedderSettings> =
    embedder === undefined ? {} : { v: { source: 'userProvided', dimensions: embedder } }
  await engine.createIndex('docs', { primaryKey: 'id', settings: { ...SETTINGS, embedders } })
  return engine
}

afterEach(async () => {
  for (const { engine, dir } of engines.splice(0)) {
    await engine.close()
    await removeDir(dir)
  }
})

/**
 * The scores in order, and the ids of every hit scoring above the last one: among documents
 * tied at the cut, which ones make the page depends on their internal ids.
 */
export function canonical(result: SearchResult): { scores: number[]; ids: string[] } {
  const scores = result.hits.map((hit) => hit._rankingScore as number)
  const last = scores.at(-1)
  const ids = result.hits
    .filter((hit) => (hit._rankingScore as number) > (last ?? 0))
    .map((hit) => `${(hit._rankingScore as number).toFixed(5)} ${String(hit.id)}`)
    .sort()
  return { scores, ids }
}

function expectWithin(churned: number, base: number, ratio: number, what: string): void {
  expect(churned, `${what}: churned ${churned}, fresh ${base}`).toBeLessThanOrEqual(
    Math.max(base * ratio, base + 64),
  )
}

export function expectFlat(churned: IndexStorageStats, base: IndexStorageStats): void {
  expect(churned.documents).toBe(base.documents)
  expectWithin(churned.idSpace, base.idSpace, 1.2, 'id space')
  expectWithin(churned.liveBitsetBytes, base.liveBitsetBytes, 1.2, 'live bitset bytes')
  expectWithin(churned.fieldEntries, base.fieldEntries, 1.2, 'filter and facet entries')
  expect(churned.text.documents).toBe(base.text.documents)
  expectWithin(churned.text.documents + churned.text.removed, base.text.documents, 1.2, 'text documents held')
  expectWithin(churned.text.bytes, base.text.bytes, 1.2, 'text bytes')
}

export const QUERIES = ['alpha bravo', 'w1 w2 w3', 'hotel', 'kilo lima mike', 'w9']

/**
 * Replaces the same 10k documents `rounds` times (ten shuffled batches a round), then checks
 * search results, facets and structure sizes against a fresh index of the final documents.
 */
export async function replaceRounds(rounds: number): Promise<void> {
  const seed = testSeed(24)
  const rng = new Rng(seed)
  const count = 10_000
  const churned = await fresh()
  const docs = churned.index('docs')
  let current: Churned[] = []
  for (let round = 0; round < rounds; round++) {
    current = Array.from({ length: count }, (_, id) => makeDoc(rng, id, round, 0))
    // Each round replaces every document, in ten batches of a shuffled order.
    const order = rng.shuffle(current.slice())
    for (let at = 0; at < count; at += 1000) await docs.addDocuments(order.slice(at, at + 1000))
    if (round % 10 === 0) docs.search({ q: rng.pick(WORDS) })
  }
  const baseline = await fresh()
  await baseline.index('docs').addDocuments(current)
  // The churned engine wrote snapshots (every 50 commands), and a snapshot encodes every term's
  // postings; a search encodes only the terms it reads. Both are compared fully encoded.
  await baseline.snapshot()
  await churned.snapshot()
  const base = baseline.index('docs')
  for (const q of QUERIES) {
    const params = { q, limit: 50, showRankingScore: true, filter: 'size < 500' }
    expect(canonical(docs.search(params)), `seed ${seed}, q ${q}`).toEqual(canonical(base.search(params)))
  }
  const facets = { facets: ['section'], filter: `round = ${rounds - 1}` }
  expect(docs.search(facets).facetDistribution).toEqual(base.search(facets).facetDistribution)
  expectFlat(docs.storageStats(), base.storageStats())
}
