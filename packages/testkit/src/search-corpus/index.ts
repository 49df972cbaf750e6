import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import type { Rng } from '../rng/index.ts'
import { sharedPath } from '../shared/index.ts'

/**
 * Search test data from the Debian corpus, shared by the tests that compare a sharded index
 * with an unsharded one (in-process and across real processes): documents with seeded sizes,
 * tags and clustered vectors, and generated queries of every kind.
 */

export type CorpusDoc = Record<string, unknown> & { id: number; summary: string }
export type CorpusQuery = Record<string, unknown>

/** The index settings the corpus documents are meant for (`dimensions` of the `default` embedder). */
export function corpusSettings(dimensions: number) {
  return {
    searchableAttributes: ['package', 'summary', 'description'],
    filterableAttributes: ['section', 'size', 'popular', 'tags'],
    sortableAttributes: ['size', 'package'],
    embedders: { default: { source: 'userProvided' as const, dimensions } },
  }
}

interface CorpusLine {
  id: number
  package: string
  section: string
  summary: string
  description: string
}

/** Every `every`-th package of the corpus, with seeded sizes, tags and clustered vectors. */
export function loadSearchCorpus(rng: Rng, options: { every: number; dimensions: number }): CorpusDoc[] {
  const { every, dimensions } = options
  const lines = gunzipSync(readFileSync(sharedPath('datasets/debian-packages.jsonl.gz')))
    .toString('utf8')
    .split('\n')
  const centres = Array.from({ length: 8 }, () => Array.from({ length: dimensions }, () => rng.gaussian()))
  const docs: CorpusDoc[] = []
  for (let i = 0; i < lines.length; i += every) {
    if (lines[i]!.trim() === '') continue
    const line = JSON.parse(lines[i]!) as CorpusLine
    const centre = centres[rng.int(centres.length)]!
    const vector = centre.map((c, j) => c + rng.gaussian() * 0.6 * (1 + j) ** -0.35)
    docs.push({
      id: line.id,
      package: line.package,
      section: line.section,
      summary: line.summary,
      description: line.description,
      // Few distinct sizes, so that sorting by size ties and the primary key decides.
      size: rng.int(400),
      popular: rng.chance(0.2),
      tags: rng.chance(0.5) ? [line.section.split('/')[0]!, rng.chance(0.5) ? 'lib' : 'app'] : [],
      _vectors: { default: vector.map((x) => Math.fround(x)) },
    })
  }
  return docs
}

/** Words of real summaries, sometimes cut short (prefix search) or misspelt (typo tolerance). */
export function corpusQueryText(rng: Rng, docs: readonly CorpusDoc[]): string {
  const words = docs[rng.int(docs.length)]!.summary.split(/[^A-Za-z0-9]+/).filter((w) => w.length > 1)
  if (words.length === 0) return 'library'
  const start = rng.int(words.length)
  const picked = words.slice(start, start + rng.range(1, 3)).map((w) => w.toLowerCase())
  const last = picked.length - 1
  if (rng.chance(0.3) && picked[last]!.length > 3)
    picked[last] = picked[last]!.slice(0, rng.range(2, picked[last]!.length - 1))
  if (rng.chance(0.2) && picked[0]!.length > 5) {
    const w = picked[0]!
    const at = rng.int(w.length - 1)
    picked[0] = w.slice(0, at) + w[at + 1] + w[at] + w.slice(at + 2)
  }
  return picked.join(' ')
}

export function corpusQueryVector(rng: Rng, dimensions: number): number[] {
  return Array.from({ length: dimensions }, () => rng.gaussian())
}

const SECTIONS = ['libs', 'utils', 'devel', 'python', 'doc', 'net', 'admin', 'science', 'games', 'x11']

/** What `corpusSearchParams` may generate beyond the default kinds. */
export interface CorpusSearchOptions {
  /**
   * Also what narrows a ranked list after ranking: phrases and exclusions in `q`,
   * `matchingStrategy`, `attributesToSearchOn`, `rankingScoreThreshold` and `distinct`.
   * Drawn after everything else, so the default draws stay as they were. @defaultValue false
   */
  narrowing?: boolean
}

/**
 * Search parameters of every kind: keyword (with prefixes and typos), filtered, faceted, sorted,
 * paginated both ways, vector, hybrid and placeholder, all with `showRankingScore`; with
 * `narrowing`, also the parameters that narrow the ranked list.
 */
export function corpusSearchParams(
  rng: Rng,
  docs: readonly CorpusDoc[],
  dimensions: number,
  options: CorpusSearchOptions = {},
): CorpusQuery {
  const params: CorpusQuery = { showRankingScore: true }
  const kind = rng.pick(['keyword', 'keyword', 'keyword', 'vector', 'hybrid', 'hybrid', 'placeholder'])
  if (kind !== 'vector' && kind !== 'placeholder') params.q = corpusQueryText(rng, docs)
  if (kind === 'vector' || kind === 'hybrid') params.vector = corpusQueryVector(rng, dimensions)
  if (kind === 'hybrid') params.hybrid = { embedder: 'default', semanticRatio: rng.pick([0.1, 0.5, 0.9]) }
  if (rng.chance(0.35)) {
    params.filter = rng.pick<string | (string | string[])[]>([
      `section = ${rng.pick(SECTIONS)}`,
      `size < ${rng.range(20, 300)}`,
      'popular = true',
      `tags = lib AND size >= ${rng.int(200)}`,
      [[`section = ${rng.pick(SECTIONS)}`, `section = ${rng.pick(SECTIONS)}`], 'popular = false'],
    ])
  }
  if (rng.chance(0.3))
    params.facets = rng.pick([['section'], ['section', 'size'], ['*'], ['tags', 'popular']])
  if (rng.chance(0.25)) params.sort = [rng.pick(['size:asc', 'size:desc', 'package:asc', 'package:desc'])]
  if (rng.chance(0.3)) {
    params.page = rng.range(1, 4)
    params.hitsPerPage = rng.range(1, 25)
  } else {
    if (rng.chance(0.5)) params.offset = rng.int(40)
    if (rng.chance(0.7)) params.limit = rng.range(0, 40)
  }
  if (rng.chance(0.2)) params.attributesToRetrieve = ['id', 'package', 'size']
  if (rng.chance(0.15)) {
    params.attributesToHighlight = ['summary']
    params.attributesToCrop = ['description:6']
    params.showMatchesPosition = true
  }
  if (rng.chance(0.05)) params.retrieveVectors = true
  if (options.narrowing === true) narrow(rng, docs, params)
  return params
}

/** Adds narrowing parameters to `params`, each now and then (about one query in two gets one). */
function narrow(rng: Rng, docs: readonly CorpusDoc[], params: CorpusQuery): void {
  // A vector search without `hybrid` has no text to narrow.
  const text = params.vector === undefined || params.hybrid !== undefined
  if (rng.chance(0.2) && text) {
    const words = docs[rng.int(docs.length)]!.summary.split(/[^A-Za-z0-9]+/).filter((w) => w.length > 1)
    const start = rng.int(Math.max(1, words.length - 1))
    const phrase = words
      .slice(start, start + 2)
      .join(' ')
      .toLowerCase()
    const excluded = rng.pick(['library', 'python', 'data', 'files', 'development', 'module'])
    const part = rng.pick([`"${phrase}"`, `-${excluded}`, `-"${phrase}"`])
    const q = typeof params.q === 'string' ? params.q : ''
    params.q = rng.chance(0.5) ? `${part} ${q}`.trim() : `${q} ${part}`.trim()
  }
  if (rng.chance(0.2)) params.matchingStrategy = rng.pick(['last', 'all', 'frequency'])
  if (rng.chance(0.1)) params.attributesToSearchOn = rng.pick([['summary'], ['package', 'description']])
  if (rng.chance(0.12)) params.rankingScoreThreshold = rng.pick([0.05, 0.3, 0.6, 0.9])
  // `tags` holds several values per document, `size` numbers, `popular` booleans.
  if (rng.chance(0.12)) params.distinct = rng.pick(['section', 'tags', 'size', 'popular'])
}
