/**
 * `filterableAttributes` in both of Meilisearch's forms: an attribute name (filterable with every
 * operator, facet-searchable) or a rule `{ attributePatterns, features }` whose patterns may hold
 * `*` (any run of characters: `price*`, `*_id`, `*`) and whose features say what the matching
 * attributes allow: `facetSearch`, `filter.equality` (`=`, `!=`, `IN`, `EXISTS`, `IS NULL`,
 * `IS EMPTY`) and `filter.comparison` (`<`, `<=`, `>`, `>=`, `TO`). An attribute takes the
 * features of the first entry that matches it (or a parent of it: `a` covers `a.b`).
 */

import { InvalidSettingsError } from '../errors.ts'
import type { FilterableAttribute, FilterableFeatures } from '../types.ts'

/** What a plain attribute name allows. */
const EVERYTHING: FilterableFeatures = { facetSearch: true, filter: { equality: true, comparison: true } }

/** Meilisearch's defaults for the fields a rule leaves out. */
const RULE_DEFAULTS: FilterableFeatures = {
  facetSearch: false,
  filter: { equality: true, comparison: false },
}

/** `*` matches any run of characters; everything else literally. */
export function matchesPattern(pattern: string, name: string): boolean {
  const parts = pattern.split('*')
  if (parts.length === 1) return pattern === name
  const first = parts[0]!
  const last = parts[parts.length - 1]!
  if (!name.startsWith(first) || name.length < first.length + last.length || !name.endsWith(last))
    return false
  let at = first.length
  for (const part of parts.slice(1, -1)) {
    const found = name.indexOf(part, at)
    if (found < 0 || found > name.length - last.length) return false
    at = found + part.length
  }
  return at <= name.length - last.length
}

/** Whether `pattern` matches `path` or one of its parents (`a.b` lies under `a`). */
function patternCovers(pattern: string, path: string): boolean {
  if (matchesPattern(pattern, path)) return true
  for (let dot = path.indexOf('.'); dot >= 0; dot = path.indexOf('.', dot + 1)) {
    if (matchesPattern(pattern, path.slice(0, dot))) return true
  }
  return false
}

/** Whether some path under the top-level attribute `key` may match `pattern`. */
function patternReaches(pattern: string, key: string): boolean {
  const star = pattern.indexOf('*')
  if (star < 0) return pattern === key || pattern.startsWith(`${key}.`) || key.startsWith(`${pattern}.`)
  const literal = pattern.slice(0, star)
  return key.startsWith(literal) || literal.startsWith(key)
}

/**
 * The validated, canonical setting. Names alone are sorted (as before rules existed); with rules
 * the order is kept, since the first entry matching an attribute decides its features. A name is
 * kept once.
 */
export function filterableAttributes(value: unknown): FilterableAttribute[] {
  const fail = (why: string) => new InvalidSettingsError('filterableAttributes', why)
  if (!Array.isArray(value))
    throw fail('`filterableAttributes` must be an array of attribute names or rules.')
  const names = new Set<string>()
  const out: FilterableAttribute[] = []
  for (const [i, item] of value.entries()) {
    if (typeof item === 'string') {
      if (item.length === 0) throw fail(`\`filterableAttributes[${i}]\` must be a non-empty string.`)
      if (!names.has(item)) out.push(item)
      names.add(item)
    } else out.push(filterableRule(item, i, fail))
  }
  return out.length === names.size ? [...names].sort() : out
}

function filterableRule(
  item: unknown,
  i: number,
  fail: (why: string) => InvalidSettingsError,
): FilterableAttribute {
  const at = `\`filterableAttributes[${i}]\``
  if (item === null || typeof item !== 'object' || Array.isArray(item))
    throw fail(`${at} must be an attribute name or \`{ attributePatterns, features }\`.`)
  const rule = item as Record<string, unknown>
  for (const key of Object.keys(rule)) {
    if (key !== 'attributePatterns' && key !== 'features')
      throw fail(`${at} has an unknown field \`${key}\`.`)
  }
  const patterns = rule.attributePatterns
  if (!Array.isArray(patterns) || patterns.some((p) => typeof p !== 'string' || p.length === 0))
    throw fail(`${at}.attributePatterns must be an array of non-empty strings.`)
  const features = featuresOf(rule.features, `${at}.features`, fail)
  return { attributePatterns: [...(patterns as string[])], features }
}

function featuresOf(
  value: unknown,
  at: string,
  fail: (why: string) => InvalidSettingsError,
): FilterableFeatures {
  if (value === undefined || value === null) return structuredClone(RULE_DEFAULTS)
  const object = (v: unknown, where: string, fields: string[]) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw fail(`${where} must be an object.`)
    for (const key of Object.keys(v))
      if (!fields.includes(key)) throw fail(`${where} has an unknown field \`${key}\`.`)
    return v as Record<string, unknown>
  }
  const flag = (v: unknown, where: string, fallback: boolean) => {
    if (v === undefined || v === null) return fallback
    if (typeof v !== 'boolean') throw fail(`${where} must be a boolean.`)
    return v
  }
  const features = object(value, at, ['facetSearch', 'filter'])
  const filter =
    features.filter === undefined || features.filter === null
      ? {}
      : object(features.filter, `${at}.filter`, ['equality', 'comparison'])
  const equality = flag(filter.equality, `${at}.filter.equality`, RULE_DEFAULTS.filter.equality)
  const comparison = flag(filter.comparison, `${at}.filter.comparison`, RULE_DEFAULTS.filter.comparison)
  return {
    facetSearch: flag(features.facetSearch, `${at}.facetSearch`, RULE_DEFAULTS.facetSearch),
    filter: { equality, comparison },
  }
}

/** The features `path` has under the setting; undefined when it is not filterable. */
export function filterFeatures(
  rules: readonly FilterableAttribute[],
  path: string,
): FilterableFeatures | undefined {
  for (const rule of rules) {
    if (typeof rule === 'string') {
      if (rule === '*' || rule === path || (path.startsWith(rule) && path[rule.length] === '.'))
        return EVERYTHING
    } else if (rule.attributePatterns.some((pattern) => patternCovers(pattern, path))) return rule.features
  }
  return undefined
}

export function isFilterable(rules: readonly FilterableAttribute[], path: string): boolean {
  return filterFeatures(rules, path) !== undefined
}

/** Whether a path under the top-level attribute `key` may be filterable (what indexing walks). */
export function reachesFilterable(rules: readonly FilterableAttribute[], key: string): boolean {
  for (const rule of rules) {
    const patterns = typeof rule === 'string' ? [rule] : rule.attributePatterns
    if (patterns.some((pattern) => pattern === '*' || patternReaches(pattern, key))) return true
  }
  return false
}

/** Every name and pattern of the setting, for messages. */
export function filterableNames(rules: readonly FilterableAttribute[]): string[] {
  return rules.flatMap((rule) => (typeof rule === 'string' ? [rule] : rule.attributePatterns))
}

/** The names and patterns without `*`: what `facets: ["*"]` counts. */
export function literalFilterable(rules: readonly FilterableAttribute[]): string[] {
  return [...new Set(filterableNames(rules).filter((name) => !name.includes('*')))]
}
