/**
 * Validation of the `embedders` setting. A patch replaces the whole map (names left out are
 * removed), as it always has in Shoal. Within a name that holds a `rest` embedder, an entry
 * without `source` (or with `source: "rest"`) patches that embedder's fields: a field left out
 * keeps its value, a `null` field returns to its default — so a client can change the `apiKey`
 * alone, or send the settings it read back (where the key is masked) without knowing the key.
 */

import { InvalidSettingsError } from '../errors.ts'
import type { EmbedderSettings, RestEmbedderSettings } from '../types.ts'
import { isPlainObject } from './document-path.ts'
import {
  DEFAULT_DOCUMENT_TEMPLATE,
  DEFAULT_DOCUMENT_TEMPLATE_MAX_BYTES,
  parseDocumentTemplate,
  requestRepeats,
  templateShape,
} from './embedder-templates.ts'

export const MAX_DIMENSIONS = 4096

const USER_FIELDS = ['source', 'dimensions', 'distance']
const REST_FIELDS = [
  'source',
  'url',
  'apiKey',
  'dimensions',
  'distance',
  'documentTemplate',
  'documentTemplateMaxBytes',
  'request',
  'response',
  'headers',
]

/** Headers Shoal sets itself: a `headers` entry may not replace them. */
const RESERVED_HEADERS = ['authorization', 'content-type', 'content-length', 'host']

type Fail = (why: string) => InvalidSettingsError

/**
 * How an `apiKey` is shown (Meilisearch's form): `XXXXXX...` after the key's first five
 * characters when it has at least 16, else alone. Sent back as the `apiKey`, it keeps the key.
 */
export function maskApiKey(key: string): string {
  return `${key.length >= 16 ? key.slice(0, 5) : ''}XXXXXX...`
}

/** The embedders `value` asks for, given the `current` ones (see above). */
export function embedders(
  current: Record<string, EmbedderSettings>,
  value: unknown,
): Record<string, EmbedderSettings> {
  const fail: Fail = (why) => new InvalidSettingsError('embedders', `\`embedders\` ${why}.`)
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw fail('must be an object')
  const out: Record<string, EmbedderSettings> = {}
  for (const name of Object.keys(value).sort()) {
    const e = (value as Record<string, unknown>)[name]
    if (!/^[A-Za-z0-9_-]{1,100}$/.test(name)) throw fail(`name \`${name}\` is not valid`)
    if (e === null || typeof e !== 'object' || Array.isArray(e)) throw fail(`\`${name}\` must be an object`)
    const spec = e as Record<string, unknown>
    const previous = current[name]
    const patchesRest = previous?.source === 'rest' && (spec.source === undefined || spec.source === 'rest')
    if (spec.source === 'rest' || patchesRest) {
      out[name] = restEmbedder(name, spec, patchesRest ? (previous as RestEmbedderSettings) : undefined, fail)
    } else {
      out[name] = userProvided(name, spec, fail)
    }
  }
  return out
}

function userProvided(name: string, spec: Record<string, unknown>, fail: Fail): EmbedderSettings {
  for (const key of Object.keys(spec)) {
    if (!USER_FIELDS.includes(key)) {
      throw fail(
        `\`${name}\` has an unknown field \`${key}\`${REST_FIELDS.includes(key) ? ' (a `userProvided` embedder has no such field)' : ''}`,
      )
    }
  }
  if (spec.source !== 'userProvided') throw fail(`\`${name}.source\` must be \`userProvided\` or \`rest\``)
  return {
    source: 'userProvided',
    dimensions: dimensions(name, spec.dimensions, fail),
    distance: distance(name, spec.distance, fail),
  }
}

function restEmbedder(
  name: string,
  patch: Record<string, unknown>,
  previous: RestEmbedderSettings | undefined,
  fail: Fail,
): RestEmbedderSettings {
  for (const key of Object.keys(patch)) {
    if (!REST_FIELDS.includes(key))
      throw fail(`\`${name}\` has an unknown field \`${key}\` for a \`rest\` embedder`)
  }
  // A field left out keeps its value; null returns it to its default (undefined here).
  const pick = (key: keyof RestEmbedderSettings): unknown =>
    patch[key] === undefined ? previous?.[key] : patch[key] === null ? undefined : patch[key]
  const url = pick('url')
  if (typeof url !== 'string' || !isHttpUrl(url))
    throw fail(`\`${name}.url\` must be an \`http:\` or \`https:\` URL`)
  let apiKey = pick('apiKey') as string | undefined
  if (apiKey !== undefined && typeof apiKey !== 'string') throw fail(`\`${name}.apiKey\` must be a string`)
  if (
    typeof apiKey === 'string' &&
    previous?.apiKey !== undefined &&
    maskApiKey(previous.apiKey) === apiKey
  ) {
    apiKey = previous.apiKey
  }
  const template = pick('documentTemplate') ?? DEFAULT_DOCUMENT_TEMPLATE
  if (typeof template !== 'string') throw fail(`\`${name}.documentTemplate\` must be a string`)
  const parsed = parseDocumentTemplate(template)
  if (typeof parsed === 'string' && parsed !== 'default')
    throw fail(`\`${name}.documentTemplate\`: ${parsed}`)
  const maxBytes = pick('documentTemplateMaxBytes') ?? DEFAULT_DOCUMENT_TEMPLATE_MAX_BYTES
  if (typeof maxBytes !== 'number' || !Number.isInteger(maxBytes) || maxBytes < 1 || maxBytes > 2 ** 32 - 1) {
    throw fail(`\`${name}.documentTemplateMaxBytes\` must be a positive integer`)
  }
  const request = pick('request')
  const response = pick('response')
  if (request === undefined) throw fail(`\`${name}.request\` is required for a \`rest\` embedder`)
  if (response === undefined) throw fail(`\`${name}.response\` is required for a \`rest\` embedder`)
  const requestShape = templateShape(request, '{{text}}')
  if (typeof requestShape === 'string') throw fail(`\`${name}.request\` ${requestShape}`)
  const responseShape = templateShape(response, '{{embedding}}')
  if (typeof responseShape === 'string') throw fail(`\`${name}.response\` ${responseShape}`)
  if (requestRepeats(request) !== (responseShape.repeatPath !== null)) {
    throw fail(`\`${name}\`: \`"{{..}}"\` must be in both \`request\` and \`response\`, or in neither`)
  }
  const out: RestEmbedderSettings = {
    source: 'rest',
    url,
    dimensions: dimensions(name, pick('dimensions'), fail),
    distance: distance(name, pick('distance'), fail),
    documentTemplate: template,
    documentTemplateMaxBytes: maxBytes,
    request: structuredClone(request),
    response: structuredClone(response),
    headers: headers(name, pick('headers'), fail),
  }
  // Only present when set: a fixed key order keeps replicas' settings byte-identical.
  return apiKey === undefined ? out : { ...out, apiKey }
}

function dimensions(name: string, value: unknown, fail: Fail): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw fail(`\`${name}.dimensions\` must be a positive integer`)
  }
  if (value > MAX_DIMENSIONS) throw fail(`\`${name}.dimensions\` must be at most ${MAX_DIMENSIONS}`)
  return value
}

function distance(name: string, value: unknown, fail: Fail): 'cosine' | 'l2' | 'dot' {
  const d = value ?? 'cosine'
  if (d !== 'cosine' && d !== 'l2' && d !== 'dot') {
    throw fail(`\`${name}.distance\` must be one of \`cosine\`, \`l2\`, \`dot\``)
  }
  return d
}

function headers(name: string, value: unknown, fail: Fail): Record<string, string> {
  if (value === undefined) return {}
  if (!isPlainObject(value)) throw fail(`\`${name}.headers\` must be an object of strings`)
  const out: [string, string][] = []
  for (const [header, text] of Object.entries(value)) {
    const lower = header.toLowerCase()
    if (typeof text !== 'string' || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(lower) || /[\r\n]/.test(text)) {
      throw fail(`\`${name}.headers.${header}\` must be a valid header name with a one-line string value`)
    }
    if (RESERVED_HEADERS.includes(lower))
      throw fail(`\`${name}.headers\` may not set \`${header}\` (Shoal sets it)`)
    out.push([lower, text])
  }
  return Object.fromEntries(out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text)
    return url.protocol === 'http:' || url.protocol === 'https:'
  } catch {
    return false
  }
}
