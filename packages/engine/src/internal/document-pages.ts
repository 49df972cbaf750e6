/**
 * A document listing over partitions (`GET /indexes/{uid}/documents` on a sharded index): each
 * partition sends its first `offset + limit` matches in the listing's order, each with its
 * primary key and sort values, and the merge orders them as one index holding every document
 * orders its listing by `sort`: by the sort rules, then by primary key. Without `sort`, one index
 * lists in its internal order, which partitions do not share: they list in primary key order (the
 * order of last resort of a sorted listing), and so does the merge. Totals are sums; a key given
 * by two partitions (a document caught moving between them) is kept once. Pure.
 */

import type { Doc, DocumentsPage, DocumentsPartPage, GetDocumentsParams } from '../types.ts'
import { documentsCount, matchedDocuments, sortRulesOf } from './document-list.ts'
import { compareDocumentKeys } from './document-order.ts'
import type { IndexState } from './index-state.ts'
import { project } from './search.ts'
import { stringList } from './search-params.ts'
import { compareSortKeys, placeholderIds, sortKey, sortRanked } from './search-rank.ts'

/** One partition's share of a listing: its first `offset + limit` matches, keyed and sort-valued. */
export function listDocumentsPart(state: IndexState, opts: GetDocumentsParams): DocumentsPartPage {
  const offset = documentsCount(opts.offset, 0, 'offset')
  const limit = documentsCount(opts.limit, 20, 'limit')
  const fields = stringList(opts.fields, 'fields')
  const rules = sortRulesOf(state, opts.sort)
  const matched = matchedDocuments(state, opts)
  const total = matched === undefined ? state.size : matched.count()
  const end = offset + limit
  const order: ArrayLike<number> =
    rules.length === 0
      ? placeholderIds(state, matched, end)
      : sortRanked(state, { ids: (matched ?? state.live).toArray(), scores: undefined, total }, rules, null)
          .order
  const entries: DocumentsPartPage['entries'] = []
  for (let i = 0; i < Math.min(order.length, end); i++) {
    const doc = state.docAt(order[i]!)!
    entries.push({
      key: state.keyAt(order[i]!)!,
      sortValues: rules.map((rule) => sortKey(doc, rule)),
      document: project(state, doc, fields, opts.retrieveVectors === true),
    })
  }
  return {
    total,
    sort: rules.map((rule) => ({ attribute: rule.attribute, descending: rule.descending })),
    entries,
  }
}

/** The page one index holding every partition's documents lists (partitions' order aside). */
export function mergeDocumentPages(
  opts: Pick<GetDocumentsParams, 'offset' | 'limit'>,
  parts: readonly DocumentsPartPage[],
): DocumentsPage {
  const offset = documentsCount(opts.offset, 0, 'offset')
  const limit = documentsCount(opts.limit, 20, 'limit')
  const rules = parts[0]?.sort ?? []
  const all = parts.flatMap((part) => part.entries)
  all.sort(
    (a, b) =>
      compareSortKeys(a.sortValues, b.sortValues, rules, 0, rules.length) ||
      compareDocumentKeys(a.key, b.key),
  )
  let total = 0
  for (const part of parts) total += part.total
  const seen = new Set<string>()
  const results: Doc[] = []
  for (const entry of all) {
    if (seen.has(entry.key)) {
      total--
      continue
    }
    seen.add(entry.key)
    if (seen.size > offset && results.length < limit) results.push(entry.document)
  }
  return { results, offset, limit, total }
}
