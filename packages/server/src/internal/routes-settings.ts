import { requireVectorPlacement } from './cluster/vector-placement.ts'
import { maskedEmbedders, refuseRestOnCluster, withMaskedKeys } from './embedder-secrets.ts'
import type { Settings } from './engine-port.ts'
import { badRequest } from './errors.ts'
import { isPlainObject, readJsonBody } from './request-body.ts'
import { checkIndexUid, RawBody, type RouteSpec } from './route-spec.ts'
import type { Operation } from './task-types.ts'

type SettingName = keyof Settings
type SettingsPatch = Extract<Operation, { kind: 'updateSettings' }>['settings']

/** Each setting with its sub-route and the method Meilisearch uses to change it. */
export const SETTINGS: {
  name: SettingName
  path: string
  kind: SettingKind
  method: 'PUT' | 'PATCH'
}[] = [
  { name: 'rankingRules', path: 'ranking-rules', kind: 'list', method: 'PUT' },
  { name: 'searchableAttributes', path: 'searchable-attributes', kind: 'list', method: 'PUT' },
  { name: 'filterableAttributes', path: 'filterable-attributes', kind: 'array', method: 'PUT' },
  { name: 'sortableAttributes', path: 'sortable-attributes', kind: 'list', method: 'PUT' },
  { name: 'displayedAttributes', path: 'displayed-attributes', kind: 'list', method: 'PUT' },
  { name: 'stopWords', path: 'stop-words', kind: 'list', method: 'PUT' },
  { name: 'typoTolerance', path: 'typo-tolerance', kind: 'object', method: 'PATCH' },
  { name: 'embedders', path: 'embedders', kind: 'object', method: 'PATCH' },
  { name: 'pagination', path: 'pagination', kind: 'object', method: 'PATCH' },
  { name: 'faceting', path: 'faceting', kind: 'object', method: 'PATCH' },
  { name: 'synonyms', path: 'synonyms', kind: 'object', method: 'PUT' },
  { name: 'distinctAttribute', path: 'distinct-attribute', kind: 'string', method: 'PUT' },
  { name: 'searchCutoffMs', path: 'search-cutoff-ms', kind: 'number', method: 'PUT' },
  { name: 'prefixSearch', path: 'prefix-search', kind: 'string', method: 'PUT' },
  { name: 'facetSearch', path: 'facet-search', kind: 'boolean', method: 'PUT' },
  { name: 'dictionary', path: 'dictionary', kind: 'list', method: 'PUT' },
  { name: 'separatorTokens', path: 'separator-tokens', kind: 'list', method: 'PUT' },
  { name: 'nonSeparatorTokens', path: 'non-separator-tokens', kind: 'list', method: 'PUT' },
  { name: 'proximityPrecision', path: 'proximity-precision', kind: 'string', method: 'PUT' },
  { name: 'localizedAttributes', path: 'localized-attributes', kind: 'array', method: 'PUT' },
]

type SettingKind = 'list' | 'array' | 'object' | 'string' | 'number' | 'boolean'

const EXPECTED: Record<SettingKind, string> = {
  list: 'an array of strings',
  array: 'an array',
  object: 'an object',
  string: 'a string',
  number: 'a number',
  boolean: 'a boolean',
}

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
}

function checkSetting(name: SettingName, kind: SettingKind, value: unknown): unknown {
  if (value === null) return null
  const fits =
    kind === 'list'
      ? Array.isArray(value) && value.every((v) => typeof v === 'string')
      : kind === 'array'
        ? Array.isArray(value)
        : kind === 'object'
          ? isPlainObject(value)
          : typeof value === kind
  if (!fits) {
    throw badRequest(
      `invalid_settings_${snake(name)}`,
      `Invalid value type at \`.${name}\`: expected ${EXPECTED[kind]}, but found ${JSON.stringify(value)}`,
    )
  }
  return value
}

/** Validates the body of `PATCH /settings`: known settings with the right types. */
export function parseSettingsPatch(input: unknown): SettingsPatch {
  if (!isPlainObject(input)) throw badRequest('bad_request', 'Invalid settings: expected a JSON object')
  const patch: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(input)) {
    const setting = SETTINGS.find((s) => s.name === key)
    if (setting === undefined) {
      throw badRequest(
        'bad_request',
        `Unknown or unsupported setting \`${key}\`: expected one of ${SETTINGS.map((s) => s.name).join(', ')}`,
      )
    }
    patch[key] = checkSetting(setting.name, setting.kind, value)
  }
  return patch as SettingsPatch
}

async function enqueueUpdate(
  services: Parameters<RouteSpec['handler']>[0]['services'],
  uid: string,
  patch: SettingsPatch,
) {
  if (services.cluster !== undefined) {
    refuseRestOnCluster(patch)
    // Refused now, before a task exists, when the index's replicas sit on nodes without `vector`.
    await requireVectorPlacement(services.cluster.node, uid, patch)
  }
  return services.queue.enqueue({
    type: 'settingsUpdate',
    indexUid: uid,
    operation: { kind: 'updateSettings', settings: patch },
    // Task details are shown to anyone who may list tasks: no embedder key in them.
    details: withMaskedKeys({ ...patch }),
  })
}

const wholeSettings: RouteSpec[] = [
  {
    method: 'GET',
    url: '/indexes/:indexUid/settings',
    action: 'settings.get',
    tag: 'Settings',
    summary: 'All settings of an index',
    async handler({ params, services }) {
      return withMaskedKeys(await services.engine.index(checkIndexUid(params.indexUid)).getSettings())
    },
  },
  {
    method: 'PATCH',
    url: '/indexes/:indexUid/settings',
    action: 'settings.update',
    tag: 'Settings',
    summary: 'Update settings; a null value resets that setting (a task; creates the index if missing)',
    status: 202,
    body: 'json',
    handler({ params, body, contentType, services }) {
      const uid = checkIndexUid(params.indexUid)
      return enqueueUpdate(services, uid, parseSettingsPatch(readJsonBody(body, contentType)))
    },
  },
  {
    method: 'DELETE',
    url: '/indexes/:indexUid/settings',
    action: 'settings.update',
    tag: 'Settings',
    summary: 'Reset every setting to its default (a task)',
    status: 202,
    handler({ params, services }) {
      const uid = checkIndexUid(params.indexUid)
      return services.queue.enqueue({
        type: 'settingsUpdate',
        indexUid: uid,
        operation: { kind: 'resetSettings' },
        // Every setting reset to its default, as a patch of nulls reads.
        details: Object.fromEntries(SETTINGS.map((setting) => [setting.name, null])),
      })
    },
  },
]

const subRoutes: RouteSpec[] = SETTINGS.flatMap((setting): RouteSpec[] => {
  const url = `/indexes/:indexUid/settings/${setting.path}`
  return [
    {
      method: 'GET',
      url,
      action: 'settings.get',
      tag: 'Settings',
      summary: `Get \`${setting.name}\``,
      async handler({ params, services }) {
        const settings = await services.engine.index(checkIndexUid(params.indexUid)).getSettings()
        const value =
          setting.name === 'embedders' ? maskedEmbedders(settings.embedders) : settings[setting.name]
        // Serialised here: a bare string or null is JSON too (`"brand"`, `null`), not text or nothing.
        return new RawBody('application/json; charset=utf-8', JSON.stringify(value))
      },
    },
    {
      method: setting.method,
      url,
      action: 'settings.update',
      tag: 'Settings',
      summary: `Update \`${setting.name}\` (a task)`,
      status: 202,
      body: 'json',
      handler({ params, body, contentType, services }) {
        const uid = checkIndexUid(params.indexUid)
        const value = checkSetting(setting.name, setting.kind, readJsonBody(body, contentType) ?? null)
        return enqueueUpdate(services, uid, { [setting.name]: value } as SettingsPatch)
      },
    },
    {
      method: 'DELETE',
      url,
      action: 'settings.update',
      tag: 'Settings',
      summary: `Reset \`${setting.name}\` to its default (a task)`,
      status: 202,
      handler({ params, services }) {
        const uid = checkIndexUid(params.indexUid)
        return enqueueUpdate(services, uid, { [setting.name]: null } as SettingsPatch)
      },
    },
  ]
})

export const settingsRoutes: RouteSpec[] = [...wholeSettings, ...subRoutes]
