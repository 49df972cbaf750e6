/**
 * Validation of the settings that shape ranking and matching: `rankingRules`, `synonyms`,
 * `distinctAttribute`, `searchCutoffMs`, `prefixSearch`, `facetSearch`. Each returns a canonical value (fixed key order), so
 * replicas that apply the same update hold byte-identical settings.
 *
 * Ranking rules in Shoal (docs/ranking-rules.md): Shoal ranks matches by one BM25 score (or
 * vector similarity, or their fusion), which stands for Meilisearch's five relevance rules
 * together. So the relevance rules are all listed or none, in Meilisearch's relative order; the
 * score ranks at the place of the last of them. `sort` places the search's `sort` parameter,
 * and `attribute:asc` / `attribute:desc` rank by a document attribute at their place. A list
 * Shoal would rank identically to another is refused rather than stored as if it differed.
 */

import { InvalidSettingsError } from '../errors.ts'

/** Meilisearch's relevance rules, in the only order Shoal accepts them. */
export const RELEVANCE_RULES: readonly string[] = ['words', 'typo', 'proximity', 'attribute', 'exactness']

export const DEFAULT_RANKING_RULES: readonly string[] = [
  'words',
  'typo',
  'proximity',
  'attribute',
  'sort',
  'exactness',
]

const CUSTOM_RULE = /^(.+):(asc|desc)$/

/** One ranking rule as search applies it. */
export type RankingRule =
  | { kind: 'relevance' }
  | { kind: 'sort' }
  | { kind: 'attribute'; attribute: string; descending: boolean }

/**
 * The rules in the order search applies them: the relevance rules collapse into one `relevance`
 * entry at the place of the last of them.
 */
export function rankingPlan(rules: readonly string[]): RankingRule[] {
  const plan: RankingRule[] = []
  for (const rule of rules) {
    if (rule === 'sort') plan.push({ kind: 'sort' })
    else if (rule === 'exactness') plan.push({ kind: 'relevance' })
    else if (!RELEVANCE_RULES.includes(rule)) {
      const match = CUSTOM_RULE.exec(rule)!
      plan.push({ kind: 'attribute', attribute: match[1]!, descending: match[2] === 'desc' })
    }
  }
  return plan
}

export function rankingRules(value: unknown): string[] {
  const fail = (why: string) => new InvalidSettingsError('rankingRules', why)
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw fail('`rankingRules` must be an array of strings.')
  }
  const rules = value as string[]
  const seen = new Set<string>()
  for (const [i, rule] of rules.entries()) {
    const builtIn = rule === 'sort' || RELEVANCE_RULES.includes(rule)
    const custom = CUSTOM_RULE.exec(rule)
    if (!builtIn && (custom === null || custom[1]!.trim() === '' || custom[1]!.includes(':'))) {
      throw fail(
        `Invalid value at \`.rankingRules[${i}]\`: \`${rule}\` ranking rule is invalid. Valid ranking rules are words, typo, sort, proximity, attribute, exactness and custom ranking rules (\`attribute:asc\` or \`attribute:desc\`).`,
      )
    }
    const name = builtIn ? rule : custom![1]!
    if (seen.has(name)) throw fail(`\`rankingRules\` lists \`${name}\` twice.`)
    seen.add(name)
  }
  const relevance = rules.filter((rule) => RELEVANCE_RULES.includes(rule))
  if (relevance.length !== 0 && relevance.length !== RELEVANCE_RULES.length) {
    throw fail(
      '`rankingRules` must list all of `words`, `typo`, `proximity`, `attribute` and `exactness` or none of them: Shoal ranks by one BM25 score that stands for them together.',
    )
  }
  if (relevance.some((rule, i) => rule !== RELEVANCE_RULES[i])) {
    throw fail(
      '`rankingRules` must list `words`, `typo`, `proximity`, `attribute` and `exactness` in this order: Shoal ranks by one BM25 score that stands for them together and cannot reorder them.',
    )
  }
  return [...rules]
}

const MAX_SYNONYM_ENTRIES = 10_000

export function synonyms(value: unknown): Record<string, string[]> {
  const fail = (why: string) => new InvalidSettingsError('synonyms', why)
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw fail('`synonyms` must be an object of words to arrays of words.')
  }
  const entries = Object.entries(value as Record<string, unknown>)
  if (entries.length > MAX_SYNONYM_ENTRIES) {
    throw fail(`\`synonyms\` may hold at most ${MAX_SYNONYM_ENTRIES} words.`)
  }
  const out: Record<string, string[]> = {}
  for (const [key, alternatives] of entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (key.trim() === '') throw fail('`synonyms` has an empty word.')
    if (!Array.isArray(alternatives) || alternatives.some((v) => typeof v !== 'string')) {
      throw fail(`Invalid value at \`.synonyms.${key}\`: expected an array of strings.`)
    }
    const kept = [...new Set(alternatives as string[])].filter((v) => v.trim() !== '')
    if (kept.length > 0) out[key] = kept.sort()
  }
  return out
}

export function distinctAttribute(value: unknown): string | null {
  if (value === null) return null
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidSettingsError(
      'distinctAttribute',
      '`distinctAttribute` must be a non-empty string or null.',
    )
  }
  return value
}

/** At most a day: a larger value is a mistake, not a limit. */
const MAX_CUTOFF_MS = 86_400_000

export function searchCutoffMs(value: unknown): number | null {
  if (value === null) return null
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_CUTOFF_MS) {
    throw new InvalidSettingsError(
      'searchCutoffMs',
      `\`searchCutoffMs\` must be null or an integer in 0..${MAX_CUTOFF_MS}.`,
    )
  }
  return value
}

export function prefixSearch(value: unknown): 'indexingTime' | 'disabled' {
  if (value !== 'indexingTime' && value !== 'disabled') {
    throw new InvalidSettingsError(
      'prefixSearch',
      `Unknown value \`${String(value)}\` at \`.prefixSearch\`: expected one of \`indexingTime\`, \`disabled\`.`,
    )
  }
  return value
}

export function facetSearch(value: unknown): boolean {
  if (typeof value !== 'boolean') {
    throw new InvalidSettingsError('facetSearch', '`facetSearch` must be a boolean.')
  }
  return value
}
