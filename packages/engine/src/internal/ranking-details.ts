/**
 * `_rankingScoreDetails`: one entry per ranking rule, in the order of the index's `rankingRules`,
 * shaped as Meilisearch shapes them (docs/ranking-rules.md):
 *
 *   - `words` `{ order, matchingWords, maxMatchingWords, score }`, `typo` `{ order, typoCount,
 *     maxTypoCount, score }`, `proximity` `{ order, score }`, `attribute` `{ order,
 *     attributeRankingOrderScore, queryWordDistanceScore, score }`, `exactness` `{ order,
 *     matchType, score }` (with `matchingWords`/`maxMatchingWords` for `noExactMatch`): what the
 *     hit's text holds of the query, read as highlighting reads it (query-words.ts). Shoal does
 *     not rank by these five apart; they explain the match;
 *   - the score Shoal ranks by, at the place of the last relevance rule: `bm25` `{ order, score }`
 *     for a keyword search, `vectorSort` `{ order, similarity }` for a semantic one, `hybrid`
 *     `{ order, semanticRatio, score }` for a hybrid one. Its score is `_rankingScore`;
 *   - `attribute:asc|desc` `{ order, value }` for each `sort` key and custom rule at its place
 *     (`value` as compared: numbers, strings lower-cased; absent when the hit has none).
 *
 * A placeholder search has only the sort entries. The text facts (`MatchDetails`) come from the
 * partition holding the document; the merge places them with the score (search-merge.ts).
 */

import type { Doc, SearchMode, SortValue } from '../types.ts'
import { type Fold, type QueryWord, textEntries, withinEdits, wordsAt } from './query-words.ts'
import type { SortRule } from './search-params.ts'
import { RELEVANCE_RULES } from './settings-ranking.ts'

/** One entry of the details, in rank order. */
export type DetailRule =
  | { kind: 'words' | 'typo' | 'proximity' | 'attribute' | 'exactness' | 'score' }
  | { kind: 'sort'; index: number; name: string }

/** What a hit's text holds of the query (plain data: it crosses the network). */
export interface MatchDetails {
  matchingWords: number
  maxMatchingWords: number
  typoCount: number
  maxTypoCount: number
  /** Per pair of consecutive query words: their least distance in one text value, 1..8. */
  distances: number[]
  /** Rank of the first searchable attribute holding a match, and how many there are. */
  attributeRank: number
  attributeCount: number
  /** Word position of the first match in that attribute; -1 when none. */
  firstPosition: number
  matchType: 'exactMatch' | 'matchesStart' | 'noExactMatch'
  /** Query words found as typed (not as a prefix, typo or synonym). */
  exactWords: number
}

/** The entries of `rankingRules` in order, `sort` expanded to the search's keys (`sort`: every key, in rank order). */
export function detailsLayout(rankingRules: readonly string[], sort: readonly SortRule[]): DetailRule[] {
  const custom = rankingRules.filter((rule) => rule !== 'sort' && !RELEVANCE_RULES.includes(rule)).length
  const requested = sort.length - custom
  const layout: DetailRule[] = []
  let at = 0
  const key = (): DetailRule => {
    const rule = sort[at]!
    return { kind: 'sort', index: at++, name: `${rule.attribute}:${rule.descending ? 'desc' : 'asc'}` }
  }
  for (const rule of rankingRules) {
    if (rule === 'sort') for (let i = 0; i < requested; i++) layout.push(key())
    else if (rule === 'exactness') layout.push({ kind: 'exactness' }, { kind: 'score' })
    else if (RELEVANCE_RULES.includes(rule)) layout.push({ kind: rule as 'words' })
    else layout.push(key())
  }
  return layout
}

/** Reads `doc` for the query `words` over the searchable attributes. */
export function matchDetails(
  doc: Doc,
  words: QueryWord[],
  fold: Fold,
  searchable: readonly string[],
): MatchDetails {
  const attributes = searchable.includes('*') ? Object.keys(doc).filter((k) => k !== '_vectors') : searchable
  const best = words.map(() => Number.POSITIVE_INFINITY)
  const exact = words.map(() => false)
  const distances = words.slice(1).map(() => 8)
  const query = words.map((w) => w.term).join(' ')
  let attributeRank = attributes.length
  let firstPosition = -1
  let matchType: MatchDetails['matchType'] = 'noExactMatch'
  attributes.forEach((attribute, rank) => {
    for (const { path, text } of textEntries(doc, [attribute])) {
      const active = wordsAt(words, path)
      const positions: number[][] = words.map(() => [])
      const folded: string[] = []
      fold.split(text).forEach((token, position) => {
        const word = fold(token.text)
        if (word === undefined) return
        folded.push(word)
        for (let w = 0; w < active.length; w++) {
          const edits = editsTo(word, active[w]!)
          if (edits < 0) continue
          positions[w]!.push(position)
          best[w] = Math.min(best[w]!, edits)
          if (word === active[w]!.term) exact[w] = true
          if (rank < attributeRank || (rank === attributeRank && position < firstPosition)) {
            attributeRank = rank
            firstPosition = position
          }
        }
      })
      for (let i = 0; i < distances.length; i++) {
        for (const a of positions[i]!) {
          // A pair found in reverse order counts one more, as Meilisearch's proximity does.
          for (const b of positions[i + 1]!) distances[i] = Math.min(distances[i]!, b > a ? b - a : a - b + 1)
        }
      }
      const joined = folded.join(' ')
      if (query !== '' && joined === query) matchType = 'exactMatch'
      else if (query !== '' && matchType === 'noExactMatch' && joined.startsWith(`${query} `))
        matchType = 'matchesStart'
    }
  })
  const held = best.map((edits, w) => ({ edits, w })).filter((entry) => Number.isFinite(entry.edits))
  return {
    matchingWords: held.length,
    maxMatchingWords: words.length,
    typoCount: held.reduce((sum, entry) => sum + entry.edits, 0),
    maxTypoCount: held.reduce((sum, entry) => sum + words[entry.w]!.typos, 0),
    distances,
    attributeRank,
    attributeCount: attributes.length,
    firstPosition,
    matchType,
    exactWords: exact.filter(Boolean).length,
  }
}

/** Edits from `word` to the query word: 0 as typed, as a prefix or a synonym; -1 when it does not match. */
function editsTo(word: string, query: QueryWord): number {
  if (word === query.term || query.synonyms.includes(word)) return 0
  if (query.prefix && word.startsWith(query.term)) return 0
  if (query.typos >= 1 && withinEdits(word, query.term, 1)) return 1
  if (query.typos >= 2 && withinEdits(word, query.term, 2)) return 2
  return -1
}

/** What the details of one hit are built from. */
export interface HitFacts {
  mode: SearchMode
  semanticRatio: number
  /** `_rankingScore` before rounding. */
  score: number
  match: MatchDetails | null
  sortValues: readonly SortValue[]
}

/** The hit's `_rankingScoreDetails`. */
export function rankingDetails(layout: readonly DetailRule[], facts: HitFacts): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  let order = 0
  const put = (name: string, entry: Record<string, unknown>) => {
    out[name] = { order: order++, ...entry }
  }
  const text = facts.mode === 'keyword' || facts.mode === 'hybrid' ? facts.match : null
  for (const rule of layout) {
    if (rule.kind === 'sort') {
      const value = facts.sortValues[rule.index]
      put(
        rule.name,
        value === undefined || value.rank === 2 ? {} : { value: value.rank === 0 ? value.n : value.s },
      )
    } else if (rule.kind === 'score') {
      if (facts.mode === 'keyword') put('bm25', { score: round(facts.score) })
      else if (facts.mode === 'semantic') put('vectorSort', { similarity: round(facts.score) })
      else if (facts.mode === 'hybrid')
        put('hybrid', { semanticRatio: facts.semanticRatio, score: round(facts.score) })
    } else if (text !== null) put(rule.kind, textEntry(rule.kind, text))
  }
  return out
}

function textEntry(kind: 'words' | 'typo' | 'proximity' | 'attribute' | 'exactness', m: MatchDetails) {
  switch (kind) {
    case 'words':
      return {
        matchingWords: m.matchingWords,
        maxMatchingWords: m.maxMatchingWords,
        score: round(m.maxMatchingWords === 0 ? 1 : m.matchingWords / m.maxMatchingWords),
      }
    case 'typo':
      return {
        typoCount: m.typoCount,
        maxTypoCount: m.maxTypoCount,
        score: round((m.maxTypoCount + 1 - m.typoCount) / (m.maxTypoCount + 1)),
      }
    case 'proximity': {
      const gaps = m.distances.reduce((sum, d) => sum + d - 1, 0)
      return { score: round(m.distances.length === 0 ? 1 : 1 - gaps / (7 * m.distances.length)) }
    }
    case 'attribute': {
      const found = m.firstPosition >= 0
      const rankScore = !found ? 0 : 1 - m.attributeRank / Math.max(1, m.attributeCount)
      const distanceScore = !found ? 0 : 1 / (1 + m.firstPosition)
      return {
        attributeRankingOrderScore: round(rankScore),
        queryWordDistanceScore: round(distanceScore),
        score: round((rankScore + distanceScore) / 2),
      }
    }
    case 'exactness':
      if (m.matchType === 'exactMatch') return { matchType: m.matchType, score: 1 }
      if (m.matchType === 'matchesStart') return { matchType: m.matchType, score: 0.75 }
      return {
        matchType: m.matchType,
        matchingWords: m.exactWords,
        maxMatchingWords: m.maxMatchingWords,
        score: round(m.maxMatchingWords === 0 ? 0 : (0.5 * m.exactWords) / m.maxMatchingWords),
      }
  }
}

function round(score: number): number {
  return Math.round(score * 1e6) / 1e6
}
