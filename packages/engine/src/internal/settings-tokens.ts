/**
 * Validation of the settings that shape the analyser: `dictionary`, `separatorTokens`,
 * `nonSeparatorTokens` (custom tokens, `@shoal/bm25` internal/word-spans.ts), `proximityPrecision`
 * and `localizedAttributes`. Each returns the canonical value (lists sorted and de-duplicated) or
 * throws `InvalidSettingsError` with Meilisearch's `invalid_settings_*` code.
 */

import { InvalidSettingsError } from '../errors.ts'
import type { LocalizedAttributesRule, Settings } from '../types.ts'

const MAX_TOKENS = 1000
const MAX_TOKEN_LENGTH = 64

export function tokenList(
  name: 'dictionary' | 'separatorTokens' | 'nonSeparatorTokens',
  value: unknown,
): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.length === 0)) {
    throw new InvalidSettingsError(name, `\`${name}\` must be an array of non-empty strings.`)
  }
  if (value.length > MAX_TOKENS) {
    throw new InvalidSettingsError(name, `\`${name}\` holds at most ${MAX_TOKENS} strings.`)
  }
  for (const token of value as string[]) {
    if (token.length > MAX_TOKEN_LENGTH) {
      throw new InvalidSettingsError(
        name,
        `\`${name}\` strings are at most ${MAX_TOKEN_LENGTH} characters long.`,
      )
    }
    if (name !== 'dictionary' && token.trim() === '') {
      throw new InvalidSettingsError(name, `\`${name}\` strings must hold something other than spaces.`)
    }
  }
  return [...new Set(value as string[])].sort()
}

export function proximityPrecision(value: unknown): Settings['proximityPrecision'] {
  if (value !== 'byWord' && value !== 'byAttribute') {
    throw new InvalidSettingsError(
      'proximityPrecision',
      `Unknown value \`${String(value)}\` at \`.proximityPrecision\`: expected one of \`byWord\`, \`byAttribute\`.`,
    )
  }
  return value
}

/**
 * Locales (ISO 639-3) whose text Shoal's analyser segments and folds as that language needs:
 * languages written with spaces between words in Latin, Cyrillic, Greek, Armenian or Georgian
 * script, which Meilisearch also segments by its generic rules (no dictionary segmentation, no
 * language-specific normaliser). Shoal analyses them alike, so declaring one changes nothing in
 * how their text is cut; the rule is honoured as it stands.
 */
export const HONOURED_LOCALES: ReadonlySet<string> = new Set([
  'afr',
  'aka',
  'aze',
  'bel',
  'bul',
  'cat',
  'ces',
  'dan',
  'ell',
  'eng',
  'epo',
  'est',
  'fin',
  'fra',
  'hrv',
  'hun',
  'hye',
  'ind',
  'ita',
  'jav',
  'kat',
  'lat',
  'lav',
  'lit',
  'mkd',
  'nld',
  'nob',
  'pol',
  'por',
  'ron',
  'rus',
  'slk',
  'slv',
  'sna',
  'spa',
  'srp',
  'swe',
  'tgl',
  'tuk',
  'ukr',
  'uzb',
  'vie',
  'zul',
])

/**
 * Meilisearch's other locales, refused with the reason: Shoal's one analyser per index cannot
 * apply what they need to some attributes only.
 */
const REFUSED_LOCALES = new Map<string, string>([
  ...['cmn', 'zho', 'jpn', 'kor', 'tha', 'khm', 'mya', 'lao'].map((code): [string, string] => [
    code,
    'its script is segmented by one word segmenter for the whole index, not per attribute',
  ]),
  ...['deu', 'tur', 'ara', 'heb', 'yid', 'pes', 'urd', 'swa'].map((code): [string, string] => [
    code,
    'it needs language-specific segmentation or normalisation Shoal lacks',
  ]),
  ...['hin', 'ben', 'mar', 'kan', 'tam', 'guj', 'pan', 'tel', 'mal', 'ori', 'nep', 'sin', 'amh'].map(
    (code): [string, string] => [code, 'Shoal has no segmentation or normalisation specific to its script'],
  ),
])

/** Why Shoal cannot honour `locale`; undefined when its analyser treats the language as it needs. */
export function localeProblem(locale: string): string | undefined {
  if (HONOURED_LOCALES.has(locale)) return undefined
  const reason = REFUSED_LOCALES.get(locale)
  return reason === undefined
    ? `unknown locale \`${locale}\` (expected an ISO 639-3 code Shoal honours: ${[...HONOURED_LOCALES].join(', ')})`
    : `Shoal cannot honour locale \`${locale}\`: ${reason} (see docs/meilisearch-compatibility.md)`
}

export function localizedAttributes(value: unknown): LocalizedAttributesRule[] | null {
  if (value === null) return null
  const fail = (why: string) =>
    new InvalidSettingsError('localizedAttributes', `\`localizedAttributes\` ${why}.`)
  if (!Array.isArray(value)) throw fail('must be an array of `{ attributePatterns, locales }` rules, or null')
  return value.map((rule, i): LocalizedAttributesRule => {
    if (rule === null || typeof rule !== 'object' || Array.isArray(rule))
      throw fail(`[${i}] must be an object`)
    for (const key of Object.keys(rule)) {
      if (key !== 'attributePatterns' && key !== 'locales')
        throw fail(`[${i}] has an unknown field \`${key}\``)
    }
    const { attributePatterns, locales } = rule as Record<string, unknown>
    const strings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string' && s.length > 0)
    if (!strings(attributePatterns))
      throw fail(`[${i}].attributePatterns must be an array of non-empty strings`)
    if (!strings(locales)) throw fail(`[${i}].locales must be an array of locale codes`)
    for (const locale of locales as string[]) {
      const problem = localeProblem(locale)
      if (problem !== undefined) throw fail(`[${i}]: ${problem}`)
    }
    return {
      attributePatterns: [...(attributePatterns as string[])],
      locales: [...new Set(locales as string[])].sort(),
    }
  })
}
