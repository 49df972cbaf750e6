/**
 * `_formatted` and `_matchesPosition`, shaped as Meilisearch shapes them.
 *
 * `_formatted` repeats every attribute of the hit; those named in
 * `attributesToHighlight` or `attributesToCrop` (`*`: all) become text —
 * cropped to `cropLength` words around the densest run of matches, with
 * `cropMarker` where text was cut, then matches wrapped in the highlight tags
 * (a prefix match wraps only the matched prefix). `_matchesPosition` maps the
 * dotted path of each text value holding a match to `{ start, length }`
 * entries (offsets in UTF-16 code units; `indices` locate a match in arrays).
 */

import type { Doc } from '../types.ts'
import { type Fold, matchText, type QueryWord, type WordMatch, wordsAt } from './query-words.ts'
import type { FormatRequest } from './search-params.ts'

export interface MatchPosition {
  start: number
  length: number
  indices?: number[]
}

function selects(list: readonly string[], path: string): boolean {
  return list.some((a) => a === '*' || a === path || path.startsWith(`${a}.`))
}

function cropWordsFor(request: FormatRequest, path: string): number | undefined {
  let words: number | undefined
  let selected = false
  for (const entry of request.crop) {
    if (entry.attribute === '*' || entry.attribute === path || path.startsWith(`${entry.attribute}.`)) {
      selected = true
      if (entry.words !== undefined) words = entry.words
    }
  }
  return selected ? (words ?? request.cropLength) : undefined
}

export function formatHit(
  hit: Doc,
  words: QueryWord[],
  fold: Fold,
  request: FormatRequest,
): { formatted: Doc | undefined; positions: Record<string, MatchPosition[]> | undefined } {
  const positions: Record<string, MatchPosition[]> = {}
  const formatted: Doc = {}
  const wantFormatted = request.highlight.length > 0 || request.crop.length > 0
  for (const [key, value] of Object.entries(hit)) {
    if (key === '_vectors' || key === '_rankingScore') continue
    formatted[key] = formatValue(value, key, [], { words, fold, request, positions })
  }
  return {
    formatted: wantFormatted ? formatted : undefined,
    positions: request.showMatchesPosition ? positions : undefined,
  }
}

interface Context {
  words: QueryWord[]
  fold: Fold
  request: FormatRequest
  positions: Record<string, MatchPosition[]>
}

function formatValue(value: unknown, path: string, indices: number[], ctx: Context): unknown {
  if (Array.isArray(value)) return value.map((item, i) => formatValue(item, path, [...indices, i], ctx))
  if (value !== null && typeof value === 'object') {
    const out: Doc = {}
    for (const [key, inner] of Object.entries(value))
      out[key] = formatValue(inner, `${path}.${key}`, indices, ctx)
    return out
  }
  if (typeof value !== 'string' && typeof value !== 'number') return value
  // Meilisearch's `_formatted` holds numbers as text.
  const text = String(value)
  const words = wordsAt(ctx.words, path)
  const matches = matchText(text, words, ctx.fold)
  if (matches.length > 0 && ctx.request.showMatchesPosition) {
    ctx.positions[path] ??= []
    const list = ctx.positions[path]
    for (const m of matches) {
      list.push({
        start: m.start,
        length: m.length,
        ...(indices.length > 0 ? { indices: [...indices] } : {}),
      })
    }
  }
  const cropWords = cropWordsFor(ctx.request, path)
  const highlight = selects(ctx.request.highlight, path)
  if (cropWords === undefined && !highlight) return text
  const cropped =
    cropWords === undefined ? text : crop(text, matches, cropWords, ctx.request.cropMarker, ctx.fold)
  if (!highlight) return cropped
  const shown = cropped === text ? matches : matchText(cropped, words, ctx.fold)
  return wrap(cropped, shown, ctx.request.preTag, ctx.request.postTag)
}

function wrap(text: string, matches: WordMatch[], pre: string, post: string): string {
  let out = ''
  let at = 0
  for (const m of matches) {
    out += text.slice(at, m.start) + pre + text.slice(m.start, m.start + m.length) + post
    at = m.start + m.length
  }
  return out + text.slice(at)
}

/** `words` words of `text` around the window holding the most distinct query words. */
function crop(text: string, matches: WordMatch[], words: number, marker: string, fold: Fold): string {
  const tokens = fold.split(text)
  if (tokens.length <= words) return text
  if (words === 0) return marker
  let bestStart = 0
  let bestScore = -1
  const matchAt = new Map(matches.map((m) => [m.start, m.word]))
  for (let first = 0; first + words <= tokens.length; first++) {
    const held = new Set<number>()
    for (let i = first; i < first + words; i++) {
      const w = matchAt.get(tokens[i]!.start)
      if (w !== undefined) held.add(w)
    }
    if (held.size > bestScore) {
      bestScore = held.size
      bestStart = first
    }
    if (matches.length === 0) break
  }
  // Centre the matches of the chosen window inside it.
  const inWindow = tokens
    .slice(bestStart, bestStart + words)
    .map((t, i) => (matchAt.has(t.start) ? bestStart + i : -1))
    .filter((i) => i >= 0)
  if (inWindow.length > 0) {
    const spread = inWindow[inWindow.length - 1]! - inWindow[0]! + 1
    const centred = inWindow[0]! - Math.floor((words - spread) / 2)
    bestStart = Math.max(0, Math.min(tokens.length - words, centred))
  }
  const last = bestStart + words - 1
  const from = tokens[bestStart]!.start
  const to = tokens[last]!.end
  return `${bestStart > 0 ? marker : ''}${text.slice(from, to)}${last < tokens.length - 1 ? marker : ''}`
}
