import { filterFeatures, matchesPattern } from '@shoal/engine'
import type { Settings } from './engine-port.ts'
import { badRequest } from './errors.ts'
import { isPlainObject, readJsonBody } from './request-body.ts'
import { checkIndexUid, nonNegativeInt, type RouteSpec } from './route-spec.ts'

/**
 * `POST /indexes/{indexUid}/fields`: every field the index's documents hold
 * (its field distribution), with what each can do under the current
 * settings: `distinct` (the `distinctAttribute`), `rankingRule` (a custom
 * `field:asc|desc` rule), facet search (filterable while the `facetSearch`
 * setting is on) and the locales of `localizedAttributes` rules matching it.
 */

interface IndexField {
  name: string
  displayed: { enabled: boolean }
  searchable: { enabled: boolean }
  sortable: { enabled: boolean }
  distinct: { enabled: boolean }
  rankingRule: { enabled: boolean }
  filterable: {
    enabled: boolean
    sortBy: 'alpha'
    facetSearch: boolean
    equality: boolean
    comparison: boolean
  }
  localized: { locales: string[] }
}

const FILTER_FLAGS = ['displayed', 'searchable', 'sortable', 'distinct', 'rankingRule', 'filterable'] as const

type FieldsFilter = { attributePatterns?: string[] } & Partial<Record<(typeof FILTER_FLAGS)[number], boolean>>

/** A field is covered by a settings list when the list has `*`, the field, or one of its parents. */
function covered(list: string[], field: string): boolean {
  return list.some((name) => name === '*' || name === field || field.startsWith(`${name}.`))
}

function describeField(name: string, settings: Settings): IndexField {
  const features = filterFeatures(settings.filterableAttributes, name)
  return {
    name,
    displayed: { enabled: covered(settings.displayedAttributes, name) },
    searchable: { enabled: covered(settings.searchableAttributes, name) },
    sortable: { enabled: covered(settings.sortableAttributes, name) },
    distinct: { enabled: settings.distinctAttribute === name },
    rankingRule: {
      enabled: settings.rankingRules.some((rule) => rule === `${name}:asc` || rule === `${name}:desc`),
    },
    filterable: {
      enabled: features !== undefined,
      sortBy: 'alpha',
      facetSearch: features?.facetSearch === true && settings.facetSearch,
      equality: features?.filter.equality === true,
      comparison: features?.filter.comparison === true,
    },
    localized: { locales: localesOf(name, settings) },
  }
}

/** The locales of every `localizedAttributes` rule with a pattern matching `name`. */
function localesOf(name: string, settings: Settings): string[] {
  const locales = new Set<string>()
  for (const rule of settings.localizedAttributes ?? []) {
    if (rule.attributePatterns.some((pattern) => matchesPattern(pattern, name))) {
      for (const locale of rule.locales) locales.add(locale)
    }
  }
  return [...locales].sort()
}

function parseFieldsFilter(value: unknown): FieldsFilter {
  if (value === undefined || value === null) return {}
  if (!isPlainObject(value))
    throw badRequest('bad_request', 'Invalid value type at `.filter`: expected an object')
  const filter: FieldsFilter = {}
  for (const [key, item] of Object.entries(value)) {
    if (key === 'attributePatterns') {
      if (!Array.isArray(item) || item.some((p) => typeof p !== 'string')) {
        throw badRequest(
          'bad_request',
          'Invalid value type at `.filter.attributePatterns`: expected an array of strings',
        )
      }
      filter.attributePatterns = item as string[]
    } else if ((FILTER_FLAGS as readonly string[]).includes(key)) {
      if (typeof item !== 'boolean') {
        throw badRequest('bad_request', `Invalid value type at \`.filter.${key}\`: expected a boolean`)
      }
      filter[key as (typeof FILTER_FLAGS)[number]] = item
    } else {
      throw badRequest(
        'bad_request',
        `Unknown field \`${key}\` at \`.filter\`: expected one of \`attributePatterns\`, ${FILTER_FLAGS.map((f) => `\`${f}\``).join(', ')}`,
      )
    }
  }
  return filter
}

function passes(field: IndexField, filter: FieldsFilter): boolean {
  if (
    filter.attributePatterns !== undefined &&
    !filter.attributePatterns.some((p) => matchesPattern(p, field.name))
  )
    return false
  return FILTER_FLAGS.every((flag) => filter[flag] === undefined || field[flag].enabled === filter[flag])
}

export const fieldRoutes: RouteSpec[] = [
  {
    method: 'POST',
    url: '/indexes/:indexUid/fields',
    action: 'settings.get',
    tag: 'Settings',
    summary:
      "The index's fields with their capabilities (displayed, searchable, sortable, filterable, …): body `{ offset, limit, filter }`",
    body: 'json',
    async handler({ params, body, contentType, services }) {
      const uid = checkIndexUid(params.indexUid)
      const input = readJsonBody(body, contentType) ?? {}
      if (!isPlainObject(input)) throw badRequest('bad_request', 'Expected a JSON object')
      for (const key of Object.keys(input)) {
        if (!['offset', 'limit', 'filter'].includes(key)) {
          throw badRequest(
            'bad_request',
            `Unknown field \`${key}\`: expected one of \`offset\`, \`limit\`, \`filter\``,
          )
        }
      }
      const offset = nonNegativeInt(input.offset, 'bad_request', 'offset') ?? 0
      const limit = nonNegativeInt(input.limit, 'bad_request', 'limit') ?? 20
      const filter = parseFieldsFilter(input.filter)
      const settings = await services.engine.index(uid).getSettings()
      const names = Object.keys((await services.engine.stats()).indexes[uid]?.fieldDistribution ?? {}).sort()
      const fields = names.map((name) => describeField(name, settings)).filter((f) => passes(f, filter))
      return { results: fields.slice(offset, offset + limit), offset, limit, total: fields.length }
    },
  },
]
