import { InvalidSettingsError } from '../errors.ts'
import type { Settings, SettingsUpdate } from '../types.ts'
import { embedders } from './embedder-settings.ts'
import { filterableAttributes } from './filterable-rules.ts'
import {
  DEFAULT_RANKING_RULES,
  distinctAttribute,
  facetSearch,
  prefixSearch,
  rankingRules,
  searchCutoffMs,
  synonyms,
} from './settings-ranking.ts'
import { localizedAttributes, proximityPrecision, tokenList } from './settings-tokens.ts'

/** Meilisearch's defaults. */
export function defaultSettings(): Settings {
  return {
    rankingRules: [...DEFAULT_RANKING_RULES],
    searchableAttributes: ['*'],
    filterableAttributes: [],
    sortableAttributes: [],
    displayedAttributes: ['*'],
    stopWords: [],
    typoTolerance: {
      enabled: true,
      minWordSizeForTypos: { oneTypo: 5, twoTypos: 9 },
      disableOnWords: [],
      disableOnAttributes: [],
      disableOnNumbers: false,
    },
    embedders: {},
    pagination: { maxTotalHits: 1000 },
    faceting: { maxValuesPerFacet: 100, sortFacetValuesBy: { '*': 'alpha' } },
    synonyms: {},
    distinctAttribute: null,
    searchCutoffMs: null,
    prefixSearch: 'indexingTime',
    facetSearch: true,
    dictionary: [],
    separatorTokens: [],
    nonSeparatorTokens: [],
    proximityPrecision: 'byWord',
    localizedAttributes: null,
  }
}

/** Settings read from a snapshot written before some settings existed get those at their defaults. */
export function withDefaults(settings: Partial<Settings>): Settings {
  const defaults = defaultSettings()
  const merged = { ...defaults, ...settings }
  // Fields added to an object setting later: a snapshot's older object lacks them.
  merged.typoTolerance = { ...defaults.typoTolerance, ...settings.typoTolerance }
  return merged
}

const SETTING_NAMES: ReadonlySet<string> = new Set(Object.keys(defaultSettings()))

/**
 * `current` with `update` applied: a `null` value resets that setting. The
 * result is validated and built with a fixed key order, so two replicas that
 * apply the same update hold byte-identical settings.
 */
export function mergeSettings(current: Settings, update: unknown): Settings {
  if (update === null || typeof update !== 'object' || Array.isArray(update)) {
    throw new InvalidSettingsError('settings', 'Settings must be an object.')
  }
  const patch = update as Record<string, unknown>
  for (const key of Object.keys(patch)) {
    if (!SETTING_NAMES.has(key)) {
      throw new InvalidSettingsError(
        key,
        `Unknown setting \`${key}\`: expected one of ${[...SETTING_NAMES].map((n) => `\`${n}\``).join(', ')}.`,
      )
    }
  }
  const defaults = defaultSettings()
  const pick = <K extends keyof Settings>(key: K): unknown =>
    !(key in patch) || patch[key] === undefined
      ? current[key]
      : patch[key] === null
        ? defaults[key]
        : patch[key]
  return {
    rankingRules: rankingRules(pick('rankingRules')),
    searchableAttributes: attributeList('searchableAttributes', pick('searchableAttributes'), true),
    filterableAttributes: filterableAttributes(pick('filterableAttributes')),
    sortableAttributes: attributeList('sortableAttributes', pick('sortableAttributes'), false),
    displayedAttributes: attributeList('displayedAttributes', pick('displayedAttributes'), true),
    stopWords: stopWords(pick('stopWords')),
    typoTolerance: typoTolerance(current.typoTolerance, patch.typoTolerance, defaults.typoTolerance),
    embedders: embedders(current.embedders, pick('embedders')),
    pagination: pagination(current.pagination, patch.pagination, defaults.pagination),
    faceting: faceting(current.faceting, patch.faceting, defaults.faceting),
    synonyms: synonyms(pick('synonyms')),
    distinctAttribute: distinctAttribute(pick('distinctAttribute')),
    searchCutoffMs: searchCutoffMs(pick('searchCutoffMs')),
    prefixSearch: prefixSearch(pick('prefixSearch')),
    facetSearch: facetSearch(pick('facetSearch')),
    dictionary: tokenList('dictionary', pick('dictionary')),
    separatorTokens: tokenList('separatorTokens', pick('separatorTokens')),
    nonSeparatorTokens: tokenList('nonSeparatorTokens', pick('nonSeparatorTokens')),
    proximityPrecision: proximityPrecision(pick('proximityPrecision')),
    localizedAttributes: localizedAttributes(pick('localizedAttributes')),
  }
}

const U32_MAX = 2 ** 32 - 1

function objectPatch(name: string, value: unknown, fields: string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidSettingsError(name, `\`${name}\` must be an object.`)
  }
  for (const key of Object.keys(value)) {
    if (!fields.includes(key))
      throw new InvalidSettingsError(name, `\`${name}\` has an unknown field \`${key}\`.`)
  }
  return value as Record<string, unknown>
}

function count(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > U32_MAX) {
    throw new InvalidSettingsError(name.split('.')[0]!, `\`${name}\` must be an integer in 0..${U32_MAX}.`)
  }
  return value
}

function pagination(
  current: Settings['pagination'],
  value: unknown,
  defaults: Settings['pagination'],
): Settings['pagination'] {
  if (value === undefined) return { ...current }
  if (value === null) return { ...defaults }
  const patch = objectPatch('pagination', value, ['maxTotalHits'])
  const max = patch.maxTotalHits
  return {
    maxTotalHits:
      max === undefined
        ? current.maxTotalHits
        : max === null
          ? defaults.maxTotalHits
          : count('pagination.maxTotalHits', max),
  }
}

function faceting(
  current: Settings['faceting'],
  value: unknown,
  defaults: Settings['faceting'],
): Settings['faceting'] {
  if (value === undefined) return structuredClone(current)
  if (value === null) return structuredClone(defaults)
  const patch = objectPatch('faceting', value, ['maxValuesPerFacet', 'sortFacetValuesBy'])
  const max = patch.maxValuesPerFacet
  const maxValuesPerFacet =
    max === undefined
      ? current.maxValuesPerFacet
      : max === null
        ? defaults.maxValuesPerFacet
        : count('faceting.maxValuesPerFacet', max)
  const order = patch.sortFacetValuesBy
  let sortFacetValuesBy = { ...current.sortFacetValuesBy }
  if (order === null) sortFacetValuesBy = { ...defaults.sortFacetValuesBy }
  else if (order !== undefined) {
    if (typeof order !== 'object' || Array.isArray(order)) {
      throw new InvalidSettingsError('faceting', '`faceting.sortFacetValuesBy` must be an object.')
    }
    for (const [facet, by] of Object.entries(order)) {
      if (by !== 'alpha' && by !== 'count') {
        throw new InvalidSettingsError(
          'faceting',
          `\`faceting.sortFacetValuesBy.${facet}\` must be \`alpha\` or \`count\`.`,
        )
      }
      sortFacetValuesBy[facet] = by
    }
  }
  // A fixed key order keeps replicas' settings byte-identical.
  const sorted = Object.fromEntries(
    Object.entries(sortFacetValuesBy).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  )
  return { maxValuesPerFacet, sortFacetValuesBy: sorted }
}

function attributeList(name: string, value: unknown, keepOrder: boolean): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.length === 0)) {
    throw new InvalidSettingsError(name, `\`${name}\` must be an array of non-empty strings.`)
  }
  const unique = [...new Set(value as string[])]
  if (unique.includes('*') && unique.length > 1 && keepOrder) return ['*']
  return keepOrder ? unique : unique.sort()
}

function stopWords(value: unknown): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw new InvalidSettingsError('stopWords', '`stopWords` must be an array of strings.')
  }
  return [...new Set((value as string[]).map((w) => w.toLowerCase()))].sort()
}

function typoTolerance(
  current: Settings['typoTolerance'],
  value: unknown,
  defaults: Settings['typoTolerance'],
): Settings['typoTolerance'] {
  if (value === undefined) return structuredClone(current)
  if (value === null) return structuredClone(defaults)
  const fail = (why: string) => new InvalidSettingsError('typoTolerance', `\`typoTolerance\` ${why}.`)
  if (typeof value !== 'object' || Array.isArray(value)) throw fail('must be an object')
  const patch = value as Record<string, unknown>
  for (const key of Object.keys(patch)) {
    if (!TYPO_FIELDS.includes(key)) throw fail(`has an unknown field \`${key}\``)
  }
  const enabled = patch.enabled === undefined || patch.enabled === null ? current.enabled : patch.enabled
  if (typeof enabled !== 'boolean') throw fail('`enabled` must be a boolean')
  const sizes = patch.minWordSizeForTypos
  let oneTypo = current.minWordSizeForTypos.oneTypo
  let twoTypos = current.minWordSizeForTypos.twoTypos
  if (sizes !== undefined && sizes !== null) {
    if (typeof sizes !== 'object' || Array.isArray(sizes))
      throw fail('`minWordSizeForTypos` must be an object')
    const s = sizes as Record<string, unknown>
    if (s.oneTypo !== undefined) oneTypo = s.oneTypo === null ? 5 : (s.oneTypo as number)
    if (s.twoTypos !== undefined) twoTypos = s.twoTypos === null ? 9 : (s.twoTypos as number)
  } else if (sizes === null) {
    oneTypo = 5
    twoTypos = 9
  }
  for (const n of [oneTypo, twoTypos]) {
    if (!Number.isInteger(n) || n < 0 || n > 255) throw fail('word sizes must be integers in 0..255')
  }
  if (oneTypo > twoTypos) {
    throw fail('`minWordSizeForTypos.oneTypo` must be less than or equal to `minWordSizeForTypos.twoTypos`')
  }
  const words = typoList(fail, 'disableOnWords', patch.disableOnWords, current.disableOnWords)
  const attributes = typoList(
    fail,
    'disableOnAttributes',
    patch.disableOnAttributes,
    current.disableOnAttributes,
  )
  const numbers = patch.disableOnNumbers
  if (numbers !== undefined && numbers !== null && typeof numbers !== 'boolean')
    throw fail('`disableOnNumbers` must be a boolean')
  return {
    enabled,
    minWordSizeForTypos: { oneTypo, twoTypos },
    disableOnWords: words,
    disableOnAttributes: attributes,
    disableOnNumbers: numbers === undefined ? current.disableOnNumbers : numbers === null ? false : numbers,
  }
}

const TYPO_FIELDS = [
  'enabled',
  'minWordSizeForTypos',
  'disableOnWords',
  'disableOnAttributes',
  'disableOnNumbers',
]

/** Meilisearch keeps these lists as sets: sorted, each string once. `null` empties the list. */
function typoList(
  fail: (why: string) => InvalidSettingsError,
  name: string,
  value: unknown,
  current: string[],
): string[] {
  if (value === undefined) return [...current]
  if (value === null) return []
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.trim() === '')) {
    throw fail(`\`${name}\` must be an array of non-empty strings`)
  }
  if (value.length > 1000) throw fail(`\`${name}\` may hold at most 1000 strings`)
  return [...new Set(value as string[])].sort()
}

export function cloneSettings(settings: Settings): Settings {
  return structuredClone(settings)
}

/** Whether `path` is `attribute` or lies under it (`a.b` under `a`); `*` covers everything. */
export function coveredBy(path: string, attribute: string): boolean {
  return (
    attribute === '*' || path === attribute || (path.startsWith(attribute) && path[attribute.length] === '.')
  )
}

export function isCovered(path: string, attributes: readonly string[]): boolean {
  for (const attribute of attributes) if (coveredBy(path, attribute)) return true
  return false
}

export type { SettingsUpdate }
