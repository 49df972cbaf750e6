/**
 * Phase 1 of a distributed search: each partition reports the statistics global scoring needs
 * (document count, field lengths, document frequencies of every term the query can reach, and
 * those terms), and `mergeSearchStats` adds them up into the context every partition then
 * searches with (search-shard.ts). The statistics depend only on the query text and the
 * partition's documents and settings, never on the filter, so a coordinator may cache them per
 * query under the partitions' versions.
 */

import { randomUUID } from 'node:crypto'
import { mergeQueryCandidates, mergeStats } from '@shoal/bm25'
import { ShardedSearchMismatchError, ShardedSearchUnsupportedError } from '../errors.ts'
import type { SearchContext, SearchParams, SearchStats, SearchStatsOptions } from '../types.ts'
import type { IndexState } from './index-state.ts'
import type { TextIndex, TextQueryStats } from './ports.ts'
import { parseQuerySyntax } from './query-syntax.ts'
import { type CheckedSearch, checkSearch } from './search-params.ts'
import { settingsFingerprint } from './settings-fingerprint.ts'
import { synonymTerms } from './synonyms.ts'
import { typoBudget, typoExemption } from './typo-policy.ts'

/** A random name per text index instance: a version never repeats across restarts or rebuilds. */
const instanceNames = new WeakMap<TextIndex, string>()

/**
 * The partition's statistics version: the text index instance, its generation and the settings
 * (synonyms change the terms a query reaches without changing the text index).
 */
export function statsVersion(state: IndexState): string {
  const text = state.text
  let name = instanceNames.get(text)
  if (name === undefined) {
    name = randomUUID()
    instanceNames.set(text, name)
  }
  return `${name}:${text.generation}:${settingsFingerprint(state.settings)}`
}

/** Whether `request` has a keyword part (BM25 is consulted). */
export function hasKeywordPart(request: CheckedSearch, text: string): boolean {
  return text.trim() !== '' && request.semanticRatio < 1
}

export function searchStats(
  state: IndexState,
  params: SearchParams | undefined,
  options: SearchStatsOptions = {},
): SearchStats {
  const request = checkSearch(params, state.settings)
  // Only a search over one partition is timed phase by phase (search-shard.ts).
  if (request.showPerformanceDetails) throw new ShardedSearchUnsupportedError('showPerformanceDetails')
  const text = parseQuerySyntax(request.q, state.text).text
  return {
    version: statsVersion(state),
    documentCount: state.size,
    text: hasKeywordPart(request, text) ? textStats(state, text, options.omitTypoVariants === true) : null,
  }
}

export function textStats(state: IndexState, text: string, omitTypos = false): TextQueryStats {
  return state.text.queryStats(text, {
    typos: typoBudget(state.settings),
    typoExempt: typoExemption(state.text, state.settings),
    prefix: state.settings.prefixSearch !== 'disabled',
    synonyms: synonymTerms(state.text, text, state.settings.synonyms),
    omitTypos,
  })
}

/** The context every partition searches with: the sum of every partition's statistics. */
export function mergeSearchStats(parts: readonly SearchStats[]): SearchContext {
  const texts = parts.map((part) => part.text)
  if (texts.every((text) => text === null)) return { text: null }
  if (texts.some((text) => text === null)) {
    throw new ShardedSearchMismatchError('Partitions disagree on whether the search has a keyword part.')
  }
  const present = texts as TextQueryStats[]
  // One partition (an unsharded index): its statistics as they are.
  if (present.length === 1) return { text: present[0]! }
  let candidates: TextQueryStats['candidates']
  try {
    candidates = mergeQueryCandidates(present.map((text) => text.candidates))
  } catch (error) {
    throw new ShardedSearchMismatchError('Partitions analysed the query differently.', { cause: error })
  }
  const merged = mergeStats(present)
  if (present.every((text) => text.unheldWords === undefined)) return { text: { ...merged, candidates } }
  // Some partitions left typo variants out: complete if every word is held somewhere.
  const unheld = new Set(present.flatMap((text) => text.unheldWords ?? []))
  const unheldWords = [...unheld].filter((word) => (merged.docFrequencies[word] ?? 0) === 0).sort()
  return { text: { ...merged, candidates, unheldWords } }
}

/**
 * Whether merged statistics can serve the search: false when they were gathered without typo
 * variants (`omitTypoVariants`) and the query has a word no partition holds, whose typo variants
 * the search needs; gather them again without the option.
 */
export function searchContextComplete(context: SearchContext): boolean {
  return (context.text?.unheldWords?.length ?? 0) === 0
}
