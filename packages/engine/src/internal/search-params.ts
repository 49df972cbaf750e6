/** Validation of search requests at the boundary: bad input gets a typed `invalid_search_*` error. */

import { InvalidSearchError } from '../errors.ts'
import type { Filter, SearchParams, Settings } from '../types.ts'
import { isPlainObject } from './document-path.ts'
import { filterableNames, isFilterable, literalFilterable } from './filterable-rules.ts'
import { deadlineOf } from './search-cutoff.ts'
import { checkExtras, type SearchExtras } from './search-extras.ts'
import { isCovered } from './settings.ts'
import { rankingPlan } from './settings-ranking.ts'

export interface SortRule {
  attribute: string
  descending: boolean
}

export interface CheckedSearch extends SearchExtras {
  q: string
  vector: Float32Array | undefined
  embedder: string | undefined
  semanticRatio: number
  filter: Filter | undefined
  facets: string[] | undefined
  /**
   * Every key the search orders by, in rank order: the `sort` parameter and the custom ranking
   * rules, placed by the `rankingRules` setting.
   */
  sort: SortRule[]
  /** How many of `sort` outrank relevance (the score); null when the ranking rules have none. */
  relevanceAt: number | null
  offset: number
  limit: number
  attributesToRetrieve: string[] | undefined
  showRankingScore: boolean
  retrieveVectors: boolean
  /** Set when `page` or `hitsPerPage` is given: exhaustive pagination with exact totals. */
  pages: { page: number; hitsPerPage: number } | undefined
  rankingScoreThreshold: number | undefined
  distinct: string | undefined
  /** Undefined: every document matching any query word, ranked by BM25. */
  matchingStrategy: MatchingStrategy | undefined
  attributesToSearchOn: string[] | undefined
  /** Whether `typoTolerance.disableOnAttributes` narrows the matches (a keyword part, typos on). */
  typoAttributes: boolean
  format: FormatRequest | undefined
  /** `searchCutoffMs` from the search's start (`performance.now()` time); undefined: no cutoff. */
  deadline: number | undefined
}

export type MatchingStrategy = 'last' | 'all' | 'frequency'

/** What `_formatted` and `_matchesPosition` are asked for. */
export interface FormatRequest {
  highlight: string[]
  crop: { attribute: string; words: number | undefined }[]
  cropLength: number
  cropMarker: string
  preTag: string
  postTag: string
  showMatchesPosition: boolean
}

const KNOWN = new Set([
  'page',
  'hitsPerPage',
  'rankingScoreThreshold',
  'distinct',
  'matchingStrategy',
  'attributesToSearchOn',
  'attributesToHighlight',
  'highlightPreTag',
  'highlightPostTag',
  'attributesToCrop',
  'cropLength',
  'cropMarker',
  'showMatchesPosition',
  'q',
  'vector',
  'hybrid',
  'filter',
  'facets',
  'sort',
  'offset',
  'limit',
  'attributesToRetrieve',
  'showRankingScore',
  'retrieveVectors',
  'locales',
  'showRankingScoreDetails',
  'showPerformanceDetails',
])

export function checkSearch(params: SearchParams | undefined, settings: Settings): CheckedSearch {
  const p = (params ?? {}) as Record<string, unknown>
  if (!isPlainObject(p)) throw new InvalidSearchError('params', 'Search parameters must be an object.')
  for (const key of Object.keys(p)) {
    if (!KNOWN.has(key) && p[key] !== undefined) {
      throw new InvalidSearchError(key, `Unknown search parameter \`${key}\`.`)
    }
  }
  const q = p.q ?? ''
  if (typeof q !== 'string')
    throw new InvalidSearchError('q', 'Invalid value type at `.q`: expected a string.')
  const offset = count(p.offset, 0, 'offset')
  const limit = count(p.limit, 20, 'limit')
  const { embedder, semanticRatio, vector } = checkVector(p, settings)
  const filter = p.filter === null ? undefined : (p.filter as Filter | undefined)
  const { sort, relevanceAt } = rankOrder(checkSort(p.sort, settings), settings)
  return {
    q,
    vector,
    embedder,
    semanticRatio,
    filter,
    facets: checkFacets(p.facets, settings),
    sort,
    relevanceAt,
    offset,
    limit,
    attributesToRetrieve: stringList(p.attributesToRetrieve, 'attributesToRetrieve'),
    showRankingScore: flag(p.showRankingScore, 'showRankingScore'),
    retrieveVectors: flag(p.retrieveVectors, 'retrieveVectors'),
    pages: checkPages(p),
    rankingScoreThreshold: checkThreshold(p.rankingScoreThreshold),
    distinct: checkDistinct(p.distinct, settings) ?? settings.distinctAttribute ?? undefined,
    matchingStrategy: checkStrategy(p.matchingStrategy),
    attributesToSearchOn: checkSearchOn(p.attributesToSearchOn, settings),
    typoAttributes:
      settings.typoTolerance.enabled &&
      settings.typoTolerance.disableOnAttributes.length > 0 &&
      q.trim() !== '',
    format: checkFormat(p),
    deadline: deadlineOf(settings.searchCutoffMs),
    ...checkExtras(p),
  }
}

function checkPages(p: Record<string, unknown>): CheckedSearch['pages'] {
  const page = count(p.page, 1, 'page')
  const hitsPerPage = count(p.hitsPerPage, 20, 'hitsPerPage')
  const given =
    (p.page !== undefined && p.page !== null) || (p.hitsPerPage !== undefined && p.hitsPerPage !== null)
  return given ? { page, hitsPerPage } : undefined
}

function checkThreshold(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw new InvalidSearchError(
      'rankingScoreThreshold',
      `Invalid value at \`.rankingScoreThreshold\`: the value of \`rankingScoreThreshold\` is invalid, expected a float between \`0.0\` and \`1.0\`.`,
    )
  }
  return value
}

function checkDistinct(value: unknown, settings: Settings): string | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string')
    throw new InvalidSearchError('distinct', 'Invalid value type at `.distinct`: expected a string.')
  if (!isFilterable(settings.filterableAttributes, value)) {
    throw new InvalidSearchError(
      'distinct',
      `Attribute \`${value}\` is not filterable and thus, cannot be used as distinct attribute. ${available('filterable', filterableNames(settings.filterableAttributes))}`,
    )
  }
  return value
}

function checkStrategy(value: unknown): MatchingStrategy | undefined {
  if (value === undefined || value === null) return undefined
  if (value !== 'last' && value !== 'all' && value !== 'frequency') {
    throw new InvalidSearchError(
      'matchingStrategy',
      `Unknown value \`${String(value)}\` at \`.matchingStrategy\`: expected one of \`last\`, \`all\`, \`frequency\`.`,
    )
  }
  return value
}

function checkSearchOn(value: unknown, settings: Settings): string[] | undefined {
  const attributes = stringList(value, 'attributesToSearchOn')
  if (attributes === undefined || attributes.includes('*')) return undefined
  const searchable = settings.searchableAttributes
  for (const attribute of attributes) {
    if (!searchable.includes('*') && !isCovered(attribute, searchable)) {
      throw new InvalidSearchError(
        'attributesToSearchOn',
        `Attribute \`${attribute}\` is not searchable. ${available('searchable', searchable)}`,
      )
    }
  }
  return attributes
}

function available(kind: string, attributes: readonly string[]): string {
  return attributes.length === 0
    ? `This index does not have configured ${kind} attributes.`
    : `Available ${kind} attributes are: \`${attributes.join(', ')}\`.`
}

function text(value: unknown, name: string, fallback: string): string {
  if (value === undefined || value === null) return fallback
  if (typeof value !== 'string')
    throw new InvalidSearchError(name, `Invalid value type at \`.${name}\`: expected a string.`)
  return value
}

function checkFormat(p: Record<string, unknown>): FormatRequest | undefined {
  const highlight = stringList(p.attributesToHighlight, 'attributesToHighlight') ?? []
  const crop = (stringList(p.attributesToCrop, 'attributesToCrop') ?? []).map((entry) => {
    const colon = entry.lastIndexOf(':')
    const words = colon < 0 ? Number.NaN : Number(entry.slice(colon + 1))
    if (colon >= 0 && /^\d+$/.test(entry.slice(colon + 1)) && Number.isSafeInteger(words)) {
      return { attribute: entry.slice(0, colon), words }
    }
    return { attribute: entry, words: undefined }
  })
  const format: FormatRequest = {
    highlight,
    crop,
    cropLength: count(p.cropLength, 10, 'cropLength'),
    cropMarker: text(p.cropMarker, 'cropMarker', '…'),
    preTag: text(p.highlightPreTag, 'highlightPreTag', '<em>'),
    postTag: text(p.highlightPostTag, 'highlightPostTag', '</em>'),
    showMatchesPosition: flag(p.showMatchesPosition, 'showMatchesPosition'),
  }
  return highlight.length > 0 || crop.length > 0 || format.showMatchesPosition ? format : undefined
}

export function count(value: unknown, fallback: number, name: string): number {
  if (value === undefined || value === null) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidSearchError(name, `Invalid value at \`.${name}\`: expected a non-negative integer.`)
  }
  return value
}

function flag(value: unknown, name: string): boolean {
  if (value === undefined || value === null) return false
  if (typeof value !== 'boolean')
    throw new InvalidSearchError(name, `Invalid value type at \`.${name}\`: expected a boolean.`)
  return value
}

export function stringList(value: unknown, name: string): string[] | undefined {
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw new InvalidSearchError(name, `Invalid value type at \`.${name}\`: expected an array of strings.`)
  }
  return value as string[]
}

function checkVector(
  p: Record<string, unknown>,
  settings: Settings,
): { embedder: string | undefined; semanticRatio: number; vector: Float32Array | undefined } {
  let embedder: string | undefined
  let semanticRatio = 0.5
  if (p.hybrid !== undefined && p.hybrid !== null) {
    if (!isPlainObject(p.hybrid))
      throw new InvalidSearchError('hybrid', 'Invalid value type at `.hybrid`: expected an object.')
    const h = p.hybrid
    if (typeof h.embedder !== 'string') {
      throw new InvalidSearchError('embedder', 'Invalid value type at `.hybrid.embedder`: expected a string.')
    }
    embedder = h.embedder
    if (h.semanticRatio !== undefined) {
      if (typeof h.semanticRatio !== 'number' || !(h.semanticRatio >= 0 && h.semanticRatio <= 1)) {
        throw new InvalidSearchError(
          'semanticRatio',
          'Invalid value at `.hybrid.semanticRatio`: the value must be between 0.0 and 1.0.',
        )
      }
      semanticRatio = h.semanticRatio
    }
  }
  let vector: Float32Array | undefined
  if (p.vector !== undefined && p.vector !== null) {
    if (!Array.isArray(p.vector) || p.vector.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
      throw new InvalidSearchError(
        'vector',
        'Invalid value type at `.vector`: expected an array of finite numbers.',
      )
    }
    if (embedder === undefined) {
      const names = Object.keys(settings.embedders)
      if (names.length !== 1) {
        throw new InvalidSearchError(
          'embedder',
          'A `vector` search needs `hybrid.embedder` to name the embedder.',
        )
      }
      embedder = names[0]!
      semanticRatio = 1
    }
    vector = Float32Array.from(p.vector as number[])
  }
  if (embedder !== undefined) {
    const spec = settings.embedders[embedder]
    if (spec === undefined) {
      const known = Object.keys(settings.embedders)
      throw new InvalidSearchError(
        'embedder',
        `Cannot find embedder with name \`${embedder}\`.${known.length > 0 ? ` Available embedders: ${known.map((n) => `\`${n}\``).join(', ')}.` : ''}`,
      )
    }
    if (vector === undefined && semanticRatio > 0) {
      throw new InvalidSearchError(
        'vector',
        spec.source === 'rest'
          ? `Embedder \`${embedder}\` is a \`rest\` embedder, which the engine does not call: a semantic or hybrid search needs the query \`vector\` (the Shoal server embeds \`q\` for it).`
          : `Embedder \`${embedder}\` is user-provided: a semantic or hybrid search needs the query \`vector\`.`,
      )
    }
    if (vector !== undefined && vector.length !== spec.dimensions) {
      throw new InvalidSearchError(
        'vector',
        `Invalid vector dimensions: expected ${spec.dimensions}, found ${vector.length}.`,
      )
    }
    if (vector?.some((x) => !Number.isFinite(x))) {
      throw new InvalidSearchError(
        'vector',
        'Invalid value at `.vector`: every component must be a finite 32-bit float.',
      )
    }
    if (vector !== undefined && (spec.distance ?? 'cosine') === 'cosine' && vector.every((x) => x === 0)) {
      throw new InvalidSearchError(
        'vector',
        'Invalid value at `.vector`: a zero vector has no direction under cosine distance.',
      )
    }
  }
  return { embedder, semanticRatio, vector }
}

function checkFacets(value: unknown, settings: Settings): string[] | undefined {
  const facets = stringList(value, 'facets')
  if (facets === undefined) return undefined
  const out: string[] = []
  for (const facet of facets) {
    if (facet === '*') {
      out.push(...literalFilterable(settings.filterableAttributes))
      continue
    }
    if (!isFilterable(settings.filterableAttributes, facet)) {
      const names = filterableNames(settings.filterableAttributes)
      const available =
        names.length === 0
          ? 'This index does not have configured filterable attributes.'
          : `Available facetable attributes are: \`${names.join(', ')}\`.`
      throw new InvalidSearchError(
        'facets',
        `Invalid facet distribution, attribute \`${facet}\` is not filterable. ${available}`,
      )
    }
    out.push(facet)
  }
  return [...new Set(out)]
}

/** The search's `sort` rules and the custom ranking rules, in the order `rankingRules` gives. */
function rankOrder(
  requested: SortRule[],
  settings: Settings,
): { sort: SortRule[]; relevanceAt: number | null } {
  const sort: SortRule[] = []
  let relevanceAt: number | null = null
  for (const rule of rankingPlan(settings.rankingRules)) {
    if (rule.kind === 'relevance') relevanceAt = sort.length
    else if (rule.kind === 'sort') sort.push(...requested)
    else sort.push({ attribute: rule.attribute, descending: rule.descending })
  }
  return { sort, relevanceAt }
}

function checkSort(value: unknown, settings: Settings): SortRule[] {
  const rules = stringList(value, 'sort')
  if (rules === undefined) return []
  if (rules.length > 0 && !settings.rankingRules.includes('sort')) {
    throw new InvalidSearchError(
      'sort',
      'You must specify where `sort` is listed in the rankingRules setting to use the sort parameter at search time.',
    )
  }
  return parseSortRules(rules, settings)
}

/** `attribute:asc|desc` rules over sortable attributes; `InvalidSearchError('sort')` otherwise. */
export function parseSortRules(rules: string[], settings: Settings): SortRule[] {
  return rules.map((rule) => {
    const colon = rule.lastIndexOf(':')
    const attribute = rule.slice(0, colon)
    const direction = rule.slice(colon + 1)
    if (colon <= 0 || (direction !== 'asc' && direction !== 'desc')) {
      throw new InvalidSearchError(
        'sort',
        `Invalid syntax for the sort parameter: expected expression ending by \`:asc\` or \`:desc\`, found \`${rule}\`.`,
      )
    }
    if (!isCovered(attribute, settings.sortableAttributes)) {
      const available =
        settings.sortableAttributes.length === 0
          ? 'This index does not have configured sortable attributes.'
          : `Available sortable attributes are: \`${settings.sortableAttributes.join(', ')}\`.`
      throw new InvalidSearchError('sort', `Attribute \`${attribute}\` is not sortable. ${available}`)
    }
    return { attribute, descending: direction === 'desc' }
  })
}
