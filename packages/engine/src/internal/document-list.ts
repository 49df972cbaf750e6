/**
 * `index.getDocuments`: a page of the live documents, narrowed by `filter` and `ids` (both apply
 * when both are given), in internal order or ordered by `sort` (sortable attributes, then primary
 * key), as Meilisearch's `GET /indexes/{uid}/documents` and `POST .../documents/fetch` answer.
 */

import { InvalidDocumentsQueryError, InvalidFilterError, InvalidSearchError } from '../errors.ts'
import type { Doc, DocumentsPage, GetDocumentsParams } from '../types.ts'
import { Bitset } from './bitset.ts'
import type { IndexState } from './index-state.ts'
import { externalIdKey } from './primary-key.ts'
import { filterDocuments, project } from './search.ts'
import { parseSortRules, stringList } from './search-params.ts'
import { sortRanked } from './search-rank.ts'

export function listDocuments(state: IndexState, opts: GetDocumentsParams): DocumentsPage {
  const offset = documentsCount(opts.offset, 0, 'offset')
  const limit = documentsCount(opts.limit, 20, 'limit')
  const fields = stringList(opts.fields, 'fields')
  const rules = sortRulesOf(state, opts.sort)
  const matched = matchedDocuments(state, opts)
  let ids: ArrayLike<number> = (matched ?? state.live).toArray()
  if (rules.length > 0)
    ids = sortRanked(state, { ids, scores: undefined, total: ids.length }, rules, null).order
  const results: Doc[] = []
  for (let i = offset; i < Math.min(ids.length, offset + limit); i++) {
    results.push(project(state, state.docAt(ids[i]!)!, fields, opts.retrieveVectors === true))
  }
  return { results, offset, limit, total: ids.length }
}

/** The live documents `filter` and `ids` keep (undefined: every one). */
export function matchedDocuments(state: IndexState, opts: GetDocumentsParams): Bitset | undefined {
  let matched: Bitset | undefined
  try {
    matched = filterDocuments(state, opts.filter)
  } catch (error) {
    throw error instanceof InvalidFilterError ? error.withCode('invalid_document_filter') : error
  }
  if (opts.ids !== undefined && opts.ids !== null) {
    const wanted = idsOf(state, opts.ids)
    matched = matched === undefined ? wanted : matched.and(wanted)
  }
  return matched
}

export function sortRulesOf(state: IndexState, sort: unknown) {
  const rules = stringListAs(sort, 'sort')
  if (rules === undefined) return []
  try {
    return parseSortRules(rules, state.settings)
  } catch (error) {
    if (error instanceof InvalidSearchError) throw new InvalidDocumentsQueryError('sort', error.message)
    throw error
  }
}

/** The live documents among `ids`; an id that names no document is left out, as in Meilisearch. */
function idsOf(state: IndexState, ids: unknown): Bitset {
  if (!Array.isArray(ids))
    throw new InvalidDocumentsQueryError('ids', 'Invalid value at `.ids`: expected an array of document ids.')
  const found = new Bitset(state.live.capacity)
  for (const id of ids) {
    const key = externalIdKey(id)
    if (key === undefined) {
      throw new InvalidDocumentsQueryError(
        'ids',
        `Invalid value at \`.ids\`: \`${JSON.stringify(id)}\` is not a document id (an integer or a string of a-z A-Z 0-9, - and _).`,
      )
    }
    const internal = state.idOf(key)
    if (internal !== undefined) found.add(internal)
  }
  return found
}

function stringListAs(value: unknown, name: string): string[] | undefined {
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw new InvalidDocumentsQueryError(name, `Invalid value at \`.${name}\`: expected an array of strings.`)
  }
  return value as string[]
}

export function documentsCount(value: unknown, fallback: number, name: string): number {
  if (value === undefined || value === null) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidDocumentsQueryError(
      name,
      `Invalid value at \`.${name}\`: expected a non-negative integer.`,
    )
  }
  return value
}
