/**
 * Phase 2 of a distributed search over several partitions held in one process (the replicas of
 * every shard of an index on one node), in one pass: what each partition's `searchShard` answers,
 * with the work every partition would repeat done once. That is the query words' reach — their
 * completions and typo variants, which the matching strategies read through the postings
 * (query-words.ts): one walk over every partition's term dictionary instead of one per partition,
 * each of which repeats the dense top of the dictionary's trie whatever the partition's size.
 */

import type { SearchContext, SearchParams, ShardSearchResult } from '../types.ts'
import type { IndexState } from './index-state.ts'
import { parseQuerySyntax } from './query-syntax.ts'
import { queryWords } from './query-words.ts'
import { withoutIdleStrategy } from './search.ts'
import { checkSearch } from './search-params.ts'
import { searchShard } from './search-shard.ts'
import { reachKey, type WordReach } from './search-shard-refine.ts'
import { settingsFingerprint } from './settings-fingerprint.ts'

/** Every partition's `searchShard(params, context)`, in the order given. */
export function searchPartitions(
  states: readonly IndexState[],
  params: SearchParams | undefined,
  context: SearchContext,
): ShardSearchResult[] {
  const reach = sharedReach(states, params)
  return states.map((state) => searchShard(state, params, context, reach))
}

/**
 * The query words' reach across `states`, when the search reads which words each match holds
 * from the postings and every partition analyses alike (the same settings); otherwise undefined
 * and each partition finds its own (or reads the documents' text).
 */
function sharedReach(states: readonly IndexState[], params: SearchParams | undefined): WordReach | undefined {
  const first = states[0]
  if (first === undefined || states.length < 2) return undefined
  const fingerprint = settingsFingerprint(first.settings)
  if (states.some((state) => settingsFingerprint(state.settings) !== fingerprint)) return undefined
  // Bad parameters are refused by the partitions themselves, with their typed errors.
  let request: ReturnType<typeof checkSearch>
  try {
    request = checkSearch(params, first.settings)
  } catch {
    return undefined
  }
  const syntax = parseQuerySyntax(request.q, first.text)
  const narrowed = withoutIdleStrategy(first, request, syntax.text)
  const byWords = narrowed.matchingStrategy !== undefined
  // attributesToSearchOn and typo-disabled attributes read the documents' text instead.
  if (!byWords || narrowed.attributesToSearchOn !== undefined || narrowed.typoAttributes) return undefined
  if (syntax.text.trim() === '') return undefined
  const words = queryWords(first.text, syntax.text, first.settings)
  const found = first.text.wordReach?.(
    states.slice(1).map((state) => state.text),
    words,
  )
  if (found === undefined) return undefined
  return new Map(words.map((word, i) => [reachKey(word), found[i] ?? null]))
}
