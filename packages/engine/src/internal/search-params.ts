/** Validation of search requests at the boundary: bad input gets a typed `invalid_search_*` error. */

import { InvalidSearchError } from '../errors.ts'
import type { Filter, SearchParams, Settings } from '../types.ts'
import { isPlainObject } from './document-path.ts'
import { isCovered } from './settings.ts'

export interface SortRule {
  attribute: string
  descending: boolean
}

export interface CheckedSearch {
  q: string
  vector: Float32Array | undefined
  embedder: string | undefined
  semanticRatio: number
  filter: Filter | undefined
  facets: string[] | undefined
  sort: SortRule[]
  offset: number
  limit: number
  attributesToRetrieve: string[] | undefined
  showRankingScore: boolean
  retrieveVectors: boolean
}

const KNOWN = new Set([
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
  return {
    q,
    vector,
    embedder,
    semanticRatio,
    filter,
    facets: checkFacets(p.facets, settings),
    sort: checkSort(p.sort, settings),
    offset,
    limit,
    attributesToRetrieve: stringList(p.attributesToRetrieve, 'attributesToRetrieve'),
    showRankingScore: flag(p.showRankingScore, 'showRankingScore'),
    retrieveVectors: flag(p.retrieveVectors, 'retrieveVectors'),
  }
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
        `Embedder \`${embedder}\` is user-provided: a semantic or hybrid search needs the query \`vector\`.`,
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
      out.push(...settings.filterableAttributes)
      continue
    }
    if (!isCovered(facet, settings.filterableAttributes)) {
      const available =
        settings.filterableAttributes.length === 0
          ? 'This index does not have configured filterable attributes.'
          : `Available facetable attributes are: \`${settings.filterableAttributes.join(', ')}\`.`
      throw new InvalidSearchError(
        'facets',
        `Invalid facet distribution, attribute \`${facet}\` is not filterable. ${available}`,
      )
    }
    out.push(facet)
  }
  return [...new Set(out)]
}

function checkSort(value: unknown, settings: Settings): SortRule[] {
  const rules = stringList(value, 'sort')
  if (rules === undefined) return []
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
